"""Monitoring under Pulumi mocks: exporters, metrics Services, operator objects and the dashboard
exist exactly as the switches say; the exporters meet the pods' security and never carry a password."""

from __future__ import annotations

import json

import pytest

from monitoring import dashboard_json
from stack_config import load_stack_config, names
from tools.pulumi_mock_run import stack_file_config

from .support import PASSWORDS, STACKS

OFF = {"monitoring.enabled": False, "monitoring.prometheusOperator": False, "monitoring.grafanaDashboard": False}
OPERATOR = {"monitoring.prometheusOperator": True}


def _containers(run, kind, name):
    return {c["name"]: c for c in run.object(kind, name)["spec"]["template"]["spec"]["containers"]}


def _kinds(run):
    return {(o["kind"], o["metadata"]["name"]) for o in run.kubernetes_objects()}


def test_off_means_no_exporter_and_no_monitoring_object(program):
    run = program("dev", OFF)
    assert set(_containers(run, "StatefulSet", names.GATEWAY)) == {"redis", "sentinel"}
    assert set(_containers(run, "Deployment", names.CACHE)) == {"redis"}
    kinds = _kinds(run)
    assert not {("Service", names.GATEWAY_METRICS_SERVICE), ("Service", names.CACHE_METRICS_SERVICE),
                ("ConfigMap", names.DASHBOARD_CONFIG_MAP)} & kinds
    assert not [kind for kind, _ in kinds if kind in ("ServiceMonitor", "PrometheusRule")]
    assert not [c for c in run.components() if c.typ == "kubernaut:redis:Monitoring"]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_switch_exporters_and_dashboard_on_and_the_operator_off(program, stack):
    run = program(stack)
    assert set(_containers(run, "StatefulSet", names.GATEWAY)) == {
        "redis", "sentinel", "redis-exporter", "sentinel-exporter"}
    assert set(_containers(run, "Deployment", names.CACHE)) == {"redis", "redis-exporter"}
    kinds = _kinds(run)
    assert {("Service", names.GATEWAY_METRICS_SERVICE), ("Service", names.CACHE_METRICS_SERVICE),
            ("ConfigMap", names.DASHBOARD_CONFIG_MAP)} <= kinds
    assert not [kind for kind, _ in kinds if kind in ("ServiceMonitor", "PrometheusRule")]


@pytest.mark.parametrize("stack", STACKS)
def test_exporters_address_their_own_server_with_the_configured_binary(program, stack):
    run = program(stack)
    cfg = load_stack_config(stack_file_config(stack), stack)
    gateway = _containers(run, "StatefulSet", names.GATEWAY)
    cache = _containers(run, "Deployment", names.CACHE)
    expected = {
        (gateway["redis-exporter"]["command"][1], gateway["redis-exporter"]["ports"][0]["name"]):
            ("-redis.addr=redis://localhost:6379", "metrics"),
        (gateway["sentinel-exporter"]["command"][1], gateway["sentinel-exporter"]["ports"][0]["name"]):
            ("-redis.addr=redis://localhost:26379", "sentinel-prom"),
    }
    assert {key: key for key in expected} == expected
    assert gateway["redis-exporter"]["ports"][0]["containerPort"] == 9121
    assert gateway["sentinel-exporter"]["ports"][0]["containerPort"] == 9355
    assert cache["redis-exporter"]["command"][1] == "-redis.addr=redis://localhost:6379"
    for container in (gateway["redis-exporter"], gateway["sentinel-exporter"], cache["redis-exporter"]):
        assert container["command"][0] == cfg.monitoring.exporter_binary
        assert container["image"] == cfg.monitoring.exporter_image
        assert container["resources"] == {"requests": {"cpu": "10m", "memory": "32Mi"},
                                          "limits": {"cpu": "100m", "memory": "64Mi"}}
        assert "readinessProbe" not in container, "the pod's readiness must not depend on the exporter"
    assert gateway["redis-exporter"]["command"][0] == (
        "/usr/bin/prometheus-redis-exporter" if stack == "lab" else "/redis_exporter")


@pytest.mark.parametrize("stack", STACKS)
def test_exporters_meet_pod_security_restricted(program, stack):
    run = program(stack)
    exporters = [c for kind, name in (("StatefulSet", names.GATEWAY), ("Deployment", names.CACHE))
                 for cname, c in _containers(run, kind, name).items() if cname.endswith("-exporter")]
    assert len(exporters) == 3
    for container in exporters:
        assert container["securityContext"] == {
            "runAsNonRoot": True, "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
            "privileged": False, "capabilities": {"drop": ["ALL"]}}
    for kind, name in (("StatefulSet", names.GATEWAY), ("Deployment", names.CACHE)):
        pod = run.object(kind, name)["spec"]["template"]["spec"]
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["securityContext"]["runAsNonRoot"] is True


def test_each_exporter_reads_its_servers_password_from_the_secret(program):
    run = program("prod", {"contextCache.auth.enabled": True})
    gateway = _containers(run, "StatefulSet", names.GATEWAY)
    cache = _containers(run, "Deployment", names.CACHE)
    # The gateway's Redis: the ACL user `exporter`, never the clients' password.
    assert gateway["redis-exporter"]["env"] == [
        {"name": "REDIS_USER", "value": "exporter"},
        {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {
            "name": "redis-gateway-auth", "key": "acl-exporter-password"}}}]
    assert gateway["sentinel-exporter"]["env"] == [{"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {
        "name": "redis-gateway-auth", "key": "sentinel-password"}}}]
    # The cache's: its own ACL user `exporter` too.
    assert cache["redis-exporter"]["env"] == [
        {"name": "REDIS_USER", "value": "exporter"},
        {"name": "REDIS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "redis-auth", "key": "acl-exporter-password"}}}]


def test_exporters_without_auth_get_no_password(program):
    run = program("dev", {"gateway.auth.enabled": False, "gateway.auth.sentinel": False})
    for container in _containers(run, "StatefulSet", names.GATEWAY).values():
        if container["name"].endswith("-exporter"):
            assert "env" not in container
    assert "env" not in _containers(run, "Deployment", names.CACHE)["redis-exporter"]


def test_no_password_in_any_command_config_map_or_monitoring_object(program):
    run = program("prod", {**OPERATOR, "contextCache.auth.enabled": True})
    passwords = [PASSWORDS[key] for key in ("gatewayRedisPassword", "gatewaySentinelPassword", "contextCachePassword")]
    for obj in run.kubernetes_objects():
        if obj["kind"] == "Secret":
            continue
        text = json.dumps(obj)
        assert not any(password in text for password in passwords), f"{obj['kind']} {obj['metadata']['name']}"
    for kind, name in (("StatefulSet", names.GATEWAY), ("Deployment", names.CACHE)):
        for container in _containers(run, kind, name).values():
            assert not any("password" in arg.lower() for arg in container.get("command", []) + container.get("args", []))


def test_metrics_services_select_every_pod_of_their_component(program):
    run = program("prod")
    gateway = run.object("Service", names.GATEWAY_METRICS_SERVICE)["spec"]
    assert gateway["selector"] == run.object("StatefulSet", names.GATEWAY)["spec"]["selector"]["matchLabels"]
    assert gateway["publishNotReadyAddresses"] is True
    assert [(p["name"], p["port"], p["targetPort"]) for p in gateway["ports"]] == [
        ("metrics", 9121, "metrics"), ("sentinel-prom", 9355, "sentinel-prom")]
    cache = run.object("Service", names.CACHE_METRICS_SERVICE)["spec"]
    assert cache["selector"] == run.object("Deployment", names.CACHE)["spec"]["selector"]["matchLabels"]
    assert [(p["name"], p["port"]) for p in cache["ports"]] == [("metrics", 9121)]


def test_operator_switch_creates_service_monitors_and_the_rule(program, resource_options):
    run = program("prod", OPERATOR)
    gateway_monitor = run.object("ServiceMonitor", names.GATEWAY_METRICS_SERVICE)
    assert gateway_monitor["apiVersion"] == "monitoring.coreos.com/v1"
    endpoints = gateway_monitor["spec"]["endpoints"]
    assert [(e["port"], e["interval"], e["relabelings"]) for e in endpoints] == [
        ("metrics", "15s", [{"targetLabel": "job", "replacement": "redis-gateway"}]),
        ("sentinel-prom", "15s", [{"targetLabel": "job", "replacement": "redis-gateway-sentinel"}])]
    assert gateway_monitor["spec"]["namespaceSelector"] == {"matchNames": ["kubernaut-system"]}
    cache_monitor = run.object("ServiceMonitor", names.CACHE_METRICS_SERVICE)
    assert cache_monitor["spec"]["endpoints"][0]["relabelings"] == [{"targetLabel": "job", "replacement": "redis"}]
    rule = run.object("PrometheusRule", names.PROMETHEUS_RULE)
    from monitoring import rules_document
    assert rule["spec"] == rules_document(load_stack_config(stack_file_config("prod"), "prod"))
    # The operator's objects depend on nothing of the stack: without the CRDs only they fail.
    for (token, _), opts in resource_options.items():
        if token.startswith("kubernetes:monitoring.coreos.com"):
            assert not opts.depends_on


def test_dashboard_config_map_has_the_sidecar_label_and_the_rendered_json(program):
    run = program("prod")
    config_map = run.object("ConfigMap", names.DASHBOARD_CONFIG_MAP)
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert config_map["data"] == {
        "kubernaut-redis.json": dashboard_json(load_stack_config(stack_file_config("prod"), "prod"))}
    assert not [o for o in program("prod", {"monitoring.grafanaDashboard": False}).kubernetes_objects()
                if o["metadata"]["name"] == names.DASHBOARD_CONFIG_MAP]


def test_exporter_change_rolls_nothing_while_monitoring_is_off(program):
    """The image setting alone adds no container: off means the pods stay as they were."""
    run = program("dev", {**OFF, "monitoring.exporterImage": "registry.example/exporter:1"})
    assert set(_containers(run, "StatefulSet", names.GATEWAY)) == {"redis", "sentinel"}
