"""The lab's controllers: StatefulSet and Deployment pods, Service endpoints, and the operations
that drills use (graceful delete, hard kill, recreate, network cut and heal, restarts).

One loop thread reconciles every LOOP_SECONDS: it reads container states from podman, lets the
kubelet probe and restart, creates missing pods, and updates Service endpoints. Operations run in
the caller's thread and return wall-clock timestamps (time.time()) of each step.
"""

from __future__ import annotations

import hashlib
import json
import math
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from . import network
from .dns import ClusterDns
from .errors import DisruptionRefused, LabError, LabTimeout
from .events import EventLog
from .manifests import Manifests, Obj, selects
from .podman import Podman
from .podspec import LabNet, plan_pod
from .runtime import Kubelet, PodRuntime
from .services import ServiceProxy, endpoints_for

LOOP_SECONDS = 0.5
STATES_SECONDS = 1.0
POLL_SECONDS = 0.2
CREATE_RETRY_SECONDS = 10.0
DEFAULT_READY_TIMEOUT_SECONDS = 300.0


@dataclass
class Workload:
    obj: Obj
    revision: int = 0
    paused: bool = False  # a rollout of this workload creates and deletes pods itself
    held: set[str] = field(default_factory=set)  # StatefulSet pods not to recreate until released

    @property
    def key(self) -> str:
        return f"{self.obj.kind}/{self.obj.name}"

    @property
    def replicas(self) -> int:
        value = self.obj.spec.get("replicas")
        return 1 if value is None else int(value)

    @property
    def is_statefulset(self) -> bool:
        return self.obj.kind == "StatefulSet"

    @property
    def template_labels(self) -> dict[str, str]:
        return (self.obj.spec["template"].get("metadata") or {}).get("labels") or {}

    def pod_names(self) -> list[str]:
        return [f"{self.obj.name}-{i}" for i in range(self.replicas)]

    def template_hash(self) -> str:
        text = json.dumps(self.obj.spec["template"], sort_keys=True) + str(self.revision)
        return hashlib.sha1(text.encode()).hexdigest()[:10]


class Controller:
    def __init__(self, net: LabNet, manifests: Manifests, podman: Podman, lab_dir: Path,
                 events: EventLog, proxies: dict[str, ServiceProxy], dns: ClusterDns) -> None:
        self.net = net
        self.manifests = manifests
        self.podman = podman
        self.lab_dir = lab_dir
        self.events = events
        self.proxies = proxies
        self.lock = threading.RLock()
        self.kubelet = Kubelet(podman, net.network, dns, events, self.lock, lab_dir / "logs")
        self.workloads = [Workload(o) for o in manifests.workloads]
        self.pods: dict[str, PodRuntime] = {}
        self._create_after: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.loop_error: Optional[str] = None
        self.create_failures: list[dict[str, Any]] = []  # pods podman refused to create (retried)
        self._states_mono = 0.0
        self._states: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ the loop

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="lab-controller", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=30)
        self.kubelet.shutdown()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception as err:  # keep running: a drill must see the lab, and the error is logged
                self.loop_error = f"{type(err).__name__}: {err}"
                self.events.add("controller-error", error=self.loop_error)
            self._stop.wait(LOOP_SECONDS)

    def tick(self) -> None:
        snapshot_mono, states = self._container_states()
        with self.lock:
            for pod in list(self.pods.values()):
                if pod.phase == "Running":
                    fresh = snapshot_mono > pod.running_mono  # states read before the pod ran say nothing
                    if fresh and states.get(pod.plan.infra_name, {}).get("State") != "running":
                        self._pod_lost(pod)
                        continue
                    self.kubelet.tick(pod, states, snapshot_mono)
                elif pod.phase in ("Terminated", "Failed"):
                    self._forget(pod)
            for workload in self.workloads:
                if not workload.paused:
                    self._reconcile(workload)
            pods = list(self.pods.values())
        for proxy in self.proxies.values():
            proxy.update(endpoints_for(proxy.service, pods))
        self._write_state()

    def _container_states(self) -> tuple[float, dict[str, dict[str, Any]]]:
        """`podman ps` costs about 30 ms of CPU: read it once per STATES_SECONDS, not every loop."""
        if time.monotonic() - self._states_mono >= STATES_SECONDS:
            self._states_mono = time.monotonic()
            self._states = {c["Names"][0]: c for c in self.podman.containers(self.net.lab)}
        return self._states_mono, self._states

    def _pod_lost(self, pod: PodRuntime) -> None:
        self.events.add("pod-lost", pod.name, detail="its infra container is not running")
        pod.phase = "Terminating"
        self.kubelet.job_pool.submit(self.kubelet.kill, pod)

    def _forget(self, pod: PodRuntime) -> None:
        del self.pods[pod.name]
        if pod.phase == "Failed":
            self.create_failures.append({"t": time.time(), "pod": pod.name, "error": pod.error})
            # A Deployment replaces the pod under a new name: the delay belongs to the workload.
            self._create_after[pod.name] = self._create_after[pod.owner] = time.monotonic() + CREATE_RETRY_SECONDS

    # ------------------------------------------------------------------ workloads

    def _reconcile(self, workload: Workload) -> None:
        if workload.is_statefulset:
            self._reconcile_statefulset(workload)
        else:
            self._reconcile_deployment(workload)

    def _reconcile_statefulset(self, workload: Workload) -> None:
        ordered = workload.obj.spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        for ordinal, name in enumerate(workload.pod_names()):
            pod = self.pods.get(name)
            if pod is None and name not in workload.held and self._may_create(name):
                self._create_pod(workload, name, ordinal)
                pod = self.pods[name]
            if ordered and (pod is None or not pod.ready):
                return  # OrderedReady: ordinal i+1 waits until i is Running and Ready

    def _reconcile_deployment(self, workload: Workload) -> None:
        mine = [p for p in self.pods.values() if p.owner == workload.key and not p.terminating]
        if not self._may_create(workload.key):
            return
        for _ in range(workload.replicas - len(mine)):
            self._create_pod(workload, self._deployment_pod_name(workload), None)

    def _deployment_pod_name(self, workload: Workload) -> str:
        alphabet = "bcdfghjklmnpqrstvwxz2456789"  # the ReplicaSet controller's alphabet
        suffix = "".join(secrets.choice(alphabet) for _ in range(5))
        return f"{workload.obj.name}-{workload.template_hash()}-{suffix}"

    def _may_create(self, name: str) -> bool:
        return time.monotonic() >= self._create_after.get(name, 0.0)

    def _create_pod(self, workload: Workload, name: str, ordinal: Optional[int]) -> PodRuntime:
        pod_dir = self.lab_dir / "pods" / name
        claims = {}
        if workload.is_statefulset:
            for template in workload.obj.spec.get("volumeClaimTemplates") or []:
                claim = template["metadata"]["name"]
                claims[claim] = self.lab_dir / "claims" / f"{claim}-{workload.obj.name}-{ordinal}"
        plan = plan_pod(self.net, self.manifests, workload.obj, name, pod_dir, claims)
        pod = PodRuntime(plan, workload.key, ordinal, pod_dir)
        self.pods[name] = pod
        self.kubelet.job_pool.submit(self.kubelet.create, pod)
        return pod

    def workload(self, name: str) -> Workload:
        for workload in self.workloads:
            if workload.obj.name == name or workload.key == name:
                return workload
        raise LabError(f"no StatefulSet or Deployment named {name!r} in this lab")

    def pod(self, name: str) -> PodRuntime:
        with self.lock:
            pod = self.pods.get(name)
        if pod is None:
            raise LabError(f"no pod {name!r} in this lab (pods: {', '.join(sorted(self.pods)) or 'none'})")
        return pod

    def _owner(self, pod: PodRuntime) -> Workload:
        return self.workload(pod.owner)

    # ------------------------------------------------------------------ waiting

    def wait_until(self, condition: Callable[[], bool], timeout: float, what: Callable[[], str]) -> float:
        deadline, since = time.monotonic() + timeout, time.time()
        while time.monotonic() < deadline:
            with self.lock:
                if condition():
                    return time.time()
                failed = [{"pod": p.name, "error": p.error} for p in self.pods.values() if p.phase == "Failed"]
                failed += [f for f in self.create_failures if f["t"] >= since]
            if failed:
                raise LabError(f"pod {failed[0]['pod']} could not be created: {failed[0]['error']}")
            time.sleep(POLL_SECONDS)
        raise LabTimeout(f"not within {timeout:.0f} s: {what()}")

    def all_ready(self) -> bool:
        with self.lock:
            for workload in self.workloads:
                pods = [p for p in self.pods.values() if p.owner == workload.key and not p.terminating]
                if len(pods) != workload.replicas or not all(p.ready for p in pods):
                    return False
            return all(self._endpoints_current(proxy) for proxy in self.proxies.values())

    def _endpoints_current(self, proxy: ServiceProxy) -> bool:
        return set(proxy.endpoints) == set(endpoints_for(proxy.service, self.pods.values()))

    def not_ready_summary(self) -> str:
        with self.lock:
            missing = []
            for workload in self.workloads:
                for pod in [p for p in self.pods.values() if p.owner == workload.key]:
                    if not pod.ready:
                        unready = [c.name for c in pod.containers.values() if not c.ready]
                        missing.append(f"{pod.name} ({pod.phase}; not ready: {', '.join(unready)})")
                count = len([p for p in self.pods.values() if p.owner == workload.key and not p.terminating])
                if count < workload.replicas:
                    missing.append(f"{workload.key} has {count}/{workload.replicas} pods")
            return "; ".join(missing) or "endpoints not yet updated"

    def wait_ready(self, timeout: float = DEFAULT_READY_TIMEOUT_SECONDS) -> float:
        """Every workload has all its pods Ready and every Service its endpoints; returns when."""
        return self.wait_until(self.all_ready, timeout, self.not_ready_summary)

    def _wait_pod_ready(self, name: str, timeout: float) -> tuple[float, str]:
        def ready() -> bool:
            pod = self.pods.get(name)
            return pod is not None and pod.ready
        at = self.wait_until(ready, timeout, lambda: f"pod {name} is not Ready ({self.not_ready_summary()})")
        return at, self.pods[name].ip

    def _wait_gone(self, pod: PodRuntime, timeout: float) -> None:
        self.wait_until(lambda: self.pods.get(pod.name) is not pod, timeout, lambda: f"pod {pod.name} still exists")

    # ------------------------------------------------------------------ disruption budgets

    def check_disruption(self, pod: PodRuntime) -> None:
        """Refuse a voluntary disruption that leaves fewer pods than a PodDisruptionBudget allows."""
        for pdb in self.manifests.of_kind("PodDisruptionBudget"):
            selector = (pdb.spec.get("selector") or {}).get("matchLabels")
            if pdb.namespace != pod.plan.namespace or not selects(selector, pod.plan.labels):
                continue
            with self.lock:
                selected = [p for p in self.pods.values() if selects(selector, p.plan.labels)]
                healthy = len([p for p in selected if p.ready and not p.terminating])
            expected = sum(w.replicas for w in self.workloads if selects(selector, w.template_labels))
            desired = _min_available(pdb.spec, expected)
            # An unready pod may go whenever the budget holds without it (IfHealthyBudget).
            allowed = healthy - desired if pod.ready else healthy - desired + 1
            if allowed < 1:
                raise DisruptionRefused(
                    f"deleting {pod.name} would violate PodDisruptionBudget {pdb.name}: "
                    f"{healthy} of {expected} pods healthy, at least {desired} must stay")

    # ------------------------------------------------------------------ operations

    def delete_pod(self, name: str, grace: Optional[float] = None, check_pdb: bool = True,
                   recreate: bool = True, wait: str = "ready",
                   timeout: float = DEFAULT_READY_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Graceful delete (as `kubectl delete pod`): preStop, SIGTERM, SIGKILL at the end of the grace
        period; the owner recreates the pod (new IP; a StatefulSet pod keeps its claims).

        wait: "ready" (until the new pod is Ready), "created" (until it has an IP) or "removed".
        """
        pod = self.pod(name)
        if pod.terminating:
            raise LabError(f"pod {name} is already terminating")
        if check_pdb:
            self.check_disruption(pod)
        workload = self._owner(pod)
        result: dict[str, Any] = {"pod": name, "operation": "delete", "requested_at": time.time(), "old_ip": pod.ip}
        if not recreate:
            self._hold(workload, name)
        result.update(self.kubelet.terminate(pod, grace))
        return self._after_removal(workload, pod, result, recreate, wait, timeout)

    def kill_pod(self, name: str, recreate: bool = True, wait: str = "ready",
                 timeout: float = DEFAULT_READY_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Hard kill: SIGKILL to all containers of the pod at once, no preStop; then recreate."""
        pod = self.pod(name)
        workload = self._owner(pod)
        result: dict[str, Any] = {"pod": name, "operation": "kill", "requested_at": time.time(), "old_ip": pod.ip}
        if not recreate:
            self._hold(workload, name)
        result.update(self.kubelet.kill(pod))
        return self._after_removal(workload, pod, result, recreate, wait, timeout)

    def _hold(self, workload: Workload, name: str) -> None:
        if not workload.is_statefulset:
            raise LabError(f"{name}: only StatefulSet pods can be held down (a Deployment replaces them by a new name)")
        with self.lock:
            workload.held.add(name)

    def _after_removal(self, workload: Workload, pod: PodRuntime, result: dict[str, Any], recreate: bool,
                       wait: str, timeout: float) -> dict[str, Any]:
        if not recreate or wait == "removed":
            return result
        replacement = self._wait_replacement(workload, pod, timeout)
        result["new_pod"] = replacement.name
        result["recreated_at"] = replacement.created_at
        self.wait_until(lambda: replacement.phase in ("Running", "Failed"), timeout,
                        lambda: f"pod {replacement.name} did not start")
        result["new_ip"] = replacement.ip
        if wait == "ready":
            result["ready_at"], _ = self._wait_pod_ready(replacement.name, timeout)
        return result

    def _wait_replacement(self, workload: Workload, old: PodRuntime, timeout: float) -> PodRuntime:
        found: list[PodRuntime] = []

        def replaced() -> bool:
            for pod in self.pods.values():
                if pod is not old and pod.owner == workload.key and pod.created_at >= old.created_at \
                        and (old.ordinal is None or pod.ordinal == old.ordinal) and not pod.terminating \
                        and pod.created_at > 0:
                    found.append(pod)
                    return True
            return False
        self.wait_until(replaced, timeout, lambda: f"no replacement for {old.name}")
        return found[0]

    def recreate_pod(self, name: str, wait: str = "ready",
                     timeout: float = DEFAULT_READY_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Let the StatefulSet recreate a pod held down by delete/kill with recreate=False."""
        for workload in self.workloads:
            if name in workload.held:
                result: dict[str, Any] = {"pod": name, "operation": "recreate", "requested_at": time.time()}
                with self.lock:
                    workload.held.discard(name)
                self.wait_until(lambda: name in self.pods and self.pods[name].phase in ("Running", "Failed"),
                                timeout, lambda: f"pod {name} did not start")
                result["recreated_at"], result["new_ip"] = self.pods[name].created_at, self.pods[name].ip
                if wait == "ready":
                    result["ready_at"], _ = self._wait_pod_ready(name, timeout)
                return result
        raise LabError(f"pod {name} is not held down (delete or kill it with recreate=False first)")

    def kill_container(self, pod_name: str, container: str, wait: str = "ready",
                       timeout: float = DEFAULT_READY_TIMEOUT_SECONDS) -> dict[str, Any]:
        """SIGKILL one container (a crash); the kubelet restarts it in the same pod (same IP)."""
        pod = self.pod(pod_name)
        if container not in pod.containers:
            raise LabError(f"pod {pod_name} has no container {container!r}")
        runtime = pod.containers[container]
        restarts = runtime.restarts
        self.podman.run("kill", "--signal", "KILL", runtime.plan.podman_name)
        result: dict[str, Any] = {"pod": pod_name, "container": container, "operation": "kill-container",
                                  "killed_at": time.time()}
        self.wait_until(lambda: runtime.restarts > restarts and runtime.running, timeout,
                        lambda: f"{pod_name}/{container} was not restarted")
        result["restarted_at"] = runtime.started_at
        if wait == "ready":
            result["ready_at"], _ = self._wait_pod_ready(pod_name, timeout)
        return result

    def cut_pod(self, name: str) -> dict[str, Any]:
        """Drop every packet to and from the pod except loopback; it keeps its IP, no resets are sent."""
        pod = self.pod(name)
        network.cut(self.podman, pod.plan.infra_name)
        with self.lock:
            pod.cut = True
        at = time.time()
        self.events.add("pod-cut", name, ip=pod.ip)
        return {"pod": name, "operation": "cut", "cut_at": at, "ip": pod.ip}

    def heal_pod(self, name: str) -> dict[str, Any]:
        pod = self.pod(name)
        network.heal(self.podman, pod.plan.infra_name)
        with self.lock:
            pod.cut = False
        at = time.time()
        self.events.add("pod-healed", name, ip=pod.ip)
        return {"pod": name, "operation": "heal", "healed_at": at, "ip": pod.ip}

    def restart_all(self, workload_name: Optional[str] = None, graceful: bool = False,
                    timeout: float = DEFAULT_READY_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Every pod of a workload (default: every StatefulSet) goes at once; waits until all are Ready."""
        targets = [self.workload(workload_name)] if workload_name else [w for w in self.workloads if w.is_statefulset]
        with self.lock:
            pods = [p for p in self.pods.values() if any(p.owner == w.key for w in targets) and not p.terminating]
        result: dict[str, Any] = {"operation": "restart-all", "graceful": graceful, "requested_at": time.time(),
                                  "pods": {}}
        threads = []
        for pod in pods:
            op = (lambda p=pod: self.kubelet.terminate(p)) if graceful else (lambda p=pod: self.kubelet.kill(p))
            thread = threading.Thread(target=lambda p=pod, f=op: result["pods"].__setitem__(p.name, f()))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        result["all_ready_at"] = self.wait_ready(timeout)
        return result

    def rolling_restart(self, workload_name: str, timeout: float = DEFAULT_READY_TIMEOUT_SECONDS) -> dict[str, Any]:
        """`kubectl rollout restart`: StatefulSet highest ordinal first, each waiting for readiness;
        Deployment by its strategy (RollingUpdate: surge one new pod, then remove one old)."""
        workload = self.workload(workload_name)
        result: dict[str, Any] = {"operation": "rolling-restart", "workload": workload.key,
                                  "requested_at": time.time(), "steps": []}
        self.wait_ready(timeout)
        if workload.is_statefulset:
            for name in reversed(workload.pod_names()):
                self.wait_ready(timeout)
                result["steps"].append(self.delete_pod(name, check_pdb=False, wait="ready", timeout=timeout))
        else:
            result["steps"] = self._roll_deployment(workload, timeout)
        result["finished_at"] = self.wait_ready(timeout)
        return result

    def _roll_deployment(self, workload: Workload, timeout: float) -> list[dict[str, Any]]:
        with self.lock:
            old = [p for p in self.pods.values() if p.owner == workload.key and not p.terminating]
            workload.paused, workload.revision = True, workload.revision + 1
        steps = []
        try:
            strategy = workload.obj.spec.get("strategy") or {}
            if strategy.get("type") == "Recreate":
                for pod in old:
                    steps.append({"pod": pod.name, **self.kubelet.terminate(pod)})
            else:
                max_surge = (strategy.get("rollingUpdate") or {}).get("maxSurge")
                surge = _scaled("25%" if max_surge is None else max_surge, workload.replicas)
                for pod in old:
                    steps.append(self._replace_one(workload, pod, surge_first=surge >= 1, timeout=timeout))
        finally:
            with self.lock:
                workload.paused = False
        return steps

    def _replace_one(self, workload: Workload, old: PodRuntime, surge_first: bool, timeout: float) -> dict[str, Any]:
        """One RollingUpdate step, one pod at a time: with maxSurge >= 1 the new pod is Ready before
        the old one goes (maxUnavailable is then never used); with maxSurge 0 the old one goes first."""
        step: dict[str, Any] = {"old_pod": old.name}
        if not surge_first:
            step.update(self.kubelet.terminate(old))
        with self.lock:
            new = self._create_pod(workload, self._deployment_pod_name(workload), None)
        step["ready_at"], step["new_ip"] = self._wait_pod_ready(new.name, timeout)
        step["new_pod"] = new.name
        if surge_first:
            step.update(self.kubelet.terminate(old))
        return step

    def exec(self, pod_name: str, container: str, command: list[str], timeout: float = 30.0) -> dict[str, Any]:
        done = self.kubelet.exec(self.pod(pod_name), container, command, timeout)
        return {"exit_code": done.returncode, "stdout": done.stdout, "stderr": done.stderr}

    # ------------------------------------------------------------------ state

    def status(self) -> dict[str, Any]:
        with self.lock:
            return {
                "lab": self.net.lab, "network": self.net.network, "cluster_domain": self.net.cluster_domain,
                "time": time.time(), "all_ready": self.all_ready(), "loop_error": self.loop_error,
                "pods": {name: pod.summary() for name, pod in sorted(self.pods.items())},
                "services": {name: [f"{e.pod}={e.ip}" for e in proxy.endpoints] for name, proxy in self.proxies.items()},
                "held": sorted(n for w in self.workloads for n in w.held),
                "create_failures": self.create_failures[-5:],
            }

    def _write_state(self) -> None:
        path = self.lab_dir / "state.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.status(), indent=1, default=str))
        tmp.replace(path)


def _min_available(spec: dict[str, Any], expected: int) -> int:
    """How many selected pods must stay healthy (percentages round up, as the disruption controller does)."""
    if spec.get("minAvailable") is not None:
        return _scaled(spec["minAvailable"], expected)
    if spec.get("maxUnavailable") is not None:
        return expected - _scaled(spec["maxUnavailable"], expected)
    return 0


def _scaled(value: Any, total: int) -> int:
    text = str(value)
    if text.endswith("%"):
        return math.ceil(total * int(text[:-1]) / 100)
    return int(text)

