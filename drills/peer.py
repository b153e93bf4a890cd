"""The peer as a drill target: the `redis-ha` chart's release (lab/peer_chart.py) on the lab
cluster, drilled by the same scenarios, writer and invariants as the stack.

What differs from the stack, and how the target covers it:
- the chart's Sentinels and replicas announce the ClusterIP of a Service per pod
  (`redis-ha-announce-<i>`), not the pod's FQDN: the invariants (smoke.invariants, run in the
  client pod) are given those addresses, so that the master Sentinel names is one of the nodes
  they check, and `pod_of` maps an announced address back to its pod;
- its master-only endpoint is the `redis-ha-haproxy` Service, a Deployment of three HAProxy pods
  that must be Ready too;
- one password (Secret `redis-ha`, key `auth`) for Redis; its Sentinels take none.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional

from cluster import ClientSpec, Cluster, SecretEnv
from lab import peer_chart
from smoke.targets import Address, Targets

from .health import Timing
from .observe import pod_of
from .targets import CLUSTER_DOMAIN, REDIS_PORT, SENTINEL_PORT, Target

CLIENT_NAME = "kubernaut-drills"
HEADLESS = peer_chart.RELEASE  # the StatefulSet's serviceName, a headless Service
AUTH_SECRET, AUTH_KEY = peer_chart.RELEASE, "auth"  # the chart's Secret and its authKey default
PARALLEL_SYNCS = 5  # the chart's sentinel.config default
HAPROXY_LABELS = {"app": f"{peer_chart.RELEASE}-haproxy"}  # its HAProxy pods' selector


def announce_service(index: int) -> str:
    return f"{peer_chart.RELEASE}-announce-{index}"


class PeerChartTarget(Target):
    """The release as lab/peer_chart.py installs it; `announced`: ClusterIP -> pod."""

    def __init__(self, cluster: Cluster, announced: dict[str, str], password: str,
                 timing: Optional[Timing] = None) -> None:
        self.announced = dict(announced)
        by_pod = {pod: ip for ip, pod in announced.items()}
        pods = [f"{peer_chart.STATEFULSET}-{i}" for i in range(peer_chart.REPLICAS)]
        missing = [pod for pod in pods if pod not in by_pod]
        if missing:
            raise ValueError(f"no announce Service address for {', '.join(missing)}")
        endpoint = Address(f"{peer_chart.HAPROXY_SERVICE}.{peer_chart.NAMESPACE}.svc.{CLUSTER_DOMAIN}", REDIS_PORT)
        targets = Targets(tuple(Address(by_pod[pod], SENTINEL_PORT) for pod in pods), peer_chart.MASTER_SET,
                          peer_chart.REPLICAS, REDIS_PORT, master_endpoint=endpoint, redis_auth=True)
        timing = timing or Timing(peer_chart.DOWN_AFTER_MILLISECONDS, peer_chart.FAILOVER_TIMEOUT, PARALLEL_SYNCS)
        client = ClientSpec(namespace=peer_chart.NAMESPACE, name=CLIENT_NAME,
                            secret_env=(SecretEnv("REDIS_PASSWORD", AUTH_SECRET, AUTH_KEY),))
        super().__init__(cluster, namespace=peer_chart.NAMESPACE, statefulset=peer_chart.STATEFULSET,
                         headless=HEADLESS, master_set=peer_chart.MASTER_SET, replicas=peer_chart.REPLICAS,
                         timing=timing, targets=targets, client=client, redis_password=password)

    @classmethod
    def from_cluster(cls, cluster: Cluster) -> "PeerChartTarget":
        announced = {}
        for index in range(peer_chart.REPLICAS):
            service = cluster.object(peer_chart.NAMESPACE, "Service", announce_service(index))
            if service is None:
                raise RuntimeError(f"no Service {peer_chart.NAMESPACE}/{announce_service(index)}: "
                                   "is the peer chart installed (python -m lab peer-chart up)?")
            announced[service["spec"]["clusterIP"]] = f"{peer_chart.STATEFULSET}-{index}"
        password = cluster.secret_value(peer_chart.NAMESPACE, AUTH_SECRET, AUTH_KEY)
        if password is None:
            raise RuntimeError(f"no Secret {peer_chart.NAMESPACE}/{AUTH_SECRET} with key {AUTH_KEY}")
        return cls(cluster, announced, password)

    def pod_of(self, host: str) -> str:
        return self.announced.get(host) or pod_of(host)

    def all_ready(self) -> bool:
        """The Redis pods, and every HAProxy pod (the master-only endpoint) Ready."""
        if not super().all_ready():
            return False
        selector = ",".join(f"{key}={value}" for key, value in HAPROXY_LABELS.items())
        proxies = [p for p in self.cluster.pods(self.namespace, selector) if not p.terminating]
        return len(proxies) == peer_chart.REPLICAS and all(p.ready for p in proxies)


@contextlib.contextmanager
def peer_target(cluster: Cluster, say=lambda line: None, timeout: float = 300.0) -> Iterator[PeerChartTarget]:
    """The installed release as a target, its client pod started, once its invariants hold."""
    target = PeerChartTarget.from_cluster(cluster)
    target.start_client()
    try:
        target.wait_healthy(timeout)
        say(f"peer {target.namespace}/{target.statefulset}: ready, invariants hold")
        yield target
    finally:
        target.stop_client()


def split_brain(trial: dict[str, Any]) -> Optional[bool]:
    """Two masters took writes: the old master acknowledged a write after the new master's first
    one, while the role was the new master's. No write on a new master: False. When the old
    master took the role back later in the trial (the roles polled, `masters`: [seconds, pod]),
    its acknowledgements after that are its own as master again; a last one after the return
    cannot tell whether it also took writes in between: None (undecided)."""
    first_new, last_old = trial.get("first_ack_on_new_master_s"), trial.get("last_ack_by_old_master_s")
    if first_new is None or last_old is None or last_old <= first_new:
        return False
    old_master = trial.get("old_master")
    replaced = False
    for seconds, pod in trial.get("masters") or []:
        replaced = replaced or (pod != old_master and seconds > 0)
        if replaced and pod == old_master:
            return True if last_old < seconds else None
    return True
