"""How runtime tools (the smoke check's runner, the drills, the benchmark, the lab tests) reach a
cluster: one small typed interface, `Cluster` (interface.py), and its implementation on a real
Kubernetes (kubernetes.py): the API through kubectl, faults through the container runtime and
rules inside a pod's network namespace. No tool calls kubectl, ctr or podman itself.
"""

from .interface import ClientSpec, Cluster, Event, Fault, JobRun, NodeInfo, Pod, SecretEnv, VolumeClaim
from .kubernetes import KubernetesCluster

__all__ = ["ClientSpec", "Cluster", "Event", "Fault", "JobRun", "KubernetesCluster", "NodeInfo", "Pod", "SecretEnv", "VolumeClaim"]
