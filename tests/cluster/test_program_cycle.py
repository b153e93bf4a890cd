"""`pulumi up`, a failover, `pulumi up` again: the re-apply changes nothing and does not force
the master back to pod 0; no acknowledged write is lost. (A config change that rolls the pods in
place is tests/engine/test_automation_api.py's; rolling restarts under writers are
tests/lab/test_password_rotation.py's and the engine upgrade's.)"""

from __future__ import annotations

import json
import time

import pytest

from cluster import ClientSpec, SecretEnv
from cluster_harness import NAMESPACE
from stack_config import names

KEYS = 300
ROLLOUT_TIMEOUT = "300s"

# Like the Gateway's go-redis client, a command that meets a closed connection (the endpoint
# drops a demoted master's clients) is retried, for up to 30 s; what is acknowledged is counted.
CLIENT = """
import os, sys, time, redis
r = redis.Redis('redis-gateway-ha', 6379, password=os.environ['REDIS_PASSWORD'], socket_timeout=5)
def retried(call, *args):
    deadline = time.monotonic() + 30
    while True:
        try:
            return call(*args)
        except (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
"""
WRITE = CLIENT + """
prefix, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(first, first + count):
    assert retried(r.set, f'{prefix}:{i}', i)
print(retried(r.info, 'replication')['role'])
"""
READ = CLIENT + """
prefix, count = sys.argv[1], int(sys.argv[2])
missing = [i for i in range(count) if retried(r.get, f'{prefix}:{i}') != str(i).encode()]
print(len(missing))
"""


@pytest.fixture(scope="module")
def client(access, deployed):
    spec = ClientSpec(namespace=NAMESPACE, name="cycle-client", packages=("smoke",),
                      secret_env=(SecretEnv("REDIS_PASSWORD", "redis-gateway-auth", "redis-password"),),
                      labels=tuple(names.CLIENT_ACCESS_LABELS.items()))
    access.start_client(spec)
    yield spec
    access.stop_client(spec)


def run(access, spec, script: str, *args: str) -> str:
    done = access.client_exec(spec, ["python3", "-c", script, *args], timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def master_pod(access, timeout: float = 90) -> str:
    """The pod every sentinel names, once all three answer and agree (a restarted pod's
    sentinel may still be starting)."""
    deadline = time.monotonic() + timeout
    named: set = set()
    while time.monotonic() < deadline:
        named = set()
        for pod in ("redis-gateway-0", "redis-gateway-1", "redis-gateway-2"):
            done = access.kubectl("-n", NAMESPACE, "exec", pod, "-c", "sentinel", "--", "redis-cli", "-p", "26379",
                                  "sentinel", "get-master-addr-by-name", "gateway-master", check=False)
            named.add(done.stdout.split()[0].split(".")[0] if done.returncode == 0 and done.stdout.split() else None)
        if len(named) == 1 and None not in named:
            return named.pop()
        time.sleep(1)
    raise AssertionError(f"sentinels do not answer or agree within {timeout:.0f} s: {named}")


def wait_rollout(access) -> None:
    access.kubectl("-n", NAMESPACE, "rollout", "status", "statefulset/redis-gateway", f"--timeout={ROLLOUT_TIMEOUT}",
                   timeout=330)


def test_reapply_after_a_failover_changes_nothing_and_loses_no_write(access, lab_stack, client):
    prefix = "cycle"
    wait_rollout(access)
    assert run(access, client, WRITE, prefix, "0", str(KEYS // 3)) == "master"
    first_master = master_pod(access)
    # A failover the program did not ask for: the master's pod deleted (graceful handover).
    access.delete_pod(NAMESPACE, first_master)
    wait_rollout(access)
    moved_to = master_pod(access)
    assert moved_to != first_master
    run(access, client, WRITE, prefix, str(KEYS // 3), str(KEYS // 3))

    # The same config again: no diff, and the master stays where the failover put it.
    preview = lab_stack.preview(expect_no_changes=True)
    assert "error" not in preview.lower()
    lab_stack.up()
    assert master_pod(access) == moved_to
    revision = json.loads(access.kubectl("-n", NAMESPACE, "get", "statefulset", "redis-gateway", "-o", "json").stdout)
    assert revision["status"]["currentRevision"] == revision["status"]["updateRevision"]

    run(access, client, WRITE, prefix, str(2 * (KEYS // 3)), str(KEYS - 2 * (KEYS // 3)))
    assert run(access, client, READ, prefix, str(KEYS)) == "0"
