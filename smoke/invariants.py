"""The invariants of a healthy Sentinel cluster and its cache, checked against the live processes.

Every check returns a Check (name, status, detail, data) and never raises: a node that does not
answer is a failed check, not a crash. `check_all` runs them in order; drills call it (or single
checks) after each fault, and `wait_until_healthy` to measure how long the cluster took to settle.
The names are stable (they appear in --json output and in the exit message).

Works with redis-py 4.3 (Debian's, in the client image) and newer: only plain commands are sent
and replies are read raw.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import redis
from redis.sentinel import Sentinel

from .targets import Address, Passwords, Targets

PASS, FAIL, NOT_CONFIGURED = "PASS", "FAIL", "N/A"
SOCKET_TIMEOUT_SECONDS = 3.0
REPLICA_POLL_SECONDS = 0.02
SMOKE_KEY_TTL_SECONDS = 300


@dataclass
class Check:
    name: str
    status: str
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status != FAIL


@dataclass
class Report:
    checks: list[Check]
    started_at: float
    finished_at: float

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failed(self) -> list[str]:
        return [c.name for c in self.checks if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "failed": self.failed, "started_at": self.started_at,
                "finished_at": self.finished_at, "checks": [asdict(c) for c in self.checks]}


# ---------------------------------------------------------------------------- connections

def connect(address: Address, password: Optional[str]) -> redis.Redis:
    # A password goes with the user name `default` (AUTH default <password>): the same user as
    # the one-argument AUTH, and the form a `nopass` default user (the gateway's migration
    # window, gateway.auth.clientsWithoutPassword) takes too.
    return redis.Redis(host=address.host, port=address.port, password=password, decode_responses=True,
                       username="default" if password is not None else None,
                       socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_connect_timeout=SOCKET_TIMEOUT_SECONDS)


def pairs(reply: Any) -> dict[str, Any]:
    """A SENTINEL MASTER reply as a dict (raw flat list in RESP2, a map in newer clients)."""
    if isinstance(reply, dict):
        return {str(k): v for k, v in reply.items()}
    return {str(reply[i]): reply[i + 1] for i in range(0, len(reply) - 1, 2)}


@dataclass
class View:
    """What the sentinels and nodes say, read once per report."""

    targets: Targets
    passwords: Passwords
    sentinel_masters: dict[str, Any] = field(default_factory=dict)  # sentinel -> addr tuple or error
    sentinel_info: dict[str, Any] = field(default_factory=dict)  # sentinel -> SENTINEL MASTER dict or error

    def sentinel(self, address: Address) -> redis.Redis:
        return connect(address, self.passwords.sentinel)

    def node(self, address: Address) -> redis.Redis:
        return connect(address, self.passwords.redis)

    def read_sentinels(self) -> None:
        for address in self.targets.sentinels:
            key = str(address)
            try:
                client = self.sentinel(address)
                reply = client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.targets.master_set)
                self.sentinel_masters[key] = (str(reply[0]), int(reply[1])) if reply else None
                self.sentinel_info[key] = pairs(client.execute_command("SENTINEL", "MASTER", self.targets.master_set))
            except redis.RedisError as err:
                self.sentinel_masters[key] = self.sentinel_info[key] = err

    def master(self) -> Optional[Address]:
        """The master all sentinels name, when they agree."""
        named = {v for v in self.sentinel_masters.values() if isinstance(v, tuple)}
        if len(named) != 1 or len(self.sentinel_masters) != len(self.targets.sentinels) \
                or any(not isinstance(v, tuple) for v in self.sentinel_masters.values()):
            return None
        host, port = named.pop()
        return Address(host, port)


def _result(name: str, problems: list[str], ok_detail: str, data: Optional[dict] = None) -> Check:
    if problems:
        return Check(name, FAIL, "; ".join(problems), data or {})
    return Check(name, PASS, ok_detail, data or {})


# ---------------------------------------------------------------------------- sentinel checks

def check_sentinels_agree(view: View) -> Check:
    answers = {k: (f"{v[0]}:{v[1]}" if isinstance(v, tuple) else f"error: {v}" if v else "no master")
               for k, v in view.sentinel_masters.items()}
    master = view.master()
    problems = [] if master else [f"sentinels disagree or fail: {answers}"]
    return _result("sentinels-agree-on-master", problems, f"all {len(answers)} name {master}", {"answers": answers})


def _per_sentinel(view: View, name: str, test: Callable[[dict[str, Any]], Optional[str]], ok: str) -> Check:
    problems = []
    for sentinel, info in view.sentinel_info.items():
        if not isinstance(info, dict):
            problems.append(f"{sentinel}: {info}")
            continue
        problem = test(info)
        if problem:
            problems.append(f"{sentinel}: {problem}")
    return _result(name, problems, ok)


def check_num_slaves(view: View) -> Check:
    expected = view.targets.replicas - 1
    return _per_sentinel(view, "num-slaves", lambda i: None if int(i.get("num-slaves", -1)) == expected
                         else f"num-slaves {i.get('num-slaves')}, expected {expected}",
                         f"every sentinel knows {expected} replicas")


def _known_sentinels(view: View, address: Address) -> str:
    """The peers a sentinel knows (address, run id, flags): which one is extra or missing is what
    a wrong count leaves open."""
    try:
        reply = view.sentinel(address).execute_command("SENTINEL", "SENTINELS", view.targets.master_set)
    except redis.RedisError as err:
        return f"SENTINEL SENTINELS failed: {err}"
    peers = [pairs(peer) for peer in reply or []]
    return ", ".join(f"{peer.get('ip')}:{peer.get('port')} {str(peer.get('runid'))[:8]} {peer.get('flags')}"
                     for peer in peers) or "none"


def check_num_other_sentinels(view: View) -> Check:
    expected = len(view.targets.sentinels) - 1

    def wrong(info: dict[str, Any]) -> Optional[str]:
        return None if int(info.get("num-other-sentinels", -1)) == expected \
            else f"num-other-sentinels {info.get('num-other-sentinels')}, expected {expected}"

    check = _per_sentinel(view, "num-other-sentinels", wrong, f"every sentinel knows {expected} other sentinels")
    known = {str(address): _known_sentinels(view, address) for address in view.targets.sentinels
             if isinstance(view.sentinel_info.get(str(address)), dict) and wrong(view.sentinel_info[str(address)])}
    if known:
        check.data["known"] = known
        check.detail += "".join(f"; {sentinel} knows: {peers}" for sentinel, peers in known.items())
    return check


def check_master_flags(view: View) -> Check:
    return _per_sentinel(view, "master-not-down",
                         lambda i: None if str(i.get("flags")) == "master" else f"master flags {i.get('flags')}",
                         "no sentinel flags the master down")


def check_ckquorum(view: View) -> Check:
    problems = []
    for address in view.targets.sentinels:
        try:
            reply = view.sentinel(address).execute_command("SENTINEL", "CKQUORUM", view.targets.master_set)
            if not str(reply).startswith("OK") and reply is not True:
                problems.append(f"{address}: {reply}")
        except redis.RedisError as err:
            problems.append(f"{address}: {err}")
    return _result("ckquorum", problems, "quorum and failover authorization reachable on every sentinel")


def check_no_tilt(view: View) -> Check:
    problems, tilt = [], {}
    for address in view.targets.sentinels:
        try:
            info = view.sentinel(address).info("sentinel")
            tilt[str(address)] = int(info.get("sentinel_tilt", -1))
            if tilt[str(address)] != 0:
                problems.append(f"{address}: sentinel_tilt {info.get('sentinel_tilt')}")
        except redis.RedisError as err:
            problems.append(f"{address}: {err}")
    return _result("no-tilt", problems, "no sentinel in TILT mode", {"tilt": tilt})


# ---------------------------------------------------------------------------- node checks

def _replication_info(view: View, address: Address) -> dict[str, Any]:
    return view.node(address).info("replication")


def check_master_role(view: View) -> Check:
    master = view.master()
    if not master:
        return Check("master-role", FAIL, "no agreed master to ask")
    try:
        role = _replication_info(view, master).get("role")
    except redis.RedisError as err:
        return Check("master-role", FAIL, f"{master}: {err}")
    return _result("master-role", [] if role == "master" else [f"{master} reports role:{role}"],
                   f"{master} reports role:master")


def check_single_master(view: View) -> Check:
    roles, problems = {}, []
    for address in view.targets.redis_nodes:
        try:
            roles[str(address)] = _replication_info(view, address).get("role")
        except redis.RedisError as err:
            problems.append(f"{address}: {err}")
    masters = [a for a, r in roles.items() if r == "master"]
    if len(masters) != 1:
        problems.append(f"{len(masters)} nodes report role:master ({', '.join(masters) or 'none'})")
    return _result("single-master", problems, f"exactly one master among {len(roles)} nodes", {"roles": roles})


def check_replicas_linked(view: View) -> Check:
    master = view.master()
    if not master:
        return Check("replicas-linked", FAIL, "no agreed master to compare with")
    problems, linked = [], 0
    for address in view.targets.redis_nodes:
        if address.host == master.host:
            continue
        try:
            info = _replication_info(view, address)
        except redis.RedisError as err:
            problems.append(f"{address}: {err}")
            continue
        if info.get("role") != "slave" or str(info.get("master_host")) != master.host \
                or info.get("master_link_status") != "up":
            problems.append(f"{address}: role {info.get('role')}, master_host {info.get('master_host')}, "
                            f"link {info.get('master_link_status')}")
        else:
            linked += 1
    return _result("replicas-linked", problems, f"{linked} replicas linked to {master.host}")


def check_master_endpoint(view: View) -> Check:
    endpoint, master = view.targets.master_endpoint, view.master()
    if endpoint is None:
        return Check("master-endpoint", NOT_CONFIGURED, "no master-only endpoint given")
    if not master:
        return Check("master-endpoint", FAIL, "no agreed master to compare with")
    try:
        expected = str(view.node(master).info("server").get("run_id"))
        through = view.node(endpoint)
        run_id, role = str(through.info("server").get("run_id")), through.info("replication").get("role")
    except redis.RedisError as err:
        return Check("master-endpoint", FAIL, f"{endpoint}: {err}")
    problems = []
    if run_id != expected or role != "master":
        problems.append(f"{endpoint} reaches run_id {run_id} (role {role}), the master {master} is {expected}")
    return _result("master-endpoint", problems, f"{endpoint} reaches the master {master.host}")


def check_replication(view: View) -> Check:
    """A write through Sentinel discovery shows up on every replica within the configured bound."""
    targets, passwords = view.targets, view.passwords
    key, value = f"smoke:{uuid.uuid4().hex}", uuid.uuid4().hex
    sentinel = Sentinel([(a.host, a.port) for a in targets.sentinels],
                        sentinel_kwargs={"password": passwords.sentinel, "socket_timeout": SOCKET_TIMEOUT_SECONDS},
                        password=passwords.redis, username="default" if passwords.redis is not None else None,
                        socket_timeout=SOCKET_TIMEOUT_SECONDS, decode_responses=True)
    try:
        master = sentinel.master_for(targets.master_set)
        master.set(key, value, ex=SMOKE_KEY_TTL_SECONDS)
        written_at = time.monotonic()
        replicas = [Address(str(host), int(port)) for host, port in sentinel.discover_slaves(targets.master_set)]
    except redis.RedisError as err:
        return Check("replication", FAIL, f"write through Sentinel discovery failed: {err}")
    delays, problems = {}, []
    for replica in replicas:
        delay = _wait_for_value(view.node(replica), key, value, written_at, targets.replication_bound_seconds)
        if delay is None:
            problems.append(f"{replica}: not visible within {targets.replication_bound_seconds:.1f} s")
        else:
            delays[str(replica)] = round(delay, 4)
    if len(replicas) != targets.replicas - 1:
        problems.append(f"Sentinel hands out {len(replicas)} replicas, expected {targets.replicas - 1}")
    _delete_quietly(master, key)
    return _result("replication", problems,
                   f"visible on {len(delays)} replicas within {max(delays.values(), default=0):.3f} s "
                   f"(bound {targets.replication_bound_seconds:.1f} s)", {"delays_seconds": delays})


def _wait_for_value(client: redis.Redis, key: str, value: str, since: float, bound: float) -> Optional[float]:
    while True:
        try:
            if client.get(key) == value:
                return time.monotonic() - since
        except redis.RedisError:
            pass
        if time.monotonic() - since > bound:
            return None
        time.sleep(REPLICA_POLL_SECONDS)


def _delete_quietly(client: redis.Redis, key: str) -> None:
    try:
        client.delete(key)
    except redis.RedisError:
        pass  # it expires on its own


# ---------------------------------------------------------------------------- auth and cache

def _refuses_anonymous(address: Address) -> Optional[str]:
    """None when an unauthenticated PING is refused with NOAUTH/authentication required."""
    try:
        reply = connect(address, None).ping()
        return f"{address}: answered {reply!r} without a password"
    except redis.AuthenticationError:
        return None
    except redis.ResponseError as err:
        return None if "NOAUTH" in str(err) or "auth" in str(err).lower() else f"{address}: {err}"
    except redis.RedisError as err:
        return f"{address}: {err}"


def _answers_anonymous(address: Address) -> Optional[str]:
    """None when an unauthenticated PING is answered."""
    try:
        connect(address, None).ping()
        return None
    except redis.RedisError as err:
        return f"{address}: {err} (a client without a password, although gateway.auth.clientsWithoutPassword is true)"


def check_redis_auth(view: View) -> Check:
    if not view.targets.redis_auth:
        return Check("redis-auth", NOT_CONFIGURED, "auth is off for the gateway's Redis in this config")
    nodes = list(view.targets.redis_nodes) + ([view.targets.master_endpoint] if view.targets.master_endpoint else [])
    if view.targets.clients_without_password:
        # The window is what the config asks for: the check is that it is really open (the clients
        # it exists for get in), and the report says it is.
        problems = [p for p in (_answers_anonymous(a) for a in nodes) if p]
        return _result("redis-auth", problems, f"migration window open (gateway.auth.clientsWithoutPassword): "
                       f"{len(nodes)} Redis endpoints take clients without a password")
    problems = [p for p in (_refuses_anonymous(a) for a in nodes) if p]
    return _result("redis-auth", problems, f"{len(nodes)} Redis endpoints refuse clients without a password")


def check_sentinel_auth(view: View) -> Check:
    if not view.targets.sentinel_auth:
        return Check("sentinel-auth", NOT_CONFIGURED, "Sentinel auth is off in this config")
    problems = [p for p in (_refuses_anonymous(a) for a in view.targets.sentinels) if p]
    return _result("sentinel-auth", problems, f"{len(view.targets.sentinels)} sentinels refuse clients without a password")


def check_cache(view: View) -> Check:
    """The Context-API's client sends no password: PING must work without one (unless auth was switched
    on for the cache), and the cache runs with the configured eviction policy and maxmemory."""
    targets = view.targets
    if targets.cache_endpoint is None:
        return Check("cache", NOT_CONFIGURED, "no cache endpoint given")
    problems = []
    try:
        client = connect(targets.cache_endpoint, view.passwords.cache if targets.cache_auth else None)
        if client.ping() is not True:
            problems.append("PING did not answer PONG")
        memory = client.info("memory")
    except redis.RedisError as err:
        return Check("cache", FAIL, f"{targets.cache_endpoint}: {err}")
    policy, maxmemory = memory.get("maxmemory_policy"), int(memory.get("maxmemory", -1))
    if policy != targets.cache_maxmemory_policy:
        problems.append(f"maxmemory-policy {policy}, configured {targets.cache_maxmemory_policy}")
    if maxmemory != targets.cache_maxmemory:
        problems.append(f"maxmemory {maxmemory}, configured {targets.cache_maxmemory}")
    if targets.cache_auth:
        refused = _refuses_anonymous(targets.cache_endpoint)
        if refused:
            problems.append(refused)
    how = "with its password" if targets.cache_auth else "without a password"
    return _result("cache", problems, f"PONG {how}; {policy}, maxmemory {maxmemory}",
                   {"maxmemory_policy": policy, "maxmemory": maxmemory})


def check_settings(view: View) -> Check:
    """Every gateway Redis and Sentinel runs the configured settings (maxmemory, its policy,
    appendonly; quorum, down-after, failover-timeout, parallel-syncs): a CONFIG SET since the
    start (a client's test cleanup once raised the master's maxmemory to 2 GB) is drift.
    From INFO and SENTINEL MASTER, which the clients' user may run."""
    targets = view.targets
    if not targets.redis_settings and not targets.sentinel_settings:
        return Check("settings", NOT_CONFIGURED, "no expected settings given")
    problems = []
    for address in targets.redis_nodes if targets.redis_settings else ():
        try:
            client = view.node(address)
            info = {**client.info("memory"), **client.info("persistence")}
        except redis.RedisError as err:
            problems.append(f"{address}: {err}")
            continue
        live = {"maxmemory": str(info.get("maxmemory")), "maxmemory-policy": str(info.get("maxmemory_policy")),
                "appendonly": "yes" if int(info.get("aof_enabled", 0)) else "no"}
        problems += [f"{address.host}: {key} {live.get(key)}, configured {want}"
                     for key, want in targets.redis_settings.items() if live.get(key) != want]
    for address in targets.sentinels if targets.sentinel_settings else ():
        master = view.sentinel_info.get(str(address))
        if not isinstance(master, dict):
            problems.append(f"{address}: {master}")
            continue
        problems += [f"sentinel {address.host}: {key} {master.get(key)}, configured {want}"
                     for key, want in targets.sentinel_settings.items() if str(master.get(key)) != want]
    checked = ", ".join([*(targets.redis_settings or {}), *(targets.sentinel_settings or {})])
    return _result("settings", problems, f"every node and sentinel runs the configured {checked}")


# ---------------------------------------------------------------------------- all of it

CHECKS: tuple[Callable[[View], Check], ...] = (
    check_sentinels_agree, check_num_slaves, check_num_other_sentinels, check_master_flags, check_ckquorum,
    check_no_tilt, check_master_role, check_single_master, check_replicas_linked, check_master_endpoint,
    check_replication, check_redis_auth, check_sentinel_auth, check_cache, check_settings,
)
# The checks that describe the cluster's state without writing to it (for polling in drills).
STATE_CHECKS = tuple(c for c in CHECKS if c is not check_replication)


def check_all(targets: Targets, passwords: Passwords,
              checks: tuple[Callable[[View], Check], ...] = CHECKS) -> Report:
    started = time.time()
    view = View(targets, passwords)
    view.read_sentinels()
    results = []
    for check in checks:
        try:
            results.append(check(view))
        except Exception as err:  # a check with a bug must still show up as a failed check
            results.append(Check(check.__name__.removeprefix("check_").replace("_", "-"), FAIL,
                                 f"{type(err).__name__}: {err}"))
    return Report(results, started, time.time())


def wait_until_healthy(targets: Targets, passwords: Passwords, timeout: float, interval: float = 0.5,
                       checks: tuple[Callable[[View], Check], ...] = STATE_CHECKS) -> Report:
    """Poll until every check passes; the last report either way (its finished_at says when)."""
    deadline = time.monotonic() + timeout
    while True:
        report = check_all(targets, passwords, checks)
        if report.ok or time.monotonic() >= deadline:
            return report
        time.sleep(interval)
