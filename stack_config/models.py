"""Pydantic models of the stack config: one structured key per component (docs/architecture.md).

Field names are snake_case; the YAML keys are their camelCase aliases. Model defaults are the
safe development values; per-stack values live in Pulumi.<stack>.yaml. Checks that involve one
field are field validators; checks that relate several fields are model validators that report
every broken rule at once through `_problems` (see errors.py for the formatting).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from .engines import Engine, image_engine
from .quantities import parse_cpu, parse_memory_bytes, parse_size_bytes

PROBLEMS_ERROR_TYPE = "config_problems"

# The eight eviction policies of Redis 7 (redis.conf "maxmemory-policy").
MaxmemoryPolicy = Literal[
    "volatile-lru", "allkeys-lru", "volatile-lfu", "allkeys-lfu",
    "volatile-random", "allkeys-random", "volatile-ttl", "noeviction",
]

# Headroom between maxmemory and the container's memory limit: a BGSAVE fork copies pages that
# change while it runs, and client/replication buffers live outside maxmemory.
GATEWAY_MAXMEMORY_MAX_FRACTION_OF_LIMIT = 0.6
# preStop must be able to wait for a replica, fail over (Sentinel needs about down-after to
# agree on the switch in the worst case) and see the demotion before the kubelet kills the pod.
PRESTOP_HANDOVER_MARGIN_SECONDS = 15


def _problems(*problems: tuple[str, Any, str]) -> None:
    """Raise one validation error that carries several (relative key path, given value, rule) lines."""
    found = tuple(p for p in problems if p is not None)
    if found:
        raise PydanticCustomError(
            PROBLEMS_ERROR_TYPE, "{count} problem(s)", {"count": len(found), "problems": found})


# ---------------------------------------------------------------------------- single-value checks

def _cpu(value: str) -> str:
    try:
        if parse_cpu(value) <= 0:
            raise ValueError
    except ValueError:
        raise ValueError('must be a positive CPU quantity such as "100m" or "0.5"') from None
    return value


def _memory(value: str) -> str:
    try:
        if parse_memory_bytes(value) <= 0:
            raise ValueError
    except ValueError:
        raise ValueError('must be a positive memory quantity such as "512Mi" or "1Gi"') from None
    return value


def _redis_size(value: str) -> str:
    try:
        if parse_size_bytes(value) <= 0:
            raise ValueError
    except ValueError:
        raise ValueError('must be a positive size such as "256Mi" (Kubernetes) or "256mb" (Redis)') from None
    return value


_IMAGE_REF = re.compile(r"^\S+$")


def _image(value: str) -> str:
    if not _IMAGE_REF.match(value):
        raise ValueError("must be a non-empty image reference without whitespace")
    return value


_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _dns1123_label(value: str) -> str:
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        raise ValueError("must be a DNS-1123 label (lower-case letters, digits, '-', at most 63 characters)")
    return value


def _dns1123_subdomain(value: str) -> str:
    if len(value) > 253 or not all(_DNS1123_LABEL.match(part) for part in value.split(".")):
        raise ValueError("must be a DNS-1123 subdomain such as cluster.local")
    return value


def _odd_at_least_three(value: int) -> int:
    if value < 3 or value % 2 == 0:
        raise ValueError("must be an odd number >= 3")
    return value


def _at_least(minimum: int):
    def check(value: int) -> int:
        if value < minimum:
            raise ValueError(f"must be >= {minimum}")
        return value
    return check


def _between(low: int, high: int):
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value
    return check


def _rdb_rule(value: str) -> str:
    parts = value.split()
    if len(parts) != 2 or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise ValueError('must be "<seconds> <changes>" with two positive integers, e.g. "900 1"')
    return value


def _non_empty_path(value: Optional[str]) -> Optional[str]:
    if value is not None and not value.strip():
        raise ValueError("must be a directory path, or null to deploy to a cluster")
    return value


CpuQuantity = Annotated[str, AfterValidator(_cpu)]
MemoryQuantity = Annotated[str, AfterValidator(_memory)]
RedisSize = Annotated[str, AfterValidator(_redis_size)]
ImageRef = Annotated[str, AfterValidator(_image)]
RdbRule = Annotated[str, AfterValidator(_rdb_rule)]


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, alias_generator=to_camel,
        validate_default=True)


# ---------------------------------------------------------------------------- resources

class CpuMemory(_Model):
    cpu: CpuQuantity = Field(description='CPU quantity, e.g. "100m" or "0.5"')
    memory: MemoryQuantity = Field(description='memory quantity, e.g. "128Mi"')


class ContainerResources(_Model):
    requests: CpuMemory = Field(description="what the scheduler reserves for the container")
    limits: CpuMemory = Field(description="the ceiling (CPU throttling, OOM kill above memory)")

    @model_validator(mode="after")
    def _requests_within_limits(self) -> "ContainerResources":
        _problems(
            _exceeds("requests.cpu", self.requests.cpu, parse_cpu, self.limits.cpu, "limits.cpu"),
            _exceeds("requests.memory", self.requests.memory, parse_memory_bytes,
                     self.limits.memory, "limits.memory"),
        )
        return self

    @property
    def memory_limit_bytes(self) -> int:
        return parse_memory_bytes(self.limits.memory)


def _exceeds(path: str, value: str, parse, ceiling: str, ceiling_path: str):
    if parse(value) > parse(ceiling):
        return (path, value, f"must be <= {ceiling_path} ({ceiling})")
    return None


def _resources(req_cpu: str, req_mem: str, lim_cpu: str, lim_mem: str) -> ContainerResources:
    return ContainerResources(
        requests=CpuMemory(cpu=req_cpu, memory=req_mem), limits=CpuMemory(cpu=lim_cpu, memory=lim_mem))


# ---------------------------------------------------------------------------- platform

class KubernetesConfig(_Model):
    context: str = Field(
        "", description="kube context of the explicit provider (the kubeconfig is the secret key "
        "`kubeconfig`); empty = the kubeconfig's current context")
    render_yaml_to_directory: Annotated[Optional[str], AfterValidator(_non_empty_path)] = Field(
        None, description="write manifests to this directory instead of deploying (set by "
        "scripts/pulumi-render-stack; no kubeconfig then)")


class ImagesConfig(_Model):
    redis: ImageRef = Field(
        "docker.io/library/redis:8.10.2",
        description="image of the redis and sentinel containers and of the cache (needs the "
        "`platform.engine`'s server, sentinel and CLI, sh, getent)")
    haproxy: ImageRef = Field("docker.io/library/haproxy:3.0.27", description="image of the master-only proxy")
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        "IfNotPresent", description="imagePullPolicy of every container")


class PlatformConfig(_Model):
    namespace: Annotated[str, AfterValidator(_dns1123_label)] = Field(
        "kubernaut-system", description="namespace of every object (shared with other platform services)")
    create_namespace: bool = Field(
        False, description="create (and own) the namespace; only for dev and lab clusters")
    protect_data: bool = Field(
        False, description="protect data-bearing objects (StatefulSet, created namespace) from deletion")
    cluster_domain: Annotated[str, AfterValidator(_dns1123_subdomain)] = Field(
        "cluster.local", description="cluster DNS domain used in pod and service FQDNs")
    kubernetes: KubernetesConfig = Field(default_factory=KubernetesConfig, description="the explicit provider")
    engine: Engine = Field(
        "redis", description="server engine in `images.redis`: `redis` (redis-server, redis-sentinel, "
        "redis-cli) or `valkey` (valkey-server, valkey-sentinel, valkey-cli); picks the binaries the "
        "pods run")
    images: ImagesConfig = Field(default_factory=ImagesConfig, description="container images")

    @model_validator(mode="after")
    def _engine_matches_image(self) -> "PlatformConfig":
        named = image_engine(self.images.redis)
        if named is not None and named != self.engine:
            _problems(("engine", self.engine,
                       f"must be {named}: images.redis ({self.images.redis}) is a {named} image"))
        return self


# ---------------------------------------------------------------------------- gateway

class PersistenceConfig(_Model):
    size: MemoryQuantity = Field(
        "1Gi", description="PVC size per pod; applies when a PVC is created (volumeClaimTemplates)")
    storage_class: Optional[str] = Field(
        None, description="StorageClass of the PVCs; null = the cluster default; applies when a PVC is created")
    rdb_schedule: tuple[RdbRule, ...] = Field(
        ("900 1", "300 10", "60 10000"),
        description='RDB "save" rules "<seconds> <changes>"; empty = no RDB snapshots')
    appendonly: bool = Field(False, description="AOF persistence (appendfsync everysec)")
    volume_permissions: bool = Field(
        False, description="an init container gives `/data` to uid and gid 999 (mode 0770) before Redis "
        "starts, for volumes whose plugin ignores `fsGroup` (hostPath, local, kind, k3s local-path); it "
        "runs as root with only CHOWN, FOWNER and DAC_OVERRIDE, which Pod Security `restricted` forbids: "
        "a namespace the program creates then enforces `baseline` (and warns and audits `restricted`); "
        "a shared namespace's admin must allow `baseline` there")


class GatewayAuthConfig(_Model):
    enabled: bool = Field(
        True, description="requirepass/masterauth from the secret `gatewayRedisPassword` (required in prod)")
    sentinel: bool = Field(
        True, description="Sentinel's own requirepass from `gatewaySentinelPassword` (required in prod)")

    @model_validator(mode="after")
    def _sentinel_needs_redis_auth(self) -> "GatewayAuthConfig":
        if self.sentinel and not self.enabled:
            _problems(("sentinel", self.sentinel, "must be false when auth.enabled is false"))
        return self


class GatewayResources(_Model):
    redis: ContainerResources = Field(
        default_factory=lambda: _resources("100m", "128Mi", "500m", "512Mi"),
        description="redis container (the seed's per-pod values)")
    sentinel: ContainerResources = Field(
        default_factory=lambda: _resources("50m", "64Mi", "250m", "128Mi"),
        description="sentinel container; a tight CPU limit throttles Sentinel into TILT, hence 250m")
    haproxy: ContainerResources = Field(
        default_factory=lambda: _resources("50m", "32Mi", "250m", "64Mi"),
        description="haproxy container of the master-only proxy")


class ProxyConfig(_Model):
    replicas: Annotated[int, AfterValidator(_at_least(1))] = Field(
        2, description="HAProxy pods behind redis-gateway-ha")
    run_as_user: Annotated[int, AfterValidator(_at_least(1))] = Field(
        99, description="uid of the HAProxy container (99 is the official image's haproxy user)")


class GatewayConfig(_Model):
    replicas: Annotated[int, AfterValidator(_odd_at_least_three)] = Field(
        3, description="Redis+Sentinel pods (odd, >= 3)")
    quorum: Optional[int] = Field(
        None, description="sentinels that must agree a master is down; null = majority; "
        "majority <= quorum <= replicas")
    down_after_milliseconds: Annotated[int, AfterValidator(_at_least(1000))] = Field(
        5000, description="sentinel down-after-milliseconds")
    failover_timeout_milliseconds: int = Field(
        10000, description="sentinel failover-timeout (> down-after; a failed election retries after twice this)")
    parallel_syncs: Annotated[int, AfterValidator(_at_least(1))] = Field(
        1, description="replicas resynced at once after a failover")
    min_replicas_to_write: Annotated[int, AfterValidator(_at_least(0))] = Field(
        0, description="master refuses writes with fewer healthy replicas (fencing); <= replicas-1")
    min_replicas_max_lag: Annotated[int, AfterValidator(_at_least(1))] = Field(
        10, description="seconds a replica may lag and still count for min-replicas-to-write")
    maxmemory: RedisSize = Field(
        "256Mi", description="Redis maxmemory; <= 60% of the redis memory limit (fork and buffer headroom)")
    maxmemory_policy: MaxmemoryPolicy = Field("allkeys-lru", description="eviction policy")
    repl_backlog_size: RedisSize = Field(
        "64Mi", description="replication backlog, sized so a failover or restart resyncs partially")
    persistence: PersistenceConfig = Field(default_factory=PersistenceConfig, description="PVC and RDB/AOF")
    auth: GatewayAuthConfig = Field(default_factory=GatewayAuthConfig, description="passwords")
    resources: GatewayResources = Field(default_factory=GatewayResources, description="per-container resources")
    anti_affinity: Literal["soft", "hard"] = Field(
        "soft", description="pod anti-affinity on kubernetes.io/hostname: soft = preferred, hard = required")
    termination_grace_period_seconds: Annotated[int, AfterValidator(_at_least(1))] = Field(
        60, description="pod grace period; bounds the master's preStop handover (>= down-after + 15 s)")
    dns_wait_seconds: Annotated[int, AfterValidator(_at_least(1))] = Field(
        60, description="how long a starting pod waits for its own DNS record before failing")
    boot_peer_wait_seconds: Annotated[int, AfterValidator(_at_least(1))] = Field(
        20, description="how long a starting pod asks peer sentinels for the master")
    proxy: ProxyConfig = Field(default_factory=ProxyConfig, description="master-only HAProxy")

    @property
    def majority(self) -> int:
        return self.replicas // 2 + 1

    @property
    def effective_quorum(self) -> int:
        return self.quorum if self.quorum is not None else self.majority

    @property
    def maxmemory_bytes(self) -> int:
        return parse_size_bytes(self.maxmemory)

    @property
    def repl_backlog_bytes(self) -> int:
        return parse_size_bytes(self.repl_backlog_size)

    @model_validator(mode="after")
    def _consistent(self) -> "GatewayConfig":
        _problems(
            self._quorum_problem(),
            self._failover_timeout_problem(),
            self._min_replicas_problem(),
            self._maxmemory_problem(),
            self._grace_period_problem(),
        )
        return self

    def _quorum_problem(self):
        if self.quorum is not None and not self.majority <= self.quorum <= self.replicas:
            return ("quorum", self.quorum,
                    f"must be between the majority ({self.majority}) and replicas ({self.replicas}), or null")
        return None

    def _failover_timeout_problem(self):
        if self.failover_timeout_milliseconds <= self.down_after_milliseconds:
            return ("failoverTimeoutMilliseconds", self.failover_timeout_milliseconds,
                    f"must be > downAfterMilliseconds ({self.down_after_milliseconds})")
        return None

    def _min_replicas_problem(self):
        if self.min_replicas_to_write > self.replicas - 1:
            return ("minReplicasToWrite", self.min_replicas_to_write,
                    f"must be <= replicas - 1 ({self.replicas - 1}), or the master could never accept a write")
        return None

    def _maxmemory_problem(self):
        limit = self.resources.redis.memory_limit_bytes
        if self.maxmemory_bytes > limit * GATEWAY_MAXMEMORY_MAX_FRACTION_OF_LIMIT:
            return ("maxmemory", self.maxmemory,
                    f"must be <= 60% of resources.redis.limits.memory ({self.resources.redis.limits.memory}): "
                    "fork copy-on-write and client/replication buffers need the rest")
        return None

    def _grace_period_problem(self):
        needed = -(-self.down_after_milliseconds // 1000) + PRESTOP_HANDOVER_MARGIN_SECONDS
        if self.termination_grace_period_seconds < needed:
            return ("terminationGracePeriodSeconds", self.termination_grace_period_seconds,
                    f"must be >= {needed} (downAfterMilliseconds/1000 + {PRESTOP_HANDOVER_MARGIN_SECONDS} s) "
                    "so the master's preStop can hand over before the kubelet kills it")
        return None


# ---------------------------------------------------------------------------- context cache

class CacheAuthConfig(_Model):
    enabled: bool = Field(
        False, description="requirepass from the secret `contextCachePassword` (the Context-API client sends none)")


class ContextCacheConfig(_Model):
    maxmemory_policy: MaxmemoryPolicy = Field("allkeys-lru", description="eviction policy")
    maxmemory_percent_of_limit: Annotated[int, AfterValidator(_between(10, 90))] = Field(
        75, description="maxmemory as a percentage of resources.limits.memory (10..90)")
    resources: ContainerResources = Field(
        default_factory=lambda: _resources("100m", "256Mi", "500m", "512Mi"),
        description="redis container (the seed's values)")
    auth: CacheAuthConfig = Field(default_factory=CacheAuthConfig, description="password")

    @property
    def maxmemory_bytes(self) -> int:
        return self.resources.memory_limit_bytes * self.maxmemory_percent_of_limit // 100


# ---------------------------------------------------------------------------- the whole stack

PROD_STACK = "prod"


class StackConfig(_Model):
    platform: PlatformConfig = Field(default_factory=PlatformConfig, description="namespace, provider, images")
    gateway: GatewayConfig = Field(default_factory=GatewayConfig, description="the Gateway's Sentinel cluster")
    context_cache: ContextCacheConfig = Field(
        default_factory=ContextCacheConfig, description="the Context-API's single cache")

    @model_validator(mode="after")
    def _stack_rules(self, info: ValidationInfo) -> "StackConfig":
        stack = (info.context or {}).get("stack")
        if stack == PROD_STACK:
            _problems(
                None if self.gateway.auth.enabled else
                ("gateway.auth.enabled", False, "must be true in prod"),
                None if self.gateway.auth.sentinel else
                ("gateway.auth.sentinel", False, "must be true in prod"),
            )
        return self
