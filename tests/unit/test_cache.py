"""SingleRedisCache: the Context-API's cache."""

from __future__ import annotations

import pytest

from stack_config import names


def _deployment(run):
    return run.object("Deployment", names.CACHE)


def _container(run):
    """The cache's Redis; the exporter (monitoring) is tested in test_monitoring.py."""
    (container,) = [c for c in _deployment(run)["spec"]["template"]["spec"]["containers"] if c["name"] == "redis"]
    return container


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_one_pod_recreated_never_two(program, stack):
    spec = _deployment(program(stack))["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_service_and_config_map(program, stack):
    run = program(stack)
    service = run.object("Service", names.CACHE)["spec"]
    assert service["ports"] == [{"name": "redis", "port": 6379, "targetPort": "redis", "protocol": "TCP"}]
    assert service["selector"].items() <= _deployment(run)["spec"]["template"]["metadata"]["labels"].items()
    assert "redis.conf" in run.object("ConfigMap", names.CACHE_CONFIG_MAP)["data"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_resources_are_the_seeds(program, stack):
    assert _container(program(stack))["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"cpu": "500m", "memory": "512Mi"}}


def test_security_and_no_persistence(program):
    run = program("prod")
    pod = _deployment(run)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    container = _container(run)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "persistentVolumeClaim" not in str(volumes)
    assert "emptyDir" in volumes["data"]


def test_auth_off_by_default_no_secret(program):
    run = program("prod")
    assert not [o for o in run.kubernetes_objects() if o["metadata"]["name"] == names.CACHE_AUTH_SECRET]
    env = _container(run)["env"]
    assert env == [{"name": "ENGINE_SERVER", "value": "redis-server"}], "no secret without auth"


def test_auth_on_uses_the_secret_and_the_start_script(program):
    run = program("dev", {"contextCache.auth.enabled": True})
    secret = run.object("Secret", names.CACHE_AUTH_SECRET)
    assert set(secret["stringData"]["value"]) == {"redis-password"}
    container = _container(run)
    env = {item["name"]: item["valueFrom"]["secretKeyRef"] for item in container["env"] if "valueFrom" in item}
    assert env == {"REDIS_PASSWORD": {"name": "redis-auth", "key": "redis-password"},
                   "REDISCLI_AUTH": {"name": "redis-auth", "key": "redis-password"}}
    assert container["command"] == ["sh", "/opt/kubernaut-redis/bin/cache-start.sh"]


def test_readiness_fails_on_error_replies(program):
    probe = _container(program("dev"))["readinessProbe"]["exec"]["command"]
    assert probe[:2] == ["redis-cli", "-e"]
    assert "-a" not in probe


@pytest.mark.parametrize("engine, image, server, cli", [
    ("redis", "docker.io/library/redis:8.10.2", "redis-server", "redis-cli"),
    ("valkey", "docker.io/valkey/valkey:8.1.4", "valkey-server", "valkey-cli"),
])
def test_the_engine_picks_the_cache_binaries(program, engine, image, server, cli):
    container = _container(program("dev", {"platform.engine": engine, "platform.images.redis": image}))
    assert container["image"] == image
    assert {"name": "ENGINE_SERVER", "value": server} in container["env"]
    assert container["readinessProbe"]["exec"]["command"][0] == cli
