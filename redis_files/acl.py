"""users.acl: the Redis ACL users of the gateway (gateway.auth.enabled) and of the cache, and
what each may run.

Templates without passwords (ConfigMaps redis-gateway-config and redis-config): the start
scripts add each user's password as a SHA-256 hash from the container's environment
(pod_scripts/passwords.sh). The gateway's redis-start.sh writes /data/conf/users.acl and points
redis.conf's `aclfile` at it: users live in that file, not in `user` lines of redis.conf, so that
Sentinel's CONFIG REWRITE of redis.conf never touches them. The cache's cache-start.sh appends
them to its effective redis.conf as `user` lines: nothing rewrites that file.

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
# People's user: every command, key and channel.
OPERATOR_RULES = ("on", "~*", "&*", "+@all")

# Read-only introspection every clients' user gets: the smoke check and go-redis' own use.
INTROSPECTION_COMMANDS = ("info", "ping", "role")
# The Gateway's commands (Kubernaut's Gateway: dedup hashes and locks, storm counters, sorted
# sets and buffer lists), MGET for the tooling that checks acknowledged writes in batches (the
# drills), and the introspection.
CLIENT_COMMANDS = (
    "exists", "get", "mget", "set", "incr", "expire", "ttl", "del",
    "hset", "hget", "hgetall", "hincrby",
    "zadd", "zremrangebyscore", "zcard", "zrange",
    "rpush", "llen", "lrange", "scan",
    *INTROSPECTION_COMMANDS,
)
# The Context-API's cache client (go-redis v9): PING at start, GET, `SET ... EX 300` (SET's EX
# option needs no other command), DEL; and the introspection.
CACHE_CLIENT_COMMANDS = ("get", "set", "del", *INTROSPECTION_COMMANDS)
# The cache's readiness probe (pod_scripts/cache/cache-readiness.sh): PING only.
CACHE_PROBE_COMMANDS = ("ping",)
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
# The backup Job (pod_scripts/backup.sh): INFO to check that the node is a linked replica, then
# the CLI's --rdb (REPLCONF, then SYNC; PSYNC for engines whose CLI sends it).
BACKUP_COMMANDS = ("ping", "info", "replconf", "sync", "psync")
# The readiness and liveness probes and HAProxy's health checks.
PROBE_COMMANDS = ("ping", "info")
# redis_exporter: its metrics come from INFO; SLOWLOG and LATENCY feed its slowlog and latency
# metrics. No CONFIG GET: it would show masterauth, the replication user's password.
EXPORTER_COMMANDS = ("ping", "info", "slowlog|get", "slowlog|len", "latency|latest", "latency|histogram")


def _grant(commands: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"+{command}" for command in commands)


def gateway_acl_rules(clients_without_password: bool = False) -> dict[str, str]:
    """user -> its rules (every user of names: the clients' `default` and the internal ones).

    <clients_without_password> (gateway.auth.clientsWithoutPassword, a migration's window): the
    clients' user is `nopass`, so it takes a client that sends no password, as the deployment this
    one replaces did, and one that sends any; its commands stay the same, and every internal user
    keeps its password."""
    clients_auth = ("nopass",) if clients_without_password else ()
    rules = {
        names.ACL_USER_CLIENTS: ("on", *clients_auth, "~*", "resetchannels", *HANDSHAKE, *_grant(CLIENT_COMMANDS)),
        names.ACL_USER_REPLICATION: ("on", *NO_KEYS, "-@all", *_grant(REPLICATION_COMMANDS)),
        names.ACL_USER_SENTINEL: ("on", *NO_KEYS, f"&{SENTINEL_CHANNEL}", *HANDSHAKE, *_grant(SENTINEL_COMMANDS)),
        names.ACL_USER_POD: ("on", *NO_KEYS, *HANDSHAKE, *_grant(POD_COMMANDS)),
        names.ACL_USER_PROBE: ("on", *NO_KEYS, *HANDSHAKE, *_grant(PROBE_COMMANDS)),
        names.ACL_USER_EXPORTER: ("on", *NO_KEYS, *HANDSHAKE, *_grant(EXPORTER_COMMANDS)),
        names.ACL_USER_BACKUP: ("on", *NO_KEYS, "-@all", *_grant(BACKUP_COMMANDS)),
        names.ACL_USER_OPERATOR: OPERATOR_RULES,
    }
    return {user: " ".join(rule) for user, rule in rules.items()}


def cache_acl_rules(cfg: StackConfig, operator: bool) -> dict[str, str]:
    """user -> its rules, for the cache: the clients' `default` always; with
    contextCache.auth.enabled the `probe` and `exporter` users; `operator` when <operator> (its
    password, contextCacheOperatorPassword, is set).

    Without auth, `default` has no password (the Context-API sends none) and the probe and the
    exporter connect as `default` too, so it also gets what the exporter reads: SLOWLOG GET/LEN
    and LATENCY LATEST/HISTOGRAM, read-only like INFO (the slow log shows the arguments of slow
    commands, which on this cache are the Context-API's own keys and values, that `default` may
    GET anyway). With auth they have users of their own and `default` keeps only its commands."""
    auth = cfg.context_cache.auth.enabled
    clients = CACHE_CLIENT_COMMANDS if auth else tuple(dict.fromkeys((*CACHE_CLIENT_COMMANDS, *EXPORTER_COMMANDS)))
    rules = {names.ACL_USER_CLIENTS: ("on", *(() if auth else ("nopass",)), "~*", "resetchannels", *HANDSHAKE,
                                      *_grant(clients))}
    if auth:
        rules[names.ACL_USER_PROBE] = ("on", *NO_KEYS, *HANDSHAKE, *_grant(CACHE_PROBE_COMMANDS))
        rules[names.ACL_USER_EXPORTER] = ("on", *NO_KEYS, *HANDSHAKE, *_grant(EXPORTER_COMMANDS))
    if operator:
        rules[names.ACL_USER_OPERATOR] = OPERATOR_RULES
    return {user: " ".join(rule) for user, rule in rules.items()}


def _users_acl(header: list[str], rules: dict[str, str]) -> str:
    return "\n".join([*header, *(f"user {user} {rule}" for user, rule in rules.items())]) + "\n"


def gateway_users_acl(cfg: StackConfig) -> str:
    """The template of users.acl: `user <name> <rules>`, one per user, without a password."""
    if not cfg.gateway.auth.enabled:
        raise ValueError("users.acl exists only while gateway.auth.enabled")
    header = [
        "# users.acl template of the redis-gateway pods (ConfigMap redis-gateway-config).",
        "# redis-start.sh writes /data/conf/users.acl from it, appending each user's password hash",
        "# (#<sha256>) from ACL_<USER>_PASSWORD (default: REDIS_PASSWORD) of the container's environment.",
    ]
    return _users_acl(header, gateway_acl_rules(cfg.gateway.auth.clients_without_password))


def cache_users_acl(cfg: StackConfig, operator: bool) -> str:
    """The template of the cache's users (cache_acl_rules), without a password."""
    header = [
        "# users.acl template of the Context-API cache (ConfigMap redis-config). cache-start.sh appends",
        "# these users to its redis.conf, each with its password hash (#<sha256>) from REDIS_PASSWORD",
        "# (`default`) or ACL_<USER>_PASSWORD of the container's environment; a `nopass` user gets none.",
    ]
    return _users_acl(header, cache_acl_rules(cfg, operator))
