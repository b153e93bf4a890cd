"""One failover drill per engine of the matrix besides the lab stack's own (Redis 7.0 and Valkey
8.1; Redis 8.0 is the lab stack's, drilled by test_drills.py) on the lab's real Kubernetes: the
lab stack deployed with that engine's image and `platform.engine`, the master's pod SIGKILLed with
its sandbox and restarted at once, and a writer that accounts for every acknowledged write.

An engine switch is not a rolling update (a server cannot load a newer RDB format:
docs/configuration.md), so the stack is destroyed before each engine and at the end; the next
`scripts/lab-up` (or test_drills.py) deploys the lab stack anew. Bounds come from the stack's
Sentinel config, not from performance targets.
"""

from __future__ import annotations

import json
import time

import pytest

from drills.runner import Options, restore_bound, run_trial
from drills.scenarios import SCENARIOS
from drills.targets import GatewayTarget
from labcluster.layout import LAB_ENGINE_IMAGES, LabEngineImage

READY_TIMEOUT_SECONDS = 300.0


@pytest.fixture(scope="module")
def lab_stack(lab_cluster):
    from lab.stack import LabStack

    stack = LabStack(lab_cluster.kubeconfig)
    yield stack
    stack.destroy()


OTHER_ENGINES = LAB_ENGINE_IMAGES[1:]


@pytest.fixture(scope="module", params=OTHER_ENGINES, ids=[engine.name for engine in OTHER_ENGINES])
def engine_gateway(request, lab_stack, access):
    from lab.stack import StackError

    engine: LabEngineImage = request.param
    started = time.monotonic()
    try:
        lab_stack.destroy()
        outputs = lab_stack.up(engine.overrides())
    except StackError as err:
        pytest.fail(f"{engine.name}: {err}", pytrace=False)
    target = GatewayTarget.from_outputs(access, outputs)
    target.start_client()
    target.wait_healthy(READY_TIMEOUT_SECONDS)
    print(f"{engine.name}: deployed and healthy in {time.monotonic() - started:.0f} s")
    yield engine, target
    target.stop_client()


def test_a_killed_master_fails_over_and_loses_no_acknowledged_write_on_each_engine(engine_gateway):
    engine, gateway = engine_gateway
    trial = run_trial(gateway, SCENARIOS["master-kill-restart"], 1, Options(steady_seconds=2.0, tail_seconds=1.0))
    assert "error" not in trial, trial.get("error")
    print(f"{engine.name}: outage {trial['outage_s']} s, lost {trial['lost']}, acked {trial.get('acked')}, "
          f"old master {trial['old_master']} -> {trial['new_master']}")
    assert trial["unmet"] == []
    assert trial["lost"] == 0, trial["lost_by_node"]
    assert trial["failover"] and trial["new_master"] != trial["old_master"]
    assert trial["restored_s"] is not None and trial["restored_s"] <= restore_bound(gateway)
    assert trial["first_ack_on_new_master_s"] is not None
    assert trial["first_ack_on_new_master_s"] <= gateway.timing.failover_bound_with_tilt_seconds, \
        trial["sentinel_logs"]
    assert trial["final_master"] == trial["new_master"]


def test_the_pods_run_the_engine_they_were_given(engine_gateway, access):
    """The drill above ran on the engine's own server: its image, and its binaries by name."""
    engine, gateway = engine_gateway
    server = f"{engine.engine}-server"
    template = json.loads(access.kubectl("-n", gateway.namespace, "get", "statefulset", "redis-gateway", "-o",
                                         "json").stdout)["spec"]["template"]["spec"]
    images = {c["name"]: c["image"] for c in template["containers"]}
    assert images["redis"] == images["sentinel"] == engine.image, images
    processes = access.kubectl("-n", gateway.namespace, "exec", "redis-gateway-0", "-c", "redis", "--",
                               "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '").stdout
    assert processes.startswith(server), processes
