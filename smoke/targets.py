"""What the smoke check talks to and what it expects: addresses, master set, replica count, the
cache's configured policy and maxmemory, the replication bound, and which passwords are configured.

Targets come from flags, from `pulumi stack output --json`, or from rendered manifests (parsed
objects; reading the YAML is the caller's business, so this module needs nothing but the standard
library and runs unchanged inside the client image). Passwords never travel with the targets:
they come from the environment (REDIS_PASSWORD, SENTINEL_PASSWORD, CACHE_PASSWORD) or from files.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

REDIS_PASSWORD_ENV = "REDIS_PASSWORD"
SENTINEL_PASSWORD_ENV = "SENTINEL_PASSWORD"
CACHE_PASSWORD_ENV = "CACHE_PASSWORD"
DEFAULT_REDIS_PORT = 6379
DEFAULT_SENTINEL_PORT = 26379
# Redis' own default for min-replicas-max-lag: the lag the master itself still calls acceptable.
DEFAULT_REPLICATION_BOUND_SECONDS = 10.0

# Object names fixed by docs/architecture.md.
GATEWAY_STATEFULSET = "redis-gateway"
GATEWAY_CONFIG_MAP = "redis-gateway-config"
# Sentinel's quorum: the sentinel.conf template holds a placeholder, the pods take this one.
GATEWAY_TOPOLOGY_CONFIG_MAP = "redis-gateway-topology"
TOPOLOGY_QUORUM = "quorum"
GATEWAY_HA_SERVICE = "redis-gateway-ha"
CACHE_DEPLOYMENT = "redis"
CACHE_SERVICE = "redis"
CACHE_CONFIG_MAP = "redis-config"
REDIS_CONF = "redis.conf"
SENTINEL_CONF = "sentinel.conf"
USERS_ACL = "users.acl"


class TargetsError(Exception):
    """The targets are incomplete or contradict themselves."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str, default_port: int) -> "Address":
        host, sep, port = text.strip().rpartition(":")
        if not sep:
            return cls(text.strip(), default_port)
        if not port.isdigit() or not host:
            raise TargetsError(f"{text!r}: expected HOST or HOST:PORT")
        return cls(host, int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Passwords:
    redis: Optional[str] = field(default=None, repr=False)
    sentinel: Optional[str] = field(default=None, repr=False)
    cache: Optional[str] = field(default=None, repr=False)


@dataclass(frozen=True)
class Targets:
    sentinels: tuple[Address, ...]
    master_set: str
    replicas: int
    redis_port: int = DEFAULT_REDIS_PORT
    master_endpoint: Optional[Address] = None
    cache_endpoint: Optional[Address] = None
    cache_maxmemory_policy: Optional[str] = None
    cache_maxmemory: Optional[int] = None
    # The settings every gateway Redis and Sentinel must run (from the rendered configs): a
    # CONFIG SET since the start shows as drift. Keys: REDIS_SETTINGS, SENTINEL_SETTINGS.
    redis_settings: Optional[dict[str, str]] = None
    sentinel_settings: Optional[dict[str, str]] = None
    replication_bound_seconds: float = DEFAULT_REPLICATION_BOUND_SECONDS
    redis_auth: bool = False
    sentinel_auth: bool = False
    cache_auth: bool = False
    # gateway.auth.clientsWithoutPassword: a migration's window, in which the clients' user takes
    # clients without a password (the users.acl template gives `default` the rule nopass).
    clients_without_password: bool = False

    @property
    def redis_nodes(self) -> tuple[Address, ...]:
        """Redis runs beside each sentinel (one pod, two containers)."""
        return tuple(Address(s.host, self.redis_port) for s in self.sentinels)

    def check(self) -> "Targets":
        problems = []
        if not self.sentinels:
            problems.append("no sentinel addresses")
        if not self.master_set:
            problems.append("no master set name")
        if self.replicas < 1:
            problems.append(f"replicas {self.replicas}: must be >= 1")
        if self.cache_endpoint and (self.cache_maxmemory_policy is None or self.cache_maxmemory is None):
            problems.append("a cache endpoint needs its expected maxmemory-policy and maxmemory")
        if problems:
            raise TargetsError("; ".join(problems))
        return self

    def to_json(self) -> str:
        data = asdict(self)
        data["sentinels"] = [str(a) for a in self.sentinels]
        for key in ("master_endpoint", "cache_endpoint"):
            data[key] = str(getattr(self, key)) if getattr(self, key) else None
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "Targets":
        data = json.loads(text)
        data["sentinels"] = tuple(Address.parse(a, DEFAULT_SENTINEL_PORT) for a in data["sentinels"])
        for key in ("master_endpoint", "cache_endpoint"):
            data[key] = Address.parse(data[key], DEFAULT_REDIS_PORT) if data.get(key) else None
        return cls(**data).check()


def clients_without_password(users_acl: Optional[str]) -> bool:
    """Whether the users.acl template lets the clients' user `default` in without a password."""
    return any(line.split()[:2] == ["user", "default"] and "nopass" in line.split()
               for line in (users_acl or "").splitlines())


def passwords_from(env: Mapping[str, str], files: Mapping[str, Optional[Path]]) -> Passwords:
    """Each password from its file when one is given (a mounted Secret), else from the environment."""
    def one(kind: str, variable: str) -> Optional[str]:
        path = files.get(kind)
        if path:
            return Path(path).read_text().rstrip("\n")
        return env.get(variable) or None
    return Passwords(redis=one("redis", REDIS_PASSWORD_ENV), sentinel=one("sentinel", SENTINEL_PASSWORD_ENV),
                     cache=one("cache", CACHE_PASSWORD_ENV))


def require_passwords(targets: Targets, passwords: Passwords) -> None:
    missing = [variable for needed, value, variable in (
        (targets.redis_auth, passwords.redis, REDIS_PASSWORD_ENV),
        (targets.sentinel_auth, passwords.sentinel, SENTINEL_PASSWORD_ENV),
        (targets.cache_auth, passwords.cache, CACHE_PASSWORD_ENV)) if needed and not value]
    if missing:
        raise TargetsError(f"auth is configured but no password was given: set {', '.join(missing)} "
                           "(or the matching --*-password-file)")


# ---------------------------------------------------------------------------- stack outputs

def from_stack_outputs(outputs: Mapping[str, Any], **expected: Any) -> Targets:
    """`pulumi stack output --json --show-secrets` is not needed: the outputs hold no passwords."""
    gateway = outputs.get("gateway") or {}
    cache = outputs.get("contextCache") or {}
    sentinels = tuple(Address.parse(a, DEFAULT_SENTINEL_PORT) for a in gateway.get("sentinelAddresses") or [])
    values: dict[str, Any] = {
        "sentinels": sentinels,
        "master_set": gateway.get("masterSet") or "",
        "replicas": len(sentinels),
        "master_endpoint": Address.parse(gateway["masterEndpoint"], DEFAULT_REDIS_PORT)
        if gateway.get("masterEndpoint") else None,
        "cache_endpoint": Address.parse(cache["endpoint"], DEFAULT_REDIS_PORT) if cache.get("endpoint") else None,
        "clients_without_password": bool(gateway.get("clientsWithoutPassword")),
    }
    values.update({k: v for k, v in expected.items() if v is not None})
    return Targets(**values)


# ---------------------------------------------------------------------------- rendered manifests

def from_manifest_objects(objects: Iterable[Mapping[str, Any]]) -> tuple[Targets, Passwords]:
    """Targets and passwords of the stack that these (parsed) manifests deploy."""
    index = {(o.get("kind"), o["metadata"]["name"]): o for o in objects}
    statefulset = _need(index, "StatefulSet", GATEWAY_STATEFULSET)
    namespace = statefulset["metadata"].get("namespace") or "default"
    redis_container = statefulset["spec"]["template"]["spec"]["containers"][0]
    env = _literal_env(redis_container)
    domain = env.get("CLUSTER_DOMAIN", "cluster.local")
    headless = statefulset["spec"]["serviceName"]
    replicas = int(statefulset["spec"].get("replicas", 1))
    sentinel_port = int(env.get("SENTINEL_PORT", DEFAULT_SENTINEL_PORT))
    sentinels = tuple(Address(f"{GATEWAY_STATEFULSET}-{i}.{headless}.{namespace}.svc.{domain}", sentinel_port)
                      for i in range(replicas))
    redis_password = _secret_env(index, redis_container, "REDIS_PASSWORD")
    sentinel_password = _secret_env(index, redis_container, "SENTINEL_PASSWORD")
    cache_targets, cache_password = _cache(index, namespace, domain)
    gateway_conf_text = _config_map_value(index, GATEWAY_CONFIG_MAP, REDIS_CONF) or ""
    gateway_conf = _conf(gateway_conf_text)
    sentinel_conf_text = _config_map_value(index, GATEWAY_CONFIG_MAP, SENTINEL_CONF) or ""
    targets = Targets(
        sentinels=sentinels,
        master_set=env.get("MASTER_SET", ""),
        replicas=replicas,
        redis_port=int(env.get("REDIS_PORT", DEFAULT_REDIS_PORT)),
        master_endpoint=_service_address(index, GATEWAY_HA_SERVICE, "redis", namespace, domain),
        replication_bound_seconds=float(gateway_conf.get("min-replicas-max-lag", DEFAULT_REPLICATION_BOUND_SECONDS)),
        redis_auth=redis_password is not None,
        sentinel_auth=sentinel_password is not None,
        cache_auth=cache_password is not None,
        clients_without_password=clients_without_password(_config_map_value(index, GATEWAY_CONFIG_MAP, USERS_ACL)),
        redis_settings=redis_settings(gateway_conf_text) if gateway_conf_text else None,
        sentinel_settings=sentinel_settings(
            sentinel_conf_text, env.get("MASTER_SET", ""),
            _config_map_value(index, GATEWAY_TOPOLOGY_CONFIG_MAP, TOPOLOGY_QUORUM)) or None,
        **cache_targets,
    )
    return targets.check(), Passwords(redis_password, sentinel_password, cache_password)


def _need(index: Mapping, kind: str, name: str) -> Mapping[str, Any]:
    if (kind, name) not in index:
        raise TargetsError(f"the manifests have no {kind} {name!r} (docs/architecture.md)")
    return index[(kind, name)]


def _literal_env(container: Mapping[str, Any]) -> dict[str, str]:
    return {e["name"]: str(e["value"]) for e in container.get("env") or [] if e.get("value") is not None}


def _secret_env(index: Mapping, container: Mapping[str, Any], variable: str) -> Optional[str]:
    for env in container.get("env") or []:
        ref = (env.get("valueFrom") or {}).get("secretKeyRef")
        if env["name"] == variable and ref:
            return _secret_value(_need(index, "Secret", ref["name"]), ref["key"])
    return None


def _secret_value(secret: Mapping[str, Any], key: str) -> Optional[str]:
    if key in (secret.get("stringData") or {}):
        return str(secret["stringData"][key])
    if key in (secret.get("data") or {}):
        return base64.b64decode(secret["data"][key]).decode()
    return None


def _config_map_value(index: Mapping, name: str, key: str) -> Optional[str]:
    config_map = index.get(("ConfigMap", name))
    return (config_map.get("data") or {}).get(key) if config_map else None


def _service_address(index: Mapping, name: str, port_name: str, namespace: str, domain: str) -> Optional[Address]:
    service = index.get(("Service", name))
    if not service:
        return None
    ports = service["spec"].get("ports") or []
    port = next((p["port"] for p in ports if p.get("name") == port_name), ports[0]["port"] if ports else None)
    return Address(f"{name}.{namespace}.svc.{domain}", int(port)) if port else None


def _cache(index: Mapping, namespace: str, domain: str) -> tuple[dict[str, Any], Optional[str]]:
    deployment = index.get(("Deployment", CACHE_DEPLOYMENT))
    endpoint = _service_address(index, CACHE_SERVICE, "redis", namespace, domain)
    if not deployment or not endpoint:
        return {}, None
    conf = _conf(_config_map_value(index, CACHE_CONFIG_MAP, REDIS_CONF) or "")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    password = next((p for p in (_secret_env(index, container, e["name"]) for e in container.get("env") or []
                                 if "PASSWORD" in e["name"]) if p is not None), None)
    return {
        "cache_endpoint": endpoint,
        "cache_maxmemory_policy": conf.get("maxmemory-policy", "noeviction"),
        "cache_maxmemory": redis_bytes(conf.get("maxmemory", "0")),
    }, password


REDIS_SETTINGS = ("maxmemory", "maxmemory-policy", "appendonly")
SENTINEL_SETTINGS = ("quorum", "down-after-milliseconds", "failover-timeout", "parallel-syncs")


def redis_settings(conf_text: str) -> dict[str, str]:
    """REDIS_SETTINGS as a redis.conf sets them (maxmemory in bytes, as INFO reports it)."""
    conf = _conf(conf_text)
    return {"maxmemory": str(redis_bytes(conf.get("maxmemory", "0"))),
            "maxmemory-policy": conf.get("maxmemory-policy", "noeviction"),
            "appendonly": conf.get("appendonly", "no")}


def sentinel_settings(conf_text: str, master_set: str, topology_quorum: Optional[str] = None) -> dict[str, str]:
    """SENTINEL_SETTINGS of `master_set` as a sentinel.conf sets them. The quorum is the topology
    ConfigMap's file `quorum` (`topology_quorum`, its text), never the monitor line's: the gateway's
    sentinel.conf template carries a placeholder there, which sentinel-start.sh replaces. Without
    `topology_quorum` the quorum is not expected at all."""
    found = {}
    monitored = False
    for line in conf_text.splitlines():
        parts = line.split()
        if len(parts) == 6 and parts[:2] == ["sentinel", "monitor"] and parts[2] == master_set:
            monitored = True
        elif len(parts) == 4 and parts[0] == "sentinel" and parts[2] == master_set and parts[1] in SENTINEL_SETTINGS:
            found[parts[1]] = parts[3]
    if monitored and topology_quorum is not None:
        found["quorum"] = topology_quorum.strip()
    return found


def _conf(text: str) -> dict[str, str]:
    """`directive value` lines of a redis.conf (the last one wins, as in Redis)."""
    values = {}
    for line in text.splitlines():
        parts = line.strip().split(None, 1)
        if len(parts) == 2 and not parts[0].startswith("#"):
            values[parts[0].lower()] = parts[1].strip().strip('"')
    return values


_REDIS_UNITS = {"": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3}


def redis_bytes(text: str) -> int:
    """A redis.conf memory value: "402653184", "384mb" (1024-based) or "400m" (1000-based)."""
    match = re.fullmatch(r"\s*([0-9]+)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in _REDIS_UNITS:
        raise TargetsError(f"not a redis.conf memory value: {text!r}")
    return int(match.group(1)) * _REDIS_UNITS[match.group(2).lower()]
