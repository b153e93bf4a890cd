"""The operational commands of the deployment this project replaces
(../shared/seed/redis-ha-deployment-summary.md, "Operational Commands"), run as written against
the lab. That deployment had no auth; ours has, and the containers give redis-cli its
credentials (REDISCLI_AUTH from the Secret), so the commands need no password typed."""

from __future__ import annotations

import re
import subprocess
import time

from cluster_harness import shell

FAILOVER_BOUND_SECONDS = 60


def sentinel_master(env, pod: str) -> dict[str, str]:
    done = shell(f"kubectl exec -n kubernaut-system {pod} -c sentinel -- "
                 "redis-cli -p 26379 sentinel master gateway-master", env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    return dict(zip(lines[::2], lines[1::2]))


def test_check_all_redis_pods(deployed, operator_env):
    done = shell("kubectl get pods -n kubernaut-system -l app=redis-gateway", operator_env)
    assert done.returncode == 0, done.stderr
    rows = done.stdout.strip().splitlines()[1:]
    assert sorted(r.split()[0] for r in rows) == ["redis-gateway-0", "redis-gateway-1", "redis-gateway-2"]
    # redis and sentinel, and with monitoring (on in the lab stack) their two exporters: all ready.
    assert all(r.split()[1] == "4/4" and r.split()[2] == "Running" for r in rows), done.stdout


def test_check_sentinel_status(deployed, operator_env):
    master = sentinel_master(operator_env, "redis-gateway-0")
    assert master["name"] == "gateway-master"
    assert "master" in master["flags"].split(",") and "down" not in master["flags"]
    assert master["num-slaves"] == "2" and master["num-other-sentinels"] == "2" and master["quorum"] == "2"


def test_check_redis_replication(deployed, operator_env):
    done = shell("kubectl exec -n kubernaut-system redis-gateway-0 -c redis -- redis-cli info replication",
                 operator_env)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^role:(master|slave)\r?$", done.stdout, re.M), done.stdout
    assert "NOAUTH" not in done.stdout


def test_test_failover(deployed, operator_env):
    before = sentinel_master(operator_env, "redis-gateway-1")["ip"].split(".")[0]
    # "Kill master pod (simulates failure)": the seed assumes pod-0 is master; delete that pod.
    done = shell(f"kubectl delete pod {before} -n kubernaut-system", operator_env, timeout=120)
    assert done.returncode == 0, done.stderr
    watcher = "redis-gateway-1" if before != "redis-gateway-1" else "redis-gateway-2"
    deadline = time.monotonic() + FAILOVER_BOUND_SECONDS
    after = before
    while time.monotonic() < deadline and after == before:
        time.sleep(1)
        after = sentinel_master(operator_env, watcher)["ip"].split(".")[0]
    assert after != before, f"no new master within {FAILOVER_BOUND_SECONDS} s"
    done = shell(f"kubectl exec -n kubernaut-system {after} -c redis -- redis-cli info replication", operator_env)
    assert re.search(r"^role:master\r?$", done.stdout, re.M), done.stdout
    shell("kubectl -n kubernaut-system rollout status statefulset/redis-gateway --timeout=180s", operator_env,
          timeout=200)


def test_port_forward_for_testing(deployed, operator_env):
    password = "$(kubectl -n kubernaut-system get secret redis-gateway-auth -o jsonpath='{.data.redis-password}' | base64 -d)"
    forward = subprocess.Popen(["bash", "-c", "exec kubectl port-forward -n kubernaut-system svc/redis-gateway-ha 6379:6379"],
                               env=operator_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert "Forwarding from" in forward.stdout.readline(), "port-forward did not start"
        done = shell(f"REDISCLI_AUTH={password} redis-cli -h localhost -p 6379 ping", operator_env)
        assert done.stdout.strip() == "PONG", done.stdout + done.stderr
        # Through the master-only endpoint, a write is accepted.
        done = shell(f"REDISCLI_AUTH={password} redis-cli -h localhost -p 6379 set seed:port-forward ok", operator_env)
        assert done.stdout.strip() == "OK", done.stdout + done.stderr
        anonymous = shell("redis-cli -h localhost -p 6379 ping", operator_env)
        assert "NOAUTH" in anonymous.stdout + anonymous.stderr
    finally:
        forward.terminate()
        forward.wait(timeout=10)
