"""From the deployment this project replaces (Kubernaut's kubectl manifests of deploy/redis-ha and
the Context-API's cache) to this stack, keeping the Gateway's address and data (docs/migration.md).

The two cannot run side by side: the StatefulSet has the same name and a field that cannot be
changed (podManagementPolicy), and so do the Services the clients use. So the data goes over on
the volumes, which keep their names (`data-redis-gateway-<n>`, the claim template `data` of both):

1. find the legacy master (the node that reports role:master; refused when there is not exactly
   one, unless the operator names it);
2. make sure it writes an RDB when it stops (CONFIG SET save, in case its config had none), then
   delete the legacy StatefulSet without its pods, and the pods, replicas and master together:
   Redis stops accepting writes and saves every write it acknowledged (a shutdown save); the
   legacy sentinels get a SHUTDOWN (they would not stop before the grace period's end);
3. delete the legacy objects whose names this stack uses (Services, ConfigMaps, the cache's
   Deployment) and the NodePort Service that exposed every pod;
4. copy the master's RDB to the volume of pod 0, where this stack's redis-start.sh loads it
   (ops/scripts/place-legacy-rdb.sh, in a one-off pod that mounts both volumes).

Then the operator runs `pulumi up`: pod 0 claims the master role with that data and the other pods
sync from it. Every step is printed; nothing of the data is deleted (the legacy RDB files stay on
their volumes). The cache's data is dropped: it is an L1 cache whose clients fall back to L2/L3.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from cluster import Cluster
from stack_config import names

from .gateway import GatewayOps, _info

PLACE_SCRIPT = Path(__file__).resolve().parent / "scripts" / "place-legacy-rdb.sh"
HELPER_POD = f"{names.GATEWAY}-migration"
LEGACY_CONTAINERS = ("redis", "sentinel")
LEGACY_INIT_CONTAINER = "init-redis"
LEGACY_NODEPORT_SERVICE = "redis-gateway-ha-nodeport"
LEGACY_SENTINEL_CONFIG_MAP = "redis-gateway-sentinel-config"
# What the legacy deployment has under a name this stack uses, and what it had besides. Deleted in
# this order: the workloads first (the writes stop), then the objects the clients resolve.
LEGACY_OBJECTS = (
    ("deployment", names.CACHE),
    ("service", names.GATEWAY_HA_SERVICE),
    ("service", names.GATEWAY_HEADLESS_SERVICE),
    ("service", LEGACY_NODEPORT_SERVICE),
    ("service", names.CACHE),
    ("configmap", names.GATEWAY_CONFIG_MAP),
    ("configmap", LEGACY_SENTINEL_CONFIG_MAP),
    ("configmap", names.CACHE_CONFIG_MAP),
)
# A save point that makes the stopping master write its RDB (any point will do: a shutdown saves
# whenever one is configured).
SHUTDOWN_SAVE_POINT = "3600 1"
HELPER_TIMEOUT_SECONDS = 180.0
STOP_TIMEOUT_SECONDS = 120.0


class MigrationError(RuntimeError):
    pass


@dataclass
class LegacyNode:
    pod: str
    role: Optional[str]
    offset: int = 0
    keys: Optional[int] = None


@dataclass
class MigrationReport:
    master: str
    master_keys: Optional[int]
    nodes: list[LegacyNode]
    legacy_delete_at: float = 0.0  # the legacy pods' delete began (the master's pod goes last)
    deleted: list[str] = field(default_factory=list)
    placed: str = ""  # the helper's line
    timings_s: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"master": self.master, "master_keys": self.master_keys,
                "nodes": [vars(n) for n in self.nodes], "legacy_delete_at": self.legacy_delete_at,
                "deleted": self.deleted, "placed": self.placed, "timings_s": self.timings_s}


def _data_claim(ordinal: int) -> str:
    """The PVC of pod <ordinal>: the same name under both StatefulSets (claim template `data`)."""
    return f"{names.DATA_VOLUME_CLAIM}-{names.GATEWAY}-{ordinal}"


class LegacyMigration:
    def __init__(self, cluster: Cluster, namespace: str, say: Callable[[str], None] = lambda _: None) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.say = say

    # ------------------------------------------------------------------ what is there
    def legacy_statefulset(self) -> dict[str, Any]:
        """The legacy StatefulSet, or an error naming why this is not one (none, or ours)."""
        item = self.cluster.object(self.namespace, "statefulset", names.GATEWAY)
        if item is None:
            raise MigrationError(f"no StatefulSet {self.namespace}/{names.GATEWAY}: nothing to migrate")
        pod = item["spec"]["template"]["spec"]
        containers = [c["name"] for c in pod.get("containers", [])]
        inits = [c["name"] for c in pod.get("initContainers", [])]
        if containers[:2] != list(LEGACY_CONTAINERS) or LEGACY_INIT_CONTAINER not in inits:
            raise MigrationError(f"StatefulSet {self.namespace}/{names.GATEWAY} is not the legacy one (containers "
                                 f"{containers}, init containers {inits}; the legacy one runs {LEGACY_CONTAINERS} "
                                 f"after {LEGACY_INIT_CONTAINER}): nothing to migrate")
        return item

    def _cli(self, pod: str, *args: str) -> str:
        done = self.cluster.exec(self.namespace, pod, "redis", ["redis-cli", *args], timeout=15)
        if done.returncode != 0 or done.stdout.startswith(("ERR", "NOAUTH")):
            raise MigrationError(f"{pod}: redis-cli {' '.join(args)}: {(done.stderr or done.stdout).strip()[-300:]}")
        return done.stdout

    def nodes(self) -> list[LegacyNode]:
        found = []
        # The legacy pods carry the label this stack's do (app=redis-gateway) and the same names.
        for pod in GatewayOps(self.cluster, self.namespace).pods():
            info = _info(self._cli(pod, "INFO", "replication"))
            role = info.get("role")
            offset = int(info.get("master_repl_offset", 0) if role == "master" else info.get("slave_repl_offset", 0))
            keys = int(self._cli(pod, "DBSIZE").strip() or 0)
            found.append(LegacyNode(pod, role, offset, keys))
        return found

    def choose_master(self, nodes: list[LegacyNode], master: Optional[str]) -> LegacyNode:
        if master is not None:
            chosen = next((n for n in nodes if n.pod == master), None)
            if chosen is None:
                raise MigrationError(f"--master {master}: no such legacy pod ({[n.pod for n in nodes]})")
            return chosen
        masters = [n for n in nodes if n.role == "master"]
        if len(masters) != 1:
            raise MigrationError(
                f"{len(masters)} legacy pods report role:master ({[(n.pod, n.offset, n.keys) for n in masters]}): "
                "name the one whose data to keep with --master POD (the others' writes since they split are lost)")
        return masters[0]

    # ------------------------------------------------------------------ the steps
    def migrate(self, image: str, master: Optional[str] = None, check_rdb: str = "redis-check-rdb") -> MigrationReport:
        started = time.time()
        self.legacy_statefulset()
        nodes = self.nodes()
        chosen = self.choose_master(nodes, master)
        report = MigrationReport(chosen.pod, chosen.keys, nodes)
        self.say(f"migrate: legacy master {chosen.pod} ({chosen.keys} keys, offset {chosen.offset}); "
                 f"nodes: {', '.join(f'{n.pod} {n.role}' for n in nodes)}")
        self._cli(chosen.pod, "CONFIG", "SET", "save", SHUTDOWN_SAVE_POINT)
        self.cluster.delete_object(self.namespace, "statefulset", names.GATEWAY, orphan=True)
        report.deleted.append(f"statefulset/{names.GATEWAY} (its pods kept)")
        # Replicas and master together: no sentinel is left to fail over while the master stops.
        report.legacy_delete_at = time.time()
        for node in sorted(nodes, key=lambda n: n.pod == chosen.pod):
            self.cluster.delete_pod(self.namespace, node.pod)
        self._stop_sentinels([n.pod for n in nodes])
        self._wait_gone([n.pod for n in nodes])
        report.timings_s["legacy pods stopped"] = round(time.time() - report.legacy_delete_at, 2)
        report.deleted += [f"pod/{n.pod}" for n in nodes]
        for kind, name in LEGACY_OBJECTS:
            if self.cluster.delete_object(self.namespace, kind, name):
                report.deleted.append(f"{kind}/{name}")
        self.say(f"migrate: deleted {', '.join(report.deleted)}")
        report.placed = self._place_rdb(int(chosen.pod.rsplit("-", 1)[1]), image, check_rdb)
        report.timings_s["RDB placed"] = round(time.time() - report.legacy_delete_at, 2)
        report.timings_s["total"] = round(time.time() - started, 2)
        self.say(f"migrate: {report.placed}")
        return report

    def _stop_sentinels(self, pods: list[str]) -> None:
        """SHUTDOWN to each legacy sentinel of the terminating pods. Its container runs it under
        `sh -c`, which does not pass the kubelet's SIGTERM on, so it would hold the pod (and the
        outage) for the whole grace period, 30 s; its state is of no use any more. A sentinel
        that is gone already is fine."""
        for pod in pods:
            self.cluster.exec(self.namespace, pod, LEGACY_CONTAINERS[1],
                              ["redis-cli", "-p", str(names.SENTINEL_PORT), "SHUTDOWN"], timeout=15)

    def _wait_gone(self, pods: list[str]) -> None:
        deadline = time.time() + STOP_TIMEOUT_SECONDS
        while any(self.cluster.pod(self.namespace, pod) is not None for pod in pods):
            if time.time() > deadline:
                raise MigrationError(f"legacy pods {pods} still there after {STOP_TIMEOUT_SECONDS:.0f} s")
            time.sleep(0.5)

    def helper_pod(self, master_ordinal: int, image: str, check_rdb: str) -> dict[str, Any]:
        """The one-off pod that copies the master's RDB to pod 0's volume: root (it reads the
        legacy files, which root owns, and gives the copy to the gateway's uid), no network use, mounts the
        master's volume read-only and pod 0's read-write (one volume when they are the same)."""
        volumes = [{"name": "target", "persistentVolumeClaim": {"claimName": _data_claim(0)}}]
        mounts = [{"name": "target", "mountPath": "/target"}]
        source = "/target/dump.rdb"
        if master_ordinal != 0:
            volumes.append({"name": "source", "persistentVolumeClaim": {"claimName": _data_claim(master_ordinal),
                                                                        "readOnly": True}})
            mounts.append({"name": "source", "mountPath": "/source", "readOnly": True})
            source = "/source/dump.rdb"
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": HELPER_POD, "namespace": self.namespace,
                         "labels": {names.LABEL_APP: HELPER_POD}},
            "spec": {
                "restartPolicy": "Never",
                "automountServiceAccountToken": False,
                "containers": [{
                    "name": "place-rdb", "image": image, "imagePullPolicy": "IfNotPresent",
                    "command": ["sh", "-c", PLACE_SCRIPT.read_text(), "place-legacy-rdb",
                                source, "/target", str(names.REDIS_UID), check_rdb],
                    "volumeMounts": mounts,
                    "securityContext": {"runAsUser": 0, "allowPrivilegeEscalation": False,
                                        "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "FOWNER", "DAC_OVERRIDE"]}},
                    "resources": {"requests": {"cpu": "50m", "memory": "32Mi"},
                                  "limits": {"cpu": "500m", "memory": "128Mi"}},
                }],
                "volumes": volumes,
            },
        }

    def _place_rdb(self, master_ordinal: int, image: str, check_rdb: str) -> str:
        self.cluster.delete_object(self.namespace, "pod", HELPER_POD)
        self.cluster.apply([self.helper_pod(master_ordinal, image, check_rdb)])
        deadline = time.time() + HELPER_TIMEOUT_SECONDS
        while True:
            pod = self.cluster.pod(self.namespace, HELPER_POD)
            if pod is not None and pod.phase in ("Succeeded", "Failed"):
                break
            if time.time() > deadline:
                raise MigrationError(
                    f"pod {HELPER_POD} not done after {HELPER_TIMEOUT_SECONDS:.0f} s (phase "
                    f"{pod.phase if pod else 'none'}): it mounts the volumes of the legacy master and of pod 0, "
                    "which must be reachable from one node")
            time.sleep(1.0)
        output = self.cluster.logs(self.namespace, HELPER_POD, "place-rdb").strip()
        if pod.phase != "Succeeded":
            raise MigrationError(f"pod {HELPER_POD} failed; the legacy RDB stays where it was:\n{output[-2000:]}")
        self.cluster.delete_object(self.namespace, "pod", HELPER_POD)
        return output.splitlines()[-1] if output else ""
