"""The `monitoring` key: one line per problem naming the key, and the dashboard's queries."""

from __future__ import annotations

import json

import pytest

from monitoring.dashboard import dashboard, dashboard_json, panels
from stack_config import ConfigError, load_stack_config
from tools.pulumi_mock_run import stack_file_config


def _problems(monitoring: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_stack_config({"monitoring": monitoring}, "dev")
    return caught.value.problems


@pytest.mark.parametrize("monitoring, expected", [
    ({"prometheusOperator": True},
     "monitoring.prometheusOperator: got true; must be false while enabled is false: its ServiceMonitors "
     "would scrape exporters that do not exist"),
    ({"grafanaDashboard": True},
     "monitoring.grafanaDashboard: got true; must be false while enabled is false: the dashboard's queries "
     "need the exporters"),
    ({"enabled": True, "scrapeIntervalSeconds": 5}, "monitoring.scrapeIntervalSeconds: got 5; must be between 10 and 240"),
    ({"enabled": True, "flappingFailoversPerHour": 0},
     "monitoring.flappingFailoversPerHour: got 0; must be between 1 and 60"),
    ({"enabled": True, "flappingFailoversPerHour": True},
     "monitoring.flappingFailoversPerHour: got true; must be an integer, not a boolean"),
    ({"enabled": True, "memoryWarningPercent": 100}, "monitoring.memoryWarningPercent: got 100; must be between 50 and 99"),
    ({"enabled": True, "exporterImage": "Oliver006/Redis_Exporter"},
     'monitoring.exporterImage: got "Oliver006/Redis_Exporter"; must be an image reference'),
    ({"enabled": True, "exporterBinary": "redis_exporter"},
     'monitoring.exporterBinary: got "redis_exporter"; must be the absolute path of the exporter binary'),
    ({"enabled": True, "exporterBinary": "/bin/sh -c"},
     'monitoring.exporterBinary: got "/bin/sh -c"; must be the absolute path'),
    ({"enabled": True, "resources": {"requests": {"cpu": "10m", "memory": "16Mi"},
                                     "limits": {"cpu": "100m", "memory": "16Mi"}}},
     'monitoring.resources.limits.memory: got "16Mi"; must be >= 32Mi'),
    ({"enabled": True, "scrapeInterval": "15s"}, "monitoring.scrapeInterval: unknown key; allowed keys: enabled,"),
])
def test_bad_monitoring_values_name_the_key(monitoring, expected):
    problems = _problems(monitoring)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_the_defaults_are_off():
    monitoring = load_stack_config({}, "dev").monitoring
    assert (monitoring.enabled, monitoring.prometheus_operator, monitoring.grafana_dashboard) == (False, False, False)
    assert monitoring.flapping_failovers_per_hour == 3


@pytest.mark.parametrize("stack", ["dev", "prod", "lab"])
def test_every_panel_has_a_query_and_the_json_is_valid(stack):
    cfg = load_stack_config(stack_file_config(stack), stack)
    document = json.loads(dashboard_json(cfg))
    assert document == dashboard(cfg)
    assert len(document["panels"]) == len(panels(cfg)) >= 10
    ids = [panel["id"] for panel in document["panels"]]
    assert len(set(ids)) == len(ids)
    for panel in document["panels"]:
        assert panel["title"] and panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip() and target["refId"]
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            assert 'namespace="kubernaut-system"' in target["expr"], target["expr"]
    titles = " ".join(panel["title"].lower() for panel in document["panels"])
    for topic in ("master", "failovers", "offset lag", "commands per second", "latency", "maxmemory", "evicted",
                  "clients", "sentinel", "cache"):
        assert topic in titles, topic
