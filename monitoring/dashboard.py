"""The Grafana dashboard of the Redis tier, rendered from the stack config (JSON text).

Its queries use the same metrics, job labels and namespace as the alert rules (monitoring/rules.py),
including the recording rule of the master role, so what an alert says and what the dashboard
shows agree. Grafana picks the dashboard up from the ConfigMap `kubernaut-redis-dashboard`
through its sidecar (label `grafana_dashboard: "1"`); the Prometheus data source is a variable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from stack_config import StackConfig, names

from .rules import IS_MASTER_RECORD

UID = "kubernaut-redis"
TITLE = "Kubernaut Redis"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
PANEL_WIDTH = 12
PANEL_HEIGHT = 8
RATE_WINDOW = "5m"


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # a Grafana panel type: timeseries, stat
    targets: tuple[tuple[str, str], ...]  # (PromQL, legend)
    unit: str = "short"
    description: str = ""


def _sel(cfg: StackConfig, job: str, **extra: str) -> str:
    labels = {"namespace": cfg.platform.namespace, "job": job, **extra}
    return "{" + ", ".join(f'{key}="{value}"' for key, value in labels.items()) + "}"


def panels(cfg: StackConfig) -> list[Panel]:
    redis = _sel(cfg, names.JOB_GATEWAY_REDIS)
    sentinel = _sel(cfg, names.JOB_GATEWAY_SENTINEL, master_name=names.MASTER_SET)
    cache = _sel(cfg, names.JOB_CACHE)
    namespace = f'{{namespace="{cfg.platform.namespace}"}}'
    return [
        Panel("Master role per pod (1 = master)", "timeseries",
              ((f"{IS_MASTER_RECORD}{namespace}", "{{pod}}"),),
              description="The recording rule of the alert rules: 1 while the pod's Redis reports role master."),
        Panel("Failovers (demotions of a master, last hour)", "stat",
              ((f"sum(resets({IS_MASTER_RECORD}{namespace}[1h]))", "failovers"),),
              description=f"RedisGatewayFailoverFlapping fires above {cfg.monitoring.flapping_failovers_per_hour}."),
        Panel("Replication offset lag per replica", "timeseries",
              ((f"max(redis_master_repl_offset{redis}) - on() group_right "
                f"redis_connected_slave_offset_bytes{redis}", "{{slave_ip}}"),), unit="bytes",
              description=f"Bytes the replica is behind the master; replBacklogSize is {cfg.gateway.repl_backlog_size}."),
        Panel("Replica acknowledgement lag", "timeseries",
              ((f"redis_connected_slave_lag_seconds{redis}", "{{slave_ip}}"),), unit="s",
              description=f"RedisGatewayReplicaLagging fires above {cfg.gateway.min_replicas_max_lag} s."),
        Panel("Commands per second", "timeseries",
              ((f"sum by (pod) (rate(redis_commands_processed_total{redis}[{RATE_WINDOW}]))", "{{pod}}"),),
              unit="ops"),
        Panel("Mean command latency", "timeseries",
              ((f"sum by (pod) (rate(redis_commands_duration_seconds_total{redis}[{RATE_WINDOW}])) / "
                f"sum by (pod) (rate(redis_commands_total{redis}[{RATE_WINDOW}]))", "{{pod}}"),), unit="s"),
        Panel("Memory used and maxmemory", "timeseries",
              ((f"redis_memory_used_bytes{redis}", "used {{pod}}"),
               (f"redis_memory_max_bytes{redis}", "maxmemory {{pod}}")), unit="bytes"),
        Panel("Evicted keys per second", "timeseries",
              ((f"sum by (pod) (rate(redis_evicted_keys_total{redis}[{RATE_WINDOW}]))", "{{pod}}"),)),
        Panel("Connected clients", "timeseries",
              ((f"redis_connected_clients{redis}", "{{pod}}"),)),
        Panel("Sentinel state", "timeseries",
              ((f"redis_sentinel_master_ok_sentinels{sentinel}", "ok sentinels ({{pod}})"),
               (f"redis_sentinel_master_ckquorum_status{sentinel}", "ckquorum ok ({{pod}})"),
               (f"redis_sentinel_tilt{_sel(cfg, names.JOB_GATEWAY_SENTINEL)}", "tilt ({{pod}})")),
              description=f"Quorum is {cfg.gateway.effective_quorum} of {cfg.gateway.replicas}."),
        Panel("Context-API cache: up, memory, commands", "timeseries",
              ((f"redis_up{cache}", "up"),
               (f"redis_memory_used_bytes{cache} / redis_memory_max_bytes{cache}", "memory / maxmemory"),
               (f"sum(rate(redis_commands_processed_total{cache}[{RATE_WINDOW}]))", "commands/s"))),
    ]


def _panel_json(panel: Panel, index: int) -> dict[str, Any]:
    return {
        "id": index + 1,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": PANEL_HEIGHT, "w": PANEL_WIDTH,
                    "x": (index % 2) * PANEL_WIDTH, "y": (index // 2) * PANEL_HEIGHT},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {},
        "targets": [{"refId": chr(ord("A") + n), "datasource": DATASOURCE, "expr": expr, "legendFormat": legend}
                    for n, (expr, legend) in enumerate(panel.targets)],
    }


def dashboard(cfg: StackConfig) -> dict[str, Any]:
    return {
        "uid": UID,
        "title": TITLE,
        "tags": ["kubernaut", "redis"],
        "timezone": "utc",
        "schemaVersion": 39,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{
            "name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
        }]},
        "panels": [_panel_json(panel, index) for index, panel in enumerate(panels(cfg))],
    }


def dashboard_json(cfg: StackConfig) -> str:
    return json.dumps(dashboard(cfg), indent=2, sort_keys=False) + "\n"
