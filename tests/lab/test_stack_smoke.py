"""The rendered dev stack (only its images pointed at the lab image; auth on, as in prod) comes up
in the lab and passes the smoke check; the smoke check fails, naming the check, when an
expectation does not hold."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from lab_support import REPO, python_module, stack_outputs
from smoke import from_manifest_objects
from smoke.invariants import PASS

# contextCache: 75 % of its 512Mi limit (Pulumi.dev.yaml).
DEV_CACHE_MAXMEMORY = 512 * 2**20 * 75 // 100
ALL_CHECKS = {"sentinels-agree-on-master", "num-slaves", "num-other-sentinels", "master-not-down", "ckquorum",
              "no-tilt", "master-role", "single-master", "replicas-linked", "master-endpoint", "replication",
              "redis-auth", "sentinel-auth", "cache"}


def smoke_in_lab(stack_lab, rendered, *extra: str):
    return python_module("smoke", "--manifests", str(rendered), "--in-lab", stack_lab.name, "--json", *extra,
                         timeout=300)


def test_every_pod_of_the_stack_is_ready_and_the_services_have_endpoints(stack_lab):
    status = stack_lab.status()
    owners = {name: pod["owner"] for name, pod in status["pods"].items()}
    assert sorted(n for n, owner in owners.items() if owner == "StatefulSet/redis-gateway") == \
        ["redis-gateway-0", "redis-gateway-1", "redis-gateway-2"]
    assert sorted(owners.values()).count("Deployment/redis-gateway-haproxy") == 1
    assert all(pod["ready"] for pod in status["pods"].values())
    assert len(status["services"]["redis-gateway-ha"]) == 1
    assert len(status["services"]["redis"]) == 1
    assert sum(c["restarts"] for p in status["pods"].values() for c in p["containers"].values()) == 0


def test_the_smoke_check_passes_every_check_with_auth_enforced(stack_lab, rendered_dev_stack):
    done = smoke_in_lab(stack_lab, rendered_dev_stack)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert {c["name"]: c["status"] for c in report["checks"]} == {name: PASS for name in ALL_CHECKS}
    replication = next(c for c in report["checks"] if c["name"] == "replication")
    assert len(replication["data"]["delays_seconds"]) == 2


def test_the_smoke_check_names_the_check_that_fails(stack_lab, rendered_dev_stack):
    done = smoke_in_lab(stack_lab, rendered_dev_stack, "--replicas", "5")
    assert done.returncode == 1
    report = json.loads(done.stdout)
    assert "num-slaves" in report["failed"] and "replication" in report["failed"]
    assert "smoke: FAILED: " in done.stderr and "num-slaves" in done.stderr


def test_passwords_never_reach_a_command_line_or_the_output(stack_lab, rendered_dev_stack):
    objects = _objects(rendered_dev_stack)
    _, passwords = from_manifest_objects(objects)
    done = smoke_in_lab(stack_lab, rendered_dev_stack)
    for secret in (passwords.redis, passwords.sentinel):
        assert secret and secret not in done.stdout + done.stderr


def test_wrong_passwords_fail_the_checks_instead_of_crashing_the_check(stack_lab, rendered_dev_stack):
    targets, _ = from_manifest_objects(_objects(rendered_dev_stack))
    env = {**os.environ, "REDIS_PASSWORD": "not-the-password", "SENTINEL_PASSWORD": "not-the-password"}
    done = python_module("lab", "--name", stack_lab.name, "exec", "--env", "REDIS_PASSWORD",
                         "--env", "SENTINEL_PASSWORD", "--", "python3", "-m", "smoke",
                         "--targets-json", targets.to_json(), "--json", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert {"sentinels-agree-on-master", "ckquorum", "no-tilt", "replication"} <= set(report["failed"])
    assert "cache" not in report["failed"]  # the cache needs no password


def test_the_smoke_check_refuses_to_run_without_a_configured_password(stack_lab, rendered_dev_stack):
    targets, _ = from_manifest_objects(_objects(rendered_dev_stack))
    env = {k: v for k, v in os.environ.items() if "PASSWORD" not in k}
    done = python_module("lab", "--name", stack_lab.name, "--state-root", str(stack_lab.dir.parent), "exec", "--",
                         "python3", "-m", "smoke", "--targets-json", targets.to_json(), env=env)
    assert done.returncode == 2
    assert "REDIS_PASSWORD" in done.stderr


def _objects(rendered) -> list[dict]:
    import yaml

    return [d for p in sorted(rendered.rglob("*.yaml")) for d in yaml.safe_load_all(p.read_text()) if d]



def test_the_smoke_check_runs_from_stack_outputs_as_the_cluster_job_does(stack_lab, rendered_dev_stack):
    """The Job of docs/lab.md: `pulumi stack output --json` on stdin, passwords from the Secret by
    environment, the cache's expectations as flags."""
    _, passwords = from_manifest_objects(_objects(rendered_dev_stack))
    env = {**os.environ, "REDIS_PASSWORD": passwords.redis, "SENTINEL_PASSWORD": passwords.sentinel}
    done = subprocess.run(
        [sys.executable, "-m", "lab", "--name", stack_lab.name, "exec", "--env", "REDIS_PASSWORD",
         "--env", "SENTINEL_PASSWORD", "--", "python3", "-m", "smoke", "--stack-outputs", "-",
         "--cache-maxmemory-policy", "allkeys-lru", "--cache-maxmemory", str(DEV_CACHE_MAXMEMORY), "--json"],
        input=json.dumps(stack_outputs("dev")), capture_output=True, text=True, env=env, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    statuses = {c["name"]: c["status"] for c in json.loads(done.stdout)["checks"]}
    assert statuses == {name: PASS for name in ALL_CHECKS}
