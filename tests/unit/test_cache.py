"""SingleRedisCache: the Context-API's cache."""

from __future__ import annotations

import pytest

import redis_files
from stack_config import load_stack_config, names

from .support import PASSWORDS, cache_acl_passwords

WITHOUT_CACHE_OPERATOR = {key: value for key, value in PASSWORDS.items() if key != "contextCacheOperatorPassword"}


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


def _secret_env(container):
    return {item["name"]: item["valueFrom"]["secretKeyRef"] for item in container["env"] if "valueFrom" in item}


def _users(run):
    """user -> rules of the users.acl template in ConfigMap redis-config."""
    text = run.object("ConfigMap", names.CACHE_CONFIG_MAP)["data"][names.USERS_ACL]
    return {line.split()[1]: " ".join(line.split()[2:]) for line in text.splitlines() if line.startswith("user ")}


def test_auth_off_without_operator_no_secret_and_a_restricted_nopass_default(program):
    run = program("prod", passwords=WITHOUT_CACHE_OPERATOR)
    assert not [o for o in run.kubernetes_objects() if o["metadata"]["name"] == names.CACHE_AUTH_SECRET]
    env = _container(run)["env"]
    assert env == [{"name": "ENGINE_SERVER", "value": "redis-server"}, {"name": "ENGINE_CLI", "value": "redis-cli"}], \
        "no secret without auth and without an operator"
    users = _users(run)
    assert list(users) == ["default"], "no operator user without contextCacheOperatorPassword"
    assert "nopass" in users["default"].split() and "+@all" not in users["default"].split()


def test_auth_off_with_operator_only_the_operators_password_in_the_secret(program):
    run = program("dev")
    secret = run.object("Secret", names.CACHE_AUTH_SECRET)["stringData"]["value"]
    assert secret == {"acl-operator-password": PASSWORDS["contextCacheOperatorPassword"]}
    assert _secret_env(_container(run)) == {
        "ACL_OPERATOR_PASSWORD": {"name": "redis-auth", "key": "acl-operator-password"}}
    assert list(_users(run)) == ["default", "operator"]
    assert _users(run)["operator"] == "on ~* &* +@all"


def test_auth_on_uses_the_secret_the_start_script_and_a_user_per_job(program):
    run = program("dev", {"contextCache.auth.enabled": True})
    secret = run.object("Secret", names.CACHE_AUTH_SECRET)
    assert set(secret["stringData"]["value"]) == {
        "redis-password", "acl-probe-password", "acl-exporter-password", "acl-operator-password"}
    container = _container(run)
    # every user's password: cache-start.sh writes each user's hash (the exporter container: test_monitoring.py)
    assert _secret_env(container) == {
        "REDIS_PASSWORD": {"name": "redis-auth", "key": "redis-password"},
        "REDISCLI_AUTH": {"name": "redis-auth", "key": "redis-password"},
        "ACL_PROBE_PASSWORD": {"name": "redis-auth", "key": "acl-probe-password"},
        "ACL_EXPORTER_PASSWORD": {"name": "redis-auth", "key": "acl-exporter-password"},
        "ACL_OPERATOR_PASSWORD": {"name": "redis-auth", "key": "acl-operator-password"}}
    assert container["command"] == ["sh", "/opt/kubernaut-redis/bin/cache-start.sh"]
    users = _users(run)
    assert list(users) == ["default", "probe", "exporter", "operator"]
    assert "nopass" not in " ".join(users.values())


def test_auth_on_without_operator_derives_probe_and_exporter_from_the_clients_password(program):
    run = program("dev", {"contextCache.auth.enabled": True}, passwords=WITHOUT_CACHE_OPERATOR)
    secret = run.object("Secret", names.CACHE_AUTH_SECRET)["stringData"]["value"]
    derived = cache_acl_passwords(WITHOUT_CACHE_OPERATOR)
    assert set(derived) == {"probe", "exporter"}
    assert secret == {"redis-password": PASSWORDS["contextCachePassword"],
                      **{f"acl-{user}-password": password for user, password in derived.items()}}
    assert list(_users(run)) == ["default", "probe", "exporter"]


def test_the_config_map_holds_the_rendered_users_and_scripts(program):
    run = program("dev", {"contextCache.auth.enabled": True})
    data = run.object("ConfigMap", names.CACHE_CONFIG_MAP)["data"]
    cfg = load_stack_config({"contextCache": {"auth": {"enabled": True}}}, "dev")
    assert data[names.USERS_ACL] == redis_files.cache_users_acl(cfg, operator=True)
    assert {key for key in data if key.endswith(".sh")} == {"cache-start.sh", "cache-readiness.sh", "passwords.sh"}
    volumes = {v["name"]: v for v in _deployment(run)["spec"]["template"]["spec"]["volumes"]}
    assert [item["key"] for item in volumes["conf"]["configMap"]["items"]] == ["redis.conf", "users.acl"]


def test_the_operator_user_rolls_the_pod(program):
    """users.acl is in the config checksum: adding or dropping the operator restarts the cache."""
    def checksum(run):
        return _deployment(run)["spec"]["template"]["metadata"]["annotations"][names.CHECKSUM_ANNOTATION]
    assert checksum(program("dev")) != checksum(program("dev", passwords=WITHOUT_CACHE_OPERATOR))


def test_readiness_is_the_probe_script(program):
    probe = _container(program("dev"))["readinessProbe"]["exec"]["command"]
    assert probe == ["sh", "/opt/kubernaut-redis/bin/cache-readiness.sh", "6379"]


@pytest.mark.parametrize("engine, image, server, cli", [
    ("redis", "docker.io/library/redis:8.10.2", "redis-server", "redis-cli"),
    ("valkey", "docker.io/valkey/valkey:8.1.4", "valkey-server", "valkey-cli"),
])
def test_the_engine_picks_the_cache_binaries(program, engine, image, server, cli):
    container = _container(program("dev", {"platform.engine": engine, "platform.images.redis": image}))
    assert container["image"] == image
    assert {"name": "ENGINE_SERVER", "value": server} in container["env"]
    assert {"name": "ENGINE_CLI", "value": cli} in container["env"]


def test_the_component_refuses_passwords_that_do_not_match_its_users():
    from components import SingleRedisCacheArgs
    cfg = load_stack_config({"contextCache": {"auth": {"enabled": True}}}, "dev")
    with pytest.raises(ValueError, match="probe"):
        SingleRedisCacheArgs(config=cfg, namespace="ns", password="p" * 16, acl_passwords={"operator": "o" * 16})
    off = load_stack_config({}, "dev")
    with pytest.raises(ValueError, match="exporter"):
        SingleRedisCacheArgs(config=off, namespace="ns", acl_passwords={"exporter": "e" * 16})
    SingleRedisCacheArgs(config=off, namespace="ns", acl_passwords={"operator": "o" * 16})
