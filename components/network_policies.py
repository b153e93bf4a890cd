"""NetworkPolicies of the Redis tier (stack key `networkPolicy`): one per kind of pod the program
creates, each allowing only the traffic that pod's job needs.

- `redis-gateway` (the Redis + Sentinel pods): Redis and Sentinel ports from the other gateway
  pods (replication, Sentinel's gossip and commands), from the master-only proxy (its health
  checks) and from the clients (a Sentinel-aware client asks Sentinel, then talks to the master
  pod); the exporters' ports from the scraper's namespace.
- `redis-gateway-haproxy` (the master-only proxy): its Redis and Sentinel ports from the clients.
- `redis` (the cache): its port from its clients, the exporter's from the scraper's namespace.
- `redis-gateway-topology` (the topology Job, components/topology_job.py): nothing in; out, the
  gateway pods' Sentinel port, which is open to it.
- `redis-gateway-backup` (the backup Jobs, with gateway.backup.enabled): nothing in; out, the
  gateway pods' Redis and Sentinel ports, which are open to it, and the storage's port.

Egress (restrictEgress): cluster DNS, and the gateway pods' Redis and Sentinel ports for the
gateway and proxy pods, their Sentinel port for the topology Job; the cache needs no connection of
its own. The exporters talk to their
servers over localhost, which no policy filters. The kubelet's probes come from the node, which
network plugins let through.

`policy_specs` is a pure function of the config slice, so the rules are testable without
Pulumi; the component only turns them into objects.
"""

from __future__ import annotations

from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s

from stack_config import NetworkPolicyConfig, PolicyPeer, names

from .labels import object_labels, selector_labels

TYPE_TOKEN = "kubernaut:redis:NetworkPolicies"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DNS_PORT = 53

GATEWAY_SELECTOR = selector_labels(names.GATEWAY, names.COMPONENT_SENTINEL_CLUSTER)
PROXY_SELECTOR = selector_labels(names.GATEWAY, names.COMPONENT_MASTER_PROXY)
CACHE_SELECTOR = selector_labels(names.CACHE, names.COMPONENT_CACHE)
TOPOLOGY_SELECTOR = selector_labels(names.GATEWAY, names.COMPONENT_TOPOLOGY)
BACKUP_SELECTOR = selector_labels(names.GATEWAY, names.COMPONENT_BACKUP)


def _tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]


def _peer(peer: PolicyPeer) -> dict[str, Any]:
    """A peer of the stack's namespace has a podSelector alone (a bare podSelector means "this
    namespace"); another namespace is selected by its name label, which Kubernetes sets."""
    rule: dict[str, Any] = {"podSelector": {"matchLabels": dict(peer.pod_labels)}}
    if peer.namespace is not None:
        rule["namespaceSelector"] = {"matchLabels": {NAMESPACE_NAME_LABEL: peer.namespace}}
    return rule


def _pods(selector: dict[str, str]) -> dict[str, Any]:
    return {"podSelector": {"matchLabels": dict(selector)}}


def _clients(peers: list[PolicyPeer], access_label: str) -> list[dict[str, Any]]:
    return [_pods({access_label: names.CLIENT_LABEL_VALUE}), *(_peer(p) for p in peers)]


def _scraper(cfg: NetworkPolicyConfig, *ports: int) -> dict[str, Any]:
    return {"from": [{"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: cfg.scraper_namespace}}}],
            "ports": _tcp(*ports)}


def _dns(cfg: NetworkPolicyConfig) -> dict[str, Any]:
    return {"to": [_peer(cfg.dns)],
            "ports": [{"protocol": "UDP", "port": DNS_PORT}, {"protocol": "TCP", "port": DNS_PORT}]}


def _spec(selector: dict[str, str], ingress: list[dict[str, Any]], egress: list[dict[str, Any]],
          cfg: NetworkPolicyConfig) -> dict[str, Any]:
    spec: dict[str, Any] = {"podSelector": {"matchLabels": dict(selector)}, "policyTypes": ["Ingress"],
                            "ingress": ingress}
    if cfg.restrict_egress:
        # An empty list with the Egress type: no egress at all.
        spec["policyTypes"].append("Egress")
        spec["egress"] = egress
    return spec


def policy_specs(cfg: NetworkPolicyConfig, monitoring: bool, s3_port: Optional[int] = None,
                 restore: bool = False) -> dict[str, dict[str, Any]]:
    """Object name -> NetworkPolicy spec. `monitoring`: whether the exporters run (their ports open
    to the scraper's namespace only then). `s3_port`: the backup storage's port while backups are
    on (gateway.backup.enabled); its address is outside what a policy can name (any host, often
    outside the cluster), so egress to that port is open to every destination, for the backup
    Job and, while a restore is set (`restore`), for the gateway pods' restore init container."""
    redis_ports = (names.REDIS_PORT, names.SENTINEL_PORT)
    gateway_clients = _clients(cfg.gateway_clients, names.GATEWAY_CLIENT_LABEL)
    to_gateway_pods = {"to": [_pods(GATEWAY_SELECTOR)], "ports": _tcp(*redis_ports)}
    backup_sources = [_pods(BACKUP_SELECTOR)] if s3_port is not None else []
    gateway_ingress = [
        {"from": [_pods(GATEWAY_SELECTOR), _pods(PROXY_SELECTOR), *backup_sources, *gateway_clients],
         "ports": _tcp(*redis_ports)},
        {"from": [_pods(TOPOLOGY_SELECTOR)], "ports": _tcp(names.SENTINEL_PORT)},
    ]
    to_storage = [{"ports": _tcp(s3_port)}] if s3_port is not None else []
    cache_ingress = [{"from": _clients(cfg.context_cache_clients, names.CACHE_CLIENT_LABEL),
                      "ports": _tcp(names.REDIS_PORT)}]
    if monitoring:
        gateway_ingress.append(_scraper(cfg, names.REDIS_EXPORTER_PORT, names.SENTINEL_EXPORTER_PORT))
        cache_ingress.append(_scraper(cfg, names.REDIS_EXPORTER_PORT))
    specs = {
        names.GATEWAY: _spec(GATEWAY_SELECTOR, gateway_ingress,
                             [_dns(cfg), to_gateway_pods, *(to_storage if restore else [])], cfg),
        names.GATEWAY_HAPROXY: _spec(
            PROXY_SELECTOR, [{"from": gateway_clients, "ports": _tcp(*redis_ports)}],
            [_dns(cfg), to_gateway_pods], cfg),
        names.CACHE: _spec(CACHE_SELECTOR, cache_ingress, [], cfg),
        names.GATEWAY_TOPOLOGY_JOB: _spec(
            TOPOLOGY_SELECTOR, [],
            [_dns(cfg), {"to": [_pods(GATEWAY_SELECTOR)], "ports": _tcp(names.SENTINEL_PORT)}], cfg),
    }
    if s3_port is not None:
        specs[names.GATEWAY_BACKUP_CRONJOB] = _spec(BACKUP_SELECTOR, [], [_dns(cfg), to_gateway_pods, *to_storage], cfg)
    return specs


# The labels of each policy object: those of the workload it guards.
POLICY_LABELS = {
    names.GATEWAY: (names.GATEWAY, names.COMPONENT_SENTINEL_CLUSTER, names.GATEWAY),
    names.GATEWAY_HAPROXY: (names.GATEWAY, names.COMPONENT_MASTER_PROXY, names.GATEWAY_HAPROXY),
    names.CACHE: (names.CACHE, names.COMPONENT_CACHE, names.CACHE),
    names.GATEWAY_TOPOLOGY_JOB: (names.GATEWAY, names.COMPONENT_TOPOLOGY, names.GATEWAY_TOPOLOGY_JOB),
    names.GATEWAY_BACKUP_CRONJOB: (names.GATEWAY, names.COMPONENT_BACKUP, names.GATEWAY_BACKUP_CRONJOB),
}


class NetworkPolicies(pulumi.ComponentResource):
    """The NetworkPolicy objects of policy_specs, in the stack's namespace."""

    def __init__(self, name: str, cfg: NetworkPolicyConfig, namespace: str, monitoring: bool,
                 opts: pulumi.ResourceOptions | None = None, s3_port: Optional[int] = None,
                 restore: bool = False) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.policy_names = []
        for object_name, spec in policy_specs(cfg, monitoring, s3_port, restore).items():
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{object_name}",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=object_name, namespace=namespace, labels=object_labels(*POLICY_LABELS[object_name])),
                spec=spec,
                opts=pulumi.ResourceOptions(parent=self),
            )
            self.policy_names.append(object_name)
        self.register_outputs({"policies": self.policy_names})
