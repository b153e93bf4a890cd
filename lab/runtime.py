"""One pod in podman, as the kubelet runs it: start, probe, restart, terminate.

The controller (lab.controller) owns the PodRuntime objects and calls `tick` on them from its loop;
the slow podman calls (create, restart, terminate) run in worker threads. Scheduling uses the
monotonic clock; every timestamp that is reported is wall-clock (time.time()), so that drills
running in another process can compare it with their own.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from . import volumes
from .dns import ClusterDns
from .errors import PodmanError
from .events import EventLog
from .podman import Podman
from .podspec import ContainerPlan, PodPlan, ProbeSpec

# `podman exec` itself needs time to start on a busy machine; the probe's own timeoutSeconds is
# measured by the kubelet inside the runtime, so the lab adds this much for podman.
EXEC_OVERHEAD_SECONDS = 1.0
# CrashLoopBackOff: the first restart is immediate, then 10 s doubling up to 5 minutes; a
# container that ran for 10 minutes starts over.
BACKOFF_FIRST_SECONDS = 10.0
BACKOFF_MAX_SECONDS = 300.0
BACKOFF_RESET_AFTER_SECONDS = 600.0
# The kubelet gives SIGTERM this much more time when preStop used the whole grace period.
PRESTOP_OVERRUN_EXTENSION_SECONDS = 2.0
STOP_POLL_SECONDS = 0.2


class ProbeTracker:
    """Consecutive successes/failures of one probe and when it is next due."""

    def __init__(self, spec: ProbeSpec) -> None:
        self.spec = spec
        self.next_due = 0.0
        self.successes = 0
        self.failures = 0
        self.future: Optional[Future] = None
        self.last_detail = ""

    def reset(self, started_mono: float) -> None:
        self.next_due = started_mono + self.spec.initial_delay
        self.successes = self.failures = 0
        self.future = None

    def record(self, ok: bool, detail: str) -> None:
        self.last_detail = detail
        if ok:
            self.successes, self.failures = self.successes + 1, 0
        else:
            self.successes, self.failures = 0, self.failures + 1


@dataclass
class ContainerRuntime:
    plan: ContainerPlan
    running: bool = False
    started_mono: float = 0.0
    started_at: float = 0.0
    started: bool = False  # the startup probe passed (or there is none)
    ready: bool = False
    restarts: int = 0
    busy: bool = False  # a restart or stop is in progress in a worker
    last_exit_code: Optional[int] = None
    next_start_mono: float = 0.0
    backoff: float = 0.0
    probes: dict[str, ProbeTracker] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.probes = {kind: ProbeTracker(spec) for kind, spec in self.plan.probes.items()}

    @property
    def name(self) -> str:
        return self.plan.name

    def mark_started(self) -> None:
        self.running, self.busy = True, False
        self.started_mono, self.started_at = time.monotonic(), time.time()
        self.started = "startup" not in self.probes
        self.ready = False
        for tracker in self.probes.values():
            tracker.reset(self.started_mono)
        if "readiness" not in self.probes:
            self.ready = self.started

    def next_backoff(self) -> float:
        """Delay before the next restart, and advance the CrashLoopBackOff sequence."""
        if time.monotonic() - self.started_mono >= BACKOFF_RESET_AFTER_SECONDS:
            self.backoff = 0.0
        delay = self.backoff
        self.backoff = BACKOFF_FIRST_SECONDS if delay == 0 else min(delay * 2, BACKOFF_MAX_SECONDS)
        return delay


@dataclass
class PodRuntime:
    plan: PodPlan
    owner: str  # "<Kind>/<name>" of the workload
    ordinal: Optional[int]
    pod_dir: Path
    phase: str = "Pending"  # Pending, Running, Terminating, Terminated, Failed
    ip: str = ""
    created_at: float = 0.0
    running_at: float = 0.0
    running_mono: float = 0.0
    ready_at: Optional[float] = None
    error: str = ""
    cut: bool = False
    containers: dict[str, ContainerRuntime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.containers = {c.name: ContainerRuntime(c) for c in self.plan.containers}

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def ready(self) -> bool:
        return self.phase == "Running" and all(c.ready for c in self.containers.values())

    @property
    def terminating(self) -> bool:
        return self.phase in ("Terminating", "Terminated")

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name, "owner": self.owner, "phase": self.phase, "ip": self.ip, "ready": self.ready,
            "cut": self.cut, "created_at": self.created_at, "ready_at": self.ready_at, "error": self.error,
            "containers": {c.name: {"running": c.running, "started": c.started, "ready": c.ready,
                                    "restarts": c.restarts, "last_exit_code": c.last_exit_code}
                           for c in self.containers.values()},
        }


class Kubelet:
    """Runs PodRuntimes in podman: creation, probes, restarts and termination."""

    def __init__(self, podman: Podman, network: str, dns: ClusterDns, events: EventLog, lock: threading.RLock,
                 logs_dir: Path) -> None:
        self.podman = podman
        self.network = network
        self.dns = dns
        self.events = events
        self.lock = lock
        self.logs_dir = logs_dir
        self.probe_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="lab-probe")
        self.job_pool = ThreadPoolExecutor(max_workers=12, thread_name_prefix="lab-job")
        self.closing = False

    def shutdown(self) -> None:
        """No new pods or restarts from now on; the lab sweeps whatever is still running."""
        self.closing = True
        self.probe_pool.shutdown(wait=False, cancel_futures=True)
        self.job_pool.shutdown(wait=False, cancel_futures=True)

    # ------------------------------------------------------------------ creation

    def create(self, pod: PodRuntime) -> None:
        """Volumes, `podman pod create`, the infra (for the IP), then each container in order."""
        plan = pod.plan
        pod.created_at = time.time()
        self.events.add("pod-creating", plan.name)
        try:
            volumes.prepare(plan)
            self.podman.run(*plan.create_args)
            self.podman.run("pod", "start", plan.podman_name)
            pod.ip = self.podman.ip(plan.infra_name, self.network)
            # Before any container starts: the pod's scripts wait for their own DNS record.
            self.dns.publish(plan.podman_name, pod.ip, plan.aliases)
            for container in pod.containers.values():
                if self.closing:
                    raise PodmanError("the lab is stopping")
                self._run_container(pod, container)
        except Exception as err:  # the controller reports it and retries; the pod must not linger
            with self.lock:
                pod.phase, pod.error = "Failed", str(err)
            self.events.add("pod-failed", plan.name, error=str(err))
            self._remove(pod)
            return
        with self.lock:
            pod.phase, pod.running_at, pod.running_mono = "Running", time.time(), time.monotonic()
        self.events.add("pod-running", plan.name, ip=pod.ip)

    def _run_container(self, pod: PodRuntime, container: ContainerRuntime) -> None:
        plan = container.plan
        self.podman.run("run", "-d", *plan.run_args, secret_env=plan.secret_env)
        with self.lock:
            container.mark_started()
        self.events.add("container-started", pod.name, plan.name)

    # ------------------------------------------------------------------ the loop's work

    def tick(self, pod: PodRuntime, states: dict[str, dict[str, Any]], snapshot_mono: float) -> None:
        """Called by the controller loop (holding the lock) for a Running pod."""
        for container in pod.containers.values():
            if container.busy:
                continue
            state = states.get(container.plan.podman_name, {})
            if container.running and snapshot_mono > container.started_mono and state.get("State") != "running":
                self._on_exit(pod, container, state)
            if not container.running:
                if time.monotonic() >= container.next_start_mono:
                    container.busy = True
                    self.job_pool.submit(self._restart, pod, container, "exited")
                continue
            self._collect_probes(pod, container)
            self._schedule_probes(pod, container)
        self._update_pod_ready(pod)

    def _on_exit(self, pod: PodRuntime, container: ContainerRuntime, state: dict[str, Any]) -> None:
        container.running = container.ready = container.started = False
        container.last_exit_code = state.get("ExitCode")
        delay = container.next_backoff()
        container.next_start_mono = time.monotonic() + delay
        self.events.add("container-exited", pod.name, container.name,
                        exit_code=container.last_exit_code, restart_in=delay)

    def _collect_probes(self, pod: PodRuntime, container: ContainerRuntime) -> None:
        for kind, tracker in container.probes.items():
            if tracker.future is None or not tracker.future.done():
                continue
            ok, detail = tracker.future.result()
            tracker.future = None
            tracker.record(ok, detail)
            self._apply_probe(pod, container, kind, tracker, ok)

    def _apply_probe(self, pod: PodRuntime, container: ContainerRuntime, kind: str,
                     tracker: ProbeTracker, ok: bool) -> None:
        spec = tracker.spec
        if kind == "startup":
            if ok and not container.started:
                container.started = True
                now = time.monotonic()
                for other in ("readiness", "liveness"):
                    if other in container.probes:
                        container.probes[other].next_due = max(now, container.probes[other].next_due)
                if "readiness" not in container.probes:
                    container.ready = True
                self.events.add("container-started-probe-ok", pod.name, container.name)
            elif tracker.failures >= spec.failure_threshold:
                self._kill_for_probe(pod, container, kind, tracker)
        elif kind == "readiness":
            if ok and tracker.successes >= spec.success_threshold and not container.ready:
                container.ready = True
                self.events.add("container-ready", pod.name, container.name)
            elif not ok and tracker.failures >= spec.failure_threshold and container.ready:
                container.ready = False
                self.events.add("container-unready", pod.name, container.name, detail=tracker.last_detail)
        elif kind == "liveness" and tracker.failures >= spec.failure_threshold:
            self._kill_for_probe(pod, container, kind, tracker)

    def _kill_for_probe(self, pod: PodRuntime, container: ContainerRuntime, kind: str, tracker: ProbeTracker) -> None:
        self.events.add(f"{kind}-failed", pod.name, container.name, detail=tracker.last_detail,
                        failures=tracker.failures)
        container.busy, container.ready = True, False
        self.job_pool.submit(self._restart, pod, container, f"{kind} probe failed", tracker.spec.termination_grace)

    def _schedule_probes(self, pod: PodRuntime, container: ContainerRuntime) -> None:
        now = time.monotonic()
        for kind, tracker in container.probes.items():
            if tracker.future is not None or now < tracker.next_due:
                continue
            if kind == "startup" and container.started:
                continue
            if kind != "startup" and not container.started:
                continue
            tracker.next_due = now + tracker.spec.period
            tracker.future = self.probe_pool.submit(self._probe, pod, container, tracker.spec)

    def _probe(self, pod: PodRuntime, container: ContainerRuntime, spec: ProbeSpec) -> tuple[bool, str]:
        if spec.command:
            done = self.podman.exec(container.plan.podman_name, spec.command,
                                    timeout=spec.timeout + EXEC_OVERHEAD_SECONDS)
            detail = (done.stdout + done.stderr).strip().splitlines()
            return done.returncode == 0, f"exit {done.returncode}: {detail[-1][:200] if detail else ''}"
        try:
            with socket.create_connection((pod.ip, spec.port), timeout=spec.timeout):
                return True, "connected"
        except OSError as err:
            return False, f"tcp {pod.ip}:{spec.port}: {err}"

    def _update_pod_ready(self, pod: PodRuntime) -> None:
        if pod.ready and pod.ready_at is None:
            pod.ready_at = time.time()
            self.events.add("pod-ready", pod.name, ip=pod.ip)
        elif not pod.ready and pod.ready_at is not None:
            pod.ready_at = None
            self.events.add("pod-unready", pod.name)

    # ------------------------------------------------------------------ restarts

    def _restart(self, pod: PodRuntime, container: ContainerRuntime, reason: str,
                 grace: Optional[float] = None) -> None:
        """Stop (if running) with preStop and the grace period, then start the same container again."""
        grace = pod.plan.grace_seconds if grace is None else grace
        try:
            if self.closing:
                return
            if container.running:
                self.stop_container(pod, container, time.monotonic() + grace, {})
                with self.lock:
                    container.running = False
            self.podman.run("start", container.plan.podman_name)
        except PodmanError as err:
            with self.lock:
                container.busy = False
                container.running = False
                container.next_start_mono = time.monotonic() + BACKOFF_FIRST_SECONDS
            self.events.add("container-restart-failed", pod.name, container.name, error=str(err))
            return
        with self.lock:
            container.restarts += 1
            container.mark_started()
        self.events.add("container-restarted", pod.name, container.name, reason=reason,
                        restarts=container.restarts)

    # ------------------------------------------------------------------ termination

    def stop_container(self, pod: PodRuntime, container: ContainerRuntime, deadline: float,
                       timeline: dict[str, Any]) -> None:
        """preStop within the grace period, then SIGTERM, then SIGKILL when the grace period ends."""
        name = container.plan.podman_name
        if container.plan.pre_stop and container.running:
            timeline["prestop_started_at"] = time.time()
            done = self.podman.exec(name, container.plan.pre_stop, timeout=max(deadline - time.monotonic(), 0.1))
            timeline["prestop_finished_at"] = time.time()
            timeline["prestop_exit_code"] = done.returncode
            self.events.add("prestop-finished", pod.name, container.name, exit_code=done.returncode,
                            seconds=round(timeline["prestop_finished_at"] - timeline["prestop_started_at"], 3))
            if time.monotonic() >= deadline:
                deadline = time.monotonic() + PRESTOP_OVERRUN_EXTENSION_SECONDS
        self.podman.run("kill", "--signal", "TERM", name, check=False)
        timeline["sigterm_at"] = time.time()
        if not self._wait_stopped(name, deadline):
            self.podman.run("kill", "--signal", "KILL", name, check=False)
            timeline["sigkill_at"] = time.time()
            self._wait_stopped(name, time.monotonic() + 10)
        timeline["exited_at"] = time.time()
        self.events.add("container-stopped", pod.name, container.name,
                        killed="sigkill_at" in timeline)

    def _wait_stopped(self, name: str, deadline: float) -> bool:
        while True:
            state = self.podman.run("inspect", "--format", "{{.State.Running}}", name, check=False)
            if state.returncode != 0 or state.stdout.strip() != "true":
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(STOP_POLL_SECONDS)

    def terminate(self, pod: PodRuntime, grace: Optional[float] = None) -> dict[str, Any]:
        """Graceful deletion: every container stops in parallel, then the pod and its volumes go."""
        grace = pod.plan.grace_seconds if grace is None else grace
        timeline: dict[str, Any] = {"grace_seconds": grace, "containers": {}}
        with self.lock:
            pod.phase = "Terminating"
            for c in pod.containers.values():
                c.busy, c.ready = True, False
        self.events.add("pod-terminating", pod.name, grace=grace)
        deadline = time.monotonic() + grace
        threads = []
        for container in pod.containers.values():
            steps: dict[str, Any] = {}
            timeline["containers"][container.name] = steps
            thread = threading.Thread(target=self._stop_quietly, args=(pod, container, deadline, steps))
            thread.start()
            threads.append(thread)
        for thread in threads:
            thread.join()
        self._remove(pod)
        timeline["removed_at"] = time.time()
        return timeline

    def _stop_quietly(self, pod: PodRuntime, container: ContainerRuntime, deadline: float,
                      steps: dict[str, Any]) -> None:
        try:
            self.stop_container(pod, container, deadline, steps)
        except PodmanError as err:
            steps["error"] = str(err)

    def kill(self, pod: PodRuntime) -> dict[str, Any]:
        """SIGKILL to every container of the pod at once (a node or process crash), then remove it."""
        with self.lock:
            pod.phase = "Terminating"
            for c in pod.containers.values():
                c.busy, c.ready = True, False
        self.podman.run("pod", "kill", "--signal", "KILL", pod.plan.podman_name, check=False)
        killed_at = time.time()
        self.events.add("pod-killed", pod.name)
        self._remove(pod)
        return {"killed_at": killed_at, "removed_at": time.time()}

    def _remove(self, pod: PodRuntime) -> None:
        self.dns.withdraw(pod.plan.podman_name)
        self._keep_logs(pod)
        self.podman.run("pod", "rm", "--force", "--time", "0", pod.plan.podman_name, check=False)
        shutil.rmtree(pod.pod_dir, ignore_errors=True)
        with self.lock:
            if pod.phase != "Failed":
                pod.phase = "Terminated"
            for c in pod.containers.values():
                c.running = c.ready = False
        self.events.add("pod-removed", pod.name)

    def _keep_logs(self, pod: PodRuntime) -> None:
        """A removed pod's logs stay in the lab directory, for a person reading a drill afterwards."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        for container in pod.containers.values():
            text = self.podman.logs(container.plan.podman_name)
            if text:
                (self.logs_dir / f"{pod.name}-{container.name}-{stamp}.log").write_text(text)

    def exec(self, pod: PodRuntime, container: str, command: list[str], timeout: float) -> subprocess.CompletedProcess:
        return self.podman.exec(pod.containers[container].plan.podman_name, command, timeout=timeout)
