"""The interface runtime tools use to act on a cluster (see cluster/__init__.py)."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Protocol, Sequence


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    uid: str
    ip: Optional[str]
    phase: str
    ready: bool
    terminating: bool
    restarts: dict[str, int] = field(default_factory=dict)  # container name -> restart count
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Fault:
    """What a fault did, with wall-clock times: `at` is when it took effect."""

    operation: str
    pod: str
    at: float
    detail: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "pod": self.pod, "fault_at": self.at, **self.detail}


@dataclass(frozen=True)
class Event:
    """A Kubernetes event about an object (the kubelet's FailedPreStopHook, Killing, ...)."""

    at: float  # wall clock of its last occurrence
    type: str  # Normal or Warning
    reason: str
    kind: str
    name: str
    message: str


@dataclass(frozen=True)
class VolumeClaim:
    name: str
    uid: str
    volume: Optional[str]  # the PersistentVolume bound to it
    phase: str  # Pending, Bound, Lost
    terminating: bool


@dataclass(frozen=True)
class JobRun:
    """A Job run to its end: whether it succeeded, wall-clock times, and its pods' log."""

    name: str
    succeeded: Optional[bool]  # None: still running at the timeout
    created_at: float
    finished_at: float
    log: str


@dataclass(frozen=True)
class NodeInfo:
    name: str
    kubelet_version: str
    container_runtime: str
    kernel: str
    os_image: str


@dataclass(frozen=True)
class SecretEnv:
    """An environment variable of a client, read by the cluster from a Secret (never by us)."""

    variable: str
    secret: str
    key: str


@dataclass(frozen=True)
class ClientSpec:
    """A long-running client pod inside the cluster network: the namespace's DNS, the repo's
    `packages` (Python packages, shipped as ConfigMaps) importable, passwords from Secrets."""

    namespace: str
    name: str = "kubernaut-client"
    packages: tuple[str, ...] = ("smoke", "drills")
    secret_env: tuple[SecretEnv, ...] = ()
    # Labels of the pod besides its name: the network policies' access labels, say.
    labels: tuple[tuple[str, str], ...] = ()
    # A writable, empty directory (CLIENT_SCRATCH_DIR) that client_put copies programs into:
    # the root file system is read-only.
    scratch: bool = False


# Where a client with `scratch` gets its writable directory.
CLIENT_SCRATCH_DIR = "/scratch"


class Cluster(Protocol):
    # ---------------------------------------------------------------- reading
    def pods(self, namespace: str, selector: str = "") -> list[Pod]: ...

    def pod(self, namespace: str, name: str) -> Optional[Pod]: ...

    def secret_value(self, namespace: str, name: str, key: str) -> Optional[str]: ...

    def config_map_value(self, namespace: str, name: str, key: str) -> Optional[str]: ...

    def logs(self, namespace: str, pod: str, container: str, since: Optional[float] = None,
             previous: bool = False) -> str: ...

    def events(self, namespace: str, since: Optional[float] = None, name: Optional[str] = None) -> list[Event]: ...

    def nodes(self) -> list[NodeInfo]: ...

    def field_managers(self, namespace: str, kind: str, name: str, field: str) -> list[str]: ...

    def volume_claim(self, namespace: str, name: str) -> Optional[VolumeClaim]: ...

    def object(self, namespace: str, kind: str, name: str) -> Optional[dict[str, Any]]: ...

    # ---------------------------------------------------------------- clients inside the cluster
    def start_client(self, spec: ClientSpec, timeout: float = 120.0) -> None: ...

    def client_exec(self, spec: ClientSpec, command: Sequence[str], timeout: float = 300.0,
                    input: Optional[str] = None) -> subprocess.CompletedProcess: ...

    def client_popen(self, spec: ClientSpec, command: Sequence[str], **popen: Any) -> subprocess.Popen: ...

    def client_put(self, spec: ClientSpec, source: str, name: str) -> str:
        """Copy a local executable into the client's scratch directory; its path in the pod."""
        ...

    def stop_client(self, spec: ClientSpec) -> None: ...

    # ---------------------------------------------------------------- faults
    def delete_pod(self, namespace: str, name: str) -> Fault: ...

    def kill_container(self, namespace: str, name: str, container: str) -> Fault: ...

    def kill_pod(self, namespace: str, name: str) -> Fault: ...

    def cut_pod(self, namespace: str, name: str, ports: Sequence[int] = (), addresses: Sequence[str] = ()) -> Fault: ...

    def heal_pod(self, namespace: str, name: str) -> Fault: ...

    def restart_workload(self, namespace: str, kind: str, name: str) -> Fault: ...

    def suspend_container(self, namespace: str, name: str, container: str) -> Fault: ...

    def resume_container(self, namespace: str, name: str, container: str) -> Fault: ...

    def scale(self, namespace: str, kind: str, name: str, replicas: int) -> Fault: ...

    def exec(self, namespace: str, name: str, container: str, command: Sequence[str],
             timeout: float = 60.0) -> subprocess.CompletedProcess: ...

    # ---------------------------------------------------------------- objects
    def apply(self, objects: Sequence[Mapping[str, Any]]) -> None: ...

    def delete_volume_claim(self, namespace: str, name: str) -> Fault: ...

    def delete_object(self, namespace: str, kind: str, name: str, orphan: bool = False,
                      timeout: float = 120.0) -> bool: ...

    def delete_namespace(self, namespace: str, timeout: float = 180.0) -> None: ...

    def run_job_from_cron_job(self, namespace: str, cron_job: str, job_name: str,
                              timeout: float = 600.0) -> JobRun: ...
