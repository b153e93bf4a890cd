"""haproxy.cfg of the master-only proxy behind Service redis-gateway-ha.

Port 6379 reaches the current master only. A Redis server is admitted when it answers
`role:master` AND at least `quorum` sentinels name it (`SENTINEL get-master-addr-by-name`):
one check backend per Redis server polls every sentinel and expects that server's FQDN, so
`nbsrv(<that backend>)` counts the sentinels that name it. With quorum >= majority at most one
server can be admitted, and a node that still claims the master role after a failover (before
it is demoted) gets no new connection. Port 26379 spreads clients over the live sentinels.

Servers are DNS names resolved at run time (`resolvers`, `init-addr none`): a recreated pod
with a new IP is followed, and a missing pod does not stop HAProxy from starting.
Passwords come from the container's environment ("${REDIS_PASSWORD}", "${SENTINEL_PASSWORD}"),
which HAProxy expands inside double quotes: nothing secret is in this file. The Redis checks send
the clients' password alone (the ACL user `default`, redis_files/acl.py), whose PING and INFO
they need: the proxy carries the clients' traffic anyway, and that password works on a server
with ACL users and on one from before them alike, so the proxy, which rolls independently of the
StatefulSet, keeps admitting the master throughout an upgrade to ACL users.
Readiness and liveness of the proxy pod: a TCP probe of port 6379 (HAProxy listens whether or
not a master is admitted; a proxy that cannot see a master is no worse than its siblings).
"""

from __future__ import annotations

from typing import Optional

from stack_config import StackConfig, gateway_pod_fqdns, names

RESOLVERS = "cluster_dns"
MASTER_BACKEND = "redis_master"
SENTINELS_BACKEND = "sentinels"


def _section(header: str, body: list[str]) -> list[str]:
    return [header, *(f"    {line}" for line in body), ""]


def _server_name(ordinal: int) -> str:
    return f"redis-{ordinal}"


def _quorum_backend_name(ordinal: int) -> str:
    return f"sentinels_name_redis_{ordinal}"


def _auth_check(variable: str, user: Optional[str] = None) -> list[str]:
    """AUTH with the password in $<variable>; with <user>, the two-argument form, which a
    `nopass` user takes too (a migration's window): Redis refuses the one-argument form then."""
    who = f"{user} " if user else ""
    return [f'tcp-check send "AUTH {who}${{{variable}}}"\\r\\n', "tcp-check expect string +OK"]


def _global_and_defaults() -> list[str]:
    return [
        *_section("global", [
            "log stdout format raw local0 info",
            "maxconn 4096",
        ]),
        *_section("defaults", [
            "mode tcp",
            "log global",
            "option dontlognull",
            "timeout connect 2s",
            # Pooled Gateway connections idle between bursts; keepalives find dead peers.
            "timeout client 30m",
            "timeout server 30m",
            "timeout check 2s",
            "option clitcpka",
            "option srvtcpka",
        ]),
    ]


def _resolvers() -> list[str]:
    return _section(f"resolvers {RESOLVERS}", [
        "parse-resolv-conf",
        "resolve_retries 3",
        "timeout resolve 1s",
        "timeout retry 1s",
        # A deleted pod (NXDOMAIN) leaves the pool within a second; a valid answer is kept
        # across a brief DNS outage.
        "hold valid 10s",
        "hold nx 1s",
        "hold obsolete 1s",
        "hold other 5s",
        "hold refused 5s",
        "hold timeout 5s",
        "accepted_payload_size 8192",
    ])


# A master server: the first connection it refuses marks it down, without waiting for the next
# check. A master that stops closes its port when it hands the role over (pod_scripts/
# handover.sh): until HAProxy's next check it would still send new clients there.
OBSERVE_CONNECTIONS = " observe layer4 error-limit 1 on-error mark-down"


def _server_line(cfg: StackConfig, name: str, fqdn: str, port: int, *, carries_clients: bool = True,
                 observe: str = "") -> str:
    # Connections to a server that fails its check are cut, so clients reconnect elsewhere.
    cut = " on-marked-down shutdown-sessions" if carries_clients else ""
    # One failed or passed check changes the state (fall 1 rise 1): the interval alone bounds how
    # long the endpoint lags the sentinels.
    inter = f"{cfg.gateway.proxy.check_interval_milliseconds}ms"
    return (f"server {name} {fqdn}:{port} check inter {inter} fall 1 rise 1 "
            f"resolvers {RESOLVERS} resolve-prefer ipv4 init-addr none{cut}{observe}")


def _sentinel_servers(cfg: StackConfig, fqdns: list[str], *, carries_clients: bool = True) -> list[str]:
    return [_server_line(cfg, f"sentinel-{i}", fqdn, names.SENTINEL_PORT, carries_clients=carries_clients)
            for i, fqdn in enumerate(fqdns)]


def _reply_end_hex(port: int) -> str:
    """Hex of the last element of a SENTINEL get-master-addr-by-name reply: CRLF, the port, CRLF."""
    return f"\r\n{port}\r\n".encode().hex()


def _sentinel_check(cfg: StackConfig) -> list[str]:
    return _auth_check("SENTINEL_PASSWORD") if cfg.gateway.auth.sentinel else []


def _quorum_backend(cfg: StackConfig, ordinal: int, fqdns: list[str]) -> list[str]:
    body = [
        "option tcp-check",
        "tcp-check connect",
        *_sentinel_check(cfg),
        f'tcp-check send "SENTINEL get-master-addr-by-name {names.MASTER_SET}"\\r\\n',
        # An expect that does not match waits for more data until the connection closes or
        # `timeout check` ends (2 s), and Sentinel has no QUIT to close it: a sentinel naming
        # another server would fail its check only after 2 s, and the endpoint would lag a
        # failover by as much. So first wait for the end of the reply (the port, its last
        # element), then match the name on what arrived, conclusively (min-recv 0). HAProxy
        # decides only once as many bytes as the expected name have arrived: every pod's FQDN
        # has the same length (one-digit ordinals), so a reply naming another pod has enough.
        f"tcp-check expect binary {_reply_end_hex(names.REDIS_PORT)}",
        # The FQDN ends in the domain, so "redis-gateway-1." never matches "redis-gateway-10.".
        f"tcp-check expect min-recv 0 string {fqdns[ordinal]}",
        *_sentinel_servers(cfg, fqdns, carries_clients=False),
    ]
    return _section(f"backend {_quorum_backend_name(ordinal)}", body)


def _admitted(ordinal: int, quorum: int) -> str:
    return f"{{ srv_is_up({_server_name(ordinal)}) }} {{ nbsrv({_quorum_backend_name(ordinal)}) ge {quorum} }}"


def _master_backend(cfg: StackConfig, fqdns: list[str]) -> list[str]:
    quorum = cfg.gateway.effective_quorum
    redis_auth = _auth_check("REDIS_PASSWORD", names.ACL_USER_CLIENTS) if cfg.gateway.auth.enabled else []
    any_admitted = " or ".join(_admitted(i, quorum) for i in range(len(fqdns)))
    body = [
        "option tcp-check",
        "tcp-check connect",
        *redis_auth,
        "tcp-check send PING\\r\\n",
        "tcp-check expect string +PONG",
        # QUIT in the same send: the server answers and closes, so a replica fails the expect at
        # once instead of after `timeout check` (see _quorum_backend).
        'tcp-check send "INFO replication\\r\\nQUIT"\\r\\n',
        "tcp-check expect string role:master",
        # Without an admitted server the connection is refused rather than balanced over
        # whatever answers role:master.
        f"tcp-request content reject unless {any_admitted}",
        # A refused connection is not retried: HAProxy would wait a second before each retry
        # to the same server (its turn-around timer) while the client waits; the client retries
        # itself (go-redis: 3 times, 8-512 ms apart) and by then finds the new master.
        "retries 0",
        *(f"use-server {_server_name(i)} if {_admitted(i, quorum)}" for i in range(len(fqdns))),
        *(_server_line(cfg, _server_name(i), fqdn, names.REDIS_PORT, observe=OBSERVE_CONNECTIONS)
          for i, fqdn in enumerate(fqdns)),
    ]
    return _section(f"backend {MASTER_BACKEND}", body)


def _sentinels_backend(cfg: StackConfig, fqdns: list[str]) -> list[str]:
    body = [
        "balance leastconn",
        "option tcp-check",
        "tcp-check connect",
        *_sentinel_check(cfg),
        "tcp-check send PING\\r\\n",
        "tcp-check expect string +PONG",
        *_sentinel_servers(cfg, fqdns),
    ]
    return _section(f"backend {SENTINELS_BACKEND}", body)


def _frontends() -> list[str]:
    return [
        *_section("frontend redis_master", [f"bind :{names.REDIS_PORT}", f"default_backend {MASTER_BACKEND}"]),
        *_section("frontend sentinel", [f"bind :{names.SENTINEL_PORT}", f"default_backend {SENTINELS_BACKEND}"]),
    ]


def haproxy_cfg(cfg: StackConfig) -> str:
    fqdns = gateway_pod_fqdns(cfg)
    header = ["# haproxy.cfg of redis-gateway-haproxy (ConfigMap redis-gateway-haproxy-config).",
              "# Passwords are read from the environment; none is stored here.", ""]
    parts = [
        header,
        _global_and_defaults(),
        _resolvers(),
        _frontends(),
        _master_backend(cfg, fqdns),
        *(_quorum_backend(cfg, i, fqdns) for i in range(len(fqdns))),
        _sentinels_backend(cfg, fqdns),
    ]
    return "\n".join(line for part in parts for line in part)
