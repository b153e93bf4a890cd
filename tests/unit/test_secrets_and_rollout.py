"""Passwords stay in Secrets; the config checksum rolls pods on config changes, not on password ones."""

from __future__ import annotations

import json

import pytest

from stack_config import names
from stack_config.rotation import ROTATION_OUTPUT

from .support import PASSWORDS, STACKS, acl_passwords, cache_acl_passwords

# The keys' values and the internal ACL users' passwords the program derives from them.
PASSWORD_VALUES = [value for key, value in PASSWORDS.items() if key != "kubeconfig"] + list(acl_passwords().values()) \
    + list(cache_acl_passwords().values())
SECRET_KINDS = {"Secret"}


def _checksum(run, kind, name):
    return run.object(kind, name)["spec"]["template"]["metadata"]["annotations"][names.CHECKSUM_ANNOTATION]


def _all_checksums(run):
    return (_checksum(run, "StatefulSet", names.GATEWAY),
            _checksum(run, "Deployment", names.GATEWAY_HAPROXY),
            _checksum(run, "Deployment", names.CACHE))


@pytest.mark.parametrize("stack", STACKS)
def test_no_password_outside_secrets(program, stack):
    run = program(stack, {"contextCache.auth.enabled": True})
    for obj in run.kubernetes_objects():
        if obj["kind"] in SECRET_KINDS:
            continue
        text = json.dumps(obj)
        for password in PASSWORD_VALUES:
            assert password not in text, f"{obj['kind']} {obj['metadata']['name']} holds a password"


@pytest.mark.parametrize("stack", STACKS)
def test_passwords_reach_the_secrets(program, stack):
    run = program(stack, {"contextCache.auth.enabled": True})
    gateway = run.object("Secret", names.GATEWAY_AUTH_SECRET)["stringData"]["value"]
    assert gateway == {"redis-password": PASSWORDS["gatewayRedisPassword"],
                       "sentinel-password": PASSWORDS["gatewaySentinelPassword"],
                       **{f"acl-{user}-password": password for user, password in acl_passwords().items()}}
    assert gateway["acl-operator-password"] == PASSWORDS["gatewayOperatorPassword"]
    cache = run.object("Secret", names.CACHE_AUTH_SECRET)["stringData"]["value"]
    assert cache == {"redis-password": PASSWORDS["contextCachePassword"],
                     **{f"acl-{user}-password": password for user, password in cache_acl_passwords().items()}}
    assert set(cache) == {"redis-password", "acl-probe-password", "acl-exporter-password", "acl-operator-password"}
    assert cache["acl-operator-password"] == PASSWORDS["contextCacheOperatorPassword"]


@pytest.mark.parametrize("stack", STACKS)
def test_no_password_or_kubeconfig_in_component_props_or_outputs(program, stack):
    run = program(stack, {"contextCache.auth.enabled": True})
    for component in run.components():
        assert component.inputs == {}, f"{component.typ} passes props; they would be stored in state"
    outputs = json.dumps(run.outputs)
    for secret in [*PASSWORD_VALUES, "kubeconfig-marker-0c9e2b"]:
        assert secret not in outputs
    # The rotation guard's record: fingerprints only, and secret all the same.
    assert run.secret_outputs == {ROTATION_OUTPUT}


def test_no_env_var_carries_a_literal_password(program):
    run = program("prod", {"contextCache.auth.enabled": True})
    for obj in run.kubernetes_objects():
        template = obj.get("spec", {}).get("template")
        if not template:
            continue
        for container in template["spec"]["containers"]:
            for item in container.get("env", []):
                if "PASSWORD" in item["name"] or item["name"] == "REDISCLI_AUTH":
                    assert "value" not in item and "secretKeyRef" in item["valueFrom"]


def test_kubeconfig_goes_only_to_the_provider_as_a_secret(program):
    run = program("prod")
    (provider,) = run.providers()
    kubeconfig = provider.inputs["kubeconfig"]
    assert kubeconfig["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270"
    assert kubeconfig["value"] == PASSWORDS["kubeconfig"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_password_change_does_not_change_any_checksum(program, stack):
    other = {key: value if key == "kubeconfig" else value + "-rotated" for key, value in PASSWORDS.items()}
    overrides = {"contextCache.auth.enabled": True}
    assert _all_checksums(program(stack, overrides)) == _all_checksums(program(stack, overrides, passwords=other))


@pytest.mark.parametrize("overrides", [
    {"gateway.maxmemory": "200Mi"},
    {"gateway.downAfterMilliseconds": 6000},
    {"gateway.parallelSyncs": 2},
    {"gateway.minReplicasToWrite": 1},
])
def test_gateway_config_text_change_rolls_the_gateway_pods(program, overrides):
    before, after = program("dev"), program("dev", overrides)
    assert before.object("ConfigMap", names.GATEWAY_CONFIG_MAP)["data"] != \
        after.object("ConfigMap", names.GATEWAY_CONFIG_MAP)["data"]
    assert _checksum(before, "StatefulSet", names.GATEWAY) != _checksum(after, "StatefulSet", names.GATEWAY)


def test_haproxy_config_change_rolls_the_proxy_only_when_its_file_changes(program):
    before, after = program("dev"), program("dev", {"gateway.replicas": 5})
    changed = before.object("ConfigMap", names.GATEWAY_HAPROXY_CONFIG_MAP)["data"] != \
        after.object("ConfigMap", names.GATEWAY_HAPROXY_CONFIG_MAP)["data"]
    assert changed, "haproxy.cfg lists one server per replica"
    assert _checksum(before, "Deployment", names.GATEWAY_HAPROXY) != \
        _checksum(after, "Deployment", names.GATEWAY_HAPROXY)


def test_cache_config_change_rolls_the_cache_only(program):
    before, after = program("dev"), program("dev", {"contextCache.maxmemoryPercentOfLimit": 50})
    assert _checksum(before, "Deployment", names.CACHE) != _checksum(after, "Deployment", names.CACHE)
    assert _checksum(before, "StatefulSet", names.GATEWAY) == _checksum(after, "StatefulSet", names.GATEWAY)


def test_checksum_is_sha256_of_the_mounted_files(program):
    from components.checksum import config_checksum

    run = program("dev")
    expected = config_checksum(run.object("ConfigMap", names.GATEWAY_CONFIG_MAP)["data"],
                               run.object("ConfigMap", names.GATEWAY_SCRIPTS_CONFIG_MAP)["data"])
    assert _checksum(run, "StatefulSet", names.GATEWAY) == expected


def test_checksum_separates_names_from_contents():
    from components.checksum import config_checksum

    assert config_checksum({"a": "bc"}) != config_checksum({"ab": "c"})
    assert config_checksum({"a": "1", "b": "2"}) == config_checksum({"b": "2", "a": "1"})
    assert config_checksum({"a": "1"}, {}) != config_checksum({}, {"a": "1"})
