"""Generated stack configs for the property tests: the shipped stacks with random values at random
keys (odd strings, integers, quantities, passwords, unknown keys), and what a refusal or an
acceptance must look like.

Used by tests/unit/test_generated_configs.py (refused with a key-naming line, or rendered into
objects that pass the Kubernetes schema and the program's own invariants) and by
tests/cluster/test_generated_configs_dry_run.py (the same objects, accepted by a real API server).
"""

from __future__ import annotations

import copy
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from hypothesis import strategies as st

from stack_config import ConfigError, StackConfig, load_stack_config, names
from stack_config.keys import KNOWN_KEYS
from tools.config_reference import _leaves
from tools.pulumi_mock_run import ProgramRun, run_program, set_path, stack_file_config
from tools.render_manifests import secret_string_data_as_data, unwrap_secrets

from .support import PASSWORDS, STACKS

PROJECT_PREFIX = "kubernaut-redis:"
PASSWORD_KEYS = ("gatewayRedisPassword", "gatewaySentinelPassword", "contextCachePassword")
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)

# Every leaf key of the structured config, as dotted paths (gateway.persistence.size, ...).
LEAF_PATHS: tuple[str, ...] = tuple(
    ".".join(path)
    for attribute, section in (("platform", "platform"), ("gateway", "gateway"), ("context_cache", "contextCache"))
    for path, _ in _leaves(StackConfig.model_fields[attribute].annotation, (section,)))
# Keys that only switch the provider (no cluster, no objects to render differently): left alone,
# so an accepted config always renders.
UNTOUCHED = ("platform.kubernetes.renderYamlToDirectory",)
MUTABLE_PATHS = tuple(path for path in LEAF_PATHS if path not in UNTOUCHED)


# ---------------------------------------------------------------------------- values

def _odd_variants(text: str) -> list[str]:
    """The same text as a careless edit leaves it."""
    return [f" {text}", f"{text} ", f"{text}\n", f"\t{text}", text.upper(), f"{text}\u00e9", "", f"{text}.",
            f"{text} {text}", f'"{text}"']


ODD_STRINGS = st.sampled_from([
    "", " ", "\n", "a", "A", "-", "x" * 64, "\u00e9", "r\u00e9dis:7", "Fast SSD", "fast-ssd", "standard",
    "cluster.local", "cluster.local.", "example.org", "kubernaut-system", "ns1", "lab", "null", "true", "3",
    "redis:7.2.4", "docker.io/library/redis:7.0.16", "localhost:5000/redis:7", "redis@sha256:" + "a" * 64,
    "Redis:7", "redis:7\n", "soft", "hard", "Always", "Never", "IfNotPresent", "allkeys-lfu", "noeviction",
    "900 1", "60 10000", "0 1", "900 1 2", "\u0669 1", "\u00a0", "\u200b",
])
QUANTITIES = st.sampled_from([
    "100m", "250m", "1", "2", "0.5", "1.5", "0.0001", "1e3", "-1", "0", "32Mi", "64Mi", "128Mi", "256Mi", "512Mi",
    "1Gi", "2Gi", "10Gi", "1Ki", "1", "600b", "256mb", "1gb", "16kb", "1kb", " 2Gi", "500m ", "1Gi\n", "9Ei",
    "1G", "1000000", "1.5Gi", "100Mi", "\uff12Gi",
])
ODD_INTS = st.one_of(
    st.integers(-3, 12),
    st.sampled_from([0, 1, 2, 3, 5, 9, 11, 15, 16, 59, 60, 3600, 3601, 5000, 10000, 600000, 600001, 3600000,
                     INT32_MAX, INT32_MAX + 1, 2**63, 10**11]),
    st.sampled_from([1e11, 3e9, 3.5, 5000.0, True, False, "5", "five", None]),
)


def any_value(current: Any) -> st.SearchStrategy:
    base = [ODD_STRINGS, QUANTITIES, ODD_INTS, st.text(max_size=8), st.lists(ODD_STRINGS, max_size=3)]
    if isinstance(current, str) and current:
        base.insert(0, st.sampled_from(_odd_variants(current)))
    return st.one_of(*base)


CPU = ["50m", "100m", "250m", "500m", "1", "2", "0.5", "1500m"]
MEMORY = ["32Mi", "64Mi", "128Mi", "256Mi", "512Mi", "1Gi", "2Gi"]
# Values a careful user might give each key: mostly within the rules, some just outside them.
PLAUSIBLE: dict[str, list[Any]] = {
    "platform.namespace": ["kubernaut-system", "ns1", "a", "redis-" + "x" * 57, "team-b"],
    "platform.createNamespace": [True, False],
    "platform.protectData": [True, False],
    "platform.clusterDomain": ["cluster.local", "example.org", "k8s.internal", "c.l"],
    "platform.kubernetes.context": ["", "lab", "kind-kubernaut", "arn:aws:eks:eu-west-1:1:cluster/x"],
    "platform.images.redis": ["docker.io/library/redis:7.0.15", "docker.io/valkey/valkey:8.1.4", "redis:7.2.4", "registry.example.com/redis",
                              "localhost:5000/team/redis:7@sha256:" + "a" * 64],
    "platform.images.haproxy": ["docker.io/library/haproxy:2.6.12", "haproxy:3.0", "quay.io/x/haproxy_lb:v1"],
    "platform.images.pullPolicy": ["Always", "IfNotPresent", "Never"],
    "platform.engine": ["redis", "valkey"],
    "gateway.replicas": [3, 5, 7, 9, 1, 11],
    "gateway.quorum": [None, 2, 3, 4, 1],
    "gateway.downAfterMilliseconds": [1000, 2000, 5000, 15000, 45000],
    "gateway.failoverTimeoutMilliseconds": [10000, 30000, 180000, 3600000],
    "gateway.parallelSyncs": [1, 2, 3],
    "gateway.minReplicasToWrite": [0, 1, 2],
    "gateway.minReplicasMaxLag": [1, 10, 60, 3600],
    "gateway.maxmemory": ["64Mi", "128Mi", "256Mi", "300mb", "200000000", "1Mi"],
    "gateway.maxmemoryPolicy": ["allkeys-lru", "volatile-ttl", "noeviction"],
    "gateway.replBacklogSize": ["1Mi", "16kb", "64Mi", "100mb"],
    "gateway.persistence.size": ["1Gi", "2Gi", "512Mi", "10Gi"],
    "gateway.persistence.storageClass": [None, "standard", "fast-ssd", "local-path", "gp3.encrypted"],
    "gateway.persistence.rdbSchedule": [[], ["900 1"], ["900 1", "300 10", "60 10000"], ["3600 1"]],
    "gateway.persistence.appendonly": [True, False],
    "gateway.persistence.volumePermissions": [True, False],
    "gateway.auth.enabled": [True, False],
    "gateway.auth.sentinel": [True, False],
    "gateway.auth.clientsWithoutPassword": [False, False, True],
    "gateway.backup.enabled": [False, True],
    "gateway.backup.schedule": ["17 3 * * *", "@hourly", "*/15 * * * *", "0 2 * * 1-5"],
    "gateway.backup.timeZone": [None, "UTC", "Europe/Berlin"],
    "gateway.backup.image": [None, "localhost/kubernaut-redis-backup:7.0.15", "docker.io/library/redis:7.0.15"],
    "gateway.backup.retention": [1, 7, 30, 1000],
    "gateway.backup.timeoutSeconds": [60, 3600, 86400],
    "gateway.backup.s3.endpoint": ["https://s3.us-east-1.amazonaws.com", "http://s3.lab-objectstore.svc.cluster.local:8333",
                                   "http://10.0.0.5:9000"],
    "gateway.backup.s3.bucket": ["kubernaut-backups", "backups.example.org"],
    "gateway.backup.s3.prefix": ["redis-gateway/dev", "a", "kubernaut/prod/redis-gateway"],
    "gateway.backup.s3.region": ["us-east-1", "eu-west-1"],
    "gateway.backup.s3.credentialsSecret": ["redis-gateway-backup-s3", "s3-credentials"],
    "gateway.backup.restoreFrom": [None, None, "latest", "gateway-master-20261203T031700Z.rdb"],
    "gateway.antiAffinity": ["soft", "hard"],
    "gateway.terminationGracePeriodSeconds": [20, 60, 120, 3600],
    "gateway.dnsWaitSeconds": [1, 30, 60, 3600],
    "gateway.bootPeerWaitSeconds": [1, 20, 300, 3600],
    "gateway.updatePartition": [0, 1, 2, 3],
    "gateway.proxy.replicas": [1, 2, 3, 10],
    "gateway.proxy.runAsUser": [99, 1000, 65534, INT32_MAX],
    "gateway.proxy.checkIntervalMilliseconds": [100, 250, 1000, 10_000],
    "contextCache.maxmemoryPolicy": ["allkeys-lru", "allkeys-lfu"],
    "contextCache.maxmemoryPercentOfLimit": [10, 50, 75, 90],
    "contextCache.auth.enabled": [True, False],
}


def plausible_value(path: str, current: Any) -> st.SearchStrategy:
    if path in PLAUSIBLE:
        return st.sampled_from(PLAUSIBLE[path])
    if path.endswith(".cpu"):
        return st.sampled_from(CPU)
    if path.endswith(".memory"):
        return st.sampled_from(MEMORY)
    raise KeyError(f"no plausible values for {path}: add them to PLAUSIBLE")


def mixed_value(path: str, current: Any) -> st.SearchStrategy:
    """Three in four plausible, one in four odd: both outcomes come up often."""
    plausible, odd = plausible_value(path, current), any_value(current)
    return st.integers(0, 3).flatmap(lambda branch: odd if branch == 3 else plausible)


ODD_PASSWORDS = st.one_of(
    st.sampled_from([None, "", "a", "short-pw-9", "Qx7-secret-9z2k",             # missing, empty, short
                     "correct horse battery staple", 'quote"d-password-0123', "it's-a-password-0123",
                     "back\\slash-password-0123", "newline-password-0123\n", "p\u00e4ssw\u00f6rd-secret-9z2k",
                     "k" * 257, "Qx7-secret-9z2k4m8p", "0123456789abcdef", "!#$%&()*+,-./:;<=>?@[]^_`{|}~01"]),
    st.text(min_size=0, max_size=40),
)


# ---------------------------------------------------------------------------- a generated case

@dataclass
class Case:
    stack: str
    values: dict[str, Any]                       # the structured keys, decoded
    passwords: dict[str, str]                    # the password keys that are set
    extra_keys: list[str] = field(default_factory=list)  # more config keys of the stack

    def config_keys(self) -> list[str]:
        return [f"{PROJECT_PREFIX}{key}" for key in (*self.values, *self.passwords)] + [
            "pulumi:disable-default-providers", *self.extra_keys]

    def secrets(self) -> list[str]:
        return [value for value in self.passwords.values() if len(value.strip()) >= 4]


@st.composite
def mutated_configs(draw, *, max_mutations: int = 3, mutate_passwords: bool = True,
                    values_for: Optional[Any] = None) -> Case:
    """A shipped stack with 1..max_mutations keys given a generated value, sometimes an odd
    password or an unknown key of the project's namespace."""
    stack = draw(st.sampled_from(STACKS))
    values = copy.deepcopy(stack_file_config(stack))
    for _ in range(draw(st.integers(1, max_mutations))):
        path = draw(st.sampled_from(MUTABLE_PATHS))
        current = _lookup(values, path)
        strategy = (values_for or mixed_value)(path, current)
        set_path(values, path, draw(strategy))
    passwords = {key: PASSWORDS[key] for key in PASSWORD_KEYS}
    if mutate_passwords and draw(st.integers(0, 3)) == 3:
        key = draw(st.sampled_from(PASSWORD_KEYS))
        value = draw(ODD_PASSWORDS)
        if value is None:
            del passwords[key]
        else:
            passwords[key] = value
    extra = []
    if mutate_passwords and draw(st.integers(0, 9)) == 9:
        extra.append(draw(st.sampled_from(["kubernaut-redis:gatway", "kubernaut-redis:Gateway",
                                           "kubernaut-redis:redisPassword", "kubernetes:context"])))
    return Case(stack, values, passwords, extra)


def _lookup(values: dict[str, Any], dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(values, dict) or key not in values:
            return None
        values = values[key]
    return values


# ---------------------------------------------------------------------------- the properties

def attempt(case: Case) -> tuple[Optional[StackConfig], list[str]]:
    """The validated config, or None and the problem lines."""
    try:
        return load_stack_config(case.values, case.stack, passwords=case.passwords,
                                 config_keys=case.config_keys()), []
    except ConfigError as err:
        return None, err.problems


_INDEX = re.compile(r"\[[0-9]+\]")
_KNOWN_PATHS = {*LEAF_PATHS, *(p.rsplit(".", n)[0] for p in LEAF_PATHS for n in (1, 2, 3)), *KNOWN_KEYS}


def _given_paths(values: Any, prefix: str = "") -> Iterator[str]:
    if isinstance(values, dict):
        for key, value in values.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            yield path
            yield from _given_paths(value, path)


def assert_refusal_names_keys(case: Case, problems: list[str]) -> None:
    """Each problem is one line `<key path>: ...` with a key path of the model or of the config
    given (an unknown field is named as written), a project key, and no password."""
    assert problems, "refused without a line"
    given = set(_given_paths(case.values))
    for line in problems:
        assert "\n" not in line and "\r" not in line, repr(line)
        assert "Traceback" not in line
        key, sep, rule = line.partition(": ")
        assert sep and rule, repr(line)
        key = _INDEX.sub("", key)
        assert (key in _KNOWN_PATHS or key in given
                or key in case.config_keys() and key.startswith(PROJECT_PREFIX)), f"names no key: {line!r}"
        assert rule.startswith(("got ", "must ", "unknown key", "missing")), f"states no rule: {line!r}"
        for secret in case.secrets():
            assert secret not in line, "a password shown in an error"


def render(case: Case) -> ProgramRun:
    """The program under mocks; the extra keys reach it as the engine hands over config, in the
    JSON bag PULUMI_CONFIG."""
    secrets = {**case.passwords, "kubeconfig": PASSWORDS["kubeconfig"]}
    saved = os.environ.get("PULUMI_CONFIG")
    os.environ["PULUMI_CONFIG"] = json.dumps({key: "{}" for key in case.extra_keys})
    try:
        return run_program(case.stack, case.values, secrets)
    finally:
        if saved is None:
            del os.environ["PULUMI_CONFIG"]
        else:
            os.environ["PULUMI_CONFIG"] = saved


def manifests(run: ProgramRun) -> list[dict[str, Any]]:
    """The objects as the provider sends them (secrets unwrapped, Secret stringData as data)."""
    return [secret_string_data_as_data(unwrap_secrets(obj)) for obj in run.kubernetes_objects()]


def _strings_and_ints(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _strings_and_ints(item, f"{path}.{key}")
    elif isinstance(value, list):
        for item in value:
            yield from _strings_and_ints(item, f"{path}[]")
    else:
        yield path, value


# Free text where whitespace and newlines belong: config files and scripts, commands, base64 data.
_FREE_TEXT = re.compile(r"^\.(data|binaryData)\.|\.(command|args)\[\]$")


def assert_objects_are_sound(cfg: StackConfig, objects: list[dict[str, Any]]) -> None:
    """What the API server does not check but the pods need: every integer an int32, no string
    field outside the config files with surrounding or embedded whitespace or control characters
    or non-ASCII, Redis with a real maxmemory, HAProxy's quorum reachable with one pod down."""
    assert objects
    for obj in objects:
        for path, value in _strings_and_ints(obj):
            if isinstance(value, bool) or value is None:
                continue
            if isinstance(value, (int, float)):
                assert INT32_MIN <= value <= INT32_MAX, (obj["kind"], path, value)
            elif isinstance(value, str) and not _FREE_TEXT.search(path):
                assert value.isascii() and value.isprintable() and value == value.strip(), (obj["kind"], path, value)
    files = {key: text for obj in objects if obj["kind"] == "ConfigMap" for key, text in obj.get("data", {}).items()}
    for name, text in files.items():
        for number in re.findall(r"^maxmemory (\d+)$", text, re.MULTILINE):
            assert int(number) >= 2**20, (name, number)
    # Sentinel's quorum is the topology ConfigMap's (sentinel-start.sh puts it in the monitor line).
    quorum = int(files[names.TOPOLOGY_QUORUM_KEY])
    assert cfg.gateway.replicas // 2 < quorum <= cfg.gateway.replicas - 1, quorum
    assert int(files[names.TOPOLOGY_REPLICAS_KEY]) == cfg.gateway.replicas


def as_list(objects: list[dict[str, Any]], namespace: str) -> str:
    """One `kind: List` of the objects, moved into `namespace` (a Namespace object becomes that
    namespace itself), for one `kubectl apply --dry-run=server`."""
    moved = []
    for obj in copy.deepcopy(objects):
        if obj["kind"] == "Namespace":
            obj["metadata"]["name"] = namespace
        else:
            obj["metadata"]["namespace"] = namespace
        moved.append(obj)
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": moved})
