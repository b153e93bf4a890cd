"""The floor: a bare three-pod Sentinel cluster on the same Kubernetes, written by hand.

A StatefulSet `floor` in its own namespace (kubernaut-floor) whose pods run two containers, the
plain `redis-server` and `redis-sentinel` of the lab image, from minimal configs written here:
names instead of IPs (as any cluster whose pods change IP must), a fixed `sentinel myid` per pod
(a sentinel that restarts as a new peer would break the majority), and the gateway's
down-after, failover-timeout and parallel-syncs. A headless Service that publishes not-ready
addresses gives the names; the pods get the gateway pods' resolver options. No persistence (an
emptyDir holds the configs that Redis and Sentinel rewrite; Redis saves nothing), no scripts but
the two lines that starting needs, no probes, no HAProxy, no resource limits, no Secrets.

What the gateway loses against this floor is what its scripts and proxies cost.
"""

from __future__ import annotations

import hashlib
from typing import Any

from cluster import ClientSpec, Cluster
from labcluster.layout import LAB_ENGINE_IMAGES
from smoke import Address, Targets

from .health import Timing
from .targets import CLIENT_NAME, CLUSTER_DOMAIN, REDIS_PORT, SENTINEL_PORT, Target

NAMESPACE = "kubernaut-floor"
STATEFULSET = "floor"
HEADLESS = "floor-headless"
CONFIG_MAP = "floor-config"
MASTER_SET = "floor-master"
# The lab stack's image (a Redis one: the floor runs redis-server and redis-sentinel by name), so
# that the floor and the gateway it is compared with run the same server.
IMAGE = LAB_ENGINE_IMAGES[0].image
REDIS_UID = 999
REPLICAS = 3
LABELS = {"app.kubernetes.io/name": "kubernaut-floor"}
# The gateway pods' dnsConfig (components/pod_spec.py short_dns_timeouts): a lost DNS answer
# costs 1 s, not 5, and a name that is gone is still tried on every search domain.
DNS_OPTIONS = (("timeout", "1"), ("attempts", "5"))
START_TIMEOUT_SECONDS = 180.0

# The container's first start copies its pod's config into the emptyDir, where Redis and Sentinel
# rewrite it (a failover does); a restart in the same pod keeps the rewritten one, as a process
# restarted on a node keeps its files.
REDIS_START = 'test -f /data/redis.conf || cp "/conf/$POD_NAME-redis.conf" /data/redis.conf; ' \
              "exec redis-server /data/redis.conf"
# Sentinel exits at start when the master it monitors does not resolve (resolve-hostnames):
# wait for the name first, as long as it takes.
SENTINEL_START = 'test -f /data/sentinel.conf || cp "/conf/$POD_NAME-sentinel.conf" /data/sentinel.conf; ' \
                 "master=$(awk '$1 == \"sentinel\" && $2 == \"monitor\" {print $4}' /data/sentinel.conf); " \
                 'until getent hosts "$master" >/dev/null; do sleep 0.2; done; ' \
                 "exec redis-sentinel /data/sentinel.conf"


class FloorCluster(Target):
    """`with FloorCluster(cluster, timing) as floor:` applies the floor and waits until it is
    whole; leaving deletes its namespace."""

    def __init__(self, cluster: Cluster, timing: Timing, namespace: str = NAMESPACE) -> None:
        self.namespace = namespace
        self.statefulset = STATEFULSET
        self.headless = HEADLESS
        self.cluster_domain = CLUSTER_DOMAIN
        self.replicas = REPLICAS
        targets = Targets(tuple(Address(self.fqdn(pod), SENTINEL_PORT) for pod in self.pod_names()),
                          MASTER_SET, REPLICAS, REDIS_PORT)
        super().__init__(cluster, namespace=namespace, statefulset=STATEFULSET, headless=HEADLESS,
                         master_set=MASTER_SET, replicas=REPLICAS, timing=timing, targets=targets,
                         client=ClientSpec(namespace=namespace, name=CLIENT_NAME))

    # ------------------------------------------------------------------ life

    def __enter__(self) -> "FloorCluster":
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.down()

    def up(self, timeout: float = START_TIMEOUT_SECONDS) -> float:
        """A fresh floor (an earlier one is deleted first: its sentinels' state would carry over)."""
        self.down()
        self.cluster.apply(self.objects())
        self.start_client()
        return self.wait_healthy(timeout)

    def down(self) -> None:
        self.cluster.delete_namespace(self.namespace)

    # ------------------------------------------------------------------ configs

    def redis_conf(self, pod: str) -> str:
        first = self.pod_names()[0]
        lines = [f"port {REDIS_PORT}", "bind * -::*", "protected-mode no", "dir /data", 'save ""', "appendonly no",
                 f"replica-announce-ip {self.fqdn(pod)}"]
        if pod != first:
            lines.append(f"replicaof {self.fqdn(first)} {REDIS_PORT}")
        return "\n".join(lines) + "\n"

    def sentinel_conf(self, pod: str) -> str:
        t, first = self.timing, self.fqdn(self.pod_names()[0])
        quorum = self.replicas // 2 + 1
        myid = hashlib.sha1(f"{self.namespace}/{pod}".encode()).hexdigest()
        return "\n".join([
            f"port {SENTINEL_PORT}", "protected-mode no", "dir /data",
            "sentinel resolve-hostnames yes", "sentinel announce-hostnames yes",
            f"sentinel announce-ip {self.fqdn(pod)}", f"sentinel myid {myid}",
            f"sentinel monitor {MASTER_SET} {first} {REDIS_PORT} {quorum}",
            f"sentinel down-after-milliseconds {MASTER_SET} {t.down_after_ms}",
            f"sentinel failover-timeout {MASTER_SET} {t.failover_timeout_ms}",
            f"sentinel parallel-syncs {MASTER_SET} {t.parallel_syncs}",
        ]) + "\n"

    # ------------------------------------------------------------------ objects

    def objects(self) -> list[dict[str, Any]]:
        meta = {"namespace": self.namespace, "labels": LABELS}
        configs = {}
        for pod in self.pod_names():
            configs[f"{pod}-redis.conf"] = self.redis_conf(pod)
            configs[f"{pod}-sentinel.conf"] = self.sentinel_conf(pod)
        return [
            {"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": self.namespace, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": CONFIG_MAP, **meta}, "data": configs},
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": HEADLESS, **meta},
             "spec": {"clusterIP": "None", "publishNotReadyAddresses": True, "selector": LABELS,
                      "ports": [{"name": "redis", "port": REDIS_PORT}, {"name": "sentinel", "port": SENTINEL_PORT}]}},
            {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": STATEFULSET, **meta},
             "spec": {"serviceName": HEADLESS, "replicas": self.replicas, "podManagementPolicy": "Parallel",
                      "selector": {"matchLabels": LABELS},
                      "template": {"metadata": {"labels": LABELS}, "spec": self._pod_spec()}}},
        ]

    def _pod_spec(self) -> dict[str, Any]:
        def container(name: str, start: str) -> dict[str, Any]:
            return {
                "name": name, "image": IMAGE, "imagePullPolicy": "IfNotPresent", "command": ["sh", "-c", start],
                "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                "volumeMounts": [{"name": "conf", "mountPath": "/conf", "readOnly": True},
                                 {"name": "data", "mountPath": "/data"}],
            }
        return {
            "automountServiceAccountToken": False, "enableServiceLinks": False,
            "securityContext": {"runAsNonRoot": True, "runAsUser": REDIS_UID, "runAsGroup": REDIS_UID,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "dnsConfig": {"options": [{"name": name, "value": value} for name, value in DNS_OPTIONS]},
            "containers": [container("redis", REDIS_START), container("sentinel", SENTINEL_START)],
            "volumes": [{"name": "conf", "configMap": {"name": CONFIG_MAP}}, {"name": "data", "emptyDir": {}}],
        }
