"""The failover drill on Valkey 8.1 on the lab's real Kubernetes (engine_checks.py): the lab stack
deployed with Valkey's image and `platform.engine`, the master's pod SIGKILLed with its sandbox
and restarted at once, and a writer that accounts for every acknowledged write. Redis 8.0 is the
lab stack's own engine (test_drills.py); Redis 7.0 is drilled on the stack the upgrade test
starts from (test_day2_operations.py).

An engine switch is not a rolling update (a server cannot load a newer RDB format:
docs/configuration.md), so the stack is destroyed before and at the end; the next
`scripts/lab-up` deploys the lab stack anew. Runs after the modules that use the deployed lab
stack (tests/conftest.py).
"""

from __future__ import annotations

import time

import pytest

from drills.targets import GatewayTarget
from engine_checks import check_kill_drill, check_pods_run
from labcluster.layout import LAB_ENGINE_IMAGES, LabEngineImage

pytestmark = pytest.mark.redeploys_lab_stack

READY_TIMEOUT_SECONDS = 300.0
VALKEY = next(engine for engine in LAB_ENGINE_IMAGES if engine.engine == "valkey")


@pytest.fixture(scope="module")
def engine_gateway(lab_cluster, access):
    from lab.stack import LabStack, StackError

    stack = LabStack(lab_cluster.kubeconfig)
    engine: LabEngineImage = VALKEY
    started = time.monotonic()
    try:
        stack.destroy()
        outputs = stack.up(engine.overrides())
    except StackError as err:
        pytest.fail(f"{engine.name}: {err}", pytrace=False)
    target = GatewayTarget.from_outputs(access, outputs)
    target.start_client()
    try:
        target.wait_healthy(READY_TIMEOUT_SECONDS)
        print(f"{engine.name}: deployed and healthy in {time.monotonic() - started:.0f} s")
        yield engine, target
    finally:
        target.stop_client()
        stack.destroy()


def test_a_killed_master_fails_over_and_loses_no_acknowledged_write_on_valkey(engine_gateway):
    check_kill_drill(*engine_gateway)


def test_the_pods_run_the_engine_they_were_given(engine_gateway, access):
    """The drill above ran on the engine's own server: its image, and its binaries by name."""
    engine, gateway = engine_gateway
    check_pods_run(engine, gateway, access)
