"""A rolling upgrade from pods without Redis ACL users to pods with them (prod's config).

The gateway starts as the previous release ran it: no users file, the clients' password for
everything (requirepass, masterauth, Sentinel's auth-pass). Then each pod, highest ordinal first,
runs its preStop and comes back with ACL users, as a StatefulSet rollout does, while a client
writes through Sentinel. The first new pod gives the old peers the internal users at run time
(redis-start.sh, "peers from before ACL users"): every step stays healthy, no acknowledged write
is lost, and at the end the clients' user is restricted everywhere.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

from gateway_pods import GatewayPods, start_writer, wait_for, writer_result
from runtime_support import OPERATOR_PASSWORD, REDIS_PASSWORD, SENTINEL_PASSWORD, require_lab_images, stack_config
from stack_config import names

CFG = stack_config("prod")
DOWN_AFTER_S = CFG.gateway.down_after_milliseconds / 1000
SLACK_S = 15
RECOVERY_BOUND_S = CFG.gateway.boot_peer_wait_seconds + DOWN_AFTER_S + SLACK_S
HANDOVER_BUDGET_S = DOWN_AFTER_S + 10


@pytest.fixture(scope="module")
def legacy_gateway(tmp_path_factory, lab_engine) -> GatewayPods:
    require_lab_images(lab_engine)
    pods = GatewayPods(CFG, tmp_path_factory.mktemp("krt-acl-upgrade"), REDIS_PASSWORD, SENTINEL_PASSWORD,
                       OPERATOR_PASSWORD, engine=lab_engine, legacy_pods={0, 1, 2})
    try:
        pods.start()
        yield pods
    finally:
        pods.teardown()


def _readiness(gateway: GatewayPods, ordinal: int) -> int:
    return gateway.run_script(ordinal, "redis", names.REDIS_READINESS_SCRIPT).returncode


# Default engine only: the pre-ACL release this upgrades from is a past state of the default
# engine's stacks; the users' rules are checked on every engine by test_gateway_pods.py, and the
# run-time ACL SETUSER is the same command on the three.
def test_rolling_upgrade_to_acl_users_keeps_the_set_and_every_write(legacy_gateway: GatewayPods, tmp_path: Path):
    gateway = legacy_gateway
    master = gateway.wait_healthy(RECOVERY_BOUND_S + 20)
    with gateway.as_user(master, "default") as before:
        before.mset({f"krt:upgrade:{i}": i for i in range(100)})
        assert before.config_get("maxmemory"), "before the upgrade the clients' password runs everything"
        assert before.wait(2, 5000) == 2
    rounds = gateway.replicas
    duration = 10 + rounds * (HANDOVER_BUDGET_S + RECOVERY_BOUND_S)
    start_writer(gateway, tmp_path / "writer", duration)
    time.sleep(5)
    for ordinal in sorted(gateway.started_pods, reverse=True):
        hook = gateway.run_script(ordinal, "redis", names.REDIS_PRESTOP_SCRIPT, timeout=HANDOVER_BUDGET_S + 30)
        assert hook.returncode == 0, hook.stderr
        gateway.remove_pod(ordinal, stop_timeout=int(CFG.gateway.termination_grace_period_seconds))
        gateway.legacy_pods.discard(ordinal)
        gateway.create_pod(ordinal)
        wait_for(f"upgraded pod {ordinal} to be Ready", lambda: _readiness(gateway, ordinal) == 0,
                 RECOVERY_BOUND_S, interval=1)
        gateway.wait_healthy(RECOVERY_BOUND_S)
        print(f"pod {ordinal} upgraded; legacy pods left: {sorted(gateway.legacy_pods)}")
    assert "ACL users given" in gateway.logs(max(gateway.started_pods), "redis")
    result = writer_result(tmp_path / "writer", timeout=duration + 60)

    master = gateway.wait_healthy(RECOVERY_BOUND_S)
    with gateway.redis(master) as operator:
        acked = [n for _, n in result["keys"]]
        missing = [n for n in acked if not operator.exists(f"writer:key:{n}")]
        assert sum(operator.exists(f"krt:upgrade:{i}") for i in range(100)) == 100
        counter = int(operator.get("writer:counter") or 0)
    print(f"upgrade: {len(acked)} acknowledged SETs, {len(missing)} lost, {len(result['errors'])} client errors")
    assert acked and not missing, f"acknowledged writes lost: {missing[:20]}"
    assert counter >= max(v for _, v in result["counter"])
    for ordinal in sorted(gateway.started_pods):
        with gateway.as_user(ordinal, "default") as client:
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.config_set("maxmemory", "1mb")
        with gateway.redis(ordinal) as operator:
            assert operator.config_get("masteruser")["masteruser"] == "replication"
        sentinel_conf = (gateway.data_dir(ordinal) / "sentinel" / "sentinel.conf").read_text()
        assert f"sentinel auth-user {names.MASTER_SET} sentinel" in sentinel_conf
