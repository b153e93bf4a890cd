"""The cluster's add-ons, as Kubernetes objects: CoreDNS (as kubeadm deploys it, from our image),
the default StorageClass (the in-tree hostPath provisioner) and the read access of kube-router,
the NetworkPolicy enforcer that runs on the node like kube-proxy."""

from __future__ import annotations

from typing import Any

from .configs import corefile
from .layout import COREDNS_IMAGE, DNS_SERVICE_IP, KUBE_ROUTER_USER, STORAGE_CLASS

NAMESPACE = "kube-system"
DNS_LABELS = {"k8s-app": "kube-dns"}


def storage_class() -> dict[str, Any]:
    """hostPath volumes ignore fsGroup, like kind's, k3s' and local-path's: the lab meets the
    ownership problem of those users' clusters."""
    return {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": STORAGE_CLASS,
                     "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "kubernetes.io/host-path", "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate",
    }


def coredns(cache_cluster_domain: bool = True) -> list[dict[str, Any]]:
    meta = {"name": "coredns", "namespace": NAMESPACE}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "system:coredns"},
         "rules": [
             {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"], "verbs": ["list", "watch"]},
             {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
             {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "system:coredns"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:coredns"},
         "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": NAMESPACE}]},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta,
         "data": {"Corefile": corefile(cache_cluster_domain)}},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {**meta, "labels": DNS_LABELS},
         "spec": {
             "replicas": 1, "selector": {"matchLabels": DNS_LABELS},
             "template": {"metadata": {"labels": DNS_LABELS}, "spec": {
                 "serviceAccountName": "coredns", "priorityClassName": "system-cluster-critical",
                 "dnsPolicy": "Default",
                 # The image has no file capabilities, and a non-root process gets no ambient
                 # NET_BIND_SERVICE from containerd 1.6: open port 53 to it by a (safe) sysctl.
                 "securityContext": {"sysctls": [{"name": "net.ipv4.ip_unprivileged_port_start", "value": "53"}]},
                 "containers": [{
                     "name": "coredns", "image": COREDNS_IMAGE, "imagePullPolicy": "Never",
                     "args": ["-conf", "/etc/coredns/Corefile"],
                     "resources": {"requests": {"cpu": "100m", "memory": "70Mi"}, "limits": {"memory": "170Mi"}},
                     "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns", "readOnly": True}],
                     "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                               {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                               {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}],
                     "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}, "initialDelaySeconds": 60,
                                       "timeoutSeconds": 5, "failureThreshold": 5},
                     "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181}},
                     "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                         "runAsNonRoot": True, "runAsUser": 65532,
                                         "capabilities": {"drop": ["ALL"]}},
                 }],
                 "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
             }}}},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": "kube-dns", "namespace": NAMESPACE, "labels": DNS_LABELS},
         "spec": {"selector": DNS_LABELS, "clusterIP": DNS_SERVICE_IP, "ports": [
             {"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"},
             {"name": "metrics", "port": 9153, "protocol": "TCP"}]}},
    ]


def kube_router_rbac(user: str) -> list[dict[str, Any]]:
    """Read access for what kube-router watches: it starts the informers of every controller it
    has (services, endpoints and slices too) before it syncs, even with the firewall alone."""
    read = ["get", "list", "watch"]
    return [
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "kubernaut-lab:kube-router"},
         "rules": [
             {"apiGroups": [""], "resources": ["namespaces", "pods", "services", "nodes", "endpoints"], "verbs": read},
             {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": read},
             {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": read}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": "kubernaut-lab:kube-router"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "kubernaut-lab:kube-router"},
         "subjects": [{"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": user}]},
    ]


def all_objects() -> list[dict[str, Any]]:
    return [storage_class(), *coredns(), *kube_router_rbac(KUBE_ROUTER_USER)]
