"""The lab's Prometheus: a pod of the namespace `monitoring` on the lab cluster that scrapes the
stack's exporters through Kubernetes service discovery and evaluates the stack's alert rules,
both rendered from the lab stack's config by monitoring/ (what a Prometheus without the Operator
gets from monitoring/generated/). The alert drills (tests/lab/test_alerts.py) read its HTTP API.

It may read only the stack's namespace (a Role there, not a ClusterRole), runs as the restricted
Pod Security level asks, and keeps its data in an emptyDir: a new pod starts with no history,
which the drills use to start from a clean slate (the flapping alert counts demotions over an
hour, and the earlier lab drills cause many).
"""

from __future__ import annotations

import time
from typing import Any, Optional

import yaml

from cluster import KubernetesCluster
from labcluster.layout import PROMETHEUS_IMAGE
from monitoring import prometheus_config, rules_yaml
from stack_config import StackConfig

NAMESPACE = "monitoring"
NAME = "prometheus"
PORT = 9090
LABELS = {"app": NAME}
CONFIG_DIR = "/etc/prometheus"
CONFIG_FILE = "prometheus.yml"
RULES_FILE = "kubernaut-redis-rules.yaml"
DATA_DIR = "/prometheus"
# Nobody: the binary needs no user of its own, only its emptyDir.
RUN_AS = 65534
READY_TIMEOUT_SECONDS = 180


def objects(cfg: StackConfig) -> list[dict[str, Any]]:
    """The namespace, its Prometheus and the rights it needs on the stack's namespace."""
    meta = {"name": NAME, "namespace": NAMESPACE, "labels": LABELS}
    config = prometheus_config(cfg, [f"{CONFIG_DIR}/{RULES_FILE}"])
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        # Service discovery of the role endpointslice watches these three, in the stack's
        # namespace only (the scrape jobs name it).
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": f"{NAMESPACE}-{NAME}", "namespace": cfg.platform.namespace},
         "rules": [{"apiGroups": [""], "resources": ["services", "pods"], "verbs": ["get", "list", "watch"]},
                   {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                    "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": f"{NAMESPACE}-{NAME}", "namespace": cfg.platform.namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": f"{NAMESPACE}-{NAME}"},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": NAMESPACE}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
         "data": {CONFIG_FILE: yaml.safe_dump(config, sort_keys=False), RULES_FILE: rules_yaml(cfg)}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {
            "replicas": 1, "strategy": {"type": "Recreate"}, "selector": {"matchLabels": LABELS},
            "template": {"metadata": {"labels": LABELS}, "spec": {
                "serviceAccountName": NAME,
                "securityContext": {"runAsNonRoot": True, "runAsUser": RUN_AS, "runAsGroup": RUN_AS,
                                    "fsGroup": RUN_AS, "seccompProfile": {"type": "RuntimeDefault"}},
                "containers": [{
                    "name": NAME, "image": PROMETHEUS_IMAGE, "imagePullPolicy": "Never",
                    "args": [f"--config.file={CONFIG_DIR}/{CONFIG_FILE}", f"--storage.tsdb.path={DATA_DIR}",
                             f"--web.listen-address=:{PORT}", "--storage.tsdb.retention.time=6h"],
                    "ports": [{"name": "http", "containerPort": PORT}],
                    "readinessProbe": {"httpGet": {"path": "/-/ready", "port": PORT}, "periodSeconds": 2},
                    "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
                    "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                        "capabilities": {"drop": ["ALL"]}},
                    "volumeMounts": [{"name": "config", "mountPath": CONFIG_DIR, "readOnly": True},
                                     {"name": "data", "mountPath": DATA_DIR}],
                }],
                "volumes": [{"name": "config", "configMap": {"name": NAME}},
                            {"name": "data", "emptyDir": {}}],
            }}}},
    ]


def deploy(access: KubernetesCluster, cfg: StackConfig, fresh: bool = False) -> str:
    """Apply the objects and wait for a ready pod; `fresh` replaces a running pod (no history).
    Returns the base URL of its HTTP API (the pod's address, on the lab's pod bridge)."""
    access.apply(objects(cfg))
    if fresh:
        access.kubectl("-n", NAMESPACE, "delete", "pod", "-l", f"app={NAME}", "--wait=true", timeout=120)
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        url = base_url(access)
        if url:
            return url
        time.sleep(1)
    raise TimeoutError(f"{NAMESPACE}/{NAME} not ready within {READY_TIMEOUT_SECONDS} s: "
                       f"kubectl -n {NAMESPACE} describe pod -l app={NAME}")


def base_url(access: KubernetesCluster) -> Optional[str]:
    """The ready Prometheus pod's API, None while there is none."""
    for pod in access.pods(NAMESPACE, f"app={NAME}"):
        if pod.ready and not pod.terminating and pod.ip:
            return f"http://{pod.ip}:{PORT}"
    return None
