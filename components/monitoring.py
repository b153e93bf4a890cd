"""Monitoring of the Redis tier (stack key `monitoring`): exporter containers and a component
with the metrics Services, the Prometheus Operator's objects and the Grafana dashboard.

The exporters are containers of the pods they watch (one redis_exporter per Redis and per
Sentinel): an exporter sees its own pod's servers over localhost, whatever their role, and
needs no network path of its own. Each exporter gets the password of its server from the
Secret through REDIS_PASSWORD (and, for a Redis with auth, its ACL user `exporter` through
REDIS_USER), which redis_exporter reads from its environment; its command line holds the
address and the listen port only. A gateway pod runs two exporters, not one
with redis_exporter's multi-target `/scrape?target=` endpoint: that endpoint takes one password
for every target (or a password file), and Redis and Sentinel have different passwords.

The ServiceMonitors and the PrometheusRule depend on nothing else of the stack: where the
Prometheus Operator's CRDs are absent only these objects fail, and the rest is deployed.
"""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_kubernetes as k8s

import monitoring as renderers
from stack_config import StackConfig, names

from .labels import object_labels, selector_labels
from .pod_spec import container_security_context, resource_requirements, secret_env, tcp_probe

TYPE_TOKEN = "kubernaut:redis:Monitoring"
OPERATOR_API_VERSION = "monitoring.coreos.com/v1"
# Below the scrape timeout (10 s by default, at least the interval's 10 s minimum): a Redis that
# hangs shows as redis_up 0 within the scrape instead of failing the scrape as a whole.
EXPORTER_CONNECTION_TIMEOUT = "5s"


# ---------------------------------------------------------------------------- containers

def exporter_container(cfg: StackConfig, name: str, server_port: int, listen_port: int, port_name: str,
                       password: Optional[tuple[str, str]], user: Optional[str] = None) -> k8s.core.v1.ContainerArgs:
    """A redis_exporter for the server on localhost:`server_port`; `password` is (Secret, key) or None;
    `user` the ACL user it authenticates as (REDIS_USER), None for a password-only AUTH."""
    monitoring = cfg.monitoring
    env = [secret_env("REDIS_PASSWORD", *password)] if password else []
    if user:
        env.insert(0, k8s.core.v1.EnvVarArgs(name="REDIS_USER", value=user))
    return k8s.core.v1.ContainerArgs(
        name=name,
        image=monitoring.exporter_image,
        image_pull_policy=cfg.platform.images.pull_policy,
        command=exporter_command(cfg, server_port, listen_port),
        ports=[k8s.core.v1.ContainerPortArgs(name=port_name, container_port=listen_port)],
        env=env or None,
        resources=resource_requirements(monitoring.resources),
        security_context=container_security_context(),
        # Liveness only: a readiness probe would make the pod's readiness (HAProxy's backends,
        # the rolling update) depend on the exporter.
        liveness_probe=tcp_probe(listen_port, period=10, timeout=3, failures=3),
    )


def exporter_command(cfg: StackConfig, server_port: int, listen_port: int) -> list[str]:
    return [
        cfg.monitoring.exporter_binary,
        f"-redis.addr=redis://localhost:{server_port}",
        f"-web.listen-address=:{listen_port}",
        f"-connection-timeout={EXPORTER_CONNECTION_TIMEOUT}",
    ]


def gateway_exporter_containers(cfg: StackConfig) -> list[k8s.core.v1.ContainerArgs]:
    """The gateway pod's exporters: none while monitoring is off."""
    if not cfg.monitoring.enabled:
        return []
    auth = cfg.gateway.auth
    return [
        # With ACL users, the `exporter` user (INFO, SLOWLOG, LATENCY): REDIS_USER names it.
        exporter_container(cfg, names.REDIS_EXPORTER_CONTAINER, names.REDIS_PORT, names.REDIS_EXPORTER_PORT,
                           names.METRICS_PORT_NAME,
                           (names.GATEWAY_AUTH_SECRET, names.acl_secret_key(names.ACL_USER_EXPORTER))
                           if auth.enabled else None,
                           user=names.ACL_USER_EXPORTER if auth.enabled else None),
        exporter_container(cfg, names.SENTINEL_EXPORTER_CONTAINER, names.SENTINEL_PORT, names.SENTINEL_EXPORTER_PORT,
                           names.SENTINEL_METRICS_PORT_NAME,
                           (names.GATEWAY_AUTH_SECRET, names.SECRET_KEY_SENTINEL_PASSWORD) if auth.sentinel else None),
    ]


def cache_exporter_containers(cfg: StackConfig) -> list[k8s.core.v1.ContainerArgs]:
    """The cache pod's exporter: with auth the ACL user `exporter` (INFO, SLOWLOG, LATENCY);
    without, the clients' `default`, which has no password and is granted the same reads."""
    if not cfg.monitoring.enabled:
        return []
    auth = cfg.context_cache.auth.enabled
    return [exporter_container(
        cfg, names.REDIS_EXPORTER_CONTAINER, names.REDIS_PORT, names.REDIS_EXPORTER_PORT, names.METRICS_PORT_NAME,
        (names.CACHE_AUTH_SECRET, names.acl_secret_key(names.ACL_USER_EXPORTER)) if auth else None,
        user=names.ACL_USER_EXPORTER if auth else None)]


# ---------------------------------------------------------------------------- the component

class Monitoring(pulumi.ComponentResource):
    """Services `redis-gateway-metrics` and `redis-metrics`; with `prometheusOperator` the
    ServiceMonitors of both and the PrometheusRule `kubernaut-redis`; with `grafanaDashboard` the
    ConfigMap `kubernaut-redis-dashboard`. Create it only while `monitoring.enabled`."""

    def __init__(self, name: str, cfg: StackConfig, namespace: str,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        if not cfg.monitoring.enabled:
            raise ValueError("Monitoring needs monitoring.enabled")
        self._name, self._cfg, self._namespace = name, cfg, namespace

        gateway_ports = [(names.METRICS_PORT_NAME, names.REDIS_EXPORTER_PORT),
                         (names.SENTINEL_METRICS_PORT_NAME, names.SENTINEL_EXPORTER_PORT)]
        cache_ports = [(names.METRICS_PORT_NAME, names.REDIS_EXPORTER_PORT)]
        self._metrics_service("gateway-metrics", names.GATEWAY_METRICS_SERVICE, names.GATEWAY,
                              names.COMPONENT_SENTINEL_CLUSTER, names.GATEWAY, gateway_ports)
        self._metrics_service("cache-metrics", names.CACHE_METRICS_SERVICE, names.CACHE,
                              names.COMPONENT_CACHE, names.CACHE, cache_ports)
        if cfg.monitoring.prometheus_operator:
            self._service_monitor("gateway-servicemonitor", names.GATEWAY_METRICS_SERVICE, names.GATEWAY,
                                  names.COMPONENT_SENTINEL_CLUSTER, names.GATEWAY,
                                  {names.METRICS_PORT_NAME: names.JOB_GATEWAY_REDIS,
                                   names.SENTINEL_METRICS_PORT_NAME: names.JOB_GATEWAY_SENTINEL})
            self._service_monitor("cache-servicemonitor", names.CACHE_METRICS_SERVICE, names.CACHE,
                                  names.COMPONENT_CACHE, names.CACHE, {names.METRICS_PORT_NAME: names.JOB_CACHE})
            self._prometheus_rule()
        if cfg.monitoring.grafana_dashboard:
            self._dashboard()
        self.register_outputs({})

    def _child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self)

    def _metadata(self, object_name: str, instance: str, component: str, app: str,
                  extra_labels: Optional[dict[str, str]] = None) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=object_name, namespace=self._namespace,
            labels={**object_labels(instance, component, app), **(extra_labels or {})})

    def _metrics_service(self, suffix: str, object_name: str, instance: str, component: str, app: str,
                         ports: list[tuple[str, int]]) -> None:
        """Every pod's exporters, ready or not: an unready Redis is what an alert should see."""
        k8s.core.v1.Service(
            f"{self._name}-{suffix}",
            metadata=self._metadata(object_name, instance, component, app),
            spec=k8s.core.v1.ServiceSpecArgs(
                cluster_ip="None",
                publish_not_ready_addresses=True,
                selector=selector_labels(instance, component),
                ports=[k8s.core.v1.ServicePortArgs(name=port_name, port=port, target_port=port_name, protocol="TCP")
                       for port_name, port in ports],
            ),
            opts=self._child(),
        )

    def _service_monitor(self, suffix: str, service: str, instance: str, component: str, app: str,
                         jobs: dict[str, str]) -> None:
        """One endpoint per exporter port; `job` is set per port, as the alert rules expect."""
        interval = f"{self._cfg.monitoring.scrape_interval_seconds}s"
        k8s.apiextensions.CustomResource(
            f"{self._name}-{suffix}",
            api_version=OPERATOR_API_VERSION,
            kind="ServiceMonitor",
            metadata=self._metadata(service, instance, component, app),
            spec={
                "selector": {"matchLabels": {**selector_labels(instance, component)}},
                "namespaceSelector": {"matchNames": [self._namespace]},
                "endpoints": [{
                    "port": port_name,
                    "interval": interval,
                    "relabelings": [{"targetLabel": "job", "replacement": job}],
                } for port_name, job in jobs.items()],
            },
            opts=self._child(),
        )

    def _prometheus_rule(self) -> None:
        k8s.apiextensions.CustomResource(
            f"{self._name}-prometheusrule",
            api_version=OPERATOR_API_VERSION,
            kind="PrometheusRule",
            metadata=self._metadata(names.PROMETHEUS_RULE, names.GATEWAY, names.COMPONENT_SENTINEL_CLUSTER,
                                    names.GATEWAY),
            spec=renderers.rules_document(self._cfg),
            opts=self._child(),
        )

    def _dashboard(self) -> None:
        k8s.core.v1.ConfigMap(
            f"{self._name}-dashboard",
            metadata=self._metadata(names.DASHBOARD_CONFIG_MAP, names.GATEWAY, names.COMPONENT_SENTINEL_CLUSTER,
                                    names.GATEWAY, {names.GRAFANA_DASHBOARD_LABEL: "1"}),
            data={names.DASHBOARD_FILE: renderers.dashboard_json(self._cfg)},
            opts=self._child(),
        )
