"""Pydantic models of the stack config: one structured key per component (docs/architecture.md).

Field names are snake_case; the YAML keys are their camelCase aliases. Model defaults are the
safe development values; per-stack values live in Pulumi.<stack>.yaml. Checks that involve one
field are field validators; checks that relate several fields are model validators that report
every broken rule at once through `_problems` (see errors.py for the formatting).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from . import names
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

# Every gateway pod holds a full copy of the dataset and runs a sentinel; HAProxy checks every
# sentinel once per pod (replicas x replicas checks per check interval). Nine pods survive four failures;
# more adds memory, disk and gossip, not availability.
MAX_GATEWAY_REPLICAS = 9
MAX_PROXY_REPLICAS = 10
# HAProxy's checks of the gateway pods: below 100 ms the checks (a connection each) cost the
# sentinels more than they gain; above 10 s the endpoint lags a failover by more than Sentinel
# takes to decide one.
MIN_PROXY_CHECK_INTERVAL_MILLISECONDS = 100
MAX_PROXY_CHECK_INTERVAL_MILLISECONDS = 10_000
# Upper bounds of the time settings. Each stays far below what Sentinel (int milliseconds) and
# Kubernetes (int32 probe thresholds) accept, and keeps the derived startup-probe threshold and
# `pulumi up` waits (stack_config/derived.py) bounded: a larger value only delays noticing a
# dead master or a crash loop.
MAX_DOWN_AFTER_MILLISECONDS = 600_000
MAX_FAILOVER_TIMEOUT_MILLISECONDS = 3_600_000
MAX_WAIT_SECONDS = 3600
MAX_MIN_REPLICAS_MAX_LAG_SECONDS = 3600
# Kubernetes refuses a runAsUser outside 0..2^31-1; Redis reads "save" counts as a C int.
INT32_MAX = 2**31 - 1
# Kubernetes keeps quantities as int64 (bytes, millicores).
INT64_MAX = 2**63 - 1
# Below this a container limit cannot hold redis-server, redis-sentinel or HAProxy and their
# start scripts: the kernel OOM-kills them at start.
MIN_CONTAINER_MEMORY_LIMIT_BYTES = 32 * 2**20
# The smallest maxmemory a Redis gets (gateway value; the cache's derived one is at least 10%
# of the 32Mi floor): below it Redis evicts or refuses nearly every write.
MIN_MAXMEMORY_BYTES = 2**20
# Redis's own minimum backlog (smaller values are raised to it silently).
MIN_REPL_BACKLOG_BYTES = 16 * 2**10
# The replication backlog lives outside maxmemory, in the limit's headroom.
GATEWAY_REPL_BACKLOG_MAX_FRACTION_OF_LIMIT = 0.25
# A BGSAVE writes the new RDB file next to the previous one before it renames it.
PERSISTENCE_SIZE_MIN_MULTIPLE_OF_MAXMEMORY = 2


def _problems(*problems: tuple[str, Any, str]) -> None:
    """Raise one validation error that carries several (relative key path, given value, rule) lines."""
    found = tuple(p for p in problems if p is not None)
    if found:
        raise PydanticCustomError(
            PROBLEMS_ERROR_TYPE, "{count} problem(s)", {"count": len(found), "problems": found})


# ---------------------------------------------------------------------------- single-value checks

# Quantities are parsed strictly (stack_config/quantities.py): a stray space or newline is refused,
# never trimmed, because the text is written into the manifests as given.

def _cpu(value: str) -> str:
    try:
        millicores = parse_cpu(value) * 1000
        if not 0 < millicores <= INT64_MAX or millicores != millicores.to_integral_value():
            raise ValueError
    except ValueError:
        raise ValueError('must be a positive CPU quantity such as "100m" or "0.5" (whole millicores, '
                         'no spaces)') from None
    return value


def _memory(value: str) -> str:
    try:
        if not 0 < parse_memory_bytes(value) <= INT64_MAX:
            raise ValueError
    except ValueError:
        raise ValueError('must be a positive memory quantity such as "512Mi" or "1Gi" (no spaces)') from None
    return value


def _redis_size(value: str) -> str:
    try:
        if not 0 < parse_size_bytes(value) <= INT64_MAX:
            raise ValueError
    except ValueError:
        raise ValueError('must be a positive size such as "256Mi" (Kubernetes) or "256mb" (Redis), '
                         'no spaces') from None
    return value


# The reference grammar of the container runtimes (distribution/reference), ASCII only:
# [registry[:port]/]path[:tag][@digest], path components in lower case.
_IMAGE_DOMAIN = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?"
_IMAGE_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_IMAGE_REF = re.compile(
    rf"(?:{_IMAGE_DOMAIN}/)?{_IMAGE_COMPONENT}(?:/{_IMAGE_COMPONENT})*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?"
    r"(?:@[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?",
    re.ASCII)
_MAX_IMAGE_REF_LENGTH = 255


def _image(value: str) -> str:
    if len(value) > _MAX_IMAGE_REF_LENGTH or not _IMAGE_REF.fullmatch(value):
        raise ValueError("must be an image reference such as docker.io/library/redis:7.0.15 "
                         "([registry/]path[:tag][@digest], ASCII, lower-case path, no spaces)")
    return value


_DNS1123_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?", re.ASCII)


def _dns1123_label(value: str) -> str:
    if len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        raise ValueError("must be a DNS-1123 label (lower-case letters, digits, '-', at most 63 characters)")
    return value


def _is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and all(
        len(part) <= 63 and _DNS1123_LABEL.fullmatch(part) for part in value.split("."))


def _dns1123_subdomain(value: str) -> str:
    if not _is_dns1123_subdomain(value):
        raise ValueError("must be a DNS-1123 subdomain such as cluster.local")
    return value


def _storage_class(value: Optional[str]) -> Optional[str]:
    if value is not None and not _is_dns1123_subdomain(value):
        raise ValueError("must be the name of a StorageClass (a DNS-1123 subdomain such as fast-ssd), "
                         "or null for the cluster's default class")
    return value


def _odd_replicas(value: int) -> int:
    if not 3 <= value <= MAX_GATEWAY_REPLICAS or value % 2 == 0:
        raise ValueError(f"must be an odd number between 3 and {MAX_GATEWAY_REPLICAS}")
    return value


def _not_bool(value: Any) -> Any:
    """YAML `true` is not a count: pydantic would read it as 1."""
    if isinstance(value, bool):
        raise ValueError("must be an integer, not a boolean")
    return value


_RDB_RULE = re.compile(r"([0-9]+) ([0-9]+)", re.ASCII)


def _rdb_rule(value: str) -> str:
    match = _RDB_RULE.fullmatch(value)
    if not match or not all(0 < int(part) <= INT32_MAX for part in match.groups()):
        raise ValueError(f'must be "<seconds> <changes>": two integers from 1 to {INT32_MAX} '
                         'separated by one space, e.g. "900 1"')
    return value


def _printable(value: str) -> bool:
    """No control characters (newlines, tabs) and no leading or trailing whitespace."""
    return value == value.strip() and value.isprintable()


def _non_empty_path(value: Optional[str]) -> Optional[str]:
    if value is not None and (not value or not _printable(value)):
        raise ValueError("must be a directory path without control characters or surrounding spaces, "
                         "or null to deploy to a cluster")
    return value


def _context_name(value: str) -> str:
    if not _printable(value):
        raise ValueError("must be a kube context name without control characters or surrounding spaces, "
                         "or empty for the kubeconfig's current context")
    return value


def _between(low: int, high: int):
    def check(value: int) -> int:
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value
    return check


def _int(low: int, high: int) -> Any:
    """An integer field within [low, high]; a boolean is refused, not read as 0 or 1."""
    return Annotated[int, BeforeValidator(_not_bool), AfterValidator(_between(low, high))]


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
            None if self.memory_limit_bytes >= MIN_CONTAINER_MEMORY_LIMIT_BYTES else
            ("limits.memory", self.limits.memory,
             "must be >= 32Mi: below that the container is OOM-killed while it starts"),
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
    context: Annotated[str, AfterValidator(_context_name)] = Field(
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
    storage_class: Annotated[Optional[str], AfterValidator(_storage_class)] = Field(
        None, description="StorageClass of the PVCs (a DNS-1123 subdomain); null = the cluster default "
        "(an empty name would mean no class at all: the PVCs would stay Pending); applies when a PVC is created")
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
    clients_without_password: bool = Field(
        False, description="a migration window (docs/migration.md): the clients' user `default` also "
        "accepts clients that send no password, as the deployment this one replaces did, while every "
        "internal user keeps its own; needs auth.enabled; close it (false) once every client sends "
        "`gatewayRedisPassword`")

    @model_validator(mode="after")
    def _sentinel_needs_redis_auth(self) -> "GatewayAuthConfig":
        if self.sentinel and not self.enabled:
            _problems(("sentinel", self.sentinel, "must be false when auth.enabled is false"))
        if self.clients_without_password and not self.enabled:
            _problems(("clientsWithoutPassword", True,
                       "needs auth.enabled: true (without auth every client is accepted anyway)"))
        return self


# ---------------------------------------------------------------------------- gateway backups

# Kubernetes CronJob schedules: five fields, or one of the macros its parser accepts. A time zone
# goes into the CronJob's own field, never into the schedule (the API server refuses CRON_TZ/TZ).
_CRON_FIELD = r"[0-9A-Za-z*/,?-]+"
_CRON_SCHEDULE = re.compile(rf"{_CRON_FIELD}( {_CRON_FIELD}){{4}}", re.ASCII)
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# An endpoint is scheme://host[:port] and nothing else: the scripts append /<bucket>/<key>.
_S3_ENDPOINT = re.compile(r"(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(?::([0-9]{1,5}))?", re.ASCII)
# S3's bucket naming rules (general purpose buckets).
_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", re.ASCII)
# Keys of characters that SigV4 leaves unencoded (and `/` between path segments): the scripts put
# them into URLs and signatures as they are.
_S3_PREFIX = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*", re.ASCII)
_S3_OBJECT_NAME = re.compile(r"[A-Za-z0-9_.-]+", re.ASCII)
_S3_REGION = re.compile(r"[a-z0-9-]{1,32}", re.ASCII)
MAX_BACKUP_RETENTION = 1000
MAX_S3_PREFIX_LENGTH = 512


def _cron_schedule(value: str) -> str:
    if value not in _CRON_MACROS and not _CRON_SCHEDULE.fullmatch(value):
        raise ValueError('must be a cron schedule of five fields separated by single spaces, e.g. "17 3 * * *", '
                         f"or one of {', '.join(_CRON_MACROS)} (a time zone goes in timeZone)")
    return value


_TIME_ZONE = re.compile(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*", re.ASCII)


def _time_zone(value: str) -> str:
    if len(value) > 64 or not _TIME_ZONE.fullmatch(value):
        raise ValueError("must be an IANA time zone name such as Europe/Berlin or UTC")
    return value


def _s3_endpoint(value: str) -> str:
    match = _S3_ENDPOINT.fullmatch(value)
    if not match or (match.group(3) and not 0 < int(match.group(3)) < 65536):
        raise ValueError("must be http://host[:port] or https://host[:port] with nothing after it (no path, no "
                         "trailing '/'), e.g. https://s3.eu-west-1.amazonaws.com; the bucket goes in s3.bucket")
    return value


def _s3_bucket(value: str) -> str:
    if not _S3_BUCKET.fullmatch(value) or ".." in value:
        raise ValueError("must be an S3 bucket name: 3 to 63 lower-case letters, digits, '.' and '-', starting and "
                         "ending with a letter or digit")
    return value


def _s3_prefix(value: str) -> str:
    if (len(value) > MAX_S3_PREFIX_LENGTH or not _S3_PREFIX.fullmatch(value)
            or any(segment in (".", "..") for segment in value.split("/"))):
        raise ValueError(f"must be path segments of letters, digits, '_', '.' and '-' joined by '/' (no '.' or '..' segment), without a "
                         f"leading or trailing '/', at most {MAX_S3_PREFIX_LENGTH} characters, e.g. kubernaut/prod/redis-gateway")
    return value


def _s3_region(value: str) -> str:
    if not _S3_REGION.fullmatch(value):
        raise ValueError("must be a region name of lower-case letters, digits and '-', e.g. eu-west-1 (S3-compatible "
                         "servers without regions take us-east-1)")
    return value


def _restore_from(value: Optional[str]) -> Optional[str]:
    if value is None or value == names.RESTORE_LATEST:
        return value
    if not _S3_OBJECT_NAME.fullmatch(value) or not value.endswith(names.BACKUP_SUFFIX):
        raise ValueError(f'must be "{names.RESTORE_LATEST}", the name of a backup under s3.prefix '
                         f"(e.g. {names.MASTER_SET}-20261203T031700Z{names.BACKUP_SUFFIX}, no '/'), or null")
    return value


class BackupS3Config(_Model):
    endpoint: Annotated[str, AfterValidator(_s3_endpoint)] = Field(
        "https://s3.us-east-1.amazonaws.com",
        description="S3-compatible endpoint, scheme://host[:port]; requests are path-style (<endpoint>/<bucket>/<key>)")
    bucket: Annotated[str, AfterValidator(_s3_bucket)] = Field(
        "kubernaut-backups", description="bucket of the backups (it must exist; the backup does not create it)")
    prefix: Annotated[str, AfterValidator(_s3_prefix)] = Field(
        "redis-gateway", description="key prefix: objects are <prefix>/gateway-master-<UTC time>.rdb; one prefix "
        "per stack, since retention deletes the oldest under it")
    region: Annotated[str, AfterValidator(_s3_region)] = Field(
        "us-east-1", description="region of the SigV4 signature")
    credentials_secret: Annotated[str, AfterValidator(_dns1123_subdomain)] = Field(
        "redis-gateway-backup-s3", description=f"Secret in the stack's namespace with keys {names.BACKUP_ACCESS_KEY_ID} "
        f"and {names.BACKUP_SECRET_ACCESS_KEY} (created by you, not by the stack: the keys never enter its state)")

    @property
    def port(self) -> int:
        match = _S3_ENDPOINT.fullmatch(self.endpoint)
        assert match is not None
        return int(match.group(3)) if match.group(3) else (443 if match.group(1) == "https" else 80)


class BackupConfig(_Model):
    enabled: bool = Field(
        False, description="the CronJob redis-gateway-backup: a replica's RDB (never the master's), copied to "
        "S3-compatible storage, the oldest beyond `retention` deleted (docs/backup.md)")
    schedule: Annotated[str, AfterValidator(_cron_schedule)] = Field(
        "17 3 * * *", description='cron schedule of the backups, e.g. "17 3 * * *" (03:17 every day)')
    time_zone: Optional[Annotated[str, AfterValidator(_time_zone)]] = Field(
        None, description="time zone of the schedule (the CronJob's timeZone, e.g. Europe/Berlin); null = the "
        "controller manager's, usually UTC")
    image: Optional[ImageRef] = Field(
        None, description="image of the backup Job and of the restore init container: needs sh, the engine's CLI "
        "(redis-cli or valkey-cli, for --rdb), curl >= 7.75 (--aws-sigv4), coreutils, awk, sed and grep; required when "
        "enabled")
    retention: _int(1, MAX_BACKUP_RETENTION) = Field(
        7, description=f"backups kept under the prefix; each successful backup deletes older ones (1..{MAX_BACKUP_RETENTION})")
    timeout_seconds: _int(60, 86400) = Field(
        3600, description="deadline of one backup Job (activeDeadlineSeconds; 60..86400)")
    s3: BackupS3Config = Field(default_factory=BackupS3Config, description="where the backups go")
    restore_from: Annotated[Optional[str], AfterValidator(_restore_from)] = Field(
        None, description=f'seed a new stack: "{names.RESTORE_LATEST}" or a backup\'s name under s3.prefix; pod 0 '
        "downloads it into an EMPTY data volume before Redis starts (a pod with data ignores it); set it before the "
        "first `pulumi up` of the new stack, unset it after (docs/backup.md)")

    @model_validator(mode="after")
    def _complete(self) -> "BackupConfig":
        _problems(
            ("image", None, "must be set when enabled or restoreFrom is: an image with sh, the engine's CLI, "
             "curl >= 7.75, sha256sum") if (self.enabled or self.restore_from) and self.image is None else None,
            ("restoreFrom", self.restore_from, "needs enabled: true (its s3 settings say where the backups are)")
            if self.restore_from is not None and not self.enabled else None,
        )
        return self


class GatewayResources(_Model):
    redis: ContainerResources = Field(
        default_factory=lambda: _resources("100m", "128Mi", "1", "512Mi"),
        description="redis container; the CPU limit is what a storm of the Gateway's alerts needs "
                    "(docs/workload.md): at 500m its throttling alone put p95 above 5 ms")
    sentinel: ContainerResources = Field(
        default_factory=lambda: _resources("50m", "64Mi", "250m", "128Mi"),
        description="sentinel container; a tight CPU limit throttles Sentinel into TILT, hence 250m")
    haproxy: ContainerResources = Field(
        default_factory=lambda: _resources("100m", "32Mi", "1", "64Mi"),
        description="haproxy container of the master-only proxy; it proxies every command the "
                    "Gateway sends, and needs about the CPU the master does (docs/workload.md: "
                    "76m at 100 alerts/s, 400-440m at 1,000/s and at saturation, 12.4 MiB at most)")


class ProxyConfig(_Model):
    replicas: _int(1, MAX_PROXY_REPLICAS) = Field(
        2, description=f"HAProxy pods behind redis-gateway-ha (1..{MAX_PROXY_REPLICAS})")
    run_as_user: _int(1, INT32_MAX) = Field(
        99, description="uid of the HAProxy container (99 is the official image's haproxy user; "
        f"1..{INT32_MAX}, the uids Kubernetes accepts, root excluded)")
    check_interval_milliseconds: _int(MIN_PROXY_CHECK_INTERVAL_MILLISECONDS, MAX_PROXY_CHECK_INTERVAL_MILLISECONDS) = Field(
        250, description="how often each HAProxy pod checks every Redis server and asks every sentinel which "
        f"one is master ({MIN_PROXY_CHECK_INTERVAL_MILLISECONDS}..{MAX_PROXY_CHECK_INTERVAL_MILLISECONDS}): the "
        "endpoint admits a new master, and stops admitting the old one, at most this long after the sentinels "
        "switch; each check is a new connection, replicas x (replicas + 2) of them per interval and proxy pod")


class GatewayConfig(_Model):
    replicas: Annotated[int, BeforeValidator(_not_bool), AfterValidator(_odd_replicas)] = Field(
        3, description=f"Redis+Sentinel pods (odd, 3..{MAX_GATEWAY_REPLICAS}; each is a full copy of the "
        "data and a sentinel); a change adds or removes pods without restarting the others")
    quorum: Optional[Annotated[int, BeforeValidator(_not_bool)]] = Field(
        None, description="sentinels that must agree a master is down, and that HAProxy needs to name a "
        "master before it admits it; null = majority; majority <= quorum <= replicas - 1")
    down_after_milliseconds: _int(1000, MAX_DOWN_AFTER_MILLISECONDS) = Field(
        5000, description=f"sentinel down-after-milliseconds (1000..{MAX_DOWN_AFTER_MILLISECONDS})")
    failover_timeout_milliseconds: _int(1, MAX_FAILOVER_TIMEOUT_MILLISECONDS) = Field(
        10000, description="sentinel failover-timeout (> down-after, <= "
        f"{MAX_FAILOVER_TIMEOUT_MILLISECONDS}; a failed election retries after twice this)")
    parallel_syncs: _int(1, MAX_GATEWAY_REPLICAS - 1) = Field(
        1, description="replicas resynced at once after a failover (1..replicas - 1)")
    min_replicas_to_write: _int(0, MAX_GATEWAY_REPLICAS - 2) = Field(
        0, description="master refuses writes with fewer healthy replicas (fencing); 0..replicas - 2, so a "
        "rolling update (one pod down) never blocks writes")
    min_replicas_max_lag: _int(1, MAX_MIN_REPLICAS_MAX_LAG_SECONDS) = Field(
        10, description="seconds a replica may lag and still count for min-replicas-to-write "
        f"(1..{MAX_MIN_REPLICAS_MAX_LAG_SECONDS})")
    maxmemory: RedisSize = Field(
        "256Mi", description="Redis maxmemory; >= 1Mi and <= 60% of the redis memory limit (fork and buffer "
        "headroom)")
    maxmemory_policy: MaxmemoryPolicy = Field("allkeys-lru", description="eviction policy")
    repl_backlog_size: RedisSize = Field(
        "64Mi", description="replication backlog, sized so a failover or restart resyncs partially; >= 16kb "
        "(Redis's minimum) and <= 25% of the redis memory limit (it lives outside maxmemory)")
    persistence: PersistenceConfig = Field(default_factory=PersistenceConfig, description="PVC and RDB/AOF")
    auth: GatewayAuthConfig = Field(default_factory=GatewayAuthConfig, description="passwords")
    backup: BackupConfig = Field(default_factory=BackupConfig, description="scheduled backups to S3 and restore")
    resources: GatewayResources = Field(default_factory=GatewayResources, description="per-container resources")
    anti_affinity: Literal["soft", "hard"] = Field(
        "soft", description="pod anti-affinity on kubernetes.io/hostname: soft = preferred, hard = required")
    termination_grace_period_seconds: _int(1, MAX_WAIT_SECONDS) = Field(
        60, description="pod grace period; bounds the master's preStop handover (>= down-after + 15 s, "
        f"<= {MAX_WAIT_SECONDS})")
    dns_wait_seconds: _int(1, MAX_WAIT_SECONDS) = Field(
        60, description=f"how long a starting pod waits for its own DNS record before failing (1..{MAX_WAIT_SECONDS})")
    boot_peer_wait_seconds: _int(1, MAX_WAIT_SECONDS) = Field(
        20, description=f"how long a starting pod asks peer sentinels for the master (1..{MAX_WAIT_SECONDS})")
    proxy: ProxyConfig = Field(default_factory=ProxyConfig, description="master-only HAProxy")
    update_partition: _int(0, MAX_GATEWAY_REPLICAS) = Field(
        0, description="staged rollout: a changed pod template reaches only the pods whose ordinal is >= this "
        "(the StatefulSet's rollingUpdate.partition); 0 = every pod; <= replicas. An engine upgrade "
        "updates the replicas first and the master's pod last (README, Operations)")

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
            self._parallel_syncs_problem(),
            self._min_replicas_problem(),
            self._maxmemory_problem(),
            self._repl_backlog_problem(),
            self._persistence_size_problem(),
            self._grace_period_problem(),
            self._update_partition_problem(),
            self._restore_problem(),
        )
        return self

    def _restore_problem(self):
        # Redis (7.0 and later) with appendonly on and no AOF on the volume creates an empty AOF
        # and ignores dump.rdb: the restored stack would start empty.
        if self.backup.restore_from is not None and self.persistence.appendonly:
            return ("backup.restoreFrom", self.backup.restore_from,
                    "needs persistence.appendonly: false (with AOF on and no AOF on the volume Redis ignores "
                    "the restored dump.rdb and starts empty); restore, then turn appendonly on")
        return None

    def _update_partition_problem(self):
        if self.update_partition > self.replicas:
            return ("updatePartition", self.update_partition,
                    f"must be between 0 and replicas ({self.replicas}): the pods from this ordinal up take a "
                    "changed template")
        return None

    def _quorum_problem(self):
        # HAProxy admits a master only while `quorum` sentinels name it: with quorum = replicas,
        # one pod down (a rollout, a node drain) closes the master-only endpoint, and the
        # master's own pod down leaves no failover. A minority quorum lets a partitioned
        # minority call a master down.
        if self.quorum is not None and not self.majority <= self.quorum <= self.replicas - 1:
            return ("quorum", self.quorum,
                    f"must be between the majority ({self.majority}) and replicas - 1 ({self.replicas - 1}), "
                    "or null for the majority: one pod down must still leave quorum sentinels")
        return None

    def _parallel_syncs_problem(self):
        if self.parallel_syncs > self.replicas - 1:
            return ("parallelSyncs", self.parallel_syncs,
                    f"must be <= replicas - 1 ({self.replicas - 1}), the replicas there are to resync")
        return None

    def _failover_timeout_problem(self):
        if self.failover_timeout_milliseconds <= self.down_after_milliseconds:
            return ("failoverTimeoutMilliseconds", self.failover_timeout_milliseconds,
                    f"must be > downAfterMilliseconds ({self.down_after_milliseconds})")
        return None

    def _min_replicas_problem(self):
        # A rolling update takes one pod down: the master then has replicas - 2 replicas left.
        if self.min_replicas_to_write > self.replicas - 2:
            return ("minReplicasToWrite", self.min_replicas_to_write,
                    f"must be <= replicas - 2 ({self.replicas - 2}): with one pod down (a rolling update) "
                    "the master must still accept writes")
        return None

    def _maxmemory_problem(self):
        limit = self.resources.redis.memory_limit_bytes
        if self.maxmemory_bytes < MIN_MAXMEMORY_BYTES:
            return ("maxmemory", self.maxmemory, "must be >= 1Mi (1048576 bytes)")
        if self.maxmemory_bytes > limit * GATEWAY_MAXMEMORY_MAX_FRACTION_OF_LIMIT:
            return ("maxmemory", self.maxmemory,
                    f"must be <= 60% of resources.redis.limits.memory ({self.resources.redis.limits.memory}): "
                    "fork copy-on-write and client/replication buffers need the rest")
        return None

    def _repl_backlog_problem(self):
        limit = self.resources.redis.memory_limit_bytes
        if self.repl_backlog_bytes < MIN_REPL_BACKLOG_BYTES:
            return ("replBacklogSize", self.repl_backlog_size, "must be >= 16kb (16384 bytes), Redis's minimum")
        if self.repl_backlog_bytes > limit * GATEWAY_REPL_BACKLOG_MAX_FRACTION_OF_LIMIT:
            return ("replBacklogSize", self.repl_backlog_size,
                    f"must be <= 25% of resources.redis.limits.memory ({self.resources.redis.limits.memory}): "
                    "the backlog lives outside maxmemory")
        return None

    def _persistence_size_problem(self):
        persistence = self.persistence
        if not (persistence.rdb_schedule or persistence.appendonly):
            return None
        if parse_memory_bytes(persistence.size) < PERSISTENCE_SIZE_MIN_MULTIPLE_OF_MAXMEMORY * self.maxmemory_bytes:
            return ("persistence.size", persistence.size,
                    f"must be >= 2 x maxmemory ({self.maxmemory}) while RDB or AOF is on: a snapshot is written "
                    "next to the previous one, and a full disk stops writes")
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
        False, description="the clients' ACL user `default` takes the password `contextCachePassword`, and the "
        "readiness probe and the exporter get users of their own; off, `default` has no password (the Context-API "
        "client sends none). Either way `default` may run only the Context-API's commands and INFO, PING, ROLE")


class ContextCacheConfig(_Model):
    maxmemory_policy: MaxmemoryPolicy = Field("allkeys-lru", description="eviction policy")
    maxmemory_percent_of_limit: _int(10, 90) = Field(
        75, description="maxmemory as a percentage of resources.limits.memory (10..90)")
    resources: ContainerResources = Field(
        default_factory=lambda: _resources("100m", "256Mi", "500m", "512Mi"),
        description="redis container (the seed's values)")
    auth: CacheAuthConfig = Field(default_factory=CacheAuthConfig, description="password")

    @property
    def maxmemory_bytes(self) -> int:
        # At least 10% of the 32Mi limit floor: never 0, which Redis reads as "no limit".
        return self.resources.memory_limit_bytes * self.maxmemory_percent_of_limit // 100


# ---------------------------------------------------------------------------- monitoring

# The scrape interval bounds: below 10 s the exporters' INFO calls add load for no gain (Sentinel
# decisions take seconds anyway); above 5 minutes Prometheus treats series as stale between scrapes.
MIN_SCRAPE_INTERVAL_SECONDS = 10
MAX_SCRAPE_INTERVAL_SECONDS = 240
_ABSOLUTE_PATH = re.compile(r"/[A-Za-z0-9._/-]+", re.ASCII)


def _binary_path(value: str) -> str:
    if not _ABSOLUTE_PATH.fullmatch(value) or "/../" in f"{value}/":
        raise ValueError("must be the absolute path of the exporter binary in exporterImage, e.g. "
                         "/redis_exporter (letters, digits, '.', '_', '-', '/'; no spaces)")
    return value


class MonitoringConfig(_Model):
    enabled: bool = Field(
        False, description="a redis_exporter container per Redis and per Sentinel (each gateway pod, the cache "
        "pod) and the metrics Services `redis-gateway-metrics` and `redis-metrics`")
    prometheus_operator: bool = Field(
        False, description="ServiceMonitors and the PrometheusRule `kubernaut-redis` (needs `enabled`); the "
        "Prometheus Operator's CRDs (monitoring.coreos.com/v1) must exist in the cluster: the preview cannot "
        "check them, and `pulumi up` fails on these objects without them")
    grafana_dashboard: bool = Field(
        False, description="the ConfigMap `kubernaut-redis-dashboard` labelled `grafana_dashboard: \"1\"` for "
        "Grafana's dashboard sidecar (needs `enabled`)")
    exporter_image: ImageRef = Field(
        "docker.io/oliver006/redis_exporter:v1.45.0",
        description="image of the exporter containers (redis_exporter 1.45: the alert rules use its metric names)")
    exporter_binary: Annotated[str, AfterValidator(_binary_path)] = Field(
        "/redis_exporter", description="path of the exporter binary in exporterImage (upstream: /redis_exporter; "
        "Debian's package: /usr/bin/prometheus-redis-exporter)")
    resources: ContainerResources = Field(
        default_factory=lambda: _resources("10m", "32Mi", "100m", "64Mi"),
        description="each exporter container (two per gateway pod, one in the cache pod)")
    scrape_interval_seconds: _int(MIN_SCRAPE_INTERVAL_SECONDS, MAX_SCRAPE_INTERVAL_SECONDS) = Field(
        15, description="scrape interval of the ServiceMonitors and evaluation interval of the rules; the "
        f"alerts' `for:` durations include two of it ({MIN_SCRAPE_INTERVAL_SECONDS}..{MAX_SCRAPE_INTERVAL_SECONDS})")
    flapping_failovers_per_hour: _int(1, 60) = Field(
        3, description="alert RedisGatewayFailoverFlapping when more failovers than this happen within an hour (1..60)")
    memory_warning_percent: _int(50, 99) = Field(
        90, description="alert RedisGatewayMemoryNearMaxmemory above this share of maxmemory (50..99)")

    @model_validator(mode="after")
    def _switches_need_exporters(self) -> "MonitoringConfig":
        if not self.enabled:
            _problems(
                ("prometheusOperator", True, "must be false while enabled is false: its ServiceMonitors "
                 "would scrape exporters that do not exist") if self.prometheus_operator else None,
                ("grafanaDashboard", True, "must be false while enabled is false: the dashboard's queries "
                 "need the exporters") if self.grafana_dashboard else None,
            )
        return self


# ---------------------------------------------------------------------------- network policy

# A label's name, and its value when not empty: alphanumeric at both ends, '-', '_', '.' inside.
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?", re.ASCII)
MAX_POLICY_PEERS = 20
LABEL_RULE = ("label keys are `name` or `prefix/name` (prefix: a DNS subdomain; name and values: at most 63 "
              "letters, digits, '-', '_', '.', alphanumeric at both ends; a value may be empty)")


def _label_key_ok(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    return bool(_LABEL_NAME.fullmatch(name)) and (not prefix or _is_dns1123_subdomain(prefix))


def _pod_labels(value: dict[str, str]) -> dict[str, str]:
    bad = [key for key, text in value.items() if not _label_key_ok(key) or (text and not _LABEL_NAME.fullmatch(text))]
    if bad:
        raise ValueError(f"labels {', '.join(repr(key) for key in bad)} are not valid: {LABEL_RULE}")
    return value


class PolicyPeer(_Model):
    """Pods allowed through a policy: those carrying every label of podLabels in one namespace."""

    namespace: Optional[Annotated[str, AfterValidator(_dns1123_label)]] = Field(
        None, description="namespace of the pods (matched by its `kubernetes.io/metadata.name` label); null: the "
        "stack's namespace")
    pod_labels: Annotated[dict[str, str], AfterValidator(_pod_labels)] = Field(
        default_factory=dict, description="labels the pods must all carry; {}: every pod of that namespace")


def _peers(low: int) -> Any:
    def check(value: list[PolicyPeer]) -> list[PolicyPeer]:
        if not low <= len(value) <= MAX_POLICY_PEERS:
            raise ValueError(f"must list {low} to {MAX_POLICY_PEERS} peers")
        return value
    return Annotated[list[PolicyPeer], AfterValidator(check)]


class NetworkPolicyConfig(_Model):
    enabled: bool = Field(
        False, description="a NetworkPolicy for every pod of the stack (docs/architecture.md, \"Network policy\"); "
        "needs a cluster whose network plugin enforces them (Calico, Cilium, kube-router...): elsewhere they "
        "change nothing")
    gateway_clients: _peers(0) = Field(
        default_factory=lambda: [PolicyPeer(pod_labels={"app": "gateway"})],
        description="pods allowed to reach the gateway's Redis and Sentinel ports and the master-only proxy; pods of "
        f"the stack's namespace labelled `{names.GATEWAY_CLIENT_LABEL}: \"true\"` always are (0..{MAX_POLICY_PEERS} "
        "peers; default: the Gateway's pods, `app: gateway`)")
    context_cache_clients: _peers(0) = Field(
        default_factory=lambda: [PolicyPeer(pod_labels={"app": "context-api"})],
        description="pods allowed to reach the cache; pods of the stack's namespace labelled "
        f"`{names.CACHE_CLIENT_LABEL}: \"true\"` always are (0..{MAX_POLICY_PEERS} peers; default: the Context-API's "
        "pods, `app: context-api`)")
    scraper_namespace: Annotated[str, AfterValidator(_dns1123_label)] = Field(
        "monitoring", description="namespace whose pods may scrape the exporters' ports (with monitoring.enabled)")
    restrict_egress: bool = Field(
        True, description="egress of the pods only to cluster DNS and their peers (the gateway pods to each other, "
        "the proxy to the gateway pods; the cache to nothing)")
    dns: PolicyPeer = Field(
        default_factory=lambda: PolicyPeer(namespace="kube-system", pod_labels={"k8s-app": "kube-dns"}),
        description="the cluster DNS pods, the only egress outside the stack's pods (with restrictEgress; port 53 "
        "UDP and TCP)")


# ---------------------------------------------------------------------------- the whole stack

PROD_STACK = "prod"
# A DNS name has at most 253 characters (RFC 1123); Redis, Sentinel and HAProxy address the pods
# by theirs.
MAX_DNS_NAME_LENGTH = 253


def longest_gateway_pod_fqdn(namespace: str, cluster_domain: str, replicas: int) -> str:
    """The same spelling as derived.gateway_pod_fqdn, for the pod with the highest ordinal."""
    return f"{names.GATEWAY}-{replicas - 1}.{names.GATEWAY_HEADLESS_SERVICE}.{namespace}.svc.{cluster_domain}"


class StackConfig(_Model):
    platform: PlatformConfig = Field(default_factory=PlatformConfig, description="namespace, provider, images")
    gateway: GatewayConfig = Field(default_factory=GatewayConfig, description="the Gateway's Sentinel cluster")
    context_cache: ContextCacheConfig = Field(
        default_factory=ContextCacheConfig, description="the Context-API's single cache")
    monitoring: MonitoringConfig = Field(
        default_factory=MonitoringConfig, description="exporters, metrics Services, alert rules and dashboard")
    network_policy: NetworkPolicyConfig = Field(
        default_factory=NetworkPolicyConfig, description="NetworkPolicies of the gateway pods, the proxy and the cache")

    @model_validator(mode="after")
    def _stack_rules(self, info: ValidationInfo) -> "StackConfig":
        fqdn = longest_gateway_pod_fqdn(self.platform.namespace, self.platform.cluster_domain, self.gateway.replicas)
        if len(fqdn) > MAX_DNS_NAME_LENGTH:
            room = MAX_DNS_NAME_LENGTH - (len(fqdn) - len(self.platform.cluster_domain))
            _problems(("platform.clusterDomain", self.platform.cluster_domain,
                       f"must have at most {room} characters with namespace {self.platform.namespace!r}: "
                       f"the pods' DNS names would have {len(fqdn)}, more than {MAX_DNS_NAME_LENGTH}"))
        stack = (info.context or {}).get("stack")
        if stack == PROD_STACK:
            _problems(
                None if self.gateway.auth.enabled else
                ("gateway.auth.enabled", False, "must be true in prod"),
                None if self.gateway.auth.sentinel else
                ("gateway.auth.sentinel", False, "must be true in prod"),
            )
        return self
