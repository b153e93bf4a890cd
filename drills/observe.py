"""What the drill watches from the host while a fault plays: each sentinel's view (master,
config epoch, TILT) and which pod is master, over the pods' IPs.

Pod names resolve only inside the cluster, but the lab cluster's node is this machine and routes
to the pod network, so the host talks to the IPs the API server reports and maps the names that
Sentinel announces (pod FQDNs) back to pods by their first label.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

CALL_TIMEOUT_SECONDS = 1.0
# One attempt per poll: newer redis-py retries a timed-out connect three times with backoff by
# default, which turns one cut-off pod into 15 s per poll and hides when the others agreed.
NO_RETRY = Retry(NoBackoff(), 0)
TILT_POLL_SECONDS = 0.5


def pod_of(host: str) -> str:
    """`redis-gateway-1.redis-gateway-headless.ns.svc.cluster.local` -> `redis-gateway-1`."""
    return host.split(".", 1)[0]


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass
class SentinelView:
    pod: str
    master_host: Optional[str] = None
    config_epoch: Optional[int] = None
    tilt: Optional[bool] = None
    flags: str = ""  # SENTINEL MASTER's flags: "master", "master,s_down", "master,s_down,o_down", ...
    error: str = ""
    # How the target names a pod by the host Sentinel announces: the first DNS label (the stack and
    # the floor announce pod FQDNs); a target that announces addresses gives its own.
    host_to_pod: Callable[[str], str] = pod_of

    @property
    def master_pod(self) -> Optional[str]:
        return self.host_to_pod(self.master_host) if self.master_host else None


def sentinel_view(pod: str, ip: str, port: int, password: Optional[str], master_set: str,
                  host_to_pod: Callable[[str], str] = pod_of) -> SentinelView:
    view = SentinelView(pod, host_to_pod=host_to_pod)
    try:
        client = redis.Redis(ip, port, password=password, socket_timeout=CALL_TIMEOUT_SECONDS,
                             socket_connect_timeout=CALL_TIMEOUT_SECONDS, retry=NO_RETRY)
        try:
            view.tilt = int(client.info("sentinel").get("sentinel_tilt", 0)) == 1
            fields = client.execute_command("SENTINEL", "MASTER", master_set)
            if isinstance(fields, dict):
                master = {_text(k): _text(v) for k, v in fields.items()}
            else:
                master = {_text(k): _text(v) for k, v in zip(fields[::2], fields[1::2])}
            view.master_host = master.get("ip")
            view.flags = master.get("flags", "")
            view.config_epoch = int(master["config-epoch"]) if "config-epoch" in master else None
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as err:
        view.error = f"{type(err).__name__}: {err}"
    return view


class SentinelPanel:
    """The sentinels of one cluster as the host sees them."""

    def __init__(self, addresses: Callable[[], dict[str, str]], port: int, password: Optional[str],
                 master_set: str, host_to_pod: Callable[[str], str] = pod_of) -> None:
        self.addresses = addresses  # pod -> current IP (pods get a new IP when recreated)
        self.port = port
        self.password = password
        self.master_set = master_set
        self.host_to_pod = host_to_pod

    def views(self) -> list[SentinelView]:
        return [sentinel_view(pod, ip, self.port, self.password, self.master_set, self.host_to_pod)
                for pod, ip in sorted(self.addresses().items()) if ip]

    def agreed_master(self) -> Optional[str]:
        """The pod every answering sentinel names as master, when they all agree."""
        named = {v.master_pod for v in self.views() if not v.error}
        return named.pop() if len(named) == 1 else None

    def max_epoch(self) -> Optional[int]:
        epochs = [v.config_epoch for v in self.views() if v.config_epoch is not None]
        return max(epochs) if epochs else None

    def wait_agreed_master(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            master = self.agreed_master()
            if master:
                return master
            time.sleep(0.3)
        raise TimeoutError(f"the sentinels do not agree on a master of {self.master_set} within {timeout:.0f} s: "
                           + "; ".join(f"{v.pod}: {v.master_pod or v.error}" for v in self.views()))


class BackgroundPoll:
    """Runs `_run` in a daemon thread from `with` to its end; `_run` loops until `_stop` is set."""

    def __enter__(self):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=type(self).__name__, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        raise NotImplementedError


@dataclass
class TiltWatch(BackgroundPoll):
    """Polls every sentinel's INFO sentinel in the background and remembers who was in TILT and
    when. TILT lasts 30 s once entered, so a half-second poll does not miss it."""

    panel: SentinelPanel
    seen: dict[str, list[float]] = field(default_factory=dict)
    unanswered: dict[str, int] = field(default_factory=dict)
    # Polls at which a sentinel judged the master objectively down (o_down): a failover for a
    # failure, where a planned handover (SENTINEL FAILOVER) has none.
    odown: dict[str, int] = field(default_factory=dict)
    # [time, pod] each time the master the answering sentinels agree on changed.
    masters: list[list] = field(default_factory=list)

    def _run(self) -> None:
        while not self._stop.is_set():
            views = self.panel.views()
            for view in views:
                if view.tilt:
                    self.seen.setdefault(view.pod, []).append(time.time())
                elif view.error:
                    self.unanswered[view.pod] = self.unanswered.get(view.pod, 0) + 1
                if "o_down" in view.flags:
                    self.odown[view.pod] = self.odown.get(view.pod, 0) + 1
            named = {v.master_pod for v in views if not v.error}
            if len(named) == 1 and (not self.masters or self.masters[-1][1] != next(iter(named))):
                self.masters.append([round(time.time(), 3), next(iter(named))])
            self._stop.wait(TILT_POLL_SECONDS)

    @property
    def tilted(self) -> list[str]:
        return sorted(self.seen)


# Sentinel log events worth keeping with a trial: the failover's steps, TILT, conversions.
NOTABLE = ("+tilt", "-tilt", "+sdown master", "-sdown master", "+odown", "-odown", "+try-failover",
           "+elected-leader", "+selected-slave", "+promoted-slave", "-failover-abort", "+failover-end ", "+switch-master",
           "+convert-to-slave", "+config-update-from", "+new-epoch")
LOG_LINES_KEPT = 60


def notable_sentinel_lines(log_text: str) -> dict[str, object]:
    """The notable lines of a sentinel log (host names shortened to pod names), and how many
    lookups failed (Sentinel logs each name it cannot resolve)."""
    lines = []
    for line in log_text.splitlines():
        if any(marker in line for marker in NOTABLE):
            short = " ".join(pod_of(word) if ".svc." in word else word for word in line.split()[3:])
            lines.append(short[:200])
    return {"events": lines[:LOG_LINES_KEPT],
            "failed_lookups": sum("Failed to resolve hostname" in line for line in log_text.splitlines())}


REPLICATION_POLL_SECONDS = 0.25


UNLINKED = ""


def chains_of(links: dict[str, Optional[str]]) -> list[tuple[str, Optional[str]]]:
    """The chains in a map pod -> the pod it replicates from (None: a master): "a -> b -> c" for
    each replica a whose master b answers as a replica of c, with "a <-> b" when c is a (a cycle)."""
    found = []
    for pod, master in sorted(links.items()):
        if not master or links.get(master) is None:
            continue
        cycle = " <-> ".join(sorted((pod, master))) if links[master] == pod else None
        found.append((f"{pod} -> {master} -> {links[master] or '(its link down)'}", cycle))
    return found


@dataclass
class ReplicationWatch(BackgroundPoll):
    """Polls every redis's INFO replication in the background and records replication chains: a
    replica whose master answers as a replica itself (a chain; both ways round, a cycle). Each
    distinct chain is kept with how long it was seen; a node that does not answer (a restarted
    node claiming the role, port closed) is in no chain."""

    addresses: Callable[[], dict[str, str]]
    port: int
    password: Optional[str]
    host_to_pod: Callable[[str], str] = pod_of
    chains: dict[str, float] = field(default_factory=dict)
    cycles: set[str] = field(default_factory=set)
    _since: dict[str, float] = field(default_factory=dict)

    def links(self) -> dict[str, Optional[str]]:
        """Whom each answering pod replicates from (a pod name, its link up), None for a master,
        UNLINKED for a replica whose link is down: it is in no chain itself, but a node that
        replicates from it is."""
        links: dict[str, Optional[str]] = {}
        for pod, ip in self.addresses().items():
            try:
                client = redis.Redis(ip, self.port, password=self.password, socket_timeout=CALL_TIMEOUT_SECONDS,
                                     socket_connect_timeout=CALL_TIMEOUT_SECONDS, retry=NO_RETRY)
                try:
                    info = client.info("replication")
                finally:
                    client.close()
            except (redis.RedisError, OSError):
                continue
            if info.get("role") == "master":
                links[pod] = None
            elif info.get("master_link_status") == "up":
                links[pod] = self.host_to_pod(str(info.get("master_host", "")))
            else:  # a replica that replicates nothing now (its master's name may be stale)
                links[pod] = UNLINKED
        return links

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            seen = set()
            for chain, cycle in chains_of(self.links()):
                seen.add(chain)
                if cycle:
                    self.cycles.add(cycle)
                self._since.setdefault(chain, now)
                self.chains[chain] = max(self.chains.get(chain, 0.0), now - self._since[chain])
            for chain in list(self._since):
                if chain not in seen:
                    del self._since[chain]
            self._stop.wait(REPLICATION_POLL_SECONDS)

    def as_dict(self) -> dict[str, object]:
        return {"chains": {chain: round(seconds, 2) for chain, seconds in sorted(self.chains.items())},
                "cycles": sorted(self.cycles),
                "longest_chain_s": round(max(self.chains.values(), default=0.0), 2)}


def failover_aborts(sentinel_logs: dict[str, dict[str, object]]) -> dict[str, int]:
    """`-failover-abort-*` events per reason, over every sentinel's notable lines of a trial."""
    counts: dict[str, int] = {}
    for notable in sentinel_logs.values():
        for line in notable.get("events", []):  # type: ignore[union-attr]
            for word in str(line).split():
                if word.startswith("-failover-abort-"):
                    reason = word.removeprefix("-failover-abort-")
                    counts[reason] = counts.get(reason, 0) + 1
    return counts
