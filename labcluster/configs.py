"""Pure renderers: the configuration file of each component, from the layout and the pins."""

from __future__ import annotations

import json

from .layout import (CLUSTER_CIDR, CLUSTER_DOMAIN, CNI_NETWORK, DNS_SERVICE_IP, KUBE_PROXY_HEALTHZ, KUBELET_PORT,
                     NODE_IP, NODE_NAME, PAUSE_IMAGE, POD_BRIDGE, POD_SUBNET, Layout)


def containerd_toml(layout: Layout) -> str:
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""\
# containerd 1.6 (Debian), run by hand: no systemd on these machines, so cgroupfs; the sandbox
# image is built locally (no registry); restrict_oom_score_adj because the machine has no
# CAP_SYS_RESOURCE; hugetlb is not mounted in this cgroup v1 hierarchy. runc keeps its state
# below the lab's root, which `down` removes; only the shims' sockets are fixed to
# /run/containerd/s (host.stale_shim_sockets).
version = 2
root = "{layout.containerd_root}"
state = "{layout.containerd_state}"

[grpc]
  address = "{layout.containerd_socket}"

[{cri}]
  sandbox_image = "{PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  tolerate_missing_hugetlb_controller = true
  disable_hugetlb_controller = true
  enable_selinux = false

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  BinaryName = "/usr/sbin/runc"
  Root = "{layout.runc_root}"

[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{layout.cni_conf_dir}"
  max_conf_num = 1
"""


def cni_conflist(layout: Layout) -> str:
    """A bridge of our own and host-local addresses with their own state directory: the
    machine's other CNI users (podman) keep theirs. No masquerade: pods talk to pods, the node
    and services, nothing beyond (the nft guard drops anything that tries)."""
    return json.dumps({
        "cniVersion": "1.0.0",
        "name": CNI_NETWORK,
        "plugins": [
            {"type": "bridge", "bridge": POD_BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
             "ipam": {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET}]],
                      "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(layout.cni_ipam_dir)}},
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }, indent=2) + "\n"


def kubelet_yaml(layout: Layout) -> str:
    pki = layout.pki
    return f"""\
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# cgroup v1 (hybrid) here: 1.37 still runs on it when told to.
failCgroupV1: false
cgroupDriver: cgroupfs
address: {NODE_IP}
port: {KUBELET_PORT}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
authentication:
  anonymous: {{enabled: false}}
  webhook: {{enabled: true}}
  x509: {{clientCAFile: {pki / 'ca.crt'}}}
authorization: {{mode: Webhook}}
tlsCertFile: {pki / 'kubelet-serving.crt'}
tlsPrivateKeyFile: {pki / 'kubelet-serving.key'}
clusterDomain: {CLUSTER_DOMAIN}
clusterDNS: [{DNS_SERVICE_IP}]
containerRuntimeEndpoint: unix://{layout.containerd_socket}
podLogsDir: {layout.pod_logs}
# The open-files hard limit of these machines.
maxOpenFiles: 20000
# The lab sets the kernel settings the kubelet wants before it starts (and restores them).
protectKernelDefaults: true
failSwapOn: false
# A small shared disk: evict only when it is really full, and never collect the local images
# (they cannot be pulled again).
evictionHard: {{memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2%, nodefs.inodesFree: 2%}}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
"""


def kube_proxy_yaml(layout: Layout) -> str:
    return f"""\
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {{kubeconfig: {layout.kubeconfig('kube-proxy')}}}
hostnameOverride: {NODE_NAME}
mode: iptables
clusterCIDR: {CLUSTER_CIDR}
bindAddress: {NODE_IP}
healthzBindAddress: {KUBE_PROXY_HEALTHZ}
metricsBindAddress: 127.0.0.1:10249
# NodePorts only on the node's own address, never on the machine's interface.
nodePortAddresses: ["{NODE_IP}/32"]
iptables: {{localhostNodePorts: false}}
# Leave the machine's conntrack settings alone.
conntrack: {{maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}}
"""


def scheduler_yaml(layout: Layout) -> str:
    return f"""\
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection: {{kubeconfig: {layout.kubeconfig('kube-scheduler')}}}
leaderElection: {{leaderElect: false}}
"""


def corefile(cache_cluster_domain: bool = True) -> str:
    """kubeadm's Corefile without `forward`: nothing leaves the lab, so a name outside the
    cluster domain fails at once instead of waiting on an upstream. The cache caches the
    cluster domain too (`cache 30`, as kubeadm before 1.3x, k3s and most managed clusters ship
    it; kubeadm 1.37 exempts the cluster domain): the harsher of the stock forms, so the lab
    meets answers up to 30 s stale, as many users' clusters give."""
    cache = "cache 30" if cache_cluster_domain else (
        f"cache 30 {{\n           disable success {CLUSTER_DOMAIN}\n           disable denial {CLUSTER_DOMAIN}\n        }}")
    return f"""\
.:53 {{
    errors
    health {{
       lameduck 5s
    }}
    ready
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus :9153
    {cache}
    loop
    reload
    loadbalance
}}
"""
