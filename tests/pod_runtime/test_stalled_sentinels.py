"""The fencing watch of redis-start.sh refuses writes on a master that its peers' sentinels
no longer reach (the lab's master-cut drill, tests/lab/test_drills.py, shows the cut on the real
cluster). Here the opposite case, which needs podman's pause: sentinels that stall (a node
starved of CPU) say nothing about a cut, and the master keeps acknowledging writes."""

from __future__ import annotations

import time

import pytest
import redis

from gateway_pods import GatewayPods, podman
from runtime_support import REDIS_PASSWORD, SENTINEL_PASSWORD, require_lab_images, stack_config
from test_gateway_pods import DOWN_AFTER_S, RECOVERY_BOUND_S

CFG = stack_config("prod")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, lab_engine) -> GatewayPods:
    require_lab_images(lab_engine)
    with GatewayPods(CFG, tmp_path_factory.mktemp("krt-stall"), REDIS_PASSWORD, SENTINEL_PASSWORD,
                     engine=lab_engine) as pods:
        yield pods


def test_a_master_whose_sentinels_all_stall_keeps_acknowledging_writes(gateway: GatewayPods):
    """Sentinels that do not answer (a node starved of CPU, here frozen) say nothing about a cut:
    the fencing watch must not refuse writes on their silence alone, as long as this pod's own
    sentinel cannot answer either."""
    master = gateway.wait_healthy(RECOVERY_BOUND_S)
    client = gateway.redis(master, timeout=1.0)
    sentinels = [gateway.container(o, "sentinel") for o in sorted(gateway.started_pods)]
    refused: list[str] = []
    acked = 0
    podman("pause", *sentinels)
    try:
        deadline = time.monotonic() + DOWN_AFTER_S + 5
        while time.monotonic() < deadline:
            try:
                client.set(f"krt:stall:{acked}", acked)
                acked += 1
            except redis.RedisError as error:
                refused.append(str(error))
            time.sleep(0.1)
    finally:
        podman("unpause", *sentinels)
    assert not refused, f"{len(refused)} writes refused while the sentinels stalled, first: {refused[0]}"
    assert acked > 0
    assert "fenced" not in gateway.logs(master, "redis")
