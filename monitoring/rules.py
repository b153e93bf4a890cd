"""The Prometheus alert rules of the Redis tier, rendered from the stack config.

Every expression reads metrics of redis_exporter 1.45 (the version of the upstream image pinned
by `monitoring.exporterImage` and of Debian 12's package the lab uses); its metric names are
listed in docs/monitoring.md. Selectors carry the stack's namespace and the job labels of
stack_config.names, so the rules of one stack never match another's series.

Thresholds and `for:` durations follow from the stack config, so a slower Sentinel setting
gives slower alerts, never false ones:
- a failover takes up to down-after (the master is declared down) plus failover-timeout
  (the failover itself): `failover_window_seconds`;
- a restarted gateway pod takes up to `gateway_pod_start_seconds` to serve again;
- Prometheus notices a change one scrape later at worst, and the alert is meant to survive one
  missed scrape: every `for:` adds two scrape intervals.

Annotations are plain text (no templates): the alert's labels name the pod, and the promtool
tests compare the annotations verbatim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import yaml

from stack_config import StackConfig, names
from stack_config.derived import (
    DEFAULT_TERMINATION_GRACE_SECONDS,
    POD_START_MARGIN_SECONDS,
    READINESS_PROBE_PERIOD_SECONDS,
    gateway_pod_start_seconds,
)

GROUP_NAME = "kubernaut-redis"
# A Sentinel leaves TILT after 30 s of normal timer behaviour (Redis's SENTINEL_TILT_PERIOD).
SENTINEL_TILT_PERIOD_SECONDS = 30
# A replica that lost its link resynchronises: a full sync of a few hundred MB on a busy node.
RESYNC_MARGIN_SECONDS = 60
# Memory near maxmemory must last this long: a burst that eviction absorbs is not an incident.
MEMORY_FOR_SECONDS = 300
# Counters are compared over this window (evictions, rejected connections).
COUNTER_WINDOW = "5m"
# The recording rule of the flapping alert: 1 while a gateway node reports role master, else 0.
IS_MASTER_RECORD = "kubernaut_redis:gateway_node_is_master"

CRITICAL = "critical"
WARNING = "warning"


def seconds(value: float) -> int:
    return int(math.ceil(value))


def failover_window_seconds(cfg: StackConfig) -> int:
    """The longest a healthy failover leaves the master set without a writable master."""
    gateway = cfg.gateway
    return seconds(gateway.down_after_milliseconds / 1000) + seconds(gateway.failover_timeout_milliseconds / 1000)


def observation_seconds(cfg: StackConfig) -> int:
    """Two scrape intervals: Prometheus sees a change one scrape late, and one failed scrape is no incident."""
    return 2 * cfg.monitoring.scrape_interval_seconds


def cache_start_seconds() -> int:
    """The cache pod: Recreate stops the old pod, then the new one starts (no boot waits)."""
    return DEFAULT_TERMINATION_GRACE_SECONDS + POD_START_MARGIN_SECONDS + READINESS_PROBE_PERIOD_SECONDS


def _duration(total: int) -> str:
    return f"{total}s"


def _selector(cfg: StackConfig, job: str, **extra: str) -> str:
    labels = {"namespace": cfg.platform.namespace, "job": job, **extra}
    return "{" + ", ".join(f'{key}="{value}"' for key, value in labels.items()) + "}"


def _redis(cfg: StackConfig, **extra: str) -> str:
    return _selector(cfg, names.JOB_GATEWAY_REDIS, **extra)


def _sentinel(cfg: StackConfig) -> str:
    """The Sentinel exporters' series about the gateway's master set."""
    return _selector(cfg, names.JOB_GATEWAY_SENTINEL, master_name=names.MASTER_SET)


def _sentinel_plain(cfg: StackConfig) -> str:
    return _selector(cfg, names.JOB_GATEWAY_SENTINEL)


def _drift(cfg: StackConfig, job: str, maxmemory_bytes: int, policy: str, appendonly: bool) -> str:
    """Series of a node of `job` whose live settings differ from the rendered redis.conf's. From
    INFO only (maxmemory, maxmemory_policy, aof_enabled): the exporter's user may not run CONFIG GET."""
    selector = _selector(cfg, job)
    policy_selector = selector[:-1] + f', maxmemory_policy!="{policy}"}}'
    return (f"redis_memory_max_bytes{selector} != {maxmemory_bytes}"
            f" or count by (namespace, job, pod) (redis_instance_info{policy_selector})"
            f" or redis_aof_enabled{selector} != {1 if appendonly else 0}")


@dataclass(frozen=True)
class Alert:
    """One alert: its expression and `for:` from the config, and the operator's texts."""

    name: str
    severity: str
    expr: Callable[[StackConfig], str]
    for_seconds: Callable[[StackConfig], int]
    summary: str
    runbook: Callable[[StackConfig], str]
    # Rendered only where it applies (the RDB alert without RDB snapshots would never fire).
    applies: Callable[[StackConfig], bool] = lambda cfg: True

    def rule(self, cfg: StackConfig) -> dict[str, Any]:
        rule: dict[str, Any] = {"alert": self.name, "expr": self.expr(cfg)}
        if self.for_seconds(cfg):
            rule["for"] = _duration(self.for_seconds(cfg))
        rule["labels"] = {"severity": self.severity}
        rule["annotations"] = {"summary": self.summary, "runbook": self.runbook(cfg)}
        return rule


def _failover_for(cfg: StackConfig) -> int:
    return failover_window_seconds(cfg) + observation_seconds(cfg)


ALERTS: tuple[Alert, ...] = (
    Alert(
        "RedisGatewayNoMaster", CRITICAL,
        lambda cfg: f'(count(redis_instance_info{_redis(cfg, role="master")}) or vector(0)) < 1',
        _failover_for,
        "No gateway Redis reports the master role: writes through redis-gateway-ha fail.",
        lambda cfg: f"Longer than a failover may take (down-after + failover-timeout = "
                    f"{failover_window_seconds(cfg)} s, plus two scrapes). Check the sentinels: "
                    f"`kubectl -n {cfg.platform.namespace} exec redis-gateway-0 -c sentinel -- redis-cli -p 26379 "
                    f"sentinel master {names.MASTER_SET}`, then the pods' events and the redis containers' logs."),
    Alert(
        "RedisGatewayMultipleMasters", CRITICAL,
        lambda cfg: f'count(redis_instance_info{_redis(cfg, role="master")}) > 1',
        _failover_for,
        "More than one gateway Redis reports the master role: writes may be lost (split brain).",
        lambda cfg: "A demoted master should follow the new one within a failover "
                    f"({failover_window_seconds(cfg)} s). Compare `redis-cli info replication` of every pod "
                    "with the sentinels' answer; HAProxy admits only the master the quorum names."),
    Alert(
        "RedisGatewayMasterDown", CRITICAL,
        lambda cfg: f"max by (namespace, pod) (redis_sentinel_master_status{_sentinel(cfg)}) == 0",
        _failover_for,
        "A Sentinel sees the master down (sdown/odown) and no failover has replaced it.",
        lambda cfg: "The Sentinel's master status is not ok beyond a failover "
                    f"({failover_window_seconds(cfg)} s): the master is unreachable from that Sentinel and "
                    "the failover did not complete. Check the master pod, the network between the pods, and "
                    "RedisGatewaySentinelQuorumLost."),
    Alert(
        "RedisGatewaySentinelQuorumLost", CRITICAL,
        lambda cfg: f"min by (namespace, pod) (redis_sentinel_master_ckquorum_status{_sentinel(cfg)}) == 0",
        lambda cfg: seconds(cfg.gateway.down_after_milliseconds / 1000) + observation_seconds(cfg),
        "SENTINEL CKQUORUM fails: too few Sentinels are reachable to authorise a failover.",
        lambda cfg: f"Quorum is {cfg.gateway.effective_quorum} of {cfg.gateway.replicas} Sentinels; a failover "
                    "now cannot happen. The metric's `message` label holds Sentinel's reason. Check which "
                    "sentinel containers are down (RedisGatewaySentinelDown) and the pods' network."),
    Alert(
        "RedisGatewaySentinelTilt", WARNING,
        lambda cfg: f"redis_sentinel_tilt{_sentinel_plain(cfg)} > 0",
        lambda cfg: SENTINEL_TILT_PERIOD_SECONDS + observation_seconds(cfg),
        "A Sentinel stays in TILT mode: it watches but takes no action (no failover votes).",
        lambda cfg: f"TILT normally ends {SENTINEL_TILT_PERIOD_SECONDS} s after the clock or the event loop "
                    "behaves again. A Sentinel stuck in it is starved: CPU throttling (resources.sentinel), "
                    "slow DNS lookups, a paused node. Check the sentinel container's log for +tilt/-tilt."),
    Alert(
        "RedisGatewaySentinelsDisagree", CRITICAL,
        lambda cfg: "count by (namespace) (count by (namespace, master_address) "
                    f"(redis_sentinel_master_status{_sentinel(cfg)})) > 1",
        _failover_for,
        "The Sentinels name different masters for the gateway's master set.",
        lambda cfg: "Sentinels agree again within a failover "
                    f"({failover_window_seconds(cfg)} s) through their hello messages. Lasting disagreement "
                    "means they cannot talk to each other or announce different names: compare "
                    f"`sentinel get-master-addr-by-name {names.MASTER_SET}` on every pod."),
    Alert(
        "RedisGatewayReplicaNotLinked", WARNING,
        lambda cfg: f"redis_master_link_up{_redis(cfg)} == 0",
        lambda cfg: failover_window_seconds(cfg) + RESYNC_MARGIN_SECONDS + observation_seconds(cfg),
        "A gateway replica has no working link to its master.",
        lambda cfg: "Longer than a failover plus a full resync "
                    f"({failover_window_seconds(cfg)} + {RESYNC_MARGIN_SECONDS} s). Check that replica's "
                    "`redis-cli info replication` (master_host, master_link_status) and its log "
                    "(MASTER <-> REPLICA sync, masterauth)."),
    Alert(
        "RedisGatewayReplicasMissing", WARNING,
        lambda cfg: f"max by (namespace) (redis_connected_slaves{_redis(cfg)}) < {cfg.gateway.replicas - 1}",
        lambda cfg: gateway_pod_start_seconds(cfg) + RESYNC_MARGIN_SECONDS + observation_seconds(cfg),
        "The master has fewer replicas connected than the StatefulSet has other pods.",
        lambda cfg: f"The master should serve {cfg.gateway.replicas - 1} replicas; a restarted pod takes up to "
                    f"{gateway_pod_start_seconds(cfg)} s to start and {RESYNC_MARGIN_SECONDS} s to sync. Check "
                    "which pod is not Ready and the master's `redis-cli info replication`."),
    Alert(
        "RedisGatewayReplicaLagging", WARNING,
        lambda cfg: f"redis_connected_slave_lag_seconds{_redis(cfg)} > {cfg.gateway.min_replicas_max_lag}",
        lambda cfg: observation_seconds(cfg),
        "A replica acknowledges replication later than gateway.minReplicasMaxLag.",
        lambda cfg: f"A replica's last acknowledgement is older than {cfg.gateway.min_replicas_max_lag} s "
                    "(gateway.minReplicasMaxLag: the bound min-replicas-to-write counts a replica within). "
                    "Check that replica's CPU and network, and the master's output buffers "
                    "(`client list type replica`)."),
    Alert(
        "RedisGatewayFailoverFlapping", WARNING,
        lambda cfg: f"sum by (namespace) (resets({IS_MASTER_RECORD}{{namespace=\"{cfg.platform.namespace}\"}}[1h])) "
                    f"> {cfg.monitoring.flapping_failovers_per_hour}",
        lambda cfg: 0,
        "The gateway's master changed more often than monitoring.flappingFailoversPerHour within an hour.",
        lambda cfg: f"More than {cfg.monitoring.flapping_failovers_per_hour} demotions of a master within an hour: "
                    "something keeps failing the master (OOM kills, liveness failures, node pressure, "
                    "down-after too short for the network). Check the pods' restarts and the sentinels' "
                    "+switch-master log lines."),
    Alert(
        "RedisGatewayMemoryNearMaxmemory", WARNING,
        lambda cfg: f"redis_memory_used_bytes{_redis(cfg)} / (redis_memory_max_bytes{_redis(cfg)} > 0) "
                    f"> {cfg.monitoring.memory_warning_percent / 100:g}",
        lambda cfg: MEMORY_FOR_SECONDS,
        "A gateway Redis uses most of its maxmemory: evictions (lost deduplication state) follow.",
        lambda cfg: f"Above {cfg.monitoring.memory_warning_percent}% of maxmemory ({cfg.gateway.maxmemory}) for "
                    f"{MEMORY_FOR_SECONDS // 60} minutes. Check the key count and TTLs (`info keyspace`), then raise "
                    "gateway.maxmemory with the container's memory limit (maxmemory <= 60% of it)."),
    Alert(
        "RedisGatewayEvictions", WARNING,
        lambda cfg: f"increase(redis_evicted_keys_total{_redis(cfg)}[{COUNTER_WINDOW}]) > 0",
        lambda cfg: 0,
        "A gateway Redis evicts keys: deduplication and rate-limit state is being dropped.",
        lambda cfg: f"The gateway runs {cfg.gateway.maxmemory_policy} at maxmemory {cfg.gateway.maxmemory}. "
                    "Check memory (RedisGatewayMemoryNearMaxmemory) and whether a client changed maxmemory "
                    "(`config get maxmemory` on every pod)."),
    Alert(
        "RedisRejectedConnections", WARNING,
        lambda cfg: f'increase(redis_rejected_connections_total{{namespace="{cfg.platform.namespace}", '
                    f'job=~"{names.JOB_GATEWAY_REDIS}|{names.JOB_CACHE}"}}[{COUNTER_WINDOW}]) > 0',
        lambda cfg: 0,
        "Redis refused client connections (maxclients reached).",
        lambda cfg: "Check `info clients` (connected_clients against maxclients) and which client opens "
                    "connections without closing them (`client list`)."),
    # A node does not keep a failed save's state for long: a master then answers PING with
    # MISCONF (stop-writes-on-bgsave-error), so its liveness probe restarts it within three
    # probes, and a replica panics at its next replicated write (Redis >= 7.2's
    # replica-ignore-disk-write-errors no). Both restart with the status reset. So the alert
    # looks back over two scrapes for any failed save instead of waiting for it to last.
    Alert(
        "RedisGatewayRdbSaveFailed", WARNING,
        lambda cfg: f"min_over_time(redis_rdb_last_bgsave_status{_redis(cfg)}[{_duration(observation_seconds(cfg))}])"
                    " == 0",
        lambda cfg: 0,
        "An RDB snapshot of a gateway Redis failed: a master refuses writes (MISCONF) until a save succeeds.",
        lambda cfg: "Check the redis container's log (Background saving error, Guru Meditation: Replica was unable "
                    "to write command to disk) and its restarts, free space on the `data` PVC "
                    f"(persistence.size {cfg.gateway.persistence.size}) and its permissions.",
        applies=lambda cfg: bool(cfg.gateway.persistence.rdb_schedule)),
    Alert(
        "RedisSettingsDrift", WARNING,
        lambda cfg: " or ".join([
            _drift(cfg, names.JOB_GATEWAY_REDIS, cfg.gateway.maxmemory_bytes, cfg.gateway.maxmemory_policy,
                   cfg.gateway.persistence.appendonly),
            _drift(cfg, names.JOB_CACHE, cfg.context_cache.maxmemory_bytes, cfg.context_cache.maxmemory_policy,
                   False)]),
        lambda cfg: observation_seconds(cfg),
        "A Redis runs with maxmemory, maxmemory-policy or appendonly other than the stack config's.",
        lambda cfg: "Someone or something ran CONFIG SET (a test's cleanup, an operator): the node now evicts, "
                    "fills its container or persists differently from its peers. Compare `config get maxmemory*` "
                    "and `config get appendonly` on the pod with its redis.conf (ConfigMap); a restart of the pod "
                    "writes redis.conf anew, or CONFIG SET the configured values back."),
    Alert(
        "RedisExporterDown", WARNING,
        lambda cfg: f'up{{namespace="{cfg.platform.namespace}", '
                    f'job=~"{names.JOB_GATEWAY_REDIS}|{names.JOB_GATEWAY_SENTINEL}|{names.JOB_CACHE}"}} == 0',
        lambda cfg: observation_seconds(cfg) + cfg.monitoring.scrape_interval_seconds,
        "Prometheus cannot scrape a Redis exporter: the other alerts are blind for that pod.",
        lambda cfg: "Check the exporter container of that pod (`kubectl logs POD -c redis-exporter` or "
                    "`-c sentinel-exporter`), its restarts and memory limit (monitoring.resources)."),
    Alert(
        "RedisGatewayNodeDown", WARNING,
        lambda cfg: f"(count(redis_up{_redis(cfg)} == 1) or vector(0)) < {cfg.gateway.replicas}",
        lambda cfg: gateway_pod_start_seconds(cfg) + observation_seconds(cfg),
        "Fewer gateway Redis servers answer than the StatefulSet has pods.",
        lambda cfg: f"Longer than a gateway pod may take to start ({gateway_pod_start_seconds(cfg)} s). Check "
                    f"`kubectl -n {cfg.platform.namespace} get pods -l app={names.GATEWAY}` (Pending, "
                    "CrashLoopBackOff) and the redis container's log."),
    Alert(
        "RedisGatewaySentinelDown", WARNING,
        lambda cfg: f"(count(redis_up{_sentinel_plain(cfg)} == 1) or vector(0)) < {cfg.gateway.replicas}",
        lambda cfg: gateway_pod_start_seconds(cfg) + observation_seconds(cfg),
        "Fewer Sentinels answer than the StatefulSet has pods.",
        lambda cfg: f"Quorum needs {cfg.gateway.effective_quorum} of {cfg.gateway.replicas}. Check the sentinel "
                    "containers (`kubectl logs POD -c sentinel`) and their readiness."),
    Alert(
        "RedisCacheDown", WARNING,
        lambda cfg: f"(max(redis_up{_selector(cfg, names.JOB_CACHE)}) or vector(0)) < 1",
        lambda cfg: cache_start_seconds() + observation_seconds(cfg),
        "The Context-API cache does not answer; its clients fall back to their L2/L3 caches.",
        lambda cfg: f"Warning only: the Context-API degrades, it does not fail. Check "
                    f"`kubectl -n {cfg.platform.namespace} get pods -l app={names.CACHE}` and the pod's events "
                    "(OOMKilled: contextCache.resources)."),
)


def recording_rules(cfg: StackConfig) -> list[dict[str, Any]]:
    """1 while a gateway node reports the master role, 0 while it is a replica, per pod (the pod
    name survives a restart, its address does not): a demotion is a reset of this series."""
    redis = _redis(cfg)
    return [{
        "record": IS_MASTER_RECORD,
        "expr": f'max by (namespace, pod) (redis_instance_info{_redis(cfg, role="master")}) '
                f'or max by (namespace, pod) (0 * redis_instance_info{redis})',
    }]


def alert_rules(cfg: StackConfig) -> list[dict[str, Any]]:
    return [alert.rule(cfg) for alert in ALERTS if alert.applies(cfg)]


def rules_document(cfg: StackConfig) -> dict[str, Any]:
    """The `groups:` document of a Prometheus rules file (also the PrometheusRule's spec)."""
    return {"groups": [{
        "name": GROUP_NAME,
        "interval": _duration(cfg.monitoring.scrape_interval_seconds),
        "rules": [*recording_rules(cfg), *alert_rules(cfg)],
    }]}


def rules_yaml(cfg: StackConfig) -> str:
    return yaml.safe_dump(rules_document(cfg), sort_keys=False, width=120, allow_unicode=False)
