"""Configs a new user may write that used to validate and then break or weaken the deployment.

Each must stop `pulumi preview` in `load_stack_config` with one line per problem that names the
key (its path inside the project's config) and what is allowed, no traceback, and never a
password. Together with the table in test_stack_config.py this is the bad-config suite; the
generated configs are in test_generated_configs.py (and tests/cluster for the API server).
"""

from __future__ import annotations

import copy
import re
import subprocess
from pathlib import Path
from typing import Any, Optional

import pulumi
import pytest

from stack_config import ConfigError, StackConfig, load_stack_config
from stack_config.keys import KNOWN_KEYS, PASSWORD_RULE, unknown_key_problems, valid_password
from stack_config.models import MAX_DNS_NAME_LENGTH, longest_gateway_pod_fqdn
from tools.pulumi_mock_run import REPO, set_path, stack_file_config

from .conftest import stack_config_values
from .support import PASSWORDS, STACKS
from .test_stack_config import INVALID as INVALID_IN_TEST_STACK_CONFIG

PROJECT_PREFIX = "kubernaut-redis:"
PASSWORD_KEYS_OF_A_STACK = ("gatewayRedisPassword", "gatewaySentinelPassword", "contextCachePassword",
                            "gatewayOperatorPassword", "contextCacheOperatorPassword")


def _passwords(**changed: Optional[str]) -> dict[str, Optional[str]]:
    """The test passwords with some replaced; None removes a key (not set in the stack)."""
    values: dict[str, Optional[str]] = {key: PASSWORDS[key] for key in PASSWORD_KEYS_OF_A_STACK}
    values.update(changed)
    return {key: value for key, value in values.items() if value is not None}


# (id, stack, overrides as dotted path -> value, passwords or None for the test ones,
#  the key path the one problem line must start with, a fragment of the rule it must state)
BAD: list[tuple[str, str, dict[str, Any], Optional[dict], str, str]] = [
    # quorum: a majority, and at most replicas - 1 (HAProxy needs `quorum` sentinels)
    ("quorum-equals-replicas", "dev", {"gateway.quorum": 3}, None, "gateway.quorum",
     "between the majority (2) and replicas - 1 (2), or null"),
    ("quorum-equals-5-replicas", "prod", {"gateway.replicas": 5, "gateway.quorum": 5}, None, "gateway.quorum",
     "between the majority (3) and replicas - 1 (4)"),
    ("quorum-minority", "dev", {"gateway.replicas": 5, "gateway.quorum": 2}, None, "gateway.quorum",
     "between the majority (3)"),
    ("quorum-zero", "dev", {"gateway.quorum": 0}, None, "gateway.quorum", "between the majority"),
    ("quorum-negative", "dev", {"gateway.quorum": -1}, None, "gateway.quorum", "between the majority"),
    ("quorum-boolean", "dev", {"gateway.quorum": True}, None, "gateway.quorum", "must be an integer, not a boolean"),
    ("quorum-text", "dev", {"gateway.quorum": "two"}, None, "gateway.quorum", "must be a valid integer"),
    # replicas: odd, 3..9
    ("replicas-11", "dev", {"gateway.replicas": 11}, None, "gateway.replicas", "odd number between 3 and 9"),
    ("replicas-1001", "prod", {"gateway.replicas": 1001}, None, "gateway.replicas", "odd number between 3 and 9"),
    ("replicas-2", "dev", {"gateway.replicas": 2}, None, "gateway.replicas", "odd number between 3 and 9"),
    ("replicas-0", "dev", {"gateway.replicas": 0}, None, "gateway.replicas", "odd number between 3 and 9"),
    ("replicas-boolean", "dev", {"gateway.replicas": True}, None, "gateway.replicas", "not a boolean"),
    ("replicas-fraction", "dev", {"gateway.replicas": 3.5}, None, "gateway.replicas", "fractional part"),
    # integers: bounded, and booleans are no counts
    ("boot-peer-wait-1e11", "dev", {"gateway.bootPeerWaitSeconds": 1e11}, None, "gateway.bootPeerWaitSeconds",
     "between 1 and 3600"),
    ("dns-wait-a-day", "dev", {"gateway.dnsWaitSeconds": 86400}, None, "gateway.dnsWaitSeconds",
     "between 1 and 3600"),
    ("down-after-3e9", "dev", {"gateway.downAfterMilliseconds": 3e9}, None, "gateway.downAfterMilliseconds",
     "between 1000 and 600000"),
    ("down-after-boolean", "dev", {"gateway.downAfterMilliseconds": True}, None, "gateway.downAfterMilliseconds",
     "not a boolean"),
    ("failover-timeout-past-int32", "dev", {"gateway.failoverTimeoutMilliseconds": 2**31}, None,
     "gateway.failoverTimeoutMilliseconds", "between 1 and 3600000"),
    ("grace-period-1e10", "dev", {"gateway.terminationGracePeriodSeconds": 10**10}, None,
     "gateway.terminationGracePeriodSeconds", "between 1 and 3600"),
    ("max-lag-a-million", "dev", {"gateway.minReplicasMaxLag": 10**6}, None, "gateway.minReplicasMaxLag",
     "between 1 and 3600"),
    ("parallel-syncs-past-replicas", "dev", {"gateway.parallelSyncs": 3}, None, "gateway.parallelSyncs",
     "<= replicas - 1 (2)"),
    ("min-replicas-to-write-2-of-3", "prod", {"gateway.minReplicasToWrite": 2}, None, "gateway.minReplicasToWrite",
     "<= replicas - 2 (1)"),
    ("min-replicas-to-write-4-of-5", "dev", {"gateway.replicas": 5, "gateway.minReplicasToWrite": 4}, None,
     "gateway.minReplicasToWrite", "<= replicas - 2 (3)"),
    ("proxy-replicas-50", "dev", {"gateway.proxy.replicas": 50}, None, "gateway.proxy.replicas", "between 1 and 10"),
    ("run-as-user-past-int32", "dev", {"gateway.proxy.runAsUser": 2**31}, None, "gateway.proxy.runAsUser",
     "between 1 and 2147483647"),
    ("run-as-root", "dev", {"gateway.proxy.runAsUser": 0}, None, "gateway.proxy.runAsUser", "between 1 and"),
    ("proxy-check-interval-50ms", "dev", {"gateway.proxy.checkIntervalMilliseconds": 50}, None,
     "gateway.proxy.checkIntervalMilliseconds", "between 100 and 10000"),
    ("proxy-check-interval-a-minute", "dev", {"gateway.proxy.checkIntervalMilliseconds": 60_000}, None,
     "gateway.proxy.checkIntervalMilliseconds", "between 100 and 10000"),
    ("cache-percent-boolean", "dev", {"contextCache.maxmemoryPercentOfLimit": True}, None,
     "contextCache.maxmemoryPercentOfLimit", "not a boolean"),
    ("cache-percent-fraction", "dev", {"contextCache.maxmemoryPercentOfLimit": 50.5}, None,
     "contextCache.maxmemoryPercentOfLimit", "fractional part"),
    # RDB rules: two int32s, one space, ASCII digits
    ("rdb-changes-past-int32", "dev", {"gateway.persistence.rdbSchedule": ["900 99999999999"]}, None,
     "gateway.persistence.rdbSchedule[0]", "two integers from 1 to 2147483647"),
    ("rdb-newline", "dev", {"gateway.persistence.rdbSchedule": ["900 1", "300\n10"]}, None,
     "gateway.persistence.rdbSchedule[1]", "separated by one space"),
    ("rdb-leading-space", "dev", {"gateway.persistence.rdbSchedule": [" 900 1"]}, None,
     "gateway.persistence.rdbSchedule[0]", "separated by one space"),
    ("rdb-two-spaces", "dev", {"gateway.persistence.rdbSchedule": ["900  1"]}, None,
     "gateway.persistence.rdbSchedule[0]", "separated by one space"),
    ("rdb-arabic-digits", "dev", {"gateway.persistence.rdbSchedule": ["\u0669\u0660\u0660 1"]}, None,
     "gateway.persistence.rdbSchedule[0]", "two integers"),
    # quantities: never trimmed, whole millicores, within int64, memory floors
    ("size-leading-space", "prod", {"gateway.persistence.size": " 2Gi"}, None, "gateway.persistence.size",
     "(no spaces)"),
    ("cpu-trailing-space", "dev", {"gateway.resources.redis.limits.cpu": "500m "}, None,
     "gateway.resources.redis.limits.cpu", "(whole millicores, no spaces)"),
    ("memory-newline", "dev", {"gateway.resources.redis.requests.memory": "128Mi\n"}, None,
     "gateway.resources.redis.requests.memory", "(no spaces)"),
    ("maxmemory-space", "dev", {"gateway.maxmemory": "256 mb"}, None, "gateway.maxmemory", "no spaces"),
    ("backlog-tab", "dev", {"gateway.replBacklogSize": "\t64Mi"}, None, "gateway.replBacklogSize", "no spaces"),
    ("cpu-below-a-millicore", "dev", {"gateway.resources.sentinel.requests.cpu": "0.0001"}, None,
     "gateway.resources.sentinel.requests.cpu", "whole millicores"),
    ("cpu-exponent", "dev", {"gateway.resources.sentinel.requests.cpu": "1e3"}, None,
     "gateway.resources.sentinel.requests.cpu", "CPU quantity"),
    ("memory-past-int64", "dev", {"gateway.resources.haproxy.limits.memory": "9Ei"}, None,
     "gateway.resources.haproxy.limits.memory", "positive memory quantity"),
    ("memory-full-width-digits", "dev", {"gateway.persistence.size": "\uff12Gi"}, None, "gateway.persistence.size",
     "positive memory quantity"),
    ("cache-limit-1-byte", "dev", {"contextCache.resources.limits.memory": "1",
                                   "contextCache.resources.requests.memory": "1"}, None,
     "contextCache.resources.limits.memory", "must be >= 32Mi"),
    ("sentinel-limit-1Ki", "dev", {"gateway.resources.sentinel.limits.memory": "1Ki",
                                   "gateway.resources.sentinel.requests.memory": "1Ki"}, None,
     "gateway.resources.sentinel.limits.memory", "must be >= 32Mi"),
    ("maxmemory-600-bytes", "dev", {"gateway.maxmemory": "600b"}, None, "gateway.maxmemory", "must be >= 1Mi"),
    ("backlog-below-redis-minimum", "dev", {"gateway.replBacklogSize": "1kb"}, None, "gateway.replBacklogSize",
     "must be >= 16kb"),
    ("backlog-past-the-headroom", "dev", {"gateway.replBacklogSize": "200Mi"}, None, "gateway.replBacklogSize",
     "<= 25% of resources.redis.limits.memory (512Mi)"),
    ("pvc-smaller-than-two-snapshots", "dev", {"gateway.persistence.size": "256Mi"}, None,
     "gateway.persistence.size", "must be >= 2 x maxmemory (256Mi)"),
    ("pvc-too-small-for-aof", "dev", {"gateway.persistence.size": "300Mi", "gateway.persistence.rdbSchedule": [],
                                      "gateway.persistence.appendonly": True}, None,
     "gateway.persistence.size", "while RDB or AOF is on"),
    # names: DNS-1123, ASCII, no trailing newline
    ("storage-class-empty", "dev", {"gateway.persistence.storageClass": ""}, None,
     "gateway.persistence.storageClass", "or null for the cluster's default class"),
    ("storage-class-with-space", "dev", {"gateway.persistence.storageClass": "Fast SSD"}, None,
     "gateway.persistence.storageClass", "DNS-1123 subdomain"),
    ("storage-class-newline", "dev", {"gateway.persistence.storageClass": "fast-ssd\n"}, None,
     "gateway.persistence.storageClass", "DNS-1123 subdomain"),
    ("namespace-newline", "dev", {"platform.namespace": "kubernaut-system\n"}, None, "platform.namespace",
     "DNS-1123 label"),
    ("namespace-non-ascii", "dev", {"platform.namespace": "kubernaut-s\u00fdstem"}, None, "platform.namespace",
     "DNS-1123 label"),
    ("namespace-64-characters", "dev", {"platform.namespace": "a" * 64}, None, "platform.namespace",
     "at most 63 characters"),
    ("cluster-domain-newline", "dev", {"platform.clusterDomain": "cluster.local\n"}, None, "platform.clusterDomain",
     "DNS-1123 subdomain"),
    ("cluster-domain-trailing-dot", "dev", {"platform.clusterDomain": "cluster.local."}, None,
     "platform.clusterDomain", "DNS-1123 subdomain"),
    ("cluster-domain-label-64", "dev", {"platform.clusterDomain": "a" * 64 + ".local"}, None,
     "platform.clusterDomain", "DNS-1123 subdomain"),
    ("pod-names-past-253", "dev", {"platform.clusterDomain": ".".join(["a" * 63] * 3) + "." + "b" * 50}, None,
     "platform.clusterDomain", "the pods' DNS names would have"),
    ("image-non-ascii", "dev", {"platform.images.redis": "r\u00e9dis:7"}, None, "platform.images.redis",
     "image reference"),
    ("image-newline", "dev", {"platform.images.redis": "docker.io/library/redis:7.0.15\n"}, None,
     "platform.images.redis", "image reference"),
    ("image-upper-case", "dev", {"platform.images.haproxy": "Haproxy:2.6"}, None, "platform.images.haproxy",
     "lower-case path"),
    ("image-empty-tag", "dev", {"platform.images.haproxy": "haproxy:"}, None, "platform.images.haproxy",
     "image reference"),
    ("image-short-digest", "dev", {"platform.images.redis": "redis@sha256:abc"}, None, "platform.images.redis",
     "image reference"),
    ("context-newline", "dev", {"platform.kubernetes.context": "lab\n"}, None, "platform.kubernetes.context",
     "without control characters"),
    ("render-directory-newline", "dev", {"platform.kubernetes.renderYamlToDirectory": "/tmp/out\n"}, None,
     "platform.kubernetes.renderYamlToDirectory", "without control characters"),
    ("anti-affinity-capitalised", "dev", {"gateway.antiAffinity": "Hard"}, None, "gateway.antiAffinity",
     "'soft' or 'hard'"),
    ("pull-policy-lower-case", "dev", {"platform.images.pullPolicy": "always"}, None, "platform.images.pullPolicy",
     "'Always', 'IfNotPresent' or 'Never'"),
    ("section-not-a-mapping", "dev", {"gateway": "replicas=3"}, None, "gateway", "must be a mapping of keys"),
    # passwords: set when switched on, 16..256 printable ASCII, no spaces, quotes or backslashes
    ("prod-password-missing", "prod", {}, _passwords(gatewayRedisPassword=None), "gatewayRedisPassword",
     "missing; this secret key is required while gateway.auth.enabled is true"),
    ("prod-password-empty", "prod", {}, _passwords(gatewayRedisPassword=""), "gatewayRedisPassword", PASSWORD_RULE),
    ("password-one-letter", "dev", {}, _passwords(gatewayRedisPassword="a"), "gatewayRedisPassword", PASSWORD_RULE),
    ("password-15-characters", "prod", {}, _passwords(gatewayRedisPassword="Qx7-secret-9z2k"),
     "gatewayRedisPassword", PASSWORD_RULE),
    ("password-with-space", "prod", {}, _passwords(gatewayRedisPassword="correct horse battery 4f9"),
     "gatewayRedisPassword", PASSWORD_RULE),
    ("password-with-double-quote", "prod", {}, _passwords(gatewayRedisPassword='Qx7"secret9z2k4m8p'),
     "gatewayRedisPassword", PASSWORD_RULE),
    ("password-with-single-quote", "prod", {}, _passwords(gatewaySentinelPassword="Qx7'secret9z2k4m8p"),
     "gatewaySentinelPassword", PASSWORD_RULE),
    ("password-with-backslash", "prod", {}, _passwords(gatewaySentinelPassword="Qx7\\secret9z2k4m8p"),
     "gatewaySentinelPassword", PASSWORD_RULE),
    ("password-ending-in-newline", "prod", {}, _passwords(gatewaySentinelPassword="Qx7-secret9z2k4m8p\n"),
     "gatewaySentinelPassword", PASSWORD_RULE),
    ("password-with-tab", "dev", {}, _passwords(gatewaySentinelPassword="Qx7-secret\t9z2k4m8p"),
     "gatewaySentinelPassword", PASSWORD_RULE),
    ("password-non-ascii", "dev", {}, _passwords(gatewayRedisPassword="p\u00e4ssw\u00f6rd-secret-9z2k"),
     "gatewayRedisPassword", PASSWORD_RULE),
    ("password-257-characters", "dev", {}, _passwords(gatewayRedisPassword="Qx7" + "k" * 254),
     "gatewayRedisPassword", PASSWORD_RULE),
    ("sentinel-password-missing", "dev", {}, _passwords(gatewaySentinelPassword=None), "gatewaySentinelPassword",
     "missing; this secret key is required while gateway.auth.sentinel is true"),
    ("cache-password-missing", "dev", {"contextCache.auth.enabled": True}, _passwords(contextCachePassword=None),
     "contextCachePassword", "required while contextCache.auth.enabled is true"),
    # the optional operator password: checked like the others when set, and never the clients' one
    ("operator-password-short", "prod", {}, _passwords(gatewayOperatorPassword="Qx7-secret-9z2k"),
     "gatewayOperatorPassword", PASSWORD_RULE),
    ("operator-password-empty", "dev", {}, _passwords(gatewayOperatorPassword=""), "gatewayOperatorPassword",
     PASSWORD_RULE),
    ("operator-password-with-space", "dev", {}, _passwords(gatewayOperatorPassword="operator pass word 12"),
     "gatewayOperatorPassword", PASSWORD_RULE),
    ("operator-password-missing-in-prod", "prod", {}, _passwords(gatewayOperatorPassword=None),
     "gatewayOperatorPassword", "missing; required in prod while gateway.auth.enabled is true"),
    ("operator-password-is-the-clients", "prod", {},
     _passwords(gatewayOperatorPassword=PASSWORDS["gatewayRedisPassword"]), "gatewayOperatorPassword",
     "must differ from it, or the clients hold the operators' full access"),
    ("cache-password-short", "dev", {"contextCache.auth.enabled": True}, _passwords(contextCachePassword="cachepw"),
     "contextCachePassword", PASSWORD_RULE),
    # the cache's optional operator password: read whenever set, with or without the cache's auth
    ("cache-operator-password-short", "prod", {}, _passwords(contextCacheOperatorPassword="Qx7-secret-9z2k"),
     "contextCacheOperatorPassword", PASSWORD_RULE),
    ("cache-operator-password-with-quote", "dev", {"contextCache.auth.enabled": True},
     _passwords(contextCacheOperatorPassword='Qx7"secret9z2k4m8p'), "contextCacheOperatorPassword", PASSWORD_RULE),
    ("cache-operator-password-is-the-clients", "dev", {"contextCache.auth.enabled": True},
     _passwords(contextCacheOperatorPassword=PASSWORDS["contextCachePassword"]), "contextCacheOperatorPassword",
     "must differ from it, or the clients hold the operators' full access"),
]

# Unknown keys of the project's namespace: (id, the stack's config keys besides its own, the
# one unknown key).
UNKNOWN_KEYS = [
    ("typo-gateway", ["kubernaut-redis:gatway"], "kubernaut-redis:gatway"),
    ("wrong-case", ["kubernaut-redis:contextcache"], "kubernaut-redis:contextcache"),
    ("old-password-name", ["kubernaut-redis:redisPassword"], "kubernaut-redis:redisPassword"),
    ("dotted-path-as-a-key", ["kubernaut-redis:gateway.replicas"], "kubernaut-redis:gateway.replicas"),
]


def _raw(stack: str, overrides: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(stack_file_config(stack))
    for path, value in overrides.items():
        set_path(raw, path, value)
    return raw


def _refusal(stack: str, overrides: dict[str, Any], passwords: Optional[dict]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_stack_config(_raw(stack, overrides), stack,
                          passwords=_passwords() if passwords is None else passwords, config_keys=())
    return caught.value.problems


def _secrets_in(passwords: Optional[dict]) -> list[str]:
    """Every password of a case that a leak could show (a one-letter one is no evidence)."""
    values = {*PASSWORDS.values(), *(passwords or {}).values()}
    return [value.strip() for value in values if len(value.strip()) >= 4]


def assert_one_line_naming(line: str, key: str, rule: str) -> None:
    assert "\n" not in line and "\r" not in line, f"not one line: {line!r}"
    assert line.startswith(f"{key}: "), f"does not name {key}: {line!r}"
    assert rule in line, f"does not state the rule {rule!r}: {line!r}"


def test_the_suite_covers_at_least_60_invalid_configs():
    total = len(BAD) + len(UNKNOWN_KEYS) + len(INVALID_IN_TEST_STACK_CONFIG)
    assert len(BAD) >= 60 and total >= 100, total
    assert len({case[0] for case in BAD}) == len(BAD), "ids are unique"


@pytest.mark.parametrize("name, stack, overrides, passwords, key, rule", BAD, ids=[case[0] for case in BAD])
def test_bad_config_is_refused_with_one_line_naming_the_key(name, stack, overrides, passwords, key, rule):
    problems = _refusal(stack, overrides, passwords)
    assert len(problems) == 1, problems
    assert_one_line_naming(problems[0], key, rule)
    for secret in _secrets_in(passwords):
        assert secret not in problems[0]


@pytest.mark.parametrize("name, stack, overrides, passwords, key, rule", BAD, ids=[case[0] for case in BAD])
def test_bad_config_stops_the_program_before_any_resource(program, name, stack, overrides, passwords, key, rule):
    """The same line from the program itself (`pulumi preview`): a RunError, which the engine
    prints without a traceback, and nothing registered."""
    secrets = {**(PASSWORDS if passwords is None else passwords), "kubeconfig": PASSWORDS["kubeconfig"]}
    with pytest.raises(pulumi.RunError) as caught:
        program(stack, overrides, passwords=secrets)
    lines = str(caught.value).splitlines()
    assert lines[0] == f"invalid configuration of stack '{stack}':"
    assert len(lines) == 2, lines
    assert_one_line_naming(lines[1], key, rule)
    assert "Traceback" not in str(caught.value)
    for secret in _secrets_in(passwords):
        assert secret not in str(caught.value)


def test_password_lines_never_show_the_value_nor_its_length():
    """The whole line is fixed text: the same for every refused value of a key."""
    lines = {_refusal("prod", {}, _passwords(gatewayRedisPassword=value))[0]
             for value in ("", "a", "x" * 15, "has space in it 1234", "q\"uote-0123456789", "\u00e4" * 20)}
    assert lines == {f"gatewayRedisPassword: got a value that breaks the rule (a secret, not shown); {PASSWORD_RULE}"}


def test_the_operator_password_is_optional_outside_prod_and_unread_without_gateway_auth():
    load_stack_config(_raw("dev", {}), "dev", passwords=_passwords(gatewayOperatorPassword=None), config_keys=())
    # auth off in dev: no ACL user, so a refused operator password is not read either
    load_stack_config(_raw("dev", {"gateway.auth.enabled": False, "gateway.auth.sentinel": False}), "dev",
                      passwords=_passwords(gatewayOperatorPassword="x"), config_keys=())


def test_the_cache_operator_password_is_optional_everywhere():
    for stack in STACKS:
        load_stack_config(_raw(stack, {}), stack, passwords=_passwords(contextCacheOperatorPassword=None),
                          config_keys=())
    # Without the cache's auth there is no clients' password it could equal.
    load_stack_config(_raw("dev", {}), "dev", config_keys=(),
                      passwords=_passwords(contextCacheOperatorPassword=PASSWORDS["contextCachePassword"]))


@pytest.mark.parametrize("value", [
    "aB3-_.~!#$%&()*+,/:;<=>?@[]^`{|}0",   # every allowed punctuation mark
    "0123456789abcdef",                    # exactly the minimum
    "k" * 256,                             # exactly the maximum
])
def test_passwords_the_pods_accept_pass(value):
    assert valid_password(value)
    load_stack_config(_raw("prod", {}), "prod", passwords=_passwords(gatewayRedisPassword=value), config_keys=())


def test_the_password_rule_is_the_pod_scripts_rule_plus_length_and_ascii():
    """Every printable ASCII character is allowed exactly when pod_scripts/passwords.sh's
    check_password (the gateway's and the cache's start scripts) accepts it (run with sh, with
    common.sh's die), so preview refuses what the pods refuse."""
    common, passwords = REPO / "pod_scripts" / "common.sh", REPO / "pod_scripts" / "passwords.sh"
    for code in range(0x20, 0x7F):
        candidate = "Qx7k9m2p4s6v8z0b" + chr(code)
        checked = subprocess.run(
            ["sh", "-c", f'. "{common}"; . "{passwords}"; check_password P "$1"', "sh", candidate],
            capture_output=True, text=True, timeout=10)
        assert (checked.returncode == 0) == valid_password(candidate), repr(chr(code))


def test_passwords_switched_off_are_not_checked():
    raw = _raw("dev", {"gateway.auth.enabled": False, "gateway.auth.sentinel": False})
    cfg = load_stack_config(raw, "dev", passwords={}, config_keys=())
    assert not cfg.gateway.auth.enabled


@pytest.mark.parametrize("name, extra_keys, unknown", UNKNOWN_KEYS, ids=[case[0] for case in UNKNOWN_KEYS])
def test_unknown_project_key_is_refused(name, extra_keys, unknown):
    keys = [f"{PROJECT_PREFIX}{key}" for key in ("platform", "gateway", "contextCache")] + extra_keys
    with pytest.raises(ConfigError) as caught:
        load_stack_config(stack_file_config("dev"), "dev", passwords=_passwords(), config_keys=keys)
    (line,) = caught.value.problems
    assert_one_line_naming(line, unknown, "unknown key; allowed keys of kubernaut-redis: " + ", ".join(KNOWN_KEYS))


def test_keys_of_other_namespaces_and_every_known_key_are_accepted():
    keys = [f"{PROJECT_PREFIX}{key}" for key in KNOWN_KEYS] + [
        "pulumi:disable-default-providers", "kubernetes:kubeconfig", "aws:region", "kubernaut-redis-other:gatway"]
    assert unknown_key_problems(keys) == []


def test_unknown_keys_are_reported_with_the_other_problems():
    with pytest.raises(ConfigError) as caught:
        load_stack_config(_raw("dev", {"gateway.quorum": 3}), "dev", passwords=_passwords(gatewayRedisPassword="a"),
                          config_keys=["kubernaut-redis:gatway"])
    assert [line.split(": ")[0] for line in caught.value.problems] == ["kubernaut-redis:gatway", "gateway.quorum"]


def test_a_typo_key_stops_the_program_under_mocks(program):
    with pytest.raises(pulumi.RunError) as caught:
        program("dev", {"gatway": {"replicas": 5}})
    assert str(caught.value).splitlines() == [
        "invalid configuration of stack 'dev':",
        "kubernaut-redis:gatway: unknown key; allowed keys of kubernaut-redis: " + ", ".join(KNOWN_KEYS)]


def test_a_typo_key_in_the_engines_config_bag_stops_the_program(program, monkeypatch):
    """`pulumi preview` hands the program its config as the JSON bag PULUMI_CONFIG."""
    monkeypatch.setenv("PULUMI_CONFIG", '{"kubernaut-redis:gatway": "{}", "kubernetes:foo": "x"}')
    with pytest.raises(pulumi.RunError, match=r"^invalid configuration of stack 'prod':\n"
                                              r"kubernaut-redis:gatway: unknown key; "):
        program("prod")


def test_a_structured_key_that_is_not_json_names_the_key(program):
    with pytest.raises(pulumi.RunError) as caught:
        program("dev", {"contextCache": "maxmemoryPercentOfLimit=50"})
    assert str(caught.value).splitlines()[1] == \
        'contextCache: got "maxmemoryPercentOfLimit=50"; must be a mapping of keys'


# ---------------------------------------------------------------------------- what still passes

@pytest.mark.parametrize("stack", STACKS)
def test_the_shipped_stacks_load_with_passwords_and_their_keys(stack):
    keys = [f"{PROJECT_PREFIX}{key}" for key in stack_file_config(stack)] + [
        f"{PROJECT_PREFIX}{key}" for key in (*PASSWORD_KEYS_OF_A_STACK, "kubeconfig")] + [
        "pulumi:disable-default-providers"]
    assert isinstance(load_stack_config(stack_file_config(stack), stack, passwords=_passwords(), config_keys=keys),
                      StackConfig)


@pytest.mark.parametrize("stack", STACKS)
def test_the_shipped_stacks_run_under_mocks(program, stack):
    assert program(stack).kubernetes_objects()


_DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted(REPO.glob("Pulumi.*.yaml"))]
_CONFIG_SET = re.compile(r"pulumi config set --path '([^']+)' (\S+) -s (\w+|<stack>)")
_RENDER_SET = re.compile(r"--set ([a-zA-Z.]+)=(\S+)")


def _documented_overrides() -> list[tuple[str, str, Any]]:
    import yaml

    found = []
    for path in _DOC_FILES:
        text = path.read_text()
        for key, value, stack in _CONFIG_SET.findall(text):
            for each in (STACKS if stack == "<stack>" else (stack,)):
                found.append((each, {key: yaml.safe_load(value)}))
        # The --set options of one command line (continuations joined) apply together.
        for line in text.replace("\\\n", " ").splitlines():
            sets = {key: yaml.safe_load(value.rstrip("`")) for key, value in _RENDER_SET.findall(line)}
            if sets:
                found.append(("dev", sets))
    return found


def test_the_docs_examples_still_pass():
    examples = _documented_overrides()
    assert len(examples) >= 6
    for stack, overrides in examples:
        load_stack_config(_raw(stack, overrides), stack, passwords=_passwords(), config_keys=())


def test_the_docs_error_example_is_the_real_line():
    shown = "gateway.replicas: got 4; must be an odd number between 3 and 9"
    for path in (REPO / "README.md", REPO / "docs" / "configuration.md"):
        assert shown in path.read_text()
    assert _refusal("prod", {"gateway.replicas": 4}, None) == [shown]


def test_the_readmes_password_recipe_makes_a_valid_password():
    """`head -c 24 /dev/urandom | base64`, as README and docs/configuration.md suggest."""
    made = subprocess.run(["sh", "-c", "head -c 24 /dev/urandom | base64"], capture_output=True, text=True,
                          timeout=10, check=True).stdout.rstrip("\n")
    assert valid_password(made)


def test_quorum_range_per_replica_count():
    """The rule in the docs: majority <= quorum <= replicas - 1, null = majority."""
    for replicas in (3, 5, 7, 9):
        accepted = []
        for quorum in range(0, replicas + 2):
            try:
                load_stack_config({"gateway": {"replicas": replicas, "quorum": quorum}}, "dev")
                accepted.append(quorum)
            except ConfigError:
                pass
        assert accepted == list(range(replicas // 2 + 1, replicas)), replicas
        assert load_stack_config({"gateway": {"replicas": replicas}}, "dev").gateway.effective_quorum == \
            replicas // 2 + 1


def test_the_longest_allowed_names_fit_a_dns_name():
    namespace = "n" * 63
    room = MAX_DNS_NAME_LENGTH - len(longest_gateway_pod_fqdn(namespace, "", 9))
    domain = ".".join(["d" * 60] * 4)[:room].rstrip(".")
    cfg = load_stack_config({"platform": {"namespace": namespace, "clusterDomain": domain},
                             "gateway": {"replicas": 9}}, "dev")
    assert len(longest_gateway_pod_fqdn(namespace, cfg.platform.cluster_domain, 9)) <= MAX_DNS_NAME_LENGTH


def test_no_regex_in_stack_config_anchors_with_a_dollar_or_matches_a_prefix():
    """`$` also matches before a final newline and `re.match` only checks a prefix: every
    pattern of stack_config is applied with fullmatch."""
    for path in sorted((REPO / "stack_config").glob("*.py")):
        text = path.read_text()
        assert not re.search(r"\.match\(|\.search\(", text), path.name
        for pattern in re.findall(r"re\.compile\(\s*r?f?[\"']([^\"']*)", text):
            assert not pattern.endswith("$") and not pattern.startswith("^"), (path.name, pattern)


_LARGEST = {
    "gateway.replicas": 9, "gateway.quorum": 8, "gateway.downAfterMilliseconds": 600000,
    "gateway.failoverTimeoutMilliseconds": 3600000, "gateway.parallelSyncs": 8, "gateway.minReplicasToWrite": 7,
    "gateway.minReplicasMaxLag": 3600, "gateway.terminationGracePeriodSeconds": 3600,
    "gateway.dnsWaitSeconds": 3600, "gateway.bootPeerWaitSeconds": 3600, "gateway.proxy.replicas": 10,
    "gateway.proxy.runAsUser": 2**31 - 1, "gateway.proxy.checkIntervalMilliseconds": 10_000,
    "gateway.persistence.rdbSchedule": ["2147483647 2147483647"],
    "gateway.resources.redis.limits.memory": "7Ei", "gateway.maxmemory": "1Ei", "gateway.replBacklogSize": "1Ei",
    "gateway.persistence.size": "7Ei", "contextCache.maxmemoryPercentOfLimit": 90,
    "platform.namespace": "n" * 63,
}
_SMALLEST = {
    "gateway.replicas": 3, "gateway.quorum": 2, "gateway.downAfterMilliseconds": 1000,
    "gateway.failoverTimeoutMilliseconds": 1001, "gateway.parallelSyncs": 1, "gateway.minReplicasToWrite": 0,
    "gateway.minReplicasMaxLag": 1, "gateway.terminationGracePeriodSeconds": 16, "gateway.dnsWaitSeconds": 1,
    "gateway.bootPeerWaitSeconds": 1, "gateway.proxy.replicas": 1, "gateway.proxy.runAsUser": 1,
    "gateway.proxy.checkIntervalMilliseconds": 100,
    "gateway.persistence.rdbSchedule": ["1 1"], "gateway.maxmemory": "1Mi", "gateway.replBacklogSize": "16kb",
    "gateway.persistence.size": "2Mi", "contextCache.maxmemoryPercentOfLimit": 10,
    "contextCache.resources.limits.memory": "32Mi", "contextCache.resources.requests.memory": "1",
    "gateway.resources.sentinel.limits.memory": "32Mi", "gateway.resources.sentinel.requests.memory": "1",
    "gateway.resources.redis.requests.cpu": "1m", "platform.namespace": "n", "platform.clusterDomain": "l",
}


@pytest.mark.parametrize("overrides", [_LARGEST, _SMALLEST], ids=["largest", "smallest"])
def test_the_bounds_keep_every_derived_number_an_int32(program, overrides):
    """The derived values (startup-probe threshold, grace, `pulumi up` waits, maxmemory) of the
    extreme allowed configs stay within what Kubernetes, Go durations and Redis accept."""
    import kubernetes_validate

    from stack_config import (
        cache_await_timeouts,
        gateway_await_timeouts,
        gateway_startup_budget_seconds,
        namespace_delete_seconds,
        proxy_await_timeouts,
    )

    from .config_mutations import assert_objects_are_sound, manifests
    from .test_render_manifests import KUBERNETES_VERSION

    cfg = load_stack_config(_raw("dev", overrides), "dev", passwords=_passwords(), config_keys=())
    waits = [gateway_startup_budget_seconds(cfg), namespace_delete_seconds(cfg)] + [
        seconds for derive in (gateway_await_timeouts, proxy_await_timeouts, cache_await_timeouts)
        for seconds in vars(derive(cfg)).values()]
    assert all(0 < seconds <= 2**31 - 1 for seconds in waits), waits
    assert cfg.context_cache.maxmemory_bytes >= 2**20
    objects = manifests(program("dev", overrides))
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    assert_objects_are_sound(cfg, objects)
