"""redis.conf of the gateway pods (a template redis-start.sh completes) and of the cache."""

from __future__ import annotations

from stack_config import StackConfig, names

GATEWAY_DATA_DIR = f"{names.DATA_DIR}/redis"
# The cache persists nothing; its working directory is the pod's scratch volume.
CACHE_DATA_DIR = names.DATA_DIR


def _lines(*groups: list[str]) -> str:
    return "\n".join(line for group in groups for line in group) + "\n"


def _network() -> list[str]:
    return [
        f"port {names.REDIS_PORT}",
        # All interfaces, IPv6 only where the pod has it; access is guarded by requirepass and
        # NetworkPolicy, not by protected mode (which would refuse every remote client).
        "bind * -::*",
        "protected-mode no",
        "tcp-keepalive 60",
        # Idle clients stay connected: the Gateway pools its connections.
        "timeout 0",
    ]


def _logging() -> list[str]:
    return ['logfile ""', "loglevel notice"]


def _memory(maxmemory_bytes: int, policy: str) -> list[str]:
    return [f"maxmemory {maxmemory_bytes}", f"maxmemory-policy {policy}"]


def _gateway_persistence(cfg: StackConfig) -> list[str]:
    persistence = cfg.gateway.persistence
    saves = [f"save {rule}" for rule in persistence.rdb_schedule] or ['save ""']
    return [
        f"dir {GATEWAY_DATA_DIR}",
        "dbfilename dump.rdb",
        *saves,
        f"appendonly {'yes' if persistence.appendonly else 'no'}",
        "appendfsync everysec",
        'appenddirname "appendonlydir"',
    ]


def _gateway_replication(cfg: StackConfig) -> list[str]:
    gateway = cfg.gateway
    return [
        f"repl-backlog-size {gateway.repl_backlog_bytes}",
        # Keep the backlog of a demoted master: the new master's replicas resync partially.
        "repl-backlog-ttl 3600",
        # Fencing: with min-replicas-to-write > 0 a master cut off from its replicas stops
        # accepting writes after min-replicas-max-lag seconds.
        f"min-replicas-to-write {gateway.min_replicas_to_write}",
        f"min-replicas-max-lag {gateway.min_replicas_max_lag}",
        "replica-serve-stale-data yes",
        "replica-read-only yes",
        "repl-diskless-sync yes",
        # A full sync after a failover starts at once instead of waiting for more replicas.
        "repl-diskless-sync-delay 1",
        "repl-timeout 60",
        "replica-priority 100",
        # SIGTERM on a master waits up to this long for lagging replicas (Redis 7 graceful shutdown).
        "shutdown-timeout 10",
    ]


def gateway_redis_conf(cfg: StackConfig) -> str:
    """Template of /data/conf/redis.conf; redis-start.sh appends replica-announce-ip, replicaof,
    requirepass and masterauth."""
    header = [
        "# redis.conf template of the redis-gateway pods (ConfigMap redis-gateway-config).",
        "# redis-start.sh copies it to /data/conf/redis.conf and appends the per-pod lines:",
        "# replica-announce-ip <pod FQDN>, replicaof <master>, requirepass/masterauth from the Secret.",
        "# No include: CONFIG REWRITE (sent by Sentinel) rewrites this one writable file.",
    ]
    gateway = cfg.gateway
    return _lines(header, _network(), _logging(), _memory(gateway.maxmemory_bytes, gateway.maxmemory_policy),
                  _gateway_persistence(cfg), _gateway_replication(cfg))


def cache_redis_conf(cfg: StackConfig) -> str:
    """The cache's redis.conf: an L1 cache without persistence (the Context-API falls back to
    PostgreSQL); cache-start.sh appends the ACL users (users.acl, with password hashes)."""
    cache = cfg.context_cache
    header = [
        "# redis.conf of the Context-API cache (ConfigMap redis-config); cache-start.sh appends",
        "# the ACL users of users.acl, with their password hashes from the Secret.",
    ]
    persistence = [f"dir {CACHE_DATA_DIR}", 'save ""', "appendonly no"]
    return _lines(header, _network(), _logging(), _memory(cache.maxmemory_bytes, cache.maxmemory_policy),
                  persistence)
