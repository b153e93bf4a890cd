"""The alert drills: a fault on the lab stack for each alert of monitoring/rules.py, watched
through the lab's Prometheus (lab/prometheus.py) until the alert fires, then the recovery,
watched until it resolves. tests/lab/test_alerts.py runs them; docs/monitoring.md has the times.

A fault names the alerts it must fire. Faults that do not disturb each other run together in a
phase (the long `for:` durations overlap instead of adding up); a phase starts once the stack is
healthy and no alert is active. Every fault is undone on the way out, whatever happened.
"""

from __future__ import annotations

import functools
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import redis

from monitoring.rules import ALERTS
from stack_config import StackConfig, gateway_pod_start_seconds, names
from stack_config.derived import DEFAULT_TERMINATION_GRACE_SECONDS

from .prometheus import Prometheus
from .scenarios import wait_for_new_master
from .targets import SENTINEL_PORT, Target

# A Sentinel enters TILT when its timer runs more than 2 s late (SENTINEL_TILT_TRIGGER); a stop
# this long, repeated within TILT's 30 s, keeps it there, as a starved node would.
TILT_STOP_SECONDS = 3.0
TILT_STOP_EVERY_SECONDS = 10.0
# Sentinel refreshes a node's INFO this often outside a failover (SENTINEL_INFO_PERIOD).
SENTINEL_INFO_PERIOD_SECONDS = 10
# The evictions drill writes this many keys of this size before it lowers maxmemory below them.
EVICTION_KEYS = 2000
EVICTION_VALUE_BYTES = 512
EVICTION_PREFIX = "alert-drill:evict:"
# The memory drill sets maxmemory this much above what the node uses (> memoryWarningPercent).
MEMORY_HEADROOM = 1.03
# Counter alerts look back this far (rules.COUNTER_WINDOW): they resolve this long after the fault.
COUNTER_WINDOW_SECONDS = 300
# Prometheus sees a change at the next scrape, evaluates at the next interval, and one scrape
# may fail: three intervals, plus this for the API, the kubelet and the two shared cores.
MARGIN_SECONDS = 30
# How often the runner asks Prometheus for active alerts.
POLL_SECONDS = 2.0


@dataclass
class AlertTimes:
    """One alert of one fault: seconds from the fault to firing, from the recovery to resolution."""

    alert: str
    fault: str
    fire_bound: float
    resolve_bound: Optional[float]  # None: resolution not awaited (the flapping alert's hour)
    fired_after: Optional[float] = None
    resolved_after: Optional[float] = None

    @property
    def ok(self) -> bool:
        return self.fired_after is not None and (self.resolve_bound is None or self.resolved_after is not None)


@dataclass
class Fault:
    """A fault of the drill: `start` applies it (its state is kept for `stop`), `stop` undoes it.
    `fire_lead`: seconds the fault needs before the alert's condition holds at all (a replica
    the master drops after repl-timeout); `resolve_lead`: seconds the recovery needs before the
    condition clears (a pod restarting, a counter window passing); `start_delay`: seconds after
    the phase's start before this fault starts (after another fault's effect was scraped)."""

    name: str
    alerts: tuple[str, ...]
    start: Callable[["AlertDrills"], Any]
    stop: Callable[["AlertDrills", Any], None]
    fire_lead: Callable[["AlertDrills"], float] = lambda drills: 0.0
    resolve_lead: Callable[["AlertDrills"], float] = lambda drills: 0.0
    awaits_resolution: bool = True
    start_delay: float = 0.0
    state: Any = None
    started_at: float = 0.0
    stopped_at: Optional[float] = None
    times: dict[str, AlertTimes] = field(default_factory=dict)


class AlertDrills:
    """The drills of one stack: its config (the alerts' `for:`), its gateway, its Prometheus."""

    def __init__(self, cfg: StackConfig, target: Target, prometheus: Prometheus,
                 say: Callable[[str], None] = lambda line: None) -> None:
        self.cfg, self.target, self.prometheus, self.say = cfg, target, prometheus, say
        self.interval = cfg.monitoring.scrape_interval_seconds
        self._for = {alert.name: alert.for_seconds(cfg) for alert in ALERTS if alert.applies(cfg)}

    # ------------------------------------------------------------------ bounds

    def fire_bound(self, fault: Fault, alert: str) -> float:
        return self._for[alert] + fault.fire_lead(self) + 3 * self.interval + MARGIN_SECONDS

    def resolve_bound(self, fault: Fault) -> float:
        return fault.resolve_lead(self) + 3 * self.interval + MARGIN_SECONDS

    # ------------------------------------------------------------------ helpers for faults

    def master(self) -> str:
        return self.target.panel.wait_agreed_master(self.target.timing.restore_bound_seconds)

    def replicas(self) -> list[str]:
        master = self.master()
        return [pod for pod in self.target.pod_names() if pod != master and self.target.pod_ip(pod)]

    def sentinel(self, pod: str) -> redis.Redis:
        ip = self.target.pod_ip(pod)
        if ip is None:
            raise redis.ConnectionError(f"{pod} has no IP now")
        return redis.Redis(ip, SENTINEL_PORT, password=self.target.sentinel_password, socket_timeout=5,
                           socket_connect_timeout=5, decode_responses=True)

    def cache_address(self) -> tuple[str, int]:
        pods = [p for p in self.target.cluster.pods(self.target.namespace, f"app={names.CACHE}")
                if p.ip and not p.terminating]
        if not pods:
            raise redis.ConnectionError("the cache has no running pod")
        return pods[0].ip, names.REDIS_PORT

    def active(self) -> dict[str, str]:
        """Alert name -> its state (firing wins over pending) for every active alert."""
        states: dict[str, str] = {}
        for alert in self.prometheus.alerts():
            if states.get(alert.name) != "firing":
                states[alert.name] = alert.state
        return states

    # ------------------------------------------------------------------ the runner

    def run_phase(self, faults: list[Fault]) -> list[AlertTimes]:
        """Start every fault, stop each once its alerts fired (or their bound passed), then wait
        for each alert to resolve; the times of every alert."""
        def start(fault: Fault) -> None:
            fault.started_at = time.monotonic()
            fault.state = fault.start(self)
            fault.times = {alert: AlertTimes(alert, fault.name, self.fire_bound(fault, alert),
                                             self.resolve_bound(fault) if fault.awaits_resolution else None)
                           for alert in fault.alerts}
            self.say(f"alert drill {fault.name}: started, expecting {', '.join(fault.alerts)}")

        phase_started = time.monotonic()
        try:
            for fault in faults:
                if not fault.start_delay:
                    start(fault)
            while True:
                now = time.monotonic()
                try:
                    active = self.active()
                except Exception as err:  # Prometheus restarting: ask again at the next poll
                    self.say(f"alert drill: Prometheus did not answer ({err})")
                    time.sleep(POLL_SECONDS)
                    continue
                pending_work = False
                for fault in faults:
                    if not fault.started_at:
                        if now - phase_started >= fault.start_delay:
                            start(fault)
                        pending_work = True
                        continue
                    if fault.stopped_at is None:
                        for times in fault.times.values():
                            if times.fired_after is None and active.get(times.alert) == "firing":
                                times.fired_after = now - fault.started_at
                                self.say(f"alert drill {fault.name}: {times.alert} fired after "
                                         f"{times.fired_after:.0f} s")
                        waiting = [t for t in fault.times.values()
                                   if t.fired_after is None and now - fault.started_at < t.fire_bound]
                        if waiting:
                            pending_work = True
                            continue
                        fault.stop(self, fault.state)
                        fault.stopped_at = time.monotonic()
                        self.say(f"alert drill {fault.name}: recovered")
                        pending_work = True
                        continue
                    if not fault.awaits_resolution:
                        continue
                    for times in fault.times.values():
                        if times.fired_after is None or times.resolved_after is not None:
                            continue
                        if times.alert not in active:
                            times.resolved_after = now - fault.stopped_at
                            self.say(f"alert drill {fault.name}: {times.alert} resolved after "
                                     f"{times.resolved_after:.0f} s")
                        elif now - fault.stopped_at < times.resolve_bound:
                            pending_work = True
                if not pending_work:
                    break
                time.sleep(POLL_SECONDS)
        finally:
            for fault in faults:
                if fault.stopped_at is None and fault.started_at:
                    try:
                        fault.stop(self, fault.state)
                    finally:
                        fault.stopped_at = time.monotonic()
        return [times for fault in faults for times in fault.times.values()]


# ---------------------------------------------------------------------------- the faults

def _config(drills: AlertDrills, pod: str, key: str) -> str:
    reply = drills.target.node_command(pod, "CONFIG", "GET", key)
    return reply[key] if isinstance(reply, dict) else reply[1]


# -- the cache

def cache_down(start_delay: float = 0.0) -> Fault:
    """The cache's Deployment scaled to 0: no cache pod, its exporter gone with it."""
    def start(drills: AlertDrills) -> None:
        drills.target.cluster.scale(drills.target.namespace, "Deployment", names.CACHE, 0)

    def stop(drills: AlertDrills, _: Any) -> None:
        drills.target.cluster.scale(drills.target.namespace, "Deployment", names.CACHE, 1)

    return Fault("cache-down", ("RedisCacheDown",), start, stop,
                 resolve_lead=lambda drills: DEFAULT_TERMINATION_GRACE_SECONDS + drills.interval,
                 start_delay=start_delay)


def rejected_connections() -> Fault:
    """The cache's maxclients lowered to the clients it has, one more connection refused, and
    maxclients restored, all on one connection. The alert counts over its window, so it
    resolves COUNTER_WINDOW_SECONDS later. CONFIG SET is the cache's ACL user `operator`'s (the
    lab stack sets contextCacheOperatorPassword); the refused connections are the clients'."""
    def start(drills: AlertDrills) -> dict[str, Any]:
        host, port = drills.cache_address()
        secret = functools.partial(drills.target.cluster.secret_value, drills.target.namespace, names.CACHE_AUTH_SECRET)
        password = secret(names.SECRET_KEY_REDIS_PASSWORD)
        operator_password = secret(names.acl_secret_key(names.ACL_USER_OPERATOR))
        if operator_password is None:
            raise AssertionError(f"the cache has no ACL user {names.ACL_USER_OPERATOR}: set contextCacheOperatorPassword")
        holder = redis.Redis(host, port, username=names.ACL_USER_OPERATOR, password=operator_password,
                             socket_timeout=5, decode_responses=True)
        refused = 0
        try:
            before = holder.config_get("maxclients")["maxclients"]
            holder.config_set("maxclients", holder.info("clients")["connected_clients"])
            for _ in range(3):
                extra = redis.Redis(host, port, password=password, socket_timeout=5)
                try:
                    extra.ping()
                except redis.RedisError:
                    refused += 1
                finally:
                    extra.close()
            holder.config_set("maxclients", before)
        finally:
            holder.close()
        if not refused:
            raise AssertionError("the cache accepted every connection beyond maxclients")
        return {"refused": refused}

    return Fault("rejected-connections", ("RedisRejectedConnections",), start, lambda drills, state: None,
                 resolve_lead=lambda drills: COUNTER_WINDOW_SECONDS)


# -- the gateway, while the set keeps its master

def gateway_pod_missing() -> Fault:
    """The StatefulSet scaled down by one pod: its Redis and its Sentinel are gone, and the master
    serves one replica fewer. (When the removed pod was the master, its preStop hands over.)"""
    def start(drills: AlertDrills) -> None:
        drills.target.scale(drills.cfg.gateway.replicas - 1)

    def stop(drills: AlertDrills, _: Any) -> None:
        drills.target.scale(drills.cfg.gateway.replicas)

    return Fault("gateway-pod-missing",
                 ("RedisGatewayNodeDown", "RedisGatewaySentinelDown", "RedisGatewayReplicasMissing"),
                 start, stop, resolve_lead=lambda drills: gateway_pod_start_seconds(drills.cfg))


def sentinel_tilt(pod: str) -> Fault:
    """The pod's sentinel stopped (SIGSTOP) for TILT_STOP_SECONDS every TILT_STOP_EVERY_SECONDS:
    each stop puts it in TILT again, as a Sentinel starved of CPU over and over."""
    def start(drills: AlertDrills) -> dict[str, Any]:
        stopping = threading.Event()

        def stop_loop() -> None:
            while not stopping.is_set():
                drills.target.suspend_container(pod, "sentinel")
                try:
                    stopping.wait(TILT_STOP_SECONDS)
                finally:
                    drills.target.resume_container(pod, "sentinel")
                stopping.wait(TILT_STOP_EVERY_SECONDS - TILT_STOP_SECONDS)

        thread = threading.Thread(target=stop_loop, name="tilt-stopper", daemon=True)
        thread.start()
        return {"stopping": stopping, "thread": thread}

    def stop(drills: AlertDrills, state: dict[str, Any]) -> None:
        state["stopping"].set()
        state["thread"].join(timeout=30)

    # TILT ends TILT's own 30 s after the last stop.
    return Fault("sentinel-tilt", ("RedisGatewaySentinelTilt",), start, stop,
                 resolve_lead=lambda drills: 30.0)


def rdb_save_failed() -> Fault:
    """The master's data directory (its `dir`) made read-only for its own user, then BGSAVE: the
    snapshot cannot be written, and the master refuses writes and PING (MISCONF). Undone by
    restoring the mode and saving again, before the liveness probe restarts it. (On a replica
    the same fault ends in a panic at the next replicated write, which resets the status.)"""
    def start(drills: AlertDrills) -> dict[str, str]:
        pod = drills.master()
        directory = _config(drills, pod, "dir")
        mode = drills.target.exec(pod, "redis", "stat", "-c", "%a", directory).stdout.strip()
        done = drills.target.exec(pod, "redis", "chmod", "0500", directory)
        if done.returncode != 0:
            raise AssertionError(f"chmod {directory} in {pod}: {done.stderr.strip()}")
        drills.target.node_command(pod, "BGSAVE")
        return {"pod": pod, "dir": directory, "mode": mode or "700"}

    def stop(drills: AlertDrills, state: dict[str, str]) -> None:
        drills.target.exec(state["pod"], "redis", "chmod", state["mode"], state["dir"])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                drills.target.node_command(state["pod"], "BGSAVE")
                return
            except redis.ResponseError:  # a save still in progress
                time.sleep(1)

    return Fault("rdb-save-failed", ("RedisGatewayRdbSaveFailed",), start, stop)


def memory_near_maxmemory(pod: str) -> Fault:
    """The replica's maxmemory set just above what it uses (a replica does not evict), by CONFIG
    SET as a client's cleanup once did; undone by restoring it."""
    def start(drills: AlertDrills) -> str:
        before = _config(drills, pod, "maxmemory")
        used = int(drills.target.node_command(pod, "INFO", "memory")["used_memory"])
        drills.target.node_command(pod, "CONFIG", "SET", "maxmemory", str(int(used * MEMORY_HEADROOM)))
        return before

    def stop(drills: AlertDrills, before: str) -> None:
        drills.target.node_command(pod, "CONFIG", "SET", "maxmemory", before)

    # The live maxmemory is no longer the stack config's: the drift alert fires first.
    return Fault("memory-near-maxmemory", ("RedisGatewayMemoryNearMaxmemory", "RedisSettingsDrift"), start, stop)


def evictions() -> Fault:
    """EVICTION_KEYS keys written to the master, its maxmemory lowered below what they take and
    one more write (the eviction policy drops keys to make room), then maxmemory restored. The
    alert counts over its window, so it resolves COUNTER_WINDOW_SECONDS later."""
    def start(drills: AlertDrills) -> dict[str, Any]:
        master = drills.master()
        client = drills.target.node_client(master)
        try:
            before = client.config_get("maxmemory")["maxmemory"]
            pipe = client.pipeline(transaction=False)
            for i in range(EVICTION_KEYS):
                pipe.set(f"{EVICTION_PREFIX}{i}", "x" * EVICTION_VALUE_BYTES, ex=3600)
            pipe.execute()
            used = int(client.info("memory")["used_memory"])
            client.config_set("maxmemory", used - EVICTION_KEYS * EVICTION_VALUE_BYTES // 2)
            try:
                client.set(f"{EVICTION_PREFIX}last", "x")
                evicted = int(client.info("stats")["evicted_keys"])
            finally:
                client.config_set("maxmemory", before)
        finally:
            client.close()
        if not evicted:
            raise AssertionError(f"{master} evicted nothing below its maxmemory")
        return {"master": master, "evicted": evicted}

    return Fault("evictions", ("RedisGatewayEvictions",), start, lambda drills, state: None,
                 resolve_lead=lambda drills: COUNTER_WINDOW_SECONDS)


# -- the gateway's master set in trouble

def master_cut_from_peers() -> Fault:
    """The master cut from the other gateway pods only: they elect a new master, while the cut
    one still reports the master role to Prometheus and its own sentinel still names it."""
    def start(drills: AlertDrills) -> str:
        master = drills.master()
        peers = [ip for pod, ip in drills.target.pod_ips().items() if pod != master and ip]
        drills.target.cut_pod(master, addresses=peers)
        return master

    def stop(drills: AlertDrills, master: str) -> None:
        drills.target.heal_pod(master)

    return Fault("master-cut-from-peers", ("RedisGatewayMultipleMasters", "RedisGatewaySentinelsDisagree"),
                 start, stop, fire_lead=lambda drills: drills.target.timing.failover_bound_seconds)


def master_unreachable_without_good_replica() -> Fault:
    """Both replicas marked unpromotable (replica-priority 0), then the master's pod cut off
    entirely: the sentinels see it down and cannot fail over, Prometheus cannot scrape it. Undone
    by healing the cut (the master is back) and restoring the priorities."""
    def start(drills: AlertDrills) -> dict[str, Any]:
        master = drills.master()
        replicas = [pod for pod in drills.target.pod_names() if pod != master]
        priorities = {pod: _config(drills, pod, "replica-priority") for pod in replicas}
        for pod in replicas:
            drills.target.node_command(pod, "CONFIG", "SET", "replica-priority", "0")
        drills.target.cut_pod(master)
        return {"master": master, "priorities": priorities}

    def stop(drills: AlertDrills, state: dict[str, Any]) -> None:
        drills.target.heal_pod(state["master"])
        for pod, value in state["priorities"].items():
            drills.target.node_command(pod, "CONFIG", "SET", "replica-priority", value)

    return Fault("master-unreachable", ("RedisGatewayNoMaster", "RedisGatewayMasterDown", "RedisExporterDown"),
                 start, stop)


def sentinel_quorum_lost() -> Fault:
    """The sentinel port of both replica pods partitioned: the master's sentinel is alone, below
    quorum (its redis keeps replicating)."""
    def start(drills: AlertDrills) -> list[str]:
        replicas = drills.replicas()
        for pod in replicas:
            drills.target.cut_pod(pod, ports=(SENTINEL_PORT,))
        return replicas

    def stop(drills: AlertDrills, replicas: list[str]) -> None:
        for pod in replicas:
            drills.target.heal_pod(pod)

    return Fault("sentinel-quorum-lost", ("RedisGatewaySentinelQuorumLost",), start, stop)


def replica_unlinked(replica: str) -> Fault:
    """The replica cut from the master only, its repl-timeout lowered so that it drops the link at
    once: its link is down, and the master's view of its lag grows until it drops the replica
    (the master's own repl-timeout). Undone by healing and restoring repl-timeout."""
    def start(drills: AlertDrills) -> str:
        master = drills.master()
        before = _config(drills, replica, "repl-timeout")
        drills.target.node_command(replica, "CONFIG", "SET", "repl-timeout", "5")
        drills.target.cut_pod(replica, addresses=[drills.target.pod_ip(master)])
        return before

    def stop(drills: AlertDrills, repl_timeout: str) -> None:
        drills.target.heal_pod(replica)
        drills.target.node_command(replica, "CONFIG", "SET", "repl-timeout", repl_timeout)

    return Fault("replica-unlinked", ("RedisGatewayReplicaNotLinked", "RedisGatewayReplicaLagging"), start, stop,
                 # The lag counts from the last acknowledgement: it passes the bound that late.
                 fire_lead=lambda drills: float(drills.cfg.gateway.min_replicas_max_lag))


def failover_flapping() -> Fault:
    """Planned failovers (SENTINEL FAILOVER), one after the other, one more than the hourly
    bound allows. Each waits Sentinel's INFO period after the set is healthy: a sentinel whose
    cached INFO still shows a just-demoted node as master converts the newly promoted replica
    back (+convert-to-slave) and the failover aborts (-failover-abort-slave-timeout); a failover
    that aborts anyway is asked for once more. The alert looks back an hour: its resolution is
    not awaited."""
    def start(drills: AlertDrills) -> dict[str, Any]:
        moved, retried = [], 0
        for _ in range(drills.cfg.monitoring.flapping_failovers_per_hour + 1):
            drills.target.wait_healthy(drills.target.timing.restore_bound_seconds)
            time.sleep(SENTINEL_INFO_PERIOD_SECONDS + 1)
            master = drills.master()
            for attempt in range(2):
                sentinel = drills.sentinel(master)
                try:
                    sentinel.execute_command("SENTINEL", "FAILOVER", names.MASTER_SET)
                finally:
                    sentinel.close()
                if wait_for_new_master(drills.target, master, drills.target.timing.restore_bound_seconds):
                    break
                retried += 1
            else:
                raise AssertionError(f"SENTINEL FAILOVER did not move the master off {master}, twice")
            moved.append(master)
        return {"moved": moved, "retried": retried}

    return Fault("failover-flapping", ("RedisGatewayFailoverFlapping",), start, lambda drills, state: None,
                 fire_lead=lambda drills: (drills.cfg.monitoring.flapping_failovers_per_hour + 1)
                 * (3 * drills.target.timing.restore_bound_seconds + SENTINEL_INFO_PERIOD_SECONDS + 1),
                 awaits_resolution=False)


# ---------------------------------------------------------------------------- the idle run

def idle_run(minutes: float, say: Callable[[str], None] = print) -> int:
    """A new lab Prometheus watches the healthy lab stack for `minutes`: no alert may be active
    at any evaluation (`count_over_time(ALERTS[...])` stays empty) and no scrape may fail.
    `python -m drills.alerts --idle-minutes 10`; docs/monitoring.md records a run."""
    from cluster import KubernetesCluster
    from lab import prometheus as lab_prometheus
    from tools.pulumi_mock_run import stack_config

    from .targets import LAB_STACK

    cfg = stack_config(LAB_STACK)
    prometheus = Prometheus(lab_prometheus.deploy(KubernetesCluster.lab(), cfg, fresh=True))
    expected = 2 * cfg.gateway.replicas + 1
    if prometheus.wait(lambda: sum(t["health"] == "up" for t in prometheus.targets()) == expected, 180) is None:
        say(f"idle run: not every exporter is up: {prometheus.targets()}")
        return 1
    started = time.time()
    say(f"idle run: {expected} targets up; watching for {minutes:g} minutes")
    time.sleep(minutes * 60)
    window = f"{int(time.time() - started)}s"
    alerts = prometheus.query(f"count_over_time(ALERTS[{window}])")
    failed = prometheus.query(f"count_over_time((up == 0)[{window}:])")
    scrapes = prometheus.query(f"sum(count_over_time(up[{window}]))")
    say(f"idle run: {window}, {scrapes[0]['value'][1] if scrapes else 0} scrapes, "
        f"{len(failed)} targets with a failed scrape, alerts active at any evaluation: "
        f"{sorted({a['metric']['alertname'] for a in alerts}) or 'none'}")
    return 0 if not alerts and not failed else 1


if __name__ == "__main__":
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m drills.alerts",
                                     description="The idle run of the lab's alert rules (the alert drills "
                                                 "themselves run in tests/lab/test_alerts.py).")
    parser.add_argument("--idle-minutes", type=float, default=10.0)
    sys.exit(idle_run(parser.parse_args().idle_minutes))
