"""The deployment this project replaces, stood up on the lab cluster for the migration drill.

Its kubectl manifests (Kubernaut's deploy/redis-ha, see PROVENANCE.md beside them) are read from
the shared seed folder, never copied into the repository, and applied as they are except for the
image: `redis:7-alpine` becomes the lab's Redis 7.0 image (Debian's 7.0.15; the manifests need
only `sh`, `cp`, `hostname`, `redis-server`, `redis-sentinel` and `redis-cli` from it), with the
official image's working directory /data, which the lab image does not set. Only the
files that ran are applied: the Gateway's StatefulSet with its Services and ConfigMap, its
Sentinel ConfigMap and NodePort Service, and the Context-API cache's Deployment. The generic twin
(redis-statefulset.yaml, redis-sentinel-configmap.yaml) is left out.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Callable, Optional

import yaml

from cluster import Cluster
from labcluster.layout import LAB_ENGINE_IMAGES
from stack_config import names

REPO = Path(__file__).resolve().parents[1]
# ../shared/seed/original-manifests beside the checkout; KUBERNAUT_LEGACY_MANIFESTS points elsewhere.
MANIFESTS = Path(os.environ.get("KUBERNAUT_LEGACY_MANIFESTS", REPO.parent / "shared" / "seed" / "original-manifests"))
FILES = ("redis-gateway-statefulset.yaml", "redis-gateway-sentinel-configmap.yaml", "redis-gateway-nodeport.yaml",
         "context-api-redis-deployment.yaml")
NAMESPACE = "kubernaut-system"  # the manifests' own; their scripts name it in DNS names too
ORIGINAL_IMAGE = "redis:7-alpine"
OFFICIAL_IMAGE_WORKDIR = "/data"
LAB_IMAGE = next(engine.image for engine in LAB_ENGINE_IMAGES if engine.name == "redis-7.0")
# The legacy objects carry the labels this stack's do (app: redis-gateway, app: redis).
GATEWAY_SELECTOR = f"{names.LABEL_APP}={names.GATEWAY}"
CACHE_SELECTOR = f"{names.LABEL_APP}={names.CACHE}"
READY_TIMEOUT_SECONDS = 240.0


class LegacyError(RuntimeError):
    pass


def legacy_objects(manifests: Path = MANIFESTS, image: str = LAB_IMAGE) -> list[dict[str, Any]]:
    """The objects of the files that ran, with the lab's image in every container."""
    missing = [name for name in FILES if not (manifests / name).is_file()]
    if missing:
        raise LegacyError(f"{manifests}: missing {', '.join(missing)} (the seed's original manifests)")
    objects = []
    for name in FILES:
        for item in yaml.safe_load_all((manifests / name).read_text()):
            if not item:
                continue
            if item["metadata"].get("namespace", NAMESPACE) != NAMESPACE:
                raise LegacyError(f"{name}: {item['kind']} {item['metadata']['name']} is not in {NAMESPACE}")
            pod = (item.get("spec") or {}).get("template", {}).get("spec")
            for container in (pod or {}).get("containers", []) + (pod or {}).get("initContainers", []):
                if container["image"] != ORIGINAL_IMAGE:
                    raise LegacyError(f"{name}: container {container['name']} runs {container['image']}, "
                                      f"not {ORIGINAL_IMAGE}")
                container["image"] = image
                container["imagePullPolicy"] = "IfNotPresent"
                # The official image's WORKDIR, where Redis writes dump.rdb when its config names
                # no `dir` (the Gateway's does not); the lab image's is /.
                container.setdefault("workingDir", OFFICIAL_IMAGE_WORKDIR)
            objects.append(item)
    return objects


def _ready(cluster: Cluster, selector: str, count: int) -> bool:
    pods = [pod for pod in cluster.pods(NAMESPACE, selector) if not pod.terminating]
    return len(pods) == count and all(pod.ready for pod in pods)


def apply_legacy(cluster: Cluster, say: Callable[[str], None] = lambda _: None,
                 manifests: Path = MANIFESTS, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    """Apply the legacy deployment in its namespace and wait until its three gateway pods and its
    cache pod are Ready, with pod 0 the master of at least one replica. Not necessarily two: its
    sentinels, which monitor the Service `redis-gateway-ha` (it spans every pod) and announce
    hostnames, point the replicas at that Service, so a replica may replicate from another replica
    or from itself through it; that is the deployment as it ran."""
    objects = legacy_objects(manifests)
    cluster.apply([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}])
    cluster.apply(objects)
    say(f"legacy: applied {len(objects)} objects from {manifests}")
    deadline = time.time() + timeout
    while not (_ready(cluster, GATEWAY_SELECTOR, 3) and _ready(cluster, CACHE_SELECTOR, 1)
               and (_linked_replicas(cluster) or 0) >= 1):
        if time.time() > deadline:
            raise LegacyError(f"the legacy deployment is not Ready after {timeout:.0f} s: "
                              f"{[(p.name, p.phase, p.ready) for p in cluster.pods(NAMESPACE)]}")
        time.sleep(2.0)
    say(f"legacy: 3 gateway pods and the cache Ready, pod 0 the master of {_linked_replicas(cluster)} replica(s)")


def _linked_replicas(cluster: Cluster) -> Optional[int]:
    done = cluster.exec(NAMESPACE, f"{names.GATEWAY}-0", "redis", ["redis-cli", "INFO", "replication"], timeout=10)
    for line in done.stdout.splitlines():
        if line.startswith("connected_slaves:"):
            return int(line.split(":", 1)[1])
    return None
