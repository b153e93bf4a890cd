"""A password rotation on real pods (prod's config): the three steps of docs/architecture.md
("Rotation") for the clients', Sentinel's and the operator's (seed) passwords at once, each step
a rolling restart, highest ordinal first, as a StatefulSet rollout does, with HAProxy rolled in
the middle of it.

Each pod's secret environment is what the program gives it for that step: the program runs under
mocks with the step's config, and the containers get the Secret's values through the env
entries of its StatefulSet and HAProxy Deployment. Shown: during the window old and new passwords
both work on every pod, Sentinel and HAProxy; the set stays healthy (replication, every sentinel,
HAProxy's master) with old and new pods side by side; after closing only the new ones work.
"""

from __future__ import annotations

from typing import Any, Optional

import pytest
import redis

from gateway_pods import GatewayPods, wait_for
from runtime_support import OPERATOR_PASSWORD, REDIS_PASSWORD, SENTINEL_PASSWORD, require_lab_images, stack_config
from stack_config import internal_passwords, names
from stack_config.rotation import ROTATION_OUTPUT, rotation_problems
from tools.pulumi_mock_run import run_program, stack_file_config

STACK = "prod"
CFG = stack_config(STACK)
RECOVERY_BOUND_S = CFG.gateway.boot_peer_wait_seconds + CFG.gateway.down_after_milliseconds / 1000 + 15
HANDOVER_BUDGET_S = CFG.gateway.down_after_milliseconds / 1000 + 10
OLD = {"gatewayRedisPassword": REDIS_PASSWORD, "gatewaySentinelPassword": SENTINEL_PASSWORD,
       "gatewayOperatorPassword": OPERATOR_PASSWORD}
NEW = {key: f"{value}-rotated" for key, value in OLD.items()}
STEPS = {
    "open": {**OLD, **{f"{key}Accepted": value for key, value in NEW.items()}},
    "switch": {**NEW, **{f"{key}Accepted": value for key, value in OLD.items()}},
    "close": dict(NEW),
}
KUBECONFIG = "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n"


def _secret_env(obj: dict[str, Any], secret: dict[str, str]) -> dict[str, dict[str, str]]:
    """container -> the variables Kubernetes sets from the Secret (secretKeyRef) in `obj`."""
    return {container["name"]: {item["name"]: secret[item["valueFrom"]["secretKeyRef"]["key"]]
                                for item in container.get("env") or [] if "secretKeyRef" in item.get("valueFrom", {})}
            for container in obj["spec"]["template"]["spec"]["containers"]}


class ProgramEnv:
    """The secret environment the program gives the gateway's containers and HAProxy for one
    step's passwords, and the record it exports."""

    def __init__(self, passwords: dict[str, str], deployed: Optional[dict[str, Any]]) -> None:
        run = run_program(STACK, stack_file_config(STACK), {**passwords, "kubeconfig": KUBECONFIG},
                          deployed_outputs={ROTATION_OUTPUT: deployed} if deployed else None)
        secret = run.object("Secret", names.GATEWAY_AUTH_SECRET)["stringData"]["value"]
        self.pod = _secret_env(run.object("StatefulSet", names.GATEWAY), secret)
        self.haproxy = _secret_env(run.object("Deployment", names.GATEWAY_HAPROXY), secret)["haproxy"]
        self.record = run.outputs[ROTATION_OUTPUT]


class RotatingGateway(GatewayPods):
    """Gateway pods whose containers each get the environment of the step they were started in."""

    envs: dict[int, ProgramEnv]
    haproxy_env: ProgramEnv

    def container_secret_env(self, role: str, ordinal: int = -1) -> dict[str, str]:
        return dict(self.envs[ordinal].pod[role])

    def haproxy_secret_env(self) -> dict[str, str]:
        return dict(self.haproxy_env.haproxy)

    def use_passwords(self, passwords: dict[str, str]) -> None:
        """The passwords the harness' own clients (health checks, operator) send."""
        self.redis_password = passwords["gatewayRedisPassword"]
        self.sentinel_password = passwords["gatewaySentinelPassword"]
        self.operator_password = passwords["gatewayOperatorPassword"]
        self.acl_passwords = internal_passwords(self.redis_password, self.operator_password)


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, lab_engine):
    require_lab_images(lab_engine)
    pods = RotatingGateway(CFG, tmp_path_factory.mktemp("krt-rotation"), REDIS_PASSWORD, SENTINEL_PASSWORD,
                           OPERATOR_PASSWORD, engine=lab_engine)
    steady = ProgramEnv(OLD, None)
    pods.envs = {ordinal: steady for ordinal in range(pods.replicas)}
    pods.haproxy_env = steady
    pods.record = steady.record
    try:
        pods.start()
        yield pods
    finally:
        pods.teardown()


def _authenticates(host: str, port: int, password: str, username: Optional[str] = None) -> bool:
    client = redis.Redis(host=host, port=port, username=username, password=password, socket_timeout=3,
                         socket_connect_timeout=3)
    try:
        return client.ping() is True
    except redis.exceptions.AuthenticationError:
        return False
    finally:
        client.close()


def _accepted(gateway: GatewayPods, ordinal: int, passwords: dict[str, str]) -> dict[str, bool]:
    """Which of `passwords`' users pod <ordinal> takes: the clients', the operator's, Sentinel's."""
    ip = gateway.ip(ordinal)
    return {"redis": _authenticates(ip, names.REDIS_PORT, passwords["gatewayRedisPassword"]),
            "operator": _authenticates(ip, names.REDIS_PORT, passwords["gatewayOperatorPassword"], "operator"),
            "sentinel": _authenticates(ip, names.SENTINEL_PORT, passwords["gatewaySentinelPassword"])}


def _haproxy_master(gateway: GatewayPods, password: str) -> bool:
    client = gateway.through_haproxy(password=password, timeout=3)
    try:
        return client.execute_command("ROLE")[0] == "master"
    except redis.exceptions.RedisError:
        return False
    finally:
        client.close()


def _roll(gateway: RotatingGateway, step: str) -> None:
    """One `pulumi up` of `step`'s config: the guard passes, then every pod restarts with the new
    environment, highest ordinal first (preStop, then a new pod, then Ready and healthy); HAProxy
    restarts after the first pod, so old and new pods and proxies meet."""
    env = ProgramEnv(STEPS[step], gateway.record)
    assert rotation_problems(gateway.record, env.record) == []
    gateway.use_passwords({key: STEPS[step][key] for key in OLD})
    for position, ordinal in enumerate(sorted(gateway.started_pods, reverse=True)):
        hook = gateway.run_script(ordinal, "redis", names.REDIS_PRESTOP_SCRIPT, timeout=HANDOVER_BUDGET_S + 30)
        assert hook.returncode == 0, hook.stderr
        gateway.remove_pod(ordinal, stop_timeout=int(CFG.gateway.termination_grace_period_seconds))
        gateway.envs[ordinal] = env
        gateway.create_pod(ordinal)
        wait_for(f"pod {ordinal} Ready after step {step}",
                 lambda o=ordinal: gateway.run_script(o, "redis", names.REDIS_READINESS_SCRIPT).returncode == 0,
                 RECOVERY_BOUND_S, interval=1)
        gateway.wait_healthy(RECOVERY_BOUND_S)
        if position == 0:
            gateway.haproxy_env = env
            gateway.start_haproxy()
            wait_for(f"HAProxy to admit the master in step {step} with old and new pods",
                     lambda: _haproxy_master(gateway, gateway.redis_password), RECOVERY_BOUND_S, interval=1)
    gateway.record = env.record


def test_rotation_steps_keep_the_set_healthy_and_close_the_window(gateway: RotatingGateway):
    gateway.wait_healthy(RECOVERY_BOUND_S + 20)

    _roll(gateway, "open")
    for ordinal in sorted(gateway.started_pods):
        assert _accepted(gateway, ordinal, OLD) == {"redis": True, "operator": True, "sentinel": True}
        assert _accepted(gateway, ordinal, NEW) == {"redis": True, "operator": True, "sentinel": True}
    assert _haproxy_master(gateway, OLD["gatewayRedisPassword"])
    assert _haproxy_master(gateway, NEW["gatewayRedisPassword"])

    _roll(gateway, "switch")
    for ordinal in sorted(gateway.started_pods):
        assert _accepted(gateway, ordinal, OLD) == {"redis": True, "operator": True, "sentinel": True}
        with gateway.redis(ordinal) as operator:
            assert operator.config_get("masterauth"), "replication authenticates"
    assert "auth-pass" in (gateway.data_dir(0) / "sentinel" / "sentinel.conf").read_text()

    _roll(gateway, "close")
    master = gateway.wait_healthy(RECOVERY_BOUND_S)
    for ordinal in sorted(gateway.started_pods):
        assert _accepted(gateway, ordinal, OLD) == {"redis": False, "operator": False, "sentinel": False}
        assert _accepted(gateway, ordinal, NEW) == {"redis": True, "operator": True, "sentinel": True}
        # Sentinel's own password is there once, as what it sends its peers; the old one nowhere.
        conf = (gateway.data_dir(ordinal) / "sentinel" / "sentinel.conf").read_text()
        assert f'"{OLD["gatewaySentinelPassword"]}"' not in conf
        assert conf.count(NEW["gatewaySentinelPassword"]) == 1
    assert _haproxy_master(gateway, NEW["gatewayRedisPassword"])
    assert not _haproxy_master(gateway, OLD["gatewayRedisPassword"])
    with gateway.as_user(master, "default") as client:
        client.set("krt:rotation", "done")
        assert client.wait(2, 5000) == 2, "both replicas follow the master on the new passwords"
