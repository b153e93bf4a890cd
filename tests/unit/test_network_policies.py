"""The NetworkPolicies (stack key networkPolicy): who may reach which port of which pod.

The rules themselves are proved on the lab cluster with an enforcing implementation
(tests/lab/test_network_policy.py); here: that every pod the program creates is selected by a
policy, and what each policy lets through, read back from the manifests the program sends.
"""

from __future__ import annotations

import pytest

from components.network_policies import policy_specs
from stack_config import NetworkPolicyConfig, PolicyPeer, names

WORKLOAD_KINDS = ("StatefulSet", "Deployment", "Job", "CronJob", "DaemonSet")


def _template_labels(obj):
    spec = obj["spec"]
    if obj["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["metadata"]["labels"]


def _selects(policy, labels) -> bool:
    wanted = policy["spec"]["podSelector"]["matchLabels"]
    return all(labels.get(k) == v for k, v in wanted.items())


def _ports(rule):
    return {(p.get("protocol", "TCP"), p["port"]) for p in rule["ports"]}


def _allowed(policy, direction, labels, namespace=None):
    """The ports `direction` (ingress/egress) allows to or from a pod with `labels` in `namespace`
    (None: the policy's own namespace), as (protocol, port)."""
    key = "from" if direction == "ingress" else "to"
    ports = set()
    for rule in policy["spec"].get(direction, []):
        for peer in rule[key]:
            ns_ok = ("namespaceSelector" not in peer if namespace is None else
                     peer.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": namespace})
            pod_sel = peer.get("podSelector", {}).get("matchLabels", {})
            if ns_ok and all(labels.get(k) == v for k, v in pod_sel.items()):
                ports |= _ports(rule)
    return ports


@pytest.fixture
def prod_objects(program):
    return program("prod").kubernetes_objects()


def _policies(objects):
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == "NetworkPolicy"}


def _workloads(objects):
    return [o for o in objects if o["kind"] in WORKLOAD_KINDS]


def test_every_pod_the_program_creates_is_selected_by_exactly_one_policy(prod_objects):
    policies = _policies(prod_objects)
    workloads = _workloads(prod_objects)
    kinds = {w["metadata"]["name"]: w["kind"] for w in workloads}
    (job,) = [n for n, kind in kinds.items() if kind == "Job"]
    assert job.startswith(f"{names.GATEWAY_TOPOLOGY_JOB}-")
    assert set(kinds) - {job} == {names.GATEWAY, names.GATEWAY_HAPROXY, names.CACHE}
    for workload in workloads:
        selecting = [n for n, p in policies.items() if _selects(p, _template_labels(workload))]
        assert len(selecting) == 1, (workload["metadata"]["name"], selecting)
    assert all(p["metadata"]["namespace"] == "kubernaut-system" for p in policies.values())


def _pod_labels(objects, name):
    (workload,) = [w for w in _workloads(objects) if w["metadata"]["name"] == name]
    return _template_labels(workload)


def test_gateway_pods_take_redis_and_sentinel_from_peers_proxy_and_clients_only(prod_objects):
    policy = _policies(prod_objects)[names.GATEWAY]
    redis_and_sentinel = {("TCP", names.REDIS_PORT), ("TCP", names.SENTINEL_PORT)}
    for peer in (names.GATEWAY, names.GATEWAY_HAPROXY):
        assert _allowed(policy, "ingress", _pod_labels(prod_objects, peer)) == redis_and_sentinel
    assert _allowed(policy, "ingress", {"app": "gateway"}) == redis_and_sentinel
    assert _allowed(policy, "ingress", {names.GATEWAY_CLIENT_LABEL: "true"}) == redis_and_sentinel
    # The cache and any other pod: nothing; the cache's access label opens the cache only.
    assert _allowed(policy, "ingress", _pod_labels(prod_objects, names.CACHE)) == set()
    assert _allowed(policy, "ingress", {names.CACHE_CLIENT_LABEL: "true"}) == set()
    assert _allowed(policy, "ingress", {"app": "gateway"}, namespace="default") == set()
    # The exporters' ports from the scraper's namespace, and nothing else from there.
    assert _allowed(policy, "ingress", {}, namespace="monitoring") == {
        ("TCP", names.REDIS_EXPORTER_PORT), ("TCP", names.SENTINEL_EXPORTER_PORT)}


def test_egress_goes_to_dns_and_to_the_gateway_pods_only(prod_objects):
    policies = _policies(prod_objects)
    gateway_pods = _pod_labels(prod_objects, names.GATEWAY)
    dns = {("UDP", 53), ("TCP", 53)}
    for name in (names.GATEWAY, names.GATEWAY_HAPROXY):
        policy = policies[name]
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        assert _allowed(policy, "egress", {"k8s-app": "kube-dns"}, namespace="kube-system") == dns
        assert _allowed(policy, "egress", gateway_pods) == {("TCP", names.REDIS_PORT), ("TCP", names.SENTINEL_PORT)}
        assert _allowed(policy, "egress", _pod_labels(prod_objects, names.CACHE)) == set()
    cache = policies[names.CACHE]
    assert cache["spec"]["policyTypes"] == ["Ingress", "Egress"] and cache["spec"]["egress"] == []


def test_the_topology_job_reaches_the_sentinels_and_nothing_else(prod_objects):
    policies = _policies(prod_objects)
    (job,) = [w["metadata"]["name"] for w in _workloads(prod_objects) if w["kind"] == "Job"]
    job_pods = _pod_labels(prod_objects, job)
    policy = policies[names.GATEWAY_TOPOLOGY_JOB]
    assert policy["spec"]["ingress"] == []
    assert _allowed(policy, "egress", _pod_labels(prod_objects, names.GATEWAY)) == {("TCP", names.SENTINEL_PORT)}
    assert _allowed(policy, "egress", _pod_labels(prod_objects, names.GATEWAY_HAPROXY)) == set()
    assert _allowed(policies[names.GATEWAY], "ingress", job_pods) == {("TCP", names.SENTINEL_PORT)}
    assert _allowed(policies[names.GATEWAY_HAPROXY], "ingress", job_pods) == set()


def test_proxy_and_cache_take_their_clients_only(prod_objects):
    policies = _policies(prod_objects)
    proxy, cache = policies[names.GATEWAY_HAPROXY], policies[names.CACHE]
    assert _allowed(proxy, "ingress", {"app": "gateway"}) == {("TCP", names.REDIS_PORT), ("TCP", names.SENTINEL_PORT)}
    assert _allowed(proxy, "ingress", {"app": "context-api"}) == set()
    assert _allowed(proxy, "ingress", {}, namespace="monitoring") == set()  # no exporter in the proxy pods
    assert _allowed(cache, "ingress", {"app": "context-api"}) == {("TCP", names.REDIS_PORT)}
    assert _allowed(cache, "ingress", {names.CACHE_CLIENT_LABEL: "true"}) == {("TCP", names.REDIS_PORT)}
    assert _allowed(cache, "ingress", {"app": "gateway"}) == set()
    assert _allowed(cache, "ingress", {}, namespace="monitoring") == {("TCP", names.REDIS_EXPORTER_PORT)}


def test_configured_clients_of_another_namespace_and_no_exporter_ports_without_monitoring():
    cfg = NetworkPolicyConfig(enabled=True, restrict_egress=False, gateway_clients=[
        PolicyPeer(namespace="alerts", pod_labels={"app.kubernetes.io/component": "gateway"}),
        PolicyPeer(namespace="tools", pod_labels={})])
    specs = policy_specs(cfg, monitoring=False)
    policy = {"spec": specs[names.GATEWAY]}
    ports = {("TCP", names.REDIS_PORT), ("TCP", names.SENTINEL_PORT)}
    assert _allowed(policy, "ingress", {"app.kubernetes.io/component": "gateway"}, namespace="alerts") == ports
    assert _allowed(policy, "ingress", {"anything": "x"}, namespace="tools") == ports
    assert _allowed(policy, "ingress", {"app": "gateway"}) == set()  # the default client is replaced
    assert _allowed(policy, "ingress", {}, namespace="monitoring") == set()
    assert all(spec["policyTypes"] == ["Ingress"] and "egress" not in spec for spec in specs.values())


def test_no_policy_without_the_switch(program):
    run = program("dev", {"networkPolicy.enabled": False})
    assert not [o for o in run.kubernetes_objects() if o["kind"] == "NetworkPolicy"]
