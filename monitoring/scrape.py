"""The Prometheus scrape configuration of the Redis tier, for a Prometheus without the Operator.

It gives every series the labels the alert rules and the dashboard select on, as the
ServiceMonitors do on clusters with the Operator: `namespace`, `pod`, `service`, and `job` per
exporter port (names.JOB_*). Targets come from Kubernetes service discovery of the metrics
Services' EndpointSlices, so a restarted pod (a new address) is followed without a reload, and a
pod that is not Ready is still scraped (the Services publish not-ready addresses).

The lab's own Prometheus (lab/prometheus.py) runs exactly this configuration; the prod stack's
copy is monitoring/generated/prometheus-scrape.yaml.
"""

from __future__ import annotations

from typing import Any

import yaml

from stack_config import StackConfig, names

# (job, metrics Service, port name): the three kinds of exporter.
SCRAPE_JOBS: tuple[tuple[str, str, str], ...] = (
    (names.JOB_GATEWAY_REDIS, names.GATEWAY_METRICS_SERVICE, names.METRICS_PORT_NAME),
    (names.JOB_GATEWAY_SENTINEL, names.GATEWAY_METRICS_SERVICE, names.SENTINEL_METRICS_PORT_NAME),
    (names.JOB_CACHE, names.CACHE_METRICS_SERVICE, names.METRICS_PORT_NAME),
)


def scrape_configs(cfg: StackConfig) -> list[dict[str, Any]]:
    """One scrape job per kind of exporter, limited to the stack's namespace."""
    interval = f"{cfg.monitoring.scrape_interval_seconds}s"
    return [{
        "job_name": job,
        "scrape_interval": interval,
        # Prometheus' default: a scrape may take the whole interval. The exporters bound their
        # own connection to Redis below it (components/monitoring.py), so a hung Redis shows
        # as redis_up 0, not as a failed scrape.
        "scrape_timeout": interval,
        "kubernetes_sd_configs": [{"role": "endpointslice",
                                   "namespaces": {"names": [cfg.platform.namespace]}}],
        "relabel_configs": [
            {"source_labels": ["__meta_kubernetes_service_name", "__meta_kubernetes_endpointslice_port_name"],
             "regex": f"{service};{port}", "action": "keep"},
            {"source_labels": ["__meta_kubernetes_namespace"], "target_label": "namespace"},
            {"source_labels": ["__meta_kubernetes_pod_name"], "target_label": "pod"},
            {"source_labels": ["__meta_kubernetes_service_name"], "target_label": "service"},
        ],
    } for job, service, port in SCRAPE_JOBS]


def prometheus_config(cfg: StackConfig, rule_files: list[str]) -> dict[str, Any]:
    """A whole prometheus.yml: the scrape jobs, and the rules evaluated at the scrape interval
    (the rules' `for:` durations count in scrape intervals)."""
    interval = f"{cfg.monitoring.scrape_interval_seconds}s"
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval},
        "rule_files": rule_files,
        "scrape_configs": scrape_configs(cfg),
    }


def scrape_yaml(cfg: StackConfig) -> str:
    return yaml.safe_dump({"scrape_configs": scrape_configs(cfg)}, sort_keys=False, width=120)
