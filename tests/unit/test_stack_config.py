"""Validation of the stack config: every rule's message, the stack files, derived values."""

from __future__ import annotations

import copy
from decimal import Decimal

import pytest
import yaml
from pydantic import ValidationError

from stack_config import (
    AwaitTimeouts,
    ConfigError,
    StackConfig,
    cache_await_timeouts,
    cache_endpoint,
    gateway_await_timeouts,
    gateway_master_endpoint,
    gateway_pod_fqdn,
    gateway_pod_fqdns,
    gateway_pod_start_seconds,
    gateway_sentinel_addresses,
    gateway_startup_budget_seconds,
    image_engine,
    load_stack_config,
    namespace_delete_seconds,
    pod_security_level,
    proxy_await_timeouts,
    sentinel_id,
)
from stack_config.quantities import parse_cpu, parse_memory_bytes, parse_size_bytes
from tools.pulumi_mock_run import REPO, set_path, stack_file_config

from .support import STACKS


def _with(stack: str, **paths) -> dict:
    """The stack file's values with `path=value` overrides; `__` in a name stands for a dot."""
    values = copy.deepcopy(stack_file_config(stack))
    for dotted, value in paths.items():
        set_path(values, dotted.replace("__", "."), value)
    return values


def _problems(raw: dict, stack: str = "dev") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_stack_config(raw, stack)
    return caught.value.problems


# (stack, overrides as dotted path -> value, the exact line expected among the problems)
INVALID = [
    ("dev", {"gateway.replicas": 4}, "gateway.replicas: got 4; must be an odd number between 3 and 9"),
    ("dev", {"gateway.replicas": 1}, "gateway.replicas: got 1; must be an odd number between 3 and 9"),
    ("dev", {"gateway.replicas": "three"},
     'gateway.replicas: got "three"; must be a valid integer, unable to parse string as an integer'),
    ("dev", {"gateway.quorum": 1},
     "gateway.quorum: got 1; must be between the majority (2) and replicas - 1 (2), or null for the majority: "
     "one pod down must still leave quorum sentinels"),
    ("dev", {"gateway.quorum": 4},
     "gateway.quorum: got 4; must be between the majority (2) and replicas - 1 (2), or null for the majority: "
     "one pod down must still leave quorum sentinels"),
    ("dev", {"gateway.downAfterMilliseconds": 999}, "gateway.downAfterMilliseconds: got 999; must be between 1000 and 600000"),
    ("dev", {"gateway.failoverTimeoutMilliseconds": 5000},
     "gateway.failoverTimeoutMilliseconds: got 5000; must be > downAfterMilliseconds (5000)"),
    ("dev", {"gateway.parallelSyncs": 0}, "gateway.parallelSyncs: got 0; must be between 1 and 8"),
    ("prod", {"gateway.minReplicasToWrite": 3},
     "gateway.minReplicasToWrite: got 3; must be <= replicas - 2 (1): with one pod down (a rolling update) "
     "the master must still accept writes"),
    ("dev", {"gateway.minReplicasToWrite": -1}, "gateway.minReplicasToWrite: got -1; must be between 0 and 7"),
    ("dev", {"gateway.minReplicasMaxLag": 0}, "gateway.minReplicasMaxLag: got 0; must be between 1 and 3600"),
    ("dev", {"gateway.maxmemory": "400Mi"},
     'gateway.maxmemory: got "400Mi"; must be <= 60% of resources.redis.limits.memory (512Mi): '
     "fork copy-on-write and client/replication buffers need the rest"),
    ("dev", {"gateway.maxmemory": "lots"},
     'gateway.maxmemory: got "lots"; must be a positive size such as "256Mi" (Kubernetes) or "256mb" (Redis), '
     'no spaces'),
    ("dev", {"gateway.maxmemoryPolicy": "lru"},
     "gateway.maxmemoryPolicy: got \"lru\"; must be 'volatile-lru', 'allkeys-lru', 'volatile-lfu', "
     "'allkeys-lfu', 'volatile-random', 'allkeys-random', 'volatile-ttl' or 'noeviction'"),
    ("dev", {"gateway.antiAffinity": "strict"}, "gateway.antiAffinity: got \"strict\"; must be 'soft' or 'hard'"),
    ("dev", {"gateway.persistence.rdbSchedule": ["900 1", "300"]},
     'gateway.persistence.rdbSchedule[1]: got "300"; must be "<seconds> <changes>": two integers from 1 '
     'to 2147483647 separated by one space, e.g. "900 1"'),
    ("dev", {"gateway.persistence.rdbSchedule": ["0 1"]},
     'gateway.persistence.rdbSchedule[0]: got "0 1"; must be "<seconds> <changes>": two integers from 1 '
     'to 2147483647 separated by one space, e.g. "900 1"'),
    ("dev", {"gateway.persistence.size": "1GB"},
     'gateway.persistence.size: got "1GB"; must be a positive memory quantity such as "512Mi" or "1Gi" '
     '(no spaces)'),
    ("dev", {"gateway.resources.redis.requests.cpu": "fast"},
     'gateway.resources.redis.requests.cpu: got "fast"; must be a positive CPU quantity such as "100m" or '
     '"0.5" (whole millicores, no spaces)'),
    ("dev", {"gateway.resources.sentinel.limits.memory": "128m"},
     'gateway.resources.sentinel.limits.memory: got "128m"; must be a positive memory quantity such as '
     '"512Mi" or "1Gi" (no spaces)'),
    ("dev", {"gateway.resources.redis.requests.cpu": "1500m"},
     'gateway.resources.redis.requests.cpu: got "1500m"; must be <= limits.cpu (1)'),
    ("dev", {"gateway.resources.haproxy.requests.memory": "128Mi"},
     'gateway.resources.haproxy.requests.memory: got "128Mi"; must be <= limits.memory (64Mi)'),
    ("dev", {"gateway.terminationGracePeriodSeconds": 19},
     "gateway.terminationGracePeriodSeconds: got 19; must be >= 20 (downAfterMilliseconds/1000 + 15 s) "
     "so the master's preStop can hand over before the kubelet kills it"),
    ("dev", {"gateway.dnsWaitSeconds": 0}, "gateway.dnsWaitSeconds: got 0; must be between 1 and 3600"),
    ("dev", {"gateway.proxy.replicas": 0}, "gateway.proxy.replicas: got 0; must be between 1 and 10"),
    ("dev", {"gateway.auth.enabled": False, "gateway.auth.sentinel": True},
     "gateway.auth.sentinel: got true; must be false when auth.enabled is false"),
    ("prod", {"gateway.auth.enabled": False, "gateway.auth.sentinel": False},
     "gateway.auth.enabled: got false; must be true in prod"),
    ("prod", {"gateway.auth.sentinel": False}, "gateway.auth.sentinel: got false; must be true in prod"),
    ("dev", {"gateway.auth.enabled": False, "gateway.auth.sentinel": False, "gateway.auth.clientsWithoutPassword": True},
     "gateway.auth.clientsWithoutPassword: got true; needs auth.enabled: true (without auth every client is "
     "accepted anyway)"),
    ("dev", {"gateway.backup.enabled": True},
     "gateway.backup.image: got null; must be set when enabled or restoreFrom is: an image with sh, the engine's "
     "CLI, curl >= 7.75, sha256sum"),
    ("dev", {"gateway.backup.image": "redis:7", "gateway.backup.restoreFrom": "latest"},
     'gateway.backup.restoreFrom: got "latest"; needs enabled: true (its s3 settings say where the backups are)'),
    ("dev", {"gateway.backup.restoreFrom": "redis-gateway/dev/gateway-master-1.rdb"},
     'gateway.backup.restoreFrom: got "redis-gateway/dev/gateway-master-1.rdb"; must be "latest", the name of a '
     "backup under s3.prefix (e.g. gateway-master-20261203T031700Z.rdb, no '/'), or null"),
    ("dev", {"gateway.backup.schedule": "daily"},
     'gateway.backup.schedule: got "daily"; must be a cron schedule of five fields separated by single spaces, '
     'e.g. "17 3 * * *", or one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly (a time zone '
     "goes in timeZone)"),
    ("dev", {"gateway.backup.s3.endpoint": "https://s3.example.org/backups"},
     'gateway.backup.s3.endpoint: got "https://s3.example.org/backups"; must be http://host[:port] or '
     "https://host[:port] with nothing after it (no path, no trailing '/'), e.g. https://s3.eu-west-1.amazonaws.com; "
     "the bucket goes in s3.bucket"),
    ("dev", {"gateway.backup.s3.prefix": "redis/../prod"},
     'gateway.backup.s3.prefix: got "redis/../prod"; must be path segments of letters, digits, \'_\', \'.\' and '
     "'-' joined by '/' (no '.' or '..' segment), without a leading or trailing '/', at most 512 characters, e.g. "
     "kubernaut/prod/redis-gateway"),
    ("dev", {"gateway.backup.s3.bucket": "Backups"},
     'gateway.backup.s3.bucket: got "Backups"; must be an S3 bucket name: 3 to 63 lower-case letters, digits, '
     "'.' and '-', starting and ending with a letter or digit"),
    ("dev", {"gateway.backup.enabled": True, "gateway.backup.image": "redis:7", "gateway.backup.restoreFrom": "latest",
             "gateway.persistence.appendonly": True},
     'gateway.backup.restoreFrom: got "latest"; needs persistence.appendonly: false (with AOF on and no AOF on the '
     "volume Redis ignores the restored dump.rdb and starts empty); restore, then turn appendonly on"),
    ("dev", {"gateway.backup.retention": 0}, "gateway.backup.retention: got 0; must be between 1 and 1000"),
    ("dev", {"gateway.replcias": 3},
     "gateway.replcias: unknown key; allowed keys: replicas, quorum, downAfterMilliseconds, "
     "failoverTimeoutMilliseconds, parallelSyncs, minReplicasToWrite, minReplicasMaxLag, maxmemory, "
     "maxmemoryPolicy, replBacklogSize, persistence, auth, backup, resources, antiAffinity, "
     "terminationGracePeriodSeconds, dnsWaitSeconds, bootPeerWaitSeconds, proxy, updatePartition"),
    ("dev", {"platform.images.tag": "x"},
     "platform.images.tag: unknown key; allowed keys: redis, haproxy, pullPolicy"),
    ("dev", {"platform.namespace": "Kubernaut_System"},
     'platform.namespace: got "Kubernaut_System"; must be a DNS-1123 label (lower-case letters, digits, '
     "'-', at most 63 characters)"),
    ("dev", {"platform.clusterDomain": "cluster..local"},
     'platform.clusterDomain: got "cluster..local"; must be a DNS-1123 subdomain such as cluster.local'),
    ("dev", {"platform.images.redis": "redis: 7"},
     'platform.images.redis: got "redis: 7"; must be an image reference such as '
     'docker.io/library/redis:7.0.15 ([registry/]path[:tag][@digest], ASCII, lower-case path, no spaces)'),
    ("dev", {"platform.images.haproxy": ""},
     'platform.images.haproxy: got ""; must be an image reference such as '
     'docker.io/library/redis:7.0.15 ([registry/]path[:tag][@digest], ASCII, lower-case path, no spaces)'),
    ("dev", {"platform.images.pullPolicy": "Sometimes"},
     "platform.images.pullPolicy: got \"Sometimes\"; must be 'Always', 'IfNotPresent' or 'Never'"),
    ("dev", {"platform.engine": "keydb"}, "platform.engine: got \"keydb\"; must be 'redis' or 'valkey'"),
    ("dev", {"platform.engine": "valkey"},
     'platform.engine: got "valkey"; must be redis: images.redis (docker.io/library/redis:8.10.2) is a redis image'),
    ("lab", {"platform.images.redis": "localhost/kubernaut-valkey-lab:8.1.1"},
     'platform.engine: got "redis"; must be valkey: images.redis (localhost/kubernaut-valkey-lab:8.1.1) '
     "is a valkey image"),
    ("dev", {"platform.kubernetes.renderYamlToDirectory": " "},
     'platform.kubernetes.renderYamlToDirectory: got " "; must be a directory path without control '
     'characters or surrounding spaces, or null to deploy to a cluster'),
    ("dev", {"platform.createNamespace": "perhaps"},
     'platform.createNamespace: got "perhaps"; must be a valid boolean, unable to interpret input'),
    ("dev", {"contextCache.maxmemoryPercentOfLimit": 95},
     "contextCache.maxmemoryPercentOfLimit: got 95; must be between 10 and 90"),
    ("dev", {"contextCache.maxmemoryPercentOfLimit": 5},
     "contextCache.maxmemoryPercentOfLimit: got 5; must be between 10 and 90"),
    ("dev", {"contextCache.maxmemoryPolicy": "allkeys-fifo"},
     "contextCache.maxmemoryPolicy: got \"allkeys-fifo\"; must be 'volatile-lru', 'allkeys-lru', "
     "'volatile-lfu', 'allkeys-lfu', 'volatile-random', 'allkeys-random', 'volatile-ttl' or 'noeviction'"),
    ("dev", {"contextCache.resources.limits.cpu": "50m"},
     'contextCache.resources.requests.cpu: got "100m"; must be <= limits.cpu (50m)'),
    ("dev", {"contextCache.resources.requests": {"cpu": "100m"}},
     "contextCache.resources.requests.memory: missing; this key is required"),
    ("dev", {"gateway": 3}, "gateway: got 3; must be a mapping of keys"),
    ("dev", {"networkPolicy.gatewayClients": [{"namespace": "Other_NS", "podLabels": {}}]},
     'networkPolicy.gatewayClients[0].namespace: got "Other_NS"; must be a DNS-1123 label (lower-case letters, '
     "digits, '-', at most 63 characters)"),
    ("dev", {"networkPolicy.contextCacheClients": [{"podLabels": {"app": "-context-api"}}]},
     "networkPolicy.contextCacheClients[0].podLabels: got {\"app\": \"-context-api\"}; labels 'app' are not valid: "
     "label keys are `name` or `prefix/name` (prefix: a DNS subdomain; name and values: at most 63 letters, digits, "
     "'-', '_', '.', alphanumeric at both ends; a value may be empty)"),
    ("dev", {"networkPolicy.gatewayClients": [{"podLabel": {"app": "gateway"}}]},
     "networkPolicy.gatewayClients[0].podLabel: unknown key; allowed keys: namespace, podLabels"),
    ("dev", {"networkPolicy.scraperNamespace": ""},
     'networkPolicy.scraperNamespace: got ""; must be a DNS-1123 label (lower-case letters, digits, \'-\', at most 63 '
     "characters)"),
    ("dev", {"unknownSection": {}}, "unknownSection: unknown key; allowed keys: platform, gateway, contextCache, monitoring, networkPolicy"),
]


@pytest.mark.parametrize("stack, overrides, expected", INVALID,
                         ids=[f"{s}:{','.join(o)}:{i}" for i, (s, o, _) in enumerate(INVALID)])
def test_invalid_config_names_key_value_and_rule(stack, overrides, expected):
    raw = copy.deepcopy(stack_file_config(stack))
    for path, value in overrides.items():
        set_path(raw, path, value)
    assert expected in _problems(raw, stack)


def test_at_least_25_invalid_configs_are_covered():
    assert len(INVALID) >= 25


def test_several_problems_are_reported_together_one_line_each():
    raw = _with("dev", gateway__replicas=4, gateway__parallelSyncs=0, platform__namespace="Bad",
                contextCache__maxmemoryPercentOfLimit=99)
    problems = _problems(raw)
    assert len(problems) == 4
    assert str(ConfigError(problems)).count("\n") == 3
    assert {line.split(":")[0] for line in problems} == {
        "gateway.replicas", "gateway.parallelSyncs", "platform.namespace", "contextCache.maxmemoryPercentOfLimit"}


def test_cross_field_rules_are_reported_together():
    raw = _with("dev", gateway__quorum=1, gateway__failoverTimeoutMilliseconds=1000,
                gateway__terminationGracePeriodSeconds=5)
    assert [line.split(":")[0] for line in _problems(raw)] == [
        "gateway.quorum", "gateway.failoverTimeoutMilliseconds", "gateway.terminationGracePeriodSeconds"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_file_validates(stack):
    cfg = load_stack_config(stack_file_config(stack), stack)
    assert isinstance(cfg, StackConfig)


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_set_every_key_explicitly(stack):
    """Each stack file spells out its values (defaults changing in code never change a stack)."""
    values = stack_file_config(stack)
    dumped = load_stack_config(values, stack).model_dump(by_alias=True)

    def keys(tree, prefix=()):
        for key, value in tree.items():
            if isinstance(value, dict):
                yield from keys(value, (*prefix, key))
            else:
                yield (*prefix, key)

    assert set(keys(dumped["gateway"])) == set(keys(values["gateway"]))
    assert set(keys(dumped["platform"])) == set(keys(values["platform"]))
    assert set(keys(dumped["contextCache"])) == set(keys(values["contextCache"]))


def test_dev_and_prod_differ_where_they_should():
    dev = load_stack_config(stack_file_config("dev"), "dev")
    prod = load_stack_config(stack_file_config("prod"), "prod")
    assert (dev.gateway.min_replicas_to_write, prod.gateway.min_replicas_to_write) == (0, 1)
    assert prod.gateway.min_replicas_max_lag == 10
    assert (dev.gateway.anti_affinity, prod.gateway.anti_affinity) == ("soft", "hard")
    assert (dev.gateway.auth.enabled, dev.gateway.auth.sentinel) == (True, True), "auth is on by default in dev"
    assert (prod.gateway.auth.enabled, prod.gateway.auth.sentinel) == (True, True)
    assert (dev.gateway.proxy.replicas, prod.gateway.proxy.replicas) == (1, 2)
    assert (dev.gateway.persistence.size, prod.gateway.persistence.size) == ("1Gi", "2Gi")
    assert (dev.platform.protect_data, prod.platform.protect_data) == (False, True)
    assert dev.platform.create_namespace is prod.platform.create_namespace is False


def _major(image: str) -> str:
    return image.rsplit(":", 1)[1].split(".", 1)[0]


def test_dev_runs_the_production_images_and_the_lab_the_same_major_line():
    """dev mirrors prod's images; the lab, which cannot pull them, runs the lab-built image of the
    same engine and major line (docs/lab.md, "The engine matrix")."""
    dev, prod, lab = (load_stack_config(stack_file_config(s), s).platform for s in ("dev", "prod", "lab"))
    assert dev.images == prod.images and dev.engine == prod.engine
    assert lab.engine == prod.engine
    assert _major(lab.images.redis) == _major(prod.images.redis)
    assert load_stack_config({}, "dev").platform.images == prod.images, "the defaults are the production images"


@pytest.mark.parametrize("image, engine", [
    ("docker.io/library/redis:8.10.2", "redis"), ("redis", "redis"), ("registry:5000/team/redis@sha256:ab", "redis"),
    ("localhost/kubernaut-valkey-lab:8.1.1", "valkey"), ("docker.io/valkey/valkey:8.1.4", "valkey"),
    ("registry.example/cache/server:1", None), ("example/redis-to-valkey:1", None),
])
def test_image_engine_reads_the_repository_name(image, engine):
    assert image_engine(image) == engine


def test_an_image_that_names_no_engine_takes_the_configured_one():
    for engine in ("redis", "valkey"):
        cfg = load_stack_config({"platform": {"engine": engine, "images": {"redis": "registry.example/kv:1"}}}, "dev")
        assert cfg.platform.engine == engine


def test_lab_has_the_lab_image_its_own_namespace_auth_and_volume_permissions():
    lab = stack_file_config("lab")
    assert lab["platform"]["images"]["redis"] == lab["platform"]["images"]["haproxy"] == \
        "localhost/kubernaut-redis-lab:8.0.2"
    assert lab["platform"]["createNamespace"] is True
    assert lab["gateway"]["auth"] == {"enabled": True, "sentinel": True, "clientsWithoutPassword": False}
    assert lab["platform"]["kubernetes"]["renderYamlToDirectory"] is None
    assert lab["gateway"]["persistence"]["volumePermissions"] is True


def test_volume_permissions_only_where_a_volume_ignores_fs_group():
    assert [load_stack_config(stack_file_config(stack), stack).gateway.persistence.volume_permissions
            for stack in STACKS] == [False, False, True]
    assert load_stack_config({}, "dev").gateway.persistence.volume_permissions is False


# The only keys in which the lab may differ from dev: the images (the lab builds its own; the
# exporter's binary has another path in Debian's package), the
# namespace's creation (not part of any pod spec) and the volume-permissions init container (the
# lab cluster's hostPath provisioner ignores fsGroup). So the lab plays the dev stack's pods.
LAB_ONLY_KEYS = (
    ("kubernaut-redis:platform", "images"),
    ("kubernaut-redis:platform", "createNamespace"),
    ("kubernaut-redis:gateway", "persistence", "volumePermissions"),
    ("kubernaut-redis:monitoring", "exporterImage"),
    ("kubernaut-redis:monitoring", "exporterBinary"),
)


def _stack_document(stack: str) -> dict:
    """The whole stack file as data; YAML comments are gone once parsed."""
    return yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())


_ABSENT = object()


def _differing_paths(left, right, path: tuple = ()) -> list[str]:
    """Dotted paths of every leaf (or key present on one side only) where two documents differ."""
    if isinstance(left, dict) and isinstance(right, dict):
        return [found for key in sorted(set(left) | set(right), key=str)
                for found in _differing_paths(left.get(key, _ABSENT), right.get(key, _ABSENT), (*path, key))]
    return [] if left == right else [".".join(map(str, path))]


def _pop_path(document: dict, path: tuple[str, ...]):
    *parents, key = path
    for parent in parents:
        document = document[parent]
    return document.pop(key)


def test_lab_differs_from_dev_only_in_the_lab_only_keys():
    dev, lab = _stack_document("dev"), _stack_document("lab")
    for path in LAB_ONLY_KEYS:
        _pop_path(dev["config"], path), _pop_path(lab["config"], path)  # KeyError: a stack lacks it
    assert _differing_paths(dev, lab) == []
    assert dev == lab


def test_the_lab_only_keys_do_differ():
    """Each allowance is used: a key that no longer differs must leave the list."""
    dev, lab = _stack_document("dev"), _stack_document("lab")
    for path in LAB_ONLY_KEYS:
        assert _pop_path(dev["config"], path) != _pop_path(lab["config"], path), path


def test_differing_paths_finds_a_changed_missing_or_added_key():
    """The comparison above is not vacuous: it names any key that differs."""
    assert _differing_paths({"a": {"b": 1, "c": 2}}, {"a": {"b": 2, "d": 2}}) == ["a.b", "a.c", "a.d"]
    assert _differing_paths({"a": [1]}, {"a": [1]}) == []


def test_defaults_are_safe_development_values():
    cfg = load_stack_config({}, "dev")
    gateway = cfg.gateway
    assert (gateway.replicas, gateway.effective_quorum, gateway.down_after_milliseconds,
            gateway.failover_timeout_milliseconds, gateway.parallel_syncs) == (3, 2, 5000, 10000, 1)
    assert gateway.persistence.rdb_schedule == ("900 1", "300 10", "60 10000")
    assert gateway.maxmemory_bytes == 256 * 2**20 and gateway.maxmemory_policy == "allkeys-lru"
    assert gateway.auth.enabled and gateway.auth.sentinel
    assert cfg.platform.namespace == "kubernaut-system" and cfg.platform.cluster_domain == "cluster.local"
    sentinel = gateway.resources.sentinel
    assert (sentinel.requests.cpu, sentinel.requests.memory, sentinel.limits.cpu, sentinel.limits.memory) == \
        ("50m", "64Mi", "250m", "128Mi")


def test_null_sections_and_empty_rdb_schedule_are_accepted():
    cfg = load_stack_config({"platform": None, "gateway": {"persistence": {"rdbSchedule": []}}}, "dev")
    assert cfg.gateway.persistence.rdb_schedule == ()


def test_config_is_frozen():
    cfg = load_stack_config({}, "dev")
    with pytest.raises(ValidationError, match="frozen"):
        cfg.gateway.replicas = 5  # type: ignore[misc]


def test_quorum_defaults_to_majority_and_accepts_the_range():
    assert load_stack_config({"gateway": {"replicas": 5}}, "dev").gateway.effective_quorum == 3
    assert load_stack_config({"gateway": {"replicas": 5, "quorum": 4}}, "dev").gateway.effective_quorum == 4


def test_snake_case_names_are_accepted_too():
    cfg = load_stack_config({"gateway": {"down_after_milliseconds": 6000}}, "dev")
    assert cfg.gateway.down_after_milliseconds == 6000


def test_context_cache_maxmemory_is_derived_from_the_limit():
    cfg = load_stack_config({}, "dev")
    assert cfg.context_cache.maxmemory_bytes == 512 * 2**20 * 75 // 100


def test_derived_names():
    cfg = load_stack_config({"platform": {"namespace": "ns1", "clusterDomain": "example.org"},
                             "gateway": {"replicas": 5}}, "dev")
    assert gateway_pod_fqdn(cfg, 4) == "redis-gateway-4.redis-gateway-headless.ns1.svc.example.org"
    assert len(gateway_pod_fqdns(cfg)) == 5
    assert gateway_sentinel_addresses(cfg)[0] == "redis-gateway-0.redis-gateway-headless.ns1.svc.example.org:26379"
    assert gateway_master_endpoint(cfg) == "redis-gateway-ha.ns1.svc.example.org:6379"
    assert cache_endpoint(cfg) == "redis.ns1.svc.example.org:6379"
    with pytest.raises(ValueError):
        gateway_pod_fqdn(cfg, 5)
    assert len(sentinel_id(0)) == 40 and sentinel_id(0) != sentinel_id(1)


@pytest.mark.parametrize("stack", STACKS)
def test_await_timeouts_of_the_stack_files(stack):
    """The values docs/configuration.md shows; a change here is a change of how long
    `pulumi up` waits on a crash loop."""
    cfg = load_stack_config(stack_file_config(stack), stack)
    assert gateway_startup_budget_seconds(cfg) == 60 + 20 + 60
    assert gateway_pod_start_seconds(cfg) == 90 + 140 + 5 + 5
    assert gateway_await_timeouts(cfg) == AwaitTimeouts(create=240, update=3 * (60 + 240), delete=60 + 60)
    proxies = {"prod": 2}.get(stack, 1)
    assert proxy_await_timeouts(cfg) == AwaitTimeouts(create=95, update=proxies * (95 + 30), delete=90)
    assert cache_await_timeouts(cfg) == AwaitTimeouts(create=95, update=30 + 95, delete=90)
    assert namespace_delete_seconds(cfg) == 120 + 60


def test_await_timeouts_follow_the_config():
    cfg = load_stack_config({"gateway": {"replicas": 5, "dnsWaitSeconds": 120, "bootPeerWaitSeconds": 40,
                                         "terminationGracePeriodSeconds": 90, "proxy": {"replicas": 3}}}, "dev")
    start = 90 + 120 + 40 + 60 + 5 + 5
    assert gateway_await_timeouts(cfg) == AwaitTimeouts(create=start, update=5 * (90 + start), delete=90 + 60)
    assert proxy_await_timeouts(cfg).update == 3 * (95 + 30)
    assert namespace_delete_seconds(cfg) == 150 + 60


def test_every_await_timeout_is_shorter_than_the_provider_default_on_create():
    """The point: a crash loop on the first `pulumi up` fails well before 10 minutes."""
    for stack in STACKS:
        cfg = load_stack_config(stack_file_config(stack), stack)
        for timeouts in (gateway_await_timeouts(cfg), proxy_await_timeouts(cfg), cache_await_timeouts(cfg)):
            assert timeouts.create < 600


def test_pod_security_level_follows_volume_permissions():
    assert pod_security_level(load_stack_config({}, "dev")) == "restricted"
    on = load_stack_config({"gateway": {"persistence": {"volumePermissions": True}}}, "dev")
    assert pod_security_level(on) == "baseline"


@pytest.mark.parametrize("text, cores", [("100m", Decimal("0.1")), ("0.5", Decimal("0.5")), ("2", Decimal(2))])
def test_cpu_quantities(text, cores):
    assert parse_cpu(text) == cores


@pytest.mark.parametrize("text, size", [("512Mi", 512 * 2**20), ("1Gi", 2**30), ("1G", 10**9), ("1000", 1000)])
def test_memory_quantities(text, size):
    assert parse_memory_bytes(text) == size


@pytest.mark.parametrize("text, size", [("256mb", 256 * 2**20), ("256m", 256 * 10**6), ("2GB", 2 * 2**30),
                                        ("256Mi", 256 * 2**20)])
def test_redis_sizes(text, size):
    assert parse_size_bytes(text) == size


@pytest.mark.parametrize("bad", ["", "abc", "1.5.", "10Mi", "-1"])
def test_bad_cpu_quantities(bad):
    with pytest.raises(ValueError):
        parse_cpu(bad)
