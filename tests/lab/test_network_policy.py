"""The stack's NetworkPolicies, enforced on the lab cluster by kube-router's firewall.

From client pods of the stack's namespace and of another one, each with other labels, every
port of the tier is tried: the allowed clients connect, everyone else gets no connection. The
rest of the lab suite (drills, failover, preStop handover, smoke check, Prometheus' scrapes)
runs with the same policies on: the lab stack has them, as dev and prod do.

kube-router rejects what no policy allows with an ICMP port-unreachable (a hard-coded REJECT in
its pod chains), so a refused client sees ECONNREFUSED at once, where an enforcer that drops
(Calico, Cilium) leaves it to time out. Either way no TCP connection is made. That the policy
refuses, not the port, shows in the same run: the same address and port answer a labelled pod.
(kube-router's REJECT counters cannot tell: it rewrites its rules, counters reset, whenever a
pod comes or goes.)
"""

from __future__ import annotations

import json

import pytest

from cluster import ClientSpec
from stack_config import names

OTHER_NAMESPACE = "np-elsewhere"
CONNECT_TIMEOUT_SECONDS = 3

# Connects to each host:port given, sends PING and reads the first bytes of the answer (NOAUTH
# counts: Redis answered). Prints {target: connected|refused|timeout|error <errno>}.
PROBE = f"""
import json, socket, sys
result = {{}}
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout={CONNECT_TIMEOUT_SECONDS}) as s:
            s.sendall(b"PING\\r\\n")
            result[target] = "connected" if s.recv(64) else "closed"
    except ConnectionRefusedError:
        result[target] = "refused"
    except socket.timeout:
        result[target] = "timeout"
    except OSError as err:
        result[target] = f"error {{err.errno}}"
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def targets(gateway, access):
    """host:port of every listening port of the tier: each gateway pod's Redis, Sentinel and
    Redis exporter, the master-only endpoint, the cache and its exporter."""
    pods = {p.name: p for p in access.pods(gateway.namespace)}
    # By `app`: the proxy's and the topology Job's pod names start with redis-gateway- too.
    gateway_ips = [pods[name].ip for name in sorted(pods) if pods[name].labels.get(names.LABEL_APP) == names.GATEWAY]
    (cache,) = [p for p in pods.values() if p.labels.get(names.LABEL_INSTANCE) == names.CACHE]
    assert len(gateway_ips) == 3 and all(gateway_ips) and cache.ip
    return {
        "redis": [f"{ip}:{names.REDIS_PORT}" for ip in gateway_ips],
        "sentinel": [f"{ip}:{names.SENTINEL_PORT}" for ip in gateway_ips],
        "gateway-exporter": [f"{gateway_ips[0]}:{names.REDIS_EXPORTER_PORT}"],
        "master-endpoint": [f"{names.GATEWAY_HA_SERVICE}.{gateway.namespace}:{names.REDIS_PORT}"],
        "cache": [f"{names.CACHE}.{gateway.namespace}:{names.REDIS_PORT}"],
        "cache-exporter": [f"{cache.ip}:{names.REDIS_EXPORTER_PORT}"],
    }


@pytest.fixture(scope="module")
def other_namespace(access, gateway):
    access.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {
        "name": OTHER_NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}])
    yield OTHER_NAMESPACE
    access.delete_namespace(OTHER_NAMESPACE)


def probe(access, spec: ClientSpec, targets: dict[str, list[str]]) -> dict[str, set[str]]:
    """What a client pod with `spec`'s labels gets from each kind of target."""
    access.start_client(spec)
    try:
        every = [t for group in targets.values() for t in group]
        done = access.client_exec(spec, ["python3", "-c", PROBE, *every], timeout=120)
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
    finally:
        access.stop_client(spec)
    return {kind: {result[t] for t in group} for kind, group in targets.items()}


def test_the_stack_has_a_policy_for_each_kind_of_pod(access, gateway):
    listed = access.kubectl("-n", gateway.namespace, "get", "networkpolicy", "-o", "json")
    assert {item["metadata"]["name"] for item in json.loads(listed.stdout)["items"]} == {
        names.GATEWAY, names.GATEWAY_HAPROXY, names.CACHE, names.GATEWAY_TOPOLOGY_JOB}


def test_the_topology_jobs_labels_reach_the_sentinels_only(access, gateway, targets):
    """A pod with the topology Job's labels (its ingress and egress policies): the sentinels'
    port and nothing else, the master-only endpoint's Sentinel port included."""
    job_labels = {names.LABEL_NAME: "redis", names.LABEL_INSTANCE: names.GATEWAY,
                  names.LABEL_COMPONENT: names.COMPONENT_TOPOLOGY}
    spec = ClientSpec(namespace=gateway.namespace, name="np-topology", packages=(), labels=tuple(job_labels.items()))
    seen = probe(access, spec, targets)
    assert seen == {"redis": {"refused"}, "sentinel": {"connected"}, "gateway-exporter": {"refused"},
                    "master-endpoint": {"refused"}, "cache": {"refused"}, "cache-exporter": {"refused"}}


def test_labelled_clients_reach_the_redis_ports_and_not_the_exporters(access, gateway, targets):
    spec = ClientSpec(namespace=gateway.namespace, name="np-labelled", packages=(),
                      labels=tuple(names.CLIENT_ACCESS_LABELS.items()))
    seen = probe(access, spec, targets)
    assert seen == {"redis": {"connected"}, "sentinel": {"connected"}, "gateway-exporter": {"refused"},
                    "master-endpoint": {"connected"}, "cache": {"connected"}, "cache-exporter": {"refused"}}


def test_the_gateways_labels_reach_the_gateway_and_not_the_cache(access, gateway, targets):
    spec = ClientSpec(namespace=gateway.namespace, name="np-gateway-app", packages=(), labels=(("app", "gateway"),))
    seen = probe(access, spec, targets)
    assert seen["redis"] == seen["sentinel"] == seen["master-endpoint"] == {"connected"}
    assert seen["cache"] == seen["cache-exporter"] == seen["gateway-exporter"] == {"refused"}


def test_a_pod_without_the_labels_gets_no_connection(access, gateway, targets):
    spec = ClientSpec(namespace=gateway.namespace, name="np-stranger", packages=())
    seen = probe(access, spec, targets)
    assert all(outcome == {"refused"} for outcome in seen.values()), seen


def test_the_gateways_labels_in_another_namespace_get_no_connection(access, gateway, targets, other_namespace):
    spec = ClientSpec(namespace=other_namespace, name="np-elsewhere", packages=(), labels=(("app", "gateway"),))
    seen = probe(access, spec, targets)
    assert all(outcome == {"refused"} for outcome in seen.values()), seen


def _connects(access, namespace: str, pod: str, container: str, host: str, port: int) -> str:
    """redis-cli's PING from inside a pod of the stack: its first line of output."""
    done = access.exec(namespace, pod, container, ["timeout", "10", "redis-cli", "--no-auth-warning", "-h", host,
                                                   "-p", str(port), "PING"], timeout=30)
    return (done.stdout + done.stderr).strip().splitlines()[0] if (done.stdout + done.stderr).strip() else ""


def test_egress_of_the_stacks_pods_stops_at_their_peers(access, gateway, targets):
    pods = {p.name: p for p in access.pods(gateway.namespace)}
    (cache,) = [p for p in pods.values() if p.labels.get(names.LABEL_INSTANCE) == names.CACHE]
    peer_ip = pods[f"{names.GATEWAY}-1"].ip
    # A gateway pod reaches a peer's Redis (its CLI authenticates from the container's environment)
    # but not the cache.
    reached = _connects(access, gateway.namespace, f"{names.GATEWAY}-0", "redis", peer_ip, names.REDIS_PORT)
    assert reached == "PONG", reached
    refused = _connects(access, gateway.namespace, f"{names.GATEWAY}-0", "redis", cache.ip, names.REDIS_PORT)
    assert "Connection refused" in refused, refused
    # The cache has no egress at all.
    refused = _connects(access, gateway.namespace, cache.name, "redis", peer_ip, names.REDIS_PORT)
    assert "Connection refused" in refused, refused
