"""The smoke check against the dev stack applied to the lab cluster: every check passes with
auth enforced; it fails naming the check when an expectation does not hold, fails (not crashes)
on wrong passwords, and refuses to run without a configured one. It runs in a pod of the
namespace, as the Job does, with passwords from Secrets."""

from __future__ import annotations

import json

import pytest

from cluster import ClientSpec, SecretEnv
from cluster_harness import NAMESPACE
from lab.deploy import gateway_settings
from smoke import from_stack_outputs
from smoke.invariants import PASS
from smoke.job import settings_flags
from stack_config import names

ALL_CHECKS = {"sentinels-agree-on-master", "num-slaves", "num-other-sentinels", "master-not-down", "ckquorum",
              "no-tilt", "master-role", "single-master", "replicas-linked", "master-endpoint", "replication",
              "redis-auth", "sentinel-auth", "cache", "settings"}
WRONG_SECRET = "smoke-test-wrong-passwords"


def spec(name: str, secret: str | None) -> ClientSpec:
    env = () if secret is None else (SecretEnv("REDIS_PASSWORD", secret, "redis-password"),
                                      SecretEnv("SENTINEL_PASSWORD", secret, "sentinel-password"))
    return ClientSpec(namespace=NAMESPACE, name=name, packages=("smoke",), secret_env=env,
                      labels=tuple(names.CLIENT_ACCESS_LABELS.items()))


@pytest.fixture(scope="module")
def clients(access, deployed):
    access.apply([{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": WRONG_SECRET, "namespace": NAMESPACE},
                   "stringData": {"redis-password": "not-the-password", "sentinel-password": "not-the-password"}}])
    made = {"right": spec("smoke-right", "redis-gateway-auth"), "wrong": spec("smoke-wrong", WRONG_SECRET),
            "none": spec("smoke-none", None)}
    for client in made.values():
        access.start_client(client)
    yield made
    for client in made.values():
        access.stop_client(client)
    access.kubectl("-n", NAMESPACE, "delete", "secret", WRONG_SECRET, "--ignore-not-found", check=False)


def smoke(access, client, deployed, *extra: str, wait: bool = True):
    conf = access.config_map_value(NAMESPACE, "redis-config", "redis.conf")
    maxmemory = next(line.split()[1] for line in conf.splitlines() if line.startswith("maxmemory "))
    command = ["python3", "-m", "smoke", "--stack-outputs", "-", "--cache-maxmemory-policy", "allkeys-lru",
               "--cache-maxmemory", maxmemory,
               *settings_flags(*gateway_settings(access, NAMESPACE, deployed["gateway"]["masterSet"])), "--json",
               *(["--wait", "60"] if wait else []), *extra]
    return access.client_exec(client, command, input=json.dumps(deployed), timeout=300)


def test_every_check_passes_with_auth_enforced(access, clients, deployed, lab_stack):
    done = smoke(access, clients["right"], deployed)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert {c["name"]: c["status"] for c in report["checks"]} == {name: PASS for name in ALL_CHECKS}
    replication = next(c for c in report["checks"] if c["name"] == "replication")
    assert len(replication["data"]["delays_seconds"]) == 2
    for secret in lab_stack.passwords().values():
        assert secret not in done.stdout + done.stderr


def test_the_failing_check_is_named(access, clients, deployed):
    done = smoke(access, clients["right"], deployed, "--replicas", "5", wait=False)
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert "num-slaves" in report["failed"] and "replication" in report["failed"]
    assert "smoke: FAILED: " in done.stderr and "num-slaves" in done.stderr


def test_a_setting_changed_at_run_time_is_reported_as_drift(access, clients, deployed):
    """What a client's test cleanup once did through the master-only endpoint, here on a replica
    as an operator can: CONFIG SET maxmemory 2 GB. The settings check names the node and the key."""
    pod = f"{names.GATEWAY}-1"
    operator_cli = ["sh", f"{names.SCRIPTS_DIR}/operator-cli.sh"]
    before = access.exec(NAMESPACE, pod, "redis", [*operator_cli, "config", "get", "maxmemory"]).stdout.split()[-1]
    changed = access.exec(NAMESPACE, pod, "redis", [*operator_cli, "config", "set", "maxmemory", "2147483648"])
    assert changed.returncode == 0 and "OK" in changed.stdout, changed.stdout + changed.stderr
    try:
        done = smoke(access, clients["right"], deployed, wait=False)
    finally:
        restored = access.exec(NAMESPACE, pod, "redis", [*operator_cli, "config", "set", "maxmemory", before])
    assert restored.returncode == 0 and "OK" in restored.stdout
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["failed"] == ["settings"]
    detail = next(c["detail"] for c in report["checks"] if c["name"] == "settings")
    assert f"{pod}." in detail and "maxmemory 2147483648, configured" in detail
    assert smoke(access, clients["right"], deployed, wait=False).returncode == 0


def test_wrong_passwords_fail_the_checks_instead_of_crashing(access, clients, deployed):
    done = smoke(access, clients["wrong"], deployed, wait=False)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert {"sentinels-agree-on-master", "ckquorum", "no-tilt", "replication"} <= set(report["failed"])


def test_no_password_configured_is_refused_before_checking(access, clients, deployed):
    """Targets that say auth is enforced, and no password in the environment: exit 2, naming it."""
    targets = from_stack_outputs(deployed, redis_auth=True, sentinel_auth=True, cache_maxmemory_policy="allkeys-lru",
                                 cache_maxmemory=1).check()
    done = access.client_exec(clients["none"], ["python3", "-m", "smoke", "--targets-json", targets.to_json()],
                              timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "REDIS_PASSWORD" in done.stderr
