"""Names, addresses and paths of the lab cluster, defined once.

Addresses are chosen away from what podman uses here (10.88.0.0/16 and 10.89.x.0/24): the node
has its own address on a bridge it owns, so no cluster traffic needs the machine's interface.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

KUBERNETES_VERSION = "v1.37.2"  # go/kubernetes/go.mod; tests hold the two equal
NODE_NAME = "kubernaut-lab"
NODE_BRIDGE = "krnode0"
NODE_IP = "10.201.0.1"
POD_BRIDGE = "krcni0"
POD_SUBNET = "10.244.0.0/24"
POD_GATEWAY = "10.244.0.1"
CLUSTER_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/24"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
APISERVER_PORT = 6443
ETCD_CLIENT_PORT = 12379
ETCD_PEER_PORT = 12380
KUBELET_PORT = 10250
KUBE_PROXY_HEALTHZ = "127.0.0.1:10256"
# kube-router, the lab's NetworkPolicy enforcer (its firewall only): its health port, off its
# default 20244 like every other port here, and the prefix of its iptables chains and ipsets.
KUBE_ROUTER_HEALTH_PORT = 10258
KUBE_ROUTER_CHAIN_PREFIX = "KUBE-ROUTER-"
KUBE_ROUTER_USER = "kubernaut-lab:kube-router"  # its certificate's CN, bound to its ClusterRole
CNI_NETWORK = "kubernaut-lab"
GUARD_TABLE = "kubernaut_lab_guard"
# Every packet the guard drops is logged to the kernel log with this prefix (`dmesg`), so that a
# nonzero counter comes with the packets that made it.
GUARD_LOG_PREFIX = "kubernaut-lab-guard: "
CONTAINERD_NAMESPACE = "k8s.io"
# The in-tree hostPath provisioner writes here, a path fixed in kube-controller-manager.
HOSTPATH_PV_DIR = Path("/tmp/hostpath_pv")
STORAGE_CLASS = "standard"

PAUSE_IMAGE = "localhost/kubernaut-lab/pause:catatonit"
COREDNS_IMAGE = "localhost/kubernaut-lab/coredns:1.14.6"
# The lab's Prometheus (lab/prometheus.py), built from its Go module (go/prometheus) with
# Kubernetes service discovery, which Debian's package leaves out.
PROMETHEUS_IMAGE = "localhost/kubernaut-lab/prometheus:3.16.0"
# The lab's S3-compatible object store (lab/objectstore.py), SeaweedFS's `weed` built from its Go
# module (go/seaweedfs); the tag is its own version (weed/util/version: 4.53).
SEAWEEDFS_IMAGE = "localhost/kubernaut-seaweedfs:4.53"
# The engine matrix: one image per engine line, built by lab/images/build-images from Debian's
# packages (no registry is reachable here), each with the server, Sentinel, the CLI and haproxy.
# The first is the lab stack's (Pulumi.lab.yaml): the major line of the production default.
@dataclass(frozen=True)
class LabEngineImage:
    name: str      # pytest id and drill label
    engine: str    # platform.engine
    image: str     # platform.images.redis and platform.images.haproxy
    debian: str    # the Debian release it is built from

    def overrides(self) -> list[str]:
        """The `pulumi config set --path` values that put the lab stack on this engine."""
        return [f"platform.engine={self.engine}", f"platform.images.redis={self.image}",
                f"platform.images.haproxy={self.image}"]


LAB_ENGINE_IMAGES = (
    LabEngineImage("redis-8.0", "redis", "localhost/kubernaut-redis-lab:8.0.2", "13 (trixie)"),
    LabEngineImage("redis-7.0", "redis", "localhost/kubernaut-redis-lab:7.0.15", "12 (bookworm)"),
    LabEngineImage("valkey-8.1", "valkey", "localhost/kubernaut-valkey-lab:8.1.1", "13 (trixie)"),
)
CLIENT_IMAGE = "localhost/kubernaut-redis-client:7.0.15"
# Images of the project, built by lab/images/build-images into podman's storage and imported.
# The exporter of the lab stack's monitoring (monitoring.exporterImage of Pulumi.lab.yaml).
EXPORTER_IMAGE = "localhost/kubernaut-redis-exporter:1.45.0"
# The backup and restore tools (redis-cli, curl with --aws-sigv4), Debian 12's.
BACKUP_IMAGE = "localhost/kubernaut-redis-backup:7.0.15"
PROJECT_IMAGES = (CLIENT_IMAGE, *(engine.image for engine in LAB_ENGINE_IMAGES), EXPORTER_IMAGE, BACKUP_IMAGE)

# Kernel settings: the kubelet refuses to start unless these hold (protectKernelDefaults), the
# pod network needs forwarding and bridged traffic through iptables (kube-proxy's rules).
# `down` restores the values it found.
SYSCTLS = {
    "vm/overcommit_memory": "1",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000",
    "kernel/keys/root_maxbytes": "25000000",
    "net/ipv4/ip_forward": "1",
    "net/bridge/bridge-nf-call-iptables": "1",
}

COMPONENTS = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "containerd",
              "kubelet", "kube-proxy", "kube-router")


def default_root() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(os.environ.get("KUBERNAUT_CACHE") or cache / "kubernaut-redis") / "cluster" / "run"


@dataclass(frozen=True)
class Layout:
    """Where one cluster's state lives. Everything below `root` is removed by `down`."""

    root: Path

    @classmethod
    def default(cls) -> "Layout":
        return cls(default_root())

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etc(self) -> Path:
        return self.root / "etc"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def pids(self) -> Path:
        return self.root / "pids"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def containerd_root(self) -> Path:
        return self.root / "containerd" / "root"

    @property
    def containerd_state(self) -> Path:
        return self.root / "containerd" / "state"

    @property
    def runc_root(self) -> Path:
        """runc's state of the containers (its default, /run/containerd/runc, outlives `down`)."""
        return self.root / "runc"

    @property
    def containerd_socket(self) -> Path:
        return self.root / "containerd" / "containerd.sock"

    @property
    def kubelet_root(self) -> Path:
        return self.root / "kubelet"

    @property
    def pod_logs(self) -> Path:
        return self.root / "pod-logs"

    @property
    def cni_conf_dir(self) -> Path:
        return self.root / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.root / "cni" / "ipam"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def saved_sysctls(self) -> Path:
        return self.root / "saved-sysctls.json"

    @property
    def admin_kubeconfig(self) -> Path:
        return self.root / "admin.kubeconfig"

    def kubeconfig(self, user: str) -> Path:
        return self.etc / f"{user}.kubeconfig"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"

    def pidfile(self, component: str) -> Path:
        return self.pids / f"{component}.pid"
