"""Bring the lab cluster up, check it, take it down.

    cluster = LabCluster.default()
    cluster.up(echo=print)      # or reuse: a healthy cluster is left as it is
    cluster.kubectl("get", "nodes")
    cluster.down()              # everything it made, gone; kernel settings restored
"""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from . import addons, configs, host, images, pki, processes
from .errors import ClusterError
from .layout import (APISERVER_PORT, CLUSTER_DOMAIN, COMPONENTS, DNS_SERVICE_IP, ETCD_CLIENT_PORT, ETCD_PEER_PORT,
                     GUARD_TABLE, HOSTPATH_PV_DIR, KUBE_PROXY_HEALTHZ, KUBE_ROUTER_HEALTH_PORT, NODE_BRIDGE, NODE_IP,
                     NODE_NAME, POD_BRIDGE, KUBERNETES_SERVICE_IP, POD_SUBNET, SERVICE_CIDR, Layout)

REPO = Path(__file__).resolve().parents[1]
BUILD_SCRIPT = REPO / "scripts" / "build-cluster"
HOST_COMMANDS = ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "iptables", "iptables-save", "ip6tables",
                 "ip6tables-save", "ipset", "nft",
                 "openssl", "ip", "mount", "umount", "nsenter", "dig", "conntrack")
COMPONENT_TIMEOUT_SECONDS = 60.0
NODE_READY_TIMEOUT_SECONDS = 90.0
DNS_READY_TIMEOUT_SECONDS = 120.0


def find_binaries() -> Path:
    done = subprocess.run([str(BUILD_SCRIPT), "--check"], capture_output=True, text=True)
    if done.returncode != 0:
        raise ClusterError("binaries", "the cluster's binaries are not built",
                           check="scripts/build-cluster (about 10 minutes cold on 2 cores; reused afterwards)")
    return Path(done.stdout.strip())


@dataclass
class LabCluster:
    layout: Layout
    bin_dir: Optional[Path] = None

    @classmethod
    def default(cls) -> "LabCluster":
        return cls(Layout.default())

    # ------------------------------------------------------------------ paths and clients

    @property
    def bin(self) -> Path:
        if self.bin_dir is None:
            self.bin_dir = find_binaries()
        return self.bin_dir

    @property
    def kubeconfig(self) -> Path:
        return self.layout.admin_kubeconfig

    def kubectl(self, *args: str, input: Optional[str] = None, timeout: float = 60,
                check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([str(self.bin / "kubectl"), "--kubeconfig", str(self.kubeconfig), *args],
                              input=input, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise ClusterError("kubectl", f"`kubectl {' '.join(args)}` failed: {done.stderr.strip()[-600:]}")
        return done

    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig), "KUBERNAUT_LAB_BIN": str(self.bin)}

    # ------------------------------------------------------------------ state

    def running(self) -> dict[str, Optional[int]]:
        return {c: processes.pid_of(self.layout, c) for c in COMPONENTS}

    def healthy(self) -> bool:
        if not all(self.running().values()) or not self.kubeconfig.exists():
            return False
        try:
            return self._apiserver_ready() and self._node_ready() and self._dns_answers()
        except (ClusterError, subprocess.TimeoutExpired, OSError):
            return False

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = {"processes": self.running(), "kubeconfig": str(self.kubeconfig)}
        try:
            result["apiserver_ready"] = self._apiserver_ready()
            result["node_ready"] = self._node_ready()
            result["dns"] = self._dns_answers()
        except (ClusterError, subprocess.TimeoutExpired, OSError) as err:
            result["error"] = str(err)
        result["guard_drops"] = host.guard_drops()
        return result

    # ------------------------------------------------------------------ up

    def up(self, echo: Callable[[str], None] = lambda _: None) -> float:
        """Start the cluster, or keep a healthy one. Returns the seconds it took."""
        started = time.monotonic()
        self._check_host()
        bin_dir = self.bin
        if self.healthy():
            # A reused cluster still gets the project images built since it came up (another
            # engine's, say); those it has are left alone.
            added = images.import_all(self.layout, bin_dir, self.layout.root.parent / "images")
            if added:
                echo(f"lab cluster: imported {', '.join(added)}")
            echo(f"lab cluster: already up and healthy (kubeconfig {self.kubeconfig})")
            return time.monotonic() - started
        if self.layout.root.exists():
            echo("lab cluster: removing what an earlier cluster left")
            self.down()
        try:
            self._prepare()
            steps = (("etcd", self._start_etcd), ("kube-apiserver", self._start_apiserver),
                     ("kube-controller-manager", self._start_controller_manager),
                     ("kube-scheduler", self._start_scheduler), ("containerd", self._start_containerd),
                     ("images", lambda: images.import_all(self.layout, bin_dir, self.layout.root.parent / "images")),
                     ("kubelet", self._start_kubelet), ("kube-proxy", self._start_kube_proxy),
                     ("add-ons", self._apply_addons), ("kube-router", self._start_kube_router),
                     ("cluster DNS", self._wait_dns))
            for name, step in steps:
                t0 = time.monotonic()
                step()
                echo(f"lab cluster: {name} ready ({time.monotonic() - t0:.1f} s)")
        except BaseException:
            if os.environ.get("KUBERNAUT_LAB_KEEP_FAILED"):
                echo("lab cluster: bring-up failed; left as it is (KUBERNAUT_LAB_KEEP_FAILED)")
            else:
                echo("lab cluster: bring-up failed; taking down what was started")
                self.down()
            raise
        took = time.monotonic() - started
        echo(f"lab cluster: node {NODE_NAME} Ready, DNS answering, after {took:.1f} s (KUBECONFIG={self.kubeconfig})")
        return took

    def _check_host(self) -> None:
        missing = [c for c in HOST_COMMANDS if shutil.which(c) is None]
        if missing:
            raise ClusterError("host", f"commands missing: {', '.join(missing)}", check="scripts/setup-host installs them")
        if not Path("/proc/sys/net/bridge").exists():
            raise ClusterError("host", "no bridge netfilter (/proc/sys/net/bridge)", check="modprobe br_netfilter")

    def _prepare(self) -> None:
        layout = self.layout
        for directory in (layout.root, layout.etc, layout.logs, layout.pids, layout.cni_conf_dir,
                          layout.cni_ipam_dir, layout.pod_logs, layout.kubelet_root):
            directory.mkdir(parents=True, exist_ok=True)
        layout.root.chmod(0o700)
        pki.make_pki(layout)
        pki.write_kubeconfigs(layout)
        (layout.etc / "containerd.toml").write_text(configs.containerd_toml(layout))
        (layout.cni_conf_dir / "10-kubernaut-lab.conflist").write_text(configs.cni_conflist(layout))
        (layout.etc / "kubelet.yaml").write_text(configs.kubelet_yaml(layout))
        (layout.etc / "kube-proxy.yaml").write_text(configs.kube_proxy_yaml(layout))
        (layout.etc / "scheduler.yaml").write_text(configs.scheduler_yaml(layout))
        host.set_sysctls(layout)
        host.setup_network()

    def _start(self, component: str, *args: str) -> None:
        processes.start(self.layout, component, [str(self.bin / component), *args])

    def _start_etcd(self) -> None:
        client = f"http://127.0.0.1:{ETCD_CLIENT_PORT}"
        peer = f"http://127.0.0.1:{ETCD_PEER_PORT}"
        self._start("etcd", "--name", "kubernaut-lab", "--data-dir", str(self.layout.etcd_data),
                    "--listen-client-urls", client, "--advertise-client-urls", client,
                    "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                    "--initial-cluster", f"kubernaut-lab={peer}", "--listen-metrics-urls", "http://127.0.0.1:12381",
                    "--quota-backend-bytes", str(2 * 1024**3))

        def ready() -> bool:
            with urllib.request.urlopen(f"{client}/health", timeout=2) as response:
                return json.load(response).get("health") == "true"
        processes.wait_for("etcd", self.layout, ready, COMPONENT_TIMEOUT_SECONDS, "healthy",
                           f"is port {ETCD_CLIENT_PORT} or {ETCD_PEER_PORT} taken? (ss -ltnp)")

    def _start_apiserver(self) -> None:
        p = self.layout.pki
        self._start("kube-apiserver", f"--advertise-address={NODE_IP}", f"--bind-address={NODE_IP}",
                    f"--secure-port={APISERVER_PORT}", f"--etcd-servers=http://127.0.0.1:{ETCD_CLIENT_PORT}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}", "--authorization-mode=Node,RBAC",
                    "--enable-admission-plugins=NodeRestriction", "--allow-privileged=true",
                    f"--client-ca-file={p / 'ca.crt'}", f"--tls-cert-file={p / 'kube-apiserver.crt'}",
                    f"--tls-private-key-file={p / 'kube-apiserver.key'}",
                    f"--kubelet-client-certificate={p / 'apiserver-kubelet-client.crt'}",
                    f"--kubelet-client-key={p / 'apiserver-kubelet-client.key'}",
                    f"--kubelet-certificate-authority={p / 'ca.crt'}",
                    "--kubelet-preferred-address-types=InternalIP",
                    f"--service-account-key-file={p / 'sa.pub'}",
                    f"--service-account-signing-key-file={p / 'sa.key'}",
                    f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
                    "--profiling=false", "--v=1")
        processes.wait_for("kube-apiserver", self.layout, self._apiserver_ready, COMPONENT_TIMEOUT_SECONDS,
                           "ready (/readyz)", f"is {NODE_IP}:{APISERVER_PORT} free? is etcd up?")

    def _apiserver_ready(self) -> bool:
        done = self.kubectl("get", "--raw", "/readyz", check=False, timeout=10)
        return done.returncode == 0 and done.stdout.strip() == "ok"

    def _start_controller_manager(self) -> None:
        p = self.layout.pki
        kubeconfig = str(self.layout.kubeconfig("kube-controller-manager"))
        self._start("kube-controller-manager", f"--kubeconfig={kubeconfig}",
                    f"--authentication-kubeconfig={kubeconfig}", f"--authorization-kubeconfig={kubeconfig}",
                    "--bind-address=127.0.0.1", "--use-service-account-credentials", "--controllers=*",
                    "--leader-elect=false", "--enable-hostpath-provisioner",
                    f"--service-account-private-key-file={p / 'sa.key'}", f"--root-ca-file={p / 'ca.crt'}",
                    f"--cluster-signing-cert-file={p / 'ca.crt'}", f"--cluster-signing-key-file={p / 'ca.key'}",
                    f"--service-cluster-ip-range={SERVICE_CIDR}", "--v=1")
        processes.wait_for("kube-controller-manager", self.layout, lambda: self._healthz(10257),
                           COMPONENT_TIMEOUT_SECONDS, "healthy (:10257/healthz)")

    def _start_scheduler(self) -> None:
        self._start("kube-scheduler", f"--config={self.layout.etc / 'scheduler.yaml'}",
                    "--bind-address=127.0.0.1", "--v=1")
        processes.wait_for("kube-scheduler", self.layout, lambda: self._healthz(10259),
                           COMPONENT_TIMEOUT_SECONDS, "healthy (:10259/healthz)")

    @staticmethod
    def _healthz(port: int) -> bool:
        import ssl
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/healthz", timeout=2, context=context) as response:
            return response.read().strip() == b"ok"

    def _start_containerd(self) -> None:
        processes.start(self.layout, "containerd", ["containerd", "--config", str(self.layout.etc / "containerd.toml")])

        def ready() -> bool:
            return images.ctr(self.layout, "version", timeout=5).returncode == 0
        processes.wait_for("containerd", self.layout, ready, COMPONENT_TIMEOUT_SECONDS, "answering on its socket")

    def _start_kubelet(self) -> None:
        self._start("kubelet", f"--config={self.layout.etc / 'kubelet.yaml'}",
                    f"--kubeconfig={self.layout.kubeconfig('kubelet')}", f"--hostname-override={NODE_NAME}",
                    f"--node-ip={NODE_IP}", f"--root-dir={self.layout.kubelet_root}", "--v=1")
        processes.wait_for("kubelet", self.layout, self._node_ready, NODE_READY_TIMEOUT_SECONDS,
                           f"registered with node {NODE_NAME} Ready",
                           "the kubelet log names the failed check (cgroups, containerd socket, kernel settings)")

    def _node_ready(self) -> bool:
        done = self.kubectl("get", "node", NODE_NAME, "-o", "json", check=False, timeout=10)
        if done.returncode != 0:
            return False
        conditions = json.loads(done.stdout)["status"].get("conditions") or []
        return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)

    def _start_kube_proxy(self) -> None:
        self._start("kube-proxy", f"--config={self.layout.etc / 'kube-proxy.yaml'}", "--v=1")

        # Healthy is not enough: /healthz answers before the first sync of the rules, and a pod
        # started in between (CoreDNS, right after) would send its first packets to a ClusterIP
        # that nothing rewrites yet.
        def ready() -> bool:
            with urllib.request.urlopen(f"http://{KUBE_PROXY_HEALTHZ}/healthz", timeout=2) as response:
                if response.status != 200:
                    return False
            return host.service_rules_synced(KUBERNETES_SERVICE_IP)
        processes.wait_for("kube-proxy", self.layout, ready, COMPONENT_TIMEOUT_SECONDS,
                           f"healthy, with the rules of {KUBERNETES_SERVICE_IP} synced")

    def _start_kube_router(self) -> None:
        """The NetworkPolicy enforcer: kube-router's firewall alone (kube-proxy keeps the Services,
        the bridge CNI the routes), as a process of the node like kube-proxy. It filters bridged
        pod traffic in iptables' FORWARD chain (bridge-nf-call-iptables) with ipsets."""
        self._start("kube-router", f"--kubeconfig={self.layout.kubeconfig('kube-router')}",
                    f"--hostname-override={NODE_NAME}", "--run-firewall=true", "--run-router=false",
                    "--run-service-proxy=false", f"--service-cluster-ip-range={SERVICE_CIDR}",
                    f"--health-port={KUBE_ROUTER_HEALTH_PORT}", "--metrics-port=0", "--v=1")

        # /healthz answers once every controller has reported in; the chain it hooks into FORWARD
        # says its first sync is done, so no pod starts before policies are enforced.
        def ready() -> bool:
            with urllib.request.urlopen(f"http://127.0.0.1:{KUBE_ROUTER_HEALTH_PORT}/healthz", timeout=2) as response:
                if response.status != 200:
                    return False
            return host.kube_router_synced()
        processes.wait_for("kube-router", self.layout, ready, COMPONENT_TIMEOUT_SECONDS,
                           "healthy, with its FORWARD chain in place")

    def _apply_addons(self) -> None:
        document = json.dumps({"apiVersion": "v1", "kind": "List", "items": addons.all_objects()})
        self.kubectl("apply", "--server-side", "--field-manager=kubernaut-lab", "-f", "-", input=document)

    def _wait_dns(self) -> None:
        def ready() -> bool:
            return self._dns_answers()
        try:
            processes.wait_for("kubelet", self.layout, ready, DNS_READY_TIMEOUT_SECONDS,
                               f"serving CoreDNS (kubernetes.default.svc.{CLUSTER_DOMAIN} at {DNS_SERVICE_IP})")
        except ClusterError as err:
            pods = self.kubectl("-n", "kube-system", "get", "pods", "-o", "wide", check=False).stdout
            raise ClusterError("cluster DNS", f"CoreDNS does not answer: {err.problem}\n{pods}", err.log,
                               "kubectl -n kube-system describe pod -l k8s-app=kube-dns; kubectl -n kube-system logs -l k8s-app=kube-dns") from None

    @staticmethod
    def _dns_answers() -> bool:
        done = subprocess.run(["dig", "+short", "+time=1", "+tries=1", f"@{DNS_SERVICE_IP}",
                               f"kubernetes.default.svc.{CLUSTER_DOMAIN}"], capture_output=True, text=True, timeout=5)
        return done.returncode == 0 and done.stdout.strip() != "" and not done.stdout.startswith(";")

    # ------------------------------------------------------------------ down

    def down(self, echo: Callable[[str], None] = lambda _: None) -> list[str]:
        """Stop every process, then remove containers, mounts, network state, rules and files."""
        layout = self.layout
        removed: list[str] = []
        for component in ("kube-router", "kube-proxy", "kubelet", "kube-scheduler", "kube-controller-manager"):
            removed += [r for r in [processes.stop(layout, component)] if r]
        known_netns = self._pod_netns()
        if processes.pid_of(layout, "containerd"):
            removed += self._remove_containers()
        removed += [r for r in [processes.stop(layout, "containerd")] if r]
        removed += processes.kill_all(processes.processes_mentioning(str(layout.containerd_socket)))
        removed += host.remove_stale_shim_sockets()
        removed += [r for r in [processes.stop(layout, "kube-apiserver"), processes.stop(layout, "etcd")] if r]
        removed += host.unmount_below(layout.root)
        removed += host.remove_pod_netns(known_netns)
        kube_proxy = self.bin_dir / "kube-proxy" if self.bin_dir else _binaries_if_built("kube-proxy")
        removed += host.remove_kube_proxy_rules(kube_proxy)
        removed += host.remove_ipsets()
        removed += host.teardown_network()
        removed += host.remove_kubepods_cgroups()
        removed += host.restore_sysctls(layout) if layout.saved_sysctls.exists() else []
        removed += host.remove_hostpath_volumes()
        if layout.root.exists():
            shutil.rmtree(layout.root, ignore_errors=True)
            removed.append(f"directory {layout.root}")
        for line in removed:
            echo(f"lab cluster: removed {line}")
        return removed

    @staticmethod
    def _pod_netns() -> set[str]:
        """containerd's network namespaces (`cni-*`) that hold an address of the lab's pod subnet."""
        netns_dir = Path("/var/run/netns")
        if not netns_dir.exists():
            return set()
        return {entry.name for entry in netns_dir.iterdir() if entry.name.startswith("cni-") and _in_pod_subnet(entry.name)}

    def _remove_containers(self) -> list[str]:
        removed = []
        tasks = images.ctr(self.layout, "tasks", "ls", "-q", timeout=30).stdout.split()
        for task in tasks:
            images.ctr(self.layout, "tasks", "kill", "-s", "SIGKILL", task, timeout=30)
        time.sleep(0.5)
        for task in tasks:
            images.ctr(self.layout, "tasks", "delete", "-f", task, timeout=30)
        for container in images.ctr(self.layout, "containers", "ls", "-q", timeout=30).stdout.split():
            images.ctr(self.layout, "containers", "delete", container, timeout=30)
            removed.append(f"container {container[:12]}")
        return removed


def _binaries_if_built(name: str) -> Optional[Path]:
    try:
        return find_binaries() / name
    except ClusterError:
        return None


def _in_pod_subnet(netns: str) -> bool:
    done = subprocess.run(["ip", "-n", netns, "-j", "-4", "addr"], capture_output=True, text=True)
    if done.returncode != 0:
        return False
    network = ipaddress.ip_network(POD_SUBNET)
    return any(ipaddress.ip_address(a["local"]) in network
               for link in json.loads(done.stdout or "[]") for a in link.get("addr_info", []))


def leftovers(layout: Layout) -> list[str]:
    """What of a lab cluster still exists on this machine (empty after a clean `down`)."""
    found = [f"process {pid}" for pid in processes.processes_mentioning(str(layout.root))]
    found += [f"mount {m}" for m in host.mounts_below(layout.root)]
    for link in (POD_BRIDGE, NODE_BRIDGE):
        if host.run("ip", "link", "show", link, check=False).returncode == 0:
            found.append(f"link {link}")
    if host.run("nft", "list", "table", "inet", GUARD_TABLE, check=False).returncode == 0:
        found.append(f"nft table {GUARD_TABLE}")
    found += [f"{command} chain {chain}" for command, chain in host.iptables_chains() if chain.startswith("KUBE-")]
    found += [f"ipset {s}" for s in host.lab_ipsets()]
    found += [f"netns {n}" for n in LabCluster._pod_netns()]
    found += [f"stale shim socket {path}" for path in host.stale_shim_sockets()]
    if layout.root.exists():
        found.append(f"directory {layout.root}")
    if HOSTPATH_PV_DIR.exists():
        found.append(f"directory {HOSTPATH_PV_DIR}")
    found += [f"cgroup {c}/{host.KUBEPODS_CGROUP}" for c in host.CGROUP_ROOT.iterdir()
              if (c / host.KUBEPODS_CGROUP).exists()]
    return found
