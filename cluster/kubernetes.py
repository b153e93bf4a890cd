"""`Cluster` on a real Kubernetes: the API through kubectl; on the lab's own node also the
container runtime (containerd's `ctr`) and the pods' network namespaces, for faults that the
API cannot make (a SIGKILL, a network cut without resets)."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from labcluster.layout import CLIENT_IMAGE, CONTAINERD_NAMESPACE

from .interface import CLIENT_SCRATCH_DIR, ClientSpec, Event, Fault, JobRun, NodeInfo, Pod, VolumeClaim

REPO = Path(__file__).resolve().parents[1]
CLIENT_SOURCE_DIR = "/opt/kubernaut-redis/src"
CLIENT_CONTAINER = "client"
CUT_TABLE = "kubernaut_cut"
CODE_HASH_ANNOTATION = "kubernaut-redis/code-sha256"


class ClusterAccessError(RuntimeError):
    """The cluster refused or could not do what was asked."""


def _cut_rules(ports: Sequence[int] = (), addresses: Sequence[str] = ()) -> str:
    """Every packet in or out of the pod's interfaces dropped silently (no resets), loopback kept:
    the pod's own processes and probes still talk to each other, nobody else reaches them. With
    `ports`, only TCP to or from those ports of the pod: one service of the pod is partitioned
    while the others (say its redis, while its sentinel is cut) go on. With `addresses`, only
    packets from or to those IPv4 addresses: the pod is cut from some peers and still reached
    by everyone else (an asymmetric partition)."""
    if ports and addresses:
        raise ValueError("a cut is by ports or by addresses, not both")
    if not ports and not addresses:
        return f"""\
table inet {CUT_TABLE} {{
    chain input {{ type filter hook input priority -300; policy drop; iifname "lo" accept; }}
    chain output {{ type filter hook output priority -300; policy drop; oifname "lo" accept; }}
}}
"""
    if ports:
        listed = ", ".join(str(int(port)) for port in ports)
        drop_in = drop_out = f"tcp dport {{ {listed} }} drop; tcp sport {{ {listed} }} drop;"
    else:
        listed = ", ".join(str(ipaddress.IPv4Address(address)) for address in addresses)
        drop_in, drop_out = f"ip saddr {{ {listed} }} drop;", f"ip daddr {{ {listed} }} drop;"
    return f"""\
table inet {CUT_TABLE} {{
    chain input {{ type filter hook input priority -300; iifname "lo" accept; {drop_in} }}
    chain output {{ type filter hook output priority -300; oifname "lo" accept; {drop_out} }}
}}
"""


class KubernetesCluster:
    def __init__(self, kubectl: Path, kubeconfig: Path, containerd_socket: Optional[Path] = None,
                 client_image: str = CLIENT_IMAGE) -> None:
        self.kubectl_path = kubectl
        self.kubeconfig = kubeconfig
        self.containerd_socket = containerd_socket
        self.client_image = client_image

    @classmethod
    def lab(cls) -> "KubernetesCluster":
        """The lab's cluster (python -m labcluster up), with its runtime for faults."""
        from labcluster.cluster import LabCluster

        lab = LabCluster.default()
        return cls(lab.bin / "kubectl", lab.kubeconfig, lab.layout.containerd_socket)

    @classmethod
    def from_environment(cls, kubeconfig: Optional[str] = None) -> "KubernetesCluster":
        """Any cluster, as an operator's shell reaches it: kubectl from $KUBERNAUT_LAB_BIN (the
        lab's) or PATH; the kubeconfig given, else $KUBECONFIG, else ~/.kube/config. No runtime
        access: the faults that need containerd are the lab's only."""
        lab_bin = os.environ.get("KUBERNAUT_LAB_BIN")
        kubectl = Path(lab_bin) / "kubectl" if lab_bin else shutil.which("kubectl")
        if kubectl is None:
            raise ClusterAccessError("kubectl is not on PATH (or set KUBERNAUT_LAB_BIN)")
        config = kubeconfig or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube" / "config")
        return cls(Path(kubectl), Path(config))

    # ------------------------------------------------------------------ kubectl

    def kubectl(self, *args: str, input: Optional[str] = None, timeout: float = 60,
                check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), *args],
                              input=input, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise ClusterAccessError(f"kubectl {' '.join(args[:4])}: {done.stderr.strip()[-800:]}")
        return done

    def _json(self, *args: str) -> Any:
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    # ------------------------------------------------------------------ reading

    def pods(self, namespace: str, selector: str = "") -> list[Pod]:
        args = ["-n", namespace, "get", "pods"] + (["-l", selector] if selector else [])
        return [_pod(item) for item in self._json(*args)["items"]]

    def _object_or_none(self, namespace: str, kind: str, name: str) -> Optional[dict[str, Any]]:
        """One object, None if it does not exist; any other failure raises."""
        done = self.kubectl("-n", namespace, "get", kind, name, "-o", "json", check=False)
        if done.returncode != 0:
            if "NotFound" in done.stderr:
                return None
            raise ClusterAccessError(f"get {kind} {namespace}/{name}: {done.stderr.strip()}")
        return json.loads(done.stdout)

    def object(self, namespace: str, kind: str, name: str) -> Optional[dict[str, Any]]:
        """One object as the API returns it, None if it does not exist."""
        return self._object_or_none(namespace, kind, name)

    def pod(self, namespace: str, name: str) -> Optional[Pod]:
        item = self._object_or_none(namespace, "pod", name)
        return _pod(item) if item is not None else None

    def _raw_pod(self, namespace: str, name: str) -> dict[str, Any]:
        return self._json("-n", namespace, "get", "pod", name)

    def secret_value(self, namespace: str, name: str, key: str) -> Optional[str]:
        import base64

        done = self.kubectl("-n", namespace, "get", "secret", name, "-o", "json", check=False)
        if done.returncode != 0:
            return None
        value = (json.loads(done.stdout).get("data") or {}).get(key)
        return base64.b64decode(value).decode() if value is not None else None

    def config_map_value(self, namespace: str, name: str, key: str) -> Optional[str]:
        done = self.kubectl("-n", namespace, "get", "configmap", name, "-o", "json", check=False)
        if done.returncode != 0:
            return None
        return (json.loads(done.stdout).get("data") or {}).get(key)

    def field_managers(self, namespace: str, kind: str, name: str, field: str) -> list[str]:
        """The server-side apply managers that own one field of an object ("spec.replicas"):
        "kubectl" after a `kubectl scale`, the provider's own manager after a `pulumi up`."""
        item = self._json("-n", namespace, "get", f"{kind.lower()}/{name}", "--show-managed-fields")
        owners = []
        for entry in item["metadata"].get("managedFields") or []:
            fields = entry.get("fieldsV1") or {}
            for part in field.split("."):
                fields = fields.get(f"f:{part}") if isinstance(fields, dict) else None
            if fields is not None:
                owners.append(entry["manager"])
        return owners

    def volume_claim(self, namespace: str, name: str) -> Optional[VolumeClaim]:
        item = self._object_or_none(namespace, "pvc", name)
        if item is None:
            return None
        return VolumeClaim(name=name, uid=item["metadata"]["uid"], volume=item["spec"].get("volumeName"),
                           phase=(item.get("status") or {}).get("phase", "Pending"),
                           terminating=item["metadata"].get("deletionTimestamp") is not None)

    def logs(self, namespace: str, pod: str, container: str, since: Optional[float] = None,
             previous: bool = False) -> str:
        args = ["-n", namespace, "logs", pod, "-c", container]
        if since is not None:
            stamp = datetime.datetime.fromtimestamp(since, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            args.append(f"--since-time={stamp}")
        if previous:
            args.append("--previous")
        done = self.kubectl(*args, check=False, timeout=30)
        return done.stdout if done.returncode == 0 else ""

    def events(self, namespace: str, since: Optional[float] = None, name: Optional[str] = None) -> list[Event]:
        """Events of the namespace (of the object `name` only, if given), oldest first. Event times
        have a resolution of one second, so `since` keeps the whole second it falls in."""
        args = ["-n", namespace, "get", "events"] + ([f"--field-selector=involvedObject.name={name}"] if name else [])
        events = [_event(item) for item in self._json(*args)["items"]]
        if since is not None:
            events = [e for e in events if e.at >= int(since)]
        return sorted(events, key=lambda e: e.at)

    def nodes(self) -> list[NodeInfo]:
        infos = []
        for item in self._json("get", "nodes")["items"]:
            info = item["status"]["nodeInfo"]
            infos.append(NodeInfo(item["metadata"]["name"], info.get("kubeletVersion", ""),
                                  info.get("containerRuntimeVersion", ""), info.get("kernelVersion", ""),
                                  info.get("osImage", "")))
        return infos

    # ------------------------------------------------------------------ clients

    def _client_objects(self, spec: ClientSpec) -> tuple[list[dict[str, Any]], str]:
        config_maps, digest = [], hashlib.sha256()
        for package in spec.packages:
            files = {p.name: p.read_text() for p in sorted((REPO / package).glob("*.py"))}
            for name, text in files.items():
                digest.update(f"{package}/{name}\0{text}\0".encode())
            config_maps.append({"apiVersion": "v1", "kind": "ConfigMap",
                                "metadata": {"name": f"{spec.name}-{package}", "namespace": spec.namespace},
                                "data": files})
        if spec.scratch:  # another pod spec: a pod without the directory is replaced
            digest.update(b"scratch")
        env = [{"name": "PYTHONPATH", "value": CLIENT_SOURCE_DIR}, {"name": "PYTHONDONTWRITEBYTECODE", "value": "1"}]
        env += [{"name": e.variable, "valueFrom": {"secretKeyRef": {"name": e.secret, "key": e.key}}}
                for e in spec.secret_env]
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": spec.name, "namespace": spec.namespace,
                         "labels": {"app.kubernetes.io/name": "kubernaut-client", **dict(spec.labels)},
                         "annotations": {CODE_HASH_ANNOTATION: digest.hexdigest()}},
            "spec": {
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": 1,
                # As the gateway pods: a lost DNS answer costs 1 s, not 5.
                "dnsConfig": {"options": [{"name": "timeout", "value": "1"}, {"name": "attempts", "value": "5"}]},
                "securityContext": {"runAsNonRoot": True, "runAsUser": 999, "runAsGroup": 999,
                                    "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": CLIENT_CONTAINER, "image": self.client_image, "imagePullPolicy": "IfNotPresent",
                    "command": ["sleep", "infinity"], "workingDir": CLIENT_SOURCE_DIR, "env": env,
                    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "256Mi"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": [{"name": package, "mountPath": f"{CLIENT_SOURCE_DIR}/{package}", "readOnly": True}
                                     for package in spec.packages]
                    + ([{"name": "scratch", "mountPath": CLIENT_SCRATCH_DIR}] if spec.scratch else []),
                }],
                "volumes": [{"name": package, "configMap": {"name": f"{spec.name}-{package}"}}
                            for package in spec.packages]
                + ([{"name": "scratch", "emptyDir": {"sizeLimit": "64Mi"}}] if spec.scratch else []),
            },
        }
        return [*config_maps, pod], digest.hexdigest()

    def start_client(self, spec: ClientSpec, timeout: float = 120.0) -> None:
        objects, digest = self._client_objects(spec)
        current = self.kubectl("-n", spec.namespace, "get", "pod", spec.name, "-o", "json", check=False)
        if current.returncode == 0:
            body = json.loads(current.stdout)
            same = (body["metadata"].get("annotations") or {}).get(CODE_HASH_ANNOTATION) == digest
            if same and _pod(body).ready and not _pod(body).terminating:
                return
            self.kubectl("-n", spec.namespace, "delete", "pod", spec.name, "--grace-period=1", "--wait=true",
                         timeout=timeout)
        self.apply(objects)
        self.kubectl("-n", spec.namespace, "wait", "--for=condition=Ready", f"pod/{spec.name}",
                     f"--timeout={int(timeout)}s", timeout=timeout + 10)

    def client_exec(self, spec: ClientSpec, command: Sequence[str], timeout: float = 300.0,
                    input: Optional[str] = None) -> subprocess.CompletedProcess:
        return self.kubectl("-n", spec.namespace, "exec", "-i", spec.name, "-c", CLIENT_CONTAINER, "--", *command,
                            input=input if input is not None else "", timeout=timeout, check=False)

    def client_popen(self, spec: ClientSpec, command: Sequence[str], **popen: Any) -> subprocess.Popen:
        argv = [str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), "-n", spec.namespace, "exec", "-i",
                spec.name, "-c", CLIENT_CONTAINER, "--", *command]
        return subprocess.Popen(argv, **popen)

    def client_put(self, spec: ClientSpec, source: str, name: str) -> str:
        if not spec.scratch:
            raise ValueError(f"client {spec.name} has no scratch directory to copy {name} into")
        if "/" in name or name.startswith("."):
            raise ValueError(f"{name!r} is not a plain file name")
        path = f"{CLIENT_SCRATCH_DIR}/{name}"
        # Through a temporary name: a program being written is never run half-copied.
        script = f'cat > "{path}.partial" && chmod 0755 "{path}.partial" && mv "{path}.partial" "{path}"'
        with open(source, "rb") as data:
            result = subprocess.run([str(self.kubectl_path), "--kubeconfig", str(self.kubeconfig), "-n",
                                     spec.namespace, "exec", "-i", spec.name, "-c", CLIENT_CONTAINER, "--",
                                     "sh", "-c", script], stdin=data, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise ClusterAccessError(f"copying {source} into {spec.namespace}/{spec.name}: {result.stderr.strip()}")
        return path

    def stop_client(self, spec: ClientSpec) -> None:
        self.kubectl("-n", spec.namespace, "delete", "pod", spec.name, "--grace-period=1", "--ignore-not-found",
                     "--wait=false", check=False)
        for package in spec.packages:
            self.kubectl("-n", spec.namespace, "delete", "configmap", f"{spec.name}-{package}", "--ignore-not-found",
                         check=False)

    # ------------------------------------------------------------------ faults

    def delete_pod(self, namespace: str, name: str) -> Fault:
        """A graceful delete through the API: the kubelet runs the preStop hook, then SIGTERM."""
        before = self._raw_pod(namespace, name)
        at = time.time()
        self.kubectl("-n", namespace, "delete", "pod", name, "--wait=false")
        return Fault("delete", name, at, {"uid": before["metadata"]["uid"], "ip": before["status"].get("podIP")})

    def kill_container(self, namespace: str, name: str, container: str) -> Fault:
        """SIGKILL one container through the runtime; the kubelet restarts it in the same pod."""
        body = self._raw_pod(namespace, name)
        container_id = _running_container_id(body, container)
        at = time.time()
        self._ctr("tasks", "kill", "-s", "SIGKILL", container_id)
        return Fault("kill-container", name, at, {"container": container, "ip": body["status"].get("podIP"),
                                                  "returned_at": time.time()})

    def kill_pod(self, namespace: str, name: str) -> Fault:
        """SIGKILL every process of the pod, its sandbox included: the kubelet makes the pod a new
        sandbox (a new network namespace, a new IP) and starts its containers again, as after a
        crash of the pod on a live node. No hook runs. The kills go out together, so that no
        container sees another one die first."""
        body = self._raw_pod(namespace, name)
        tasks = list(_container_ids(body).values()) + self._sandboxes(body["metadata"]["uid"])
        if not tasks:
            raise ClusterAccessError(f"pod {namespace}/{name} has nothing running to kill")
        # The processes die while the kills are on their way (ctr takes tens of milliseconds):
        # the fault counts from when they were sent, not from when ctr returned.
        at = time.time()
        kills = [self._ctr_popen("tasks", "kill", "-s", "SIGKILL", task) for task in tasks]
        failed = [task[:12] for task, kill in zip(tasks, kills) if kill.wait(timeout=30) != 0]
        if len(failed) == len(tasks):
            raise ClusterAccessError(f"pod {namespace}/{name}: no task could be killed ({', '.join(failed)})")
        return Fault("kill", name, at, {"ip": body["status"].get("podIP"), "uid": body["metadata"]["uid"],
                                        "tasks": len(tasks), "returned_at": time.time()})

    def cut_pod(self, namespace: str, name: str, ports: Sequence[int] = (), addresses: Sequence[str] = ()) -> Fault:
        """Drop every packet of the pod silently (nft in its network namespace; no resets), or
        only the TCP traffic of `ports`, or only the packets from and to `addresses`."""
        pid, ip = self._sandbox_pid(namespace, name)
        done = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "nft", "-f", "-"],
                              input=_cut_rules(ports, addresses),
                              capture_output=True, text=True, timeout=30)
        if done.returncode != 0:
            raise ClusterAccessError(f"cutting {namespace}/{name} off failed: {done.stderr.strip()}")
        return Fault("cut", name, time.time(), {"ip": ip, "ports": list(ports), "addresses": list(addresses)})

    def heal_pod(self, namespace: str, name: str) -> Fault:
        pid, ip = self._sandbox_pid(namespace, name)
        subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "nft", "delete", "table", "inet", CUT_TABLE],
                       capture_output=True, text=True, timeout=30)
        return Fault("heal", name, time.time(), {"ip": ip})

    def restart_workload(self, namespace: str, kind: str, name: str) -> Fault:
        """`kubectl rollout restart`: a new template annotation, so the controller replaces every
        pod by its update strategy (a StatefulSet: highest ordinal first, each graceful)."""
        at = time.time()
        self.kubectl("-n", namespace, "rollout", "restart", f"{kind.lower()}/{name}")
        return Fault("rollout-restart", name, at, {"kind": kind})

    def suspend_container(self, namespace: str, name: str, container: str) -> Fault:
        """SIGSTOP every process of one container: its sockets stay open and nothing answers, as a
        process starved of CPU; resume_container sends SIGCONT. (Not the cgroup freezer: an exec
        probe into a frozen container blocks the pod's runtime shim, and every other exec with it.)"""
        container_id = self._container_id(namespace, name, container)
        at = time.time()
        self._ctr("tasks", "kill", "--all", "-s", "SIGSTOP", container_id)
        return Fault("suspend", name, at, {"container": container})

    def resume_container(self, namespace: str, name: str, container: str) -> Fault:
        container_id = self._container_id(namespace, name, container)
        self._ctr("tasks", "kill", "--all", "-s", "SIGCONT", container_id)
        return Fault("resume", name, time.time(), {"container": container})

    def scale(self, namespace: str, kind: str, name: str, replicas: int) -> Fault:
        """`kubectl scale`: the controller removes (highest ordinal first) or adds pods."""
        at = time.time()
        self.kubectl("-n", namespace, "scale", f"{kind.lower()}/{name}", f"--replicas={int(replicas)}")
        return Fault("scale", name, at, {"kind": kind, "replicas": int(replicas)})

    def exec(self, namespace: str, name: str, container: str, command: Sequence[str],
             timeout: float = 60.0) -> subprocess.CompletedProcess:
        """A command in a running container, as its own user; the result, whatever its status."""
        return self.kubectl("-n", namespace, "exec", name, "-c", container, "--", *command,
                            timeout=timeout, check=False)

    def _container_id(self, namespace: str, name: str, container: str) -> str:
        return _running_container_id(self._raw_pod(namespace, name), container)

    def _ctr_argv(self, *args: str) -> list[str]:
        if self.containerd_socket is None:
            raise ClusterAccessError("this fault needs the node's container runtime: only the lab cluster has it")
        return ["ctr", "-a", str(self.containerd_socket), "-n", CONTAINERD_NAMESPACE, *args]

    def _ctr_popen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self._ctr_argv(*args), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def _ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(self._ctr_argv(*args), capture_output=True, text=True, timeout=30)
        if check and done.returncode != 0:
            raise ClusterAccessError(f"ctr {' '.join(args[:2])}: {done.stderr.strip()}")
        return done

    def _sandboxes(self, pod_uid: str) -> list[str]:
        done = self._ctr("containers", "ls", "-q", f'labels."io.kubernetes.pod.uid"=={pod_uid},'
                         f'labels."io.cri-containerd.kind"==sandbox')
        return done.stdout.split()

    def _sandbox_pid(self, namespace: str, name: str) -> tuple[int, Optional[str]]:
        body = self._raw_pod(namespace, name)
        for sandbox in self._sandboxes(body["metadata"]["uid"]):
            for line in self._ctr("tasks", "ls").stdout.splitlines()[1:]:
                parts = line.split()
                if parts and parts[0] == sandbox and parts[-1] == "RUNNING":
                    return int(parts[1]), body["status"].get("podIP")
        raise ClusterAccessError(f"pod {namespace}/{name} has no running sandbox")

    # ------------------------------------------------------------------ objects

    def apply(self, objects: Sequence[Mapping[str, Any]]) -> None:
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)})
        self.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=kubernaut-tools", "-f", "-",
                     input=document, timeout=120)

    def delete_volume_claim(self, namespace: str, name: str) -> Fault:
        """Delete a PVC without waiting: while a pod uses it, it stays (Terminating) and goes
        with that pod (the pvc-protection finalizer); its volume goes by its reclaim policy."""
        before = self.volume_claim(namespace, name)
        if before is None:
            raise ClusterAccessError(f"pvc {namespace}/{name} does not exist")
        at = time.time()
        self.kubectl("-n", namespace, "delete", "pvc", name, "--wait=false")
        return Fault("delete-volume-claim", name, at, {"uid": before.uid, "volume": before.volume})

    def delete_object(self, namespace: str, kind: str, name: str, orphan: bool = False,
                      timeout: float = 120.0) -> bool:
        """Delete one object and wait until it is gone; False when there was none. `orphan`
        leaves what it owns (a StatefulSet's pods) in place."""
        done = self.kubectl("-n", namespace, "delete", kind, name, "--wait=true", f"--timeout={int(timeout)}s",
                            f"--cascade={'orphan' if orphan else 'background'}", check=False, timeout=timeout + 10)
        if done.returncode != 0:
            if "NotFound" in done.stderr:
                return False
            raise ClusterAccessError(f"delete {kind} {namespace}/{name}: {done.stderr.strip()}")
        return True

    def delete_namespace(self, namespace: str, timeout: float = 180.0) -> None:
        self.kubectl("delete", "namespace", namespace, "--ignore-not-found", "--wait=true",
                     f"--timeout={int(timeout)}s", timeout=timeout + 10)

    def run_job_from_cron_job(self, namespace: str, cron_job: str, job_name: str,
                              timeout: float = 600.0) -> JobRun:
        """A Job made now from the CronJob's template (`kubectl create job --from`), waited for
        until it completes or fails (or `timeout`), with its pods' log."""
        self.kubectl("-n", namespace, "delete", "job", job_name, "--ignore-not-found", "--wait=true", timeout=120)
        created = time.time()
        self.kubectl("-n", namespace, "create", "job", job_name, f"--from=cronjob/{cron_job}")
        succeeded: Optional[bool] = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self._json("-n", namespace, "get", "job", job_name).get("status") or {}
            conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
            if conditions.get("Complete") == "True" or conditions.get("Failed") == "True":
                succeeded = conditions.get("Complete") == "True"
                break
            time.sleep(0.5)
        finished = time.time()
        log = self.kubectl("-n", namespace, "logs", f"job/{job_name}", "--all-containers", check=False, timeout=60)
        return JobRun(job_name, succeeded, created, finished, log.stdout + log.stderr)


def _pod(item: Mapping[str, Any]) -> Pod:
    status = item.get("status") or {}
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    return Pod(
        name=item["metadata"]["name"], namespace=item["metadata"].get("namespace", ""), uid=item["metadata"]["uid"],
        ip=status.get("podIP"), phase=status.get("phase", "Unknown"), ready=conditions.get("Ready") == "True",
        terminating=item["metadata"].get("deletionTimestamp") is not None,
        restarts={c["name"]: int(c.get("restartCount", 0)) for c in status.get("containerStatuses") or []},
        labels=dict(item["metadata"].get("labels") or {}),
    )


def _timestamp(text: Optional[str]) -> Optional[float]:
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _event(item: Mapping[str, Any]) -> Event:
    involved = item.get("involvedObject") or {}
    at = (_timestamp(item.get("lastTimestamp")) or _timestamp(item.get("eventTime"))
          or _timestamp(item.get("firstTimestamp")) or _timestamp(item["metadata"].get("creationTimestamp")) or 0.0)
    return Event(at=at, type=item.get("type", ""), reason=item.get("reason", ""), kind=involved.get("kind", ""),
                 name=involved.get("name", ""), message=item.get("message", ""))


def _running_container_id(item: Mapping[str, Any], container: str) -> str:
    ids = _container_ids(item)
    if container not in ids:
        meta = item["metadata"]
        raise ClusterAccessError(f"pod {meta.get('namespace')}/{meta['name']} has no running container {container!r}")
    return ids[container]


def _container_ids(item: Mapping[str, Any]) -> dict[str, str]:
    """Running containers of a pod: name -> runtime id."""
    ids = {}
    for status in (item.get("status") or {}).get("containerStatuses") or []:
        cid = status.get("containerID") or ""
        if cid.startswith("containerd://") and "running" in (status.get("state") or {}):
            ids[status["name"]] = cid.split("://", 1)[1]
    return ids


