"""The lab cluster's pure parts: configuration renderers, add-ons, the guard, certificates."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from labcluster import addons, configs, host, pki
from labcluster.layout import (CLUSTER_DOMAIN, DNS_SERVICE_IP, GUARD_TABLE, KUBERNETES_VERSION, NODE_IP, PAUSE_IMAGE,
                               POD_BRIDGE, Layout)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def layout(tmp_path) -> Layout:
    return Layout(tmp_path / "run")


def test_the_pinned_kubernetes_version_is_the_wrapper_modules():
    go_mod = (REPO / "go" / "kubernetes" / "go.mod").read_text()
    assert re.search(rf"^\s*k8s\.io/kubernetes {re.escape(KUBERNETES_VERSION)}$", go_mod, re.M)
    # Every staging module is replaced by its published twin of the same minor.
    staging = "v0." + KUBERNETES_VERSION.removeprefix("v1.")
    replaces = re.findall(r"^\s*(k8s\.io/\S+) => (\S+) (\S+)$", go_mod, re.M)
    assert len(replaces) > 25
    assert all(old == new and version == staging for old, new, version in replaces)


def test_kubelet_runs_on_cgroup_v1_with_cgroupfs_and_the_cluster_dns(layout):
    config = yaml.safe_load(configs.kubelet_yaml(layout))
    assert config["failCgroupV1"] is False and config["cgroupDriver"] == "cgroupfs"
    assert config["clusterDNS"] == [DNS_SERVICE_IP] and config["clusterDomain"] == CLUSTER_DOMAIN
    assert config["authentication"]["anonymous"]["enabled"] is False
    assert config["authorization"]["mode"] == "Webhook"
    assert config["readOnlyPort"] == 0
    assert config["containerRuntimeEndpoint"] == f"unix://{layout.containerd_socket}"


def test_containerd_uses_the_lab_pause_image_and_its_own_cni_directory(layout):
    text = configs.containerd_toml(layout)
    assert f'sandbox_image = "{PAUSE_IMAGE}"' in text
    assert "restrict_oom_score_adj = true" in text
    assert f'conf_dir = "{layout.cni_conf_dir}"' in text
    assert "SystemdCgroup = false" in text


def test_every_state_directory_of_containerd_and_runc_is_below_the_lab_root(layout):
    """`down` removes the lab's root: runc's default root (/run/containerd/runc) would keep a
    state directory per container of every cluster ever run."""
    config = tomllib.loads(configs.containerd_toml(layout))
    runc = config["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["runtimes"]["runc"]["options"]
    for path in (config["root"], config["state"], runc["Root"]):
        assert Path(path).is_relative_to(layout.root), path


def test_pods_are_not_masqueraded_out(layout):
    conflist = json.loads(configs.cni_conflist(layout))
    bridge = conflist["plugins"][0]
    assert bridge["bridge"] == POD_BRIDGE and bridge["ipMasq"] is False
    assert bridge["ipam"]["dataDir"] == str(layout.cni_ipam_dir)


def test_kube_proxy_opens_node_ports_on_the_node_address_only(layout):
    config = yaml.safe_load(configs.kube_proxy_yaml(layout))
    assert config["mode"] == "iptables"
    assert config["nodePortAddresses"] == [f"{NODE_IP}/32"]


def test_coredns_caches_like_stock_clusters_and_forwards_nothing():
    corefile = configs.corefile()
    assert re.search(r"^\s*cache 30\s*$", corefile, re.M)
    assert re.search(r"ttl 30", corefile)
    assert "forward" not in corefile
    # The kubeadm 1.37 form exempts the cluster domain from the cache.
    assert f"disable success {CLUSTER_DOMAIN}" in configs.corefile(cache_cluster_domain=False)


def test_addons_are_a_default_storage_class_and_coredns_at_the_dns_address():
    objects = addons.all_objects()
    storage = objects[0]
    assert storage["kind"] == "StorageClass"
    assert storage["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    service = next(o for o in objects if o["kind"] == "Service")
    assert service["spec"]["clusterIP"] == DNS_SERVICE_IP


def test_the_guard_drops_cluster_traffic_on_the_uplink_at_postrouting():
    rules = host.guard_rules("eth9")
    assert f"table inet {GUARD_TABLE}" in rules
    assert "hook postrouting" in rules and "hook output" not in rules
    assert rules.count('oifname "eth9"') == 4
    assert all("drop" in line for line in rules.splitlines() if 'oifname "eth9"' in line)


def test_the_guard_is_valid_nft():
    done = subprocess.run(["nft", "--check", "-f", "-"], input=host.guard_rules("eth0"), capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr


def test_certificates_and_self_contained_kubeconfigs(layout):
    pki.make_pki(layout)
    pki.write_kubeconfigs(layout)
    config = json.loads(layout.admin_kubeconfig.read_text())
    cluster, user = config["clusters"][0]["cluster"], config["users"][0]["user"]
    assert set(cluster) == {"server", "certificate-authority-data"}
    assert set(user) == {"client-certificate-data", "client-key-data"}
    assert layout.admin_kubeconfig.stat().st_mode & 0o077 == 0
    verify = subprocess.run(["openssl", "verify", "-CAfile", str(layout.pki / "ca.crt"),
                             str(layout.pki / "kube-apiserver.crt")], capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    san = subprocess.run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
                          str(layout.pki / "kube-apiserver.crt")], capture_output=True, text=True).stdout
    assert f"IP Address:{NODE_IP}" in san and "IP Address:10.96.0.1" in san
    subject = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", str(layout.pki / "kubelet.crt")],
                             capture_output=True, text=True).stdout
    assert "system:nodes" in subject


def test_only_shim_sockets_nobody_listens_on_are_stale(tmp_path, monkeypatch):
    """A shim killed with its containers leaves its socket file in /run/containerd/s; `down`
    removes those, and never a socket that still answers (a shim of another containerd)."""
    monkeypatch.setattr(host, "SHIM_SOCKET_DIR", tmp_path)
    live_path, dead_path = tmp_path / "live", tmp_path / "dead"
    (tmp_path / "not-a-socket").write_text("")
    with socket.socket(socket.AF_UNIX) as live, socket.socket(socket.AF_UNIX) as dead:
        live.bind(str(live_path))
        live.listen()
        dead.bind(str(dead_path))  # bound, never listening: what a killed shim leaves behind
        assert host.stale_shim_sockets() == [dead_path]
        assert host.remove_stale_shim_sockets() == [f"stale shim socket {dead_path}"]
        assert not dead_path.exists() and live_path.exists()
        assert host.stale_shim_sockets() == []
