"""The peer the stack is benchmarked against: the `redis-ha` Helm chart (4.39.0, DandyDeveloper's),
installed on the lab cluster with the Helm built from go/helm (scripts/build-cluster).

    install(say=print)   `helm upgrade --install` release `redis-ha` into `peer-redis-ha`, then
                         wait until every pod of it is Ready; returns the seconds it took
    remove(say=print)    the release and its namespace (its PersistentVolumeClaims with it)

The chart is read in place from ../shared/peers/redis-ha-chart beside the checkout (KUBERNAUT_PEER_CHART points
elsewhere), never copied into the repository. Its values are `values()`: the chart's defaults but
for what the lab needs and what makes the comparison fair:

- images: the lab's own (LAB_IMAGE, Debian's redis 8.0 and haproxy 3.0) for Redis, Sentinel and
  HAProxy; the chart's registries are unreachable here. Its scripts need only sh, redis-cli,
  redis-server/redis-sentinel, getent, awk, sed and haproxy from it, all there.
- HAProxy on (the master-only endpoint, as the stack's `redis-gateway-ha:6379`), auth on with a
  fixed lab-only password, Sentinel's down-after-milliseconds 5000 and failover-timeout 10000 (the
  stack's), soft anti-affinity (the default hard one leaves 2 of 3 pods Pending on one node).
- uid 0 for the Redis pods (securityContext and containerSecurityContext: runAsUser 0,
  runAsNonRoot false; capabilities still all dropped): the chart runs as uid 1000 and relies on
  fsGroup to make its volume writable, which the lab's hostPath provisioner ignores (it makes each
  volume root:root 0750), so config-init fails on `mkdir /data/conf`. The chart has no root init
  container for a PersistentVolume (its `hostPath.chown` one comes only with a node hostPath
  shared by every pod), and an emptyDir would drop the persistence the stack has.
- the preStop hook run by bash, not sh: trigger-failover-if-master.sh uses `[[`, which the
  official alpine image's busybox sh has and the lab image's dash has not (under dash the master
  would never hand over on shutdown).

One thing no value can do: the chart's HAProxy container has no command (it relies on the
official haproxy image's CMD); the lab image has none, so `install` patches the Deployment with
`haproxy -f /usr/local/etc/haproxy/haproxy.cfg`, the official image's CMD.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from cluster import KubernetesCluster
from labcluster.layout import LAB_ENGINE_IMAGES

REPO = Path(__file__).resolve().parents[1]
# ../shared/peers/redis-ha-chart beside the checkout; KUBERNAUT_PEER_CHART points elsewhere.
CHART_ENV = "KUBERNAUT_PEER_CHART"
DEFAULT_CHART = REPO.parent / "shared" / "peers" / "redis-ha-chart"
RELEASE = "redis-ha"
NAMESPACE = "peer-redis-ha"
LAB_IMAGE = next(engine.image for engine in LAB_ENGINE_IMAGES if engine.name == "redis-8.0")
# Lab-only: the peer holds nothing but benchmark keys.
PASSWORD = "kubernaut-lab-peer-redis-ha-0001"
MASTER_SET = "mymaster"  # the chart's default redis.masterGroupName
# The stack's Sentinel timings (stack_config: gateway.sentinel), so that both fail over alike.
DOWN_AFTER_MILLISECONDS = 5000
FAILOVER_TIMEOUT = 10000
HAPROXY_COMMAND = ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]  # the official image's CMD
# The chart's names for release `redis-ha` (its fullname is the release name when that holds "redis-ha").
STATEFULSET = f"{RELEASE}-server"
HAPROXY_DEPLOYMENT = f"{RELEASE}-haproxy"
HAPROXY_SERVICE = f"{RELEASE}-haproxy"
REPLICAS = 3  # the chart's default, for Redis and HAProxy alike
# OrderedReady, each pod's probes starting after 30 s and Sentinel's needing 3 successes 15 s apart.
READY_TIMEOUT_SECONDS = 600.0


class PeerChartError(RuntimeError):
    pass


def chart_dir() -> Path:
    return Path(os.environ.get(CHART_ENV) or DEFAULT_CHART)


def _image(image: str) -> dict[str, str]:
    repository, tag = image.rsplit(":", 1)
    return {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"}


def values(image: str = LAB_IMAGE, password: str = PASSWORD) -> dict[str, Any]:
    """The values given to the chart over its own defaults (the module's docstring says why)."""
    return {
        "image": _image(image),
        "auth": True,
        "redisPassword": password,
        "hardAntiAffinity": False,
        "securityContext": {"runAsUser": 0, "runAsNonRoot": False},
        "containerSecurityContext": {"runAsUser": 0, "runAsNonRoot": False},
        "redis": {"lifecycle": {"preStop": {"exec": {
            "command": ["/bin/bash", "/readonly-config/trigger-failover-if-master.sh"]}}}},
        "sentinel": {"config": {"down-after-milliseconds": DOWN_AFTER_MILLISECONDS,
                                "failover-timeout": FAILOVER_TIMEOUT}},
        "haproxy": {"enabled": True, "image": _image(image), "hardAntiAffinity": False},
    }


def render_values(given: Optional[dict[str, Any]] = None) -> str:
    return yaml.safe_dump(values() if given is None else given, sort_keys=False, default_flow_style=False)


def haproxy_patch() -> dict[str, Any]:
    """The strategic-merge patch that gives the HAProxy container the command the chart leaves out."""
    return {"spec": {"template": {"spec": {"containers": [{"name": "haproxy", "command": HAPROXY_COMMAND}]}}}}


def install_args(chart: Path, values_file: Path) -> list[str]:
    return ["upgrade", "--install", RELEASE, str(chart), "--namespace", NAMESPACE, "--create-namespace",
            "--values", str(values_file)]


@dataclass(frozen=True)
class Tools:
    """Helm, and the cluster it installs into (kubectl and its kubeconfig come from there)."""

    helm: Path
    cluster: KubernetesCluster

    @classmethod
    def lab(cls) -> "Tools":
        from labcluster.cluster import find_binaries

        return cls(find_binaries() / "helm", KubernetesCluster.lab())

    def run_helm(self, *args: str, timeout: float = 120.0, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(self.helm), "--kubeconfig", str(self.cluster.kubeconfig), *args],
                              capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise PeerChartError(f"`helm {' '.join(args)}` failed: {done.stderr.strip()[-800:]}")
        return done


def install(tools: Optional[Tools] = None, say: Callable[[str], None] = lambda _: None,
            chart: Optional[Path] = None, timeout: float = READY_TIMEOUT_SECONDS) -> float:
    tools = tools or Tools.lab()
    chart = chart or chart_dir()
    if not (chart / "Chart.yaml").is_file():
        raise PeerChartError(f"no chart at {chart} (set {CHART_ENV})")
    if not tools.helm.is_file():
        raise PeerChartError(f"no helm at {tools.helm}: run scripts/build-cluster")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="peer-chart-") as tmp:
        values_file = Path(tmp) / "values.yaml"
        values_file.write_text(render_values())
        tools.run_helm(*install_args(chart, values_file), timeout=180)
    say(f"peer chart: helm release {RELEASE} applied in {NAMESPACE} ({time.monotonic() - started:.1f} s)")
    kubectl = tools.cluster.kubectl
    kubectl("-n", NAMESPACE, "patch", "deployment", HAPROXY_DEPLOYMENT, "--type", "strategic",
            "--patch", json.dumps(haproxy_patch()))
    deadline = started + timeout
    for kind, name in (("statefulset", STATEFULSET), ("deployment", HAPROXY_DEPLOYMENT)):
        left = max(1, int(deadline - time.monotonic()))
        done = kubectl("-n", NAMESPACE, "rollout", "status", f"{kind}/{name}", f"--timeout={left}s",
                       timeout=left + 30, check=False)
        if done.returncode != 0:
            pods = kubectl("-n", NAMESPACE, "get", "pods", "-o", "wide", check=False).stdout
            raise PeerChartError(f"{kind} {name} not ready after {time.monotonic() - started:.0f} s: "
                                 f"{done.stderr.strip()[-400:]}\n{pods}")
        say(f"peer chart: {kind} {name} ready ({time.monotonic() - started:.1f} s)")
    took = time.monotonic() - started
    say(f"peer chart: installed in {took:.1f} s; master-only endpoint "
        f"{HAPROXY_SERVICE}.{NAMESPACE}.svc:6379, Sentinel {RELEASE}.{NAMESPACE}.svc:26379 ({MASTER_SET})")
    return took


def remove(tools: Optional[Tools] = None, say: Callable[[str], None] = lambda _: None,
           timeout: float = 300.0) -> None:
    tools = tools or Tools.lab()
    done = tools.run_helm("uninstall", RELEASE, "--namespace", NAMESPACE, "--ignore-not-found", "--wait",
                     f"--timeout={int(timeout)}s", timeout=timeout + 30, check=False)
    if done.returncode != 0:
        say(f"peer chart: helm uninstall: {done.stderr.strip()[-300:]}")
    # The StatefulSet's claims outlive the release: the namespace takes them with it.
    tools.cluster.delete_namespace(NAMESPACE, timeout)
    say(f"peer chart: {RELEASE} and namespace {NAMESPACE} removed")
