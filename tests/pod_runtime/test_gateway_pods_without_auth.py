"""A gateway with auth off (dev values, `gateway.auth` switched off): the scripts' and
haproxy.cfg's paths without passwords.

A smaller run than test_gateway_pods.py: formation, the master-only proxy, and one graceful
handover, on the default engine only (the auth paths of each engine are test_gateway_pods.py's). Same `krt-` names; that module's cluster is gone before this one starts.
"""

from __future__ import annotations

import time

import pytest

from gateway_pods import GatewayPods, wait_for
from runtime_support import require_lab_images, stack_config
from stack_config import names

CFG = stack_config("dev", {"auth": {"enabled": False, "sentinel": False}})
BOUND_S = CFG.gateway.boot_peer_wait_seconds + CFG.gateway.down_after_milliseconds / 1000 + 30


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, lab_engine) -> GatewayPods:
    require_lab_images(lab_engine)
    with GatewayPods(CFG, tmp_path_factory.mktemp("krt-gateway-no-auth"), None, None, engine=lab_engine) as pods:
        yield pods


def test_forms_serves_and_hands_over_without_passwords(gateway: GatewayPods):
    master = gateway.wait_healthy(BOUND_S)
    for ordinal in range(3):
        for role, script in (("redis", names.REDIS_READINESS_SCRIPT), ("redis", names.REDIS_LIVENESS_SCRIPT),
                             ("sentinel", names.SENTINEL_PROBE_SCRIPT)):
            assert gateway.run_script(ordinal, role, script).returncode == 0, (ordinal, script)
        directives = {line.split()[0] for line in
                      (gateway.data_dir(ordinal) / "conf" / "redis.conf").read_text().splitlines()
                      if line.strip() and not line.startswith("#")}
        assert not directives & {"requirepass", "masterauth"}

    def proxy_reaches_master() -> bool:
        with gateway.through_haproxy() as proxied:
            return proxied.set("krt:no-auth", "1") and proxied.execute_command("ROLE")[0] == "master"

    wait_for("HAProxy to admit the master", proxy_reaches_master, 20)

    with gateway.redis(master) as client:
        client.mset({f"krt:no-auth:{i}": i for i in range(100)})
    started = time.monotonic()
    hook = gateway.run_script(master, "redis", names.REDIS_PRESTOP_SCRIPT)
    assert hook.returncode == 0 and "handover done" in hook.stderr, hook.stderr
    print(f"dev handover in {time.monotonic() - started:.1f} s")
    gateway.remove_pod(master, stop_timeout=CFG.gateway.termination_grace_period_seconds)
    gateway.create_pod(master)
    new_master = gateway.wait_healthy(BOUND_S)
    assert new_master != master
    with gateway.redis(new_master) as client:
        assert sum(client.exists(f"krt:no-auth:{i}") for i in range(100)) == 100
    wait_for("HAProxy to follow the handover", proxy_reaches_master, 20)
