"""users.acl: the gateway's Redis ACL users and what each may run (gateway.auth.enabled).

A template without passwords (ConfigMap redis-gateway-config): redis-start.sh writes the
effective file, /data/conf/users.acl, adding each user's password as a SHA-256 hash from the
container's environment, and points redis.conf's `aclfile` at it. Users live in that file, not in
`user` lines of redis.conf, so that Sentinel's CONFIG REWRITE of redis.conf never touches them.

Every restricted user starts from `-@all`, then `+@connection -@admin -@dangerous`: the
connection handshake its client library sends (HELLO, SELECT, CLIENT SETNAME/SETINFO/ID, ECHO,
PING), whatever subcommands the engine has (Redis 7.0 has no CLIENT SETINFO, and a rule naming a
subcommand the engine lacks stops it from starting), and never CLIENT KILL, PAUSE, LIST or
NO-EVICT. INFO and ROLE are in @dangerous, so they are granted by name after that.
"""

from __future__ import annotations

from stack_config import StackConfig, names

HANDSHAKE = ("-@all", "+@connection", "-@admin", "-@dangerous")
NO_KEYS = ("resetkeys", "resetchannels")

# The Gateway's commands (Kubernaut's Gateway: dedup hashes and locks, storm counters, sorted
# sets and buffer lists), MGET for the tooling that checks acknowledged writes in batches (the
# drills), and read-only introspection (INFO, PING, ROLE): the smoke check and go-redis' own use.
CLIENT_COMMANDS = (
    "exists", "get", "mget", "set", "incr", "expire", "ttl", "del",
    "hset", "hget", "hgetall", "hincrby",
    "zadd", "zremrangebyscore", "zcard", "zrange",
    "rpush", "llen", "lrange", "scan",
    "info", "ping", "role",
)
# What a replica sends its master (`masteruser`).
REPLICATION_COMMANDS = ("psync", "replconf", "ping")
# Redis' documented set for `sentinel auth-user`; REPLICAOF next to SLAVEOF for engines whose
# Sentinel sends the new name. Its only channel is the hello channel.
SENTINEL_COMMANDS = ("multi", "exec", "slaveof", "replicaof", "ping", "info", "role", "subscribe", "publish",
                     "config|rewrite", "client|setname", "client|kill", "script|kill")
SENTINEL_CHANNEL = "__sentinel__:hello"
# The start and preStop scripts (pod_scripts/): the claim (INFO, DBSIZE, CONFIG SET port,
# REPLICAOF, on itself and on a peer it hands over) and the handover (CLIENT PAUSE/UNPAUSE,
# CLIENT KILL, REPLICAOF).
POD_COMMANDS = ("ping", "info", "dbsize", "config|set", "replicaof", "client|pause", "client|unpause", "client|kill")
# The readiness and liveness probes and HAProxy's health checks.
PROBE_COMMANDS = ("ping", "info")
# redis_exporter: its metrics come from INFO; SLOWLOG and LATENCY feed its slowlog and latency
# metrics. No CONFIG GET: it would show masterauth, the replication user's password.
EXPORTER_COMMANDS = ("ping", "info", "slowlog|get", "slowlog|len", "latency|latest", "latency|histogram")


def _grant(commands: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"+{command}" for command in commands)


def gateway_acl_rules() -> dict[str, str]:
    """user -> its rules (every user of names: the clients' `default` and the internal ones)."""
    rules = {
        names.ACL_USER_CLIENTS: ("on", "~*", "resetchannels", *HANDSHAKE, *_grant(CLIENT_COMMANDS)),
        names.ACL_USER_REPLICATION: ("on", *NO_KEYS, "-@all", *_grant(REPLICATION_COMMANDS)),
        names.ACL_USER_SENTINEL: ("on", *NO_KEYS, f"&{SENTINEL_CHANNEL}", *HANDSHAKE, *_grant(SENTINEL_COMMANDS)),
        names.ACL_USER_POD: ("on", *NO_KEYS, *HANDSHAKE, *_grant(POD_COMMANDS)),
        names.ACL_USER_PROBE: ("on", *NO_KEYS, *HANDSHAKE, *_grant(PROBE_COMMANDS)),
        names.ACL_USER_EXPORTER: ("on", *NO_KEYS, *HANDSHAKE, *_grant(EXPORTER_COMMANDS)),
        names.ACL_USER_OPERATOR: ("on", "~*", "&*", "+@all"),
    }
    return {user: " ".join(rule) for user, rule in rules.items()}


def gateway_users_acl(cfg: StackConfig) -> str:
    """The template of users.acl: `user <name> <rules>`, one per user, without a password."""
    if not cfg.gateway.auth.enabled:
        raise ValueError("users.acl exists only while gateway.auth.enabled")
    header = [
        "# users.acl template of the redis-gateway pods (ConfigMap redis-gateway-config).",
        "# redis-start.sh writes /data/conf/users.acl from it, appending each user's password hash",
        "# (#<sha256>) from ACL_<USER>_PASSWORD (default: REDIS_PASSWORD) of the container's environment.",
    ]
    return "\n".join([*header, *(f"user {user} {rule}" for user, rule in gateway_acl_rules().items())]) + "\n"
