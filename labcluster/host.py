"""What the cluster changes on the machine, and how it is undone: the node's bridge, the guard
that keeps cluster traffic off the machine's own interface, kernel settings, mounts, the pod
bridge and its veths, kube-proxy's and kube-router's rules, kube-router's ipsets, cgroups."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Optional

from .errors import ClusterError
from .layout import (CLUSTER_CIDR, GUARD_LOG_PREFIX, GUARD_TABLE, HOSTPATH_PV_DIR, KUBE_ROUTER_CHAIN_PREFIX, NODE_BRIDGE,
                     NODE_IP, POD_BRIDGE, SERVICE_CIDR, SYSCTLS, Layout)

PROC_SYS = Path("/proc/sys")
CGROUP_ROOT = Path("/sys/fs/cgroup")
KUBEPODS_CGROUP = "kubepods"
# The kubelet writes chains to both families, kube-proxy and kube-router to IPv4 only here.
IPTABLES_FAMILIES = (("iptables", "iptables-save"), ("ip6tables", "ip6tables-save"))
IPTABLES_TABLES = ("nat", "filter", "mangle")


def run(*command: str, check: bool = True, component: str = "host") -> subprocess.CompletedProcess:
    done = subprocess.run(list(command), capture_output=True, text=True)
    if check and done.returncode != 0:
        raise ClusterError(component, f"`{' '.join(command)}` failed: {(done.stderr or done.stdout).strip()[-400:]}")
    return done


def uplink() -> Optional[str]:
    """The interface of the machine's default route: the one cluster traffic must never leave by."""
    done = run("ip", "-j", "route", "show", "default", check=False)
    routes = json.loads(done.stdout or "[]")
    return routes[0].get("dev") if routes else None


# ---------------------------------------------------------------------------- sysctls

def set_sysctls(layout: Layout) -> None:
    """Save the values found (once: a second `up` must not save our own values), then set ours."""
    if not layout.saved_sysctls.exists():
        saved = {key: (PROC_SYS / key).read_text().strip() for key in SYSCTLS if (PROC_SYS / key).exists()}
        layout.saved_sysctls.write_text(json.dumps(saved, indent=1))
    for key, value in SYSCTLS.items():
        path = PROC_SYS / key
        if not path.exists():
            raise ClusterError("host", f"kernel setting {key} does not exist on this kernel",
                               check="the bridge netfilter hooks (br_netfilter) are needed by kube-proxy")
        path.write_text(value)


def restore_sysctls(layout: Layout) -> list[str]:
    if not layout.saved_sysctls.exists():
        return []
    restored = []
    for key, value in json.loads(layout.saved_sysctls.read_text()).items():
        try:
            (PROC_SYS / key).write_text(value)
            restored.append(f"sysctl {key}={value}")
        except OSError:
            pass
    layout.saved_sysctls.unlink()
    return restored


# ---------------------------------------------------------------------------- network

def guard_rules(uplink_dev: str) -> str:
    """nft script: drop anything of the cluster that would leave by the machine's interface.
    On postrouting (not output): after kube-proxy's DNAT of a host->ClusterIP packet to the
    node's address, the output hook still sees the uplink as the interface."""
    nets = f"{{ {CLUSTER_CIDR}, {SERVICE_CIDR}, {NODE_IP} }}"
    return f"""\
table inet {GUARD_TABLE} {{
    chain postrouting {{
        type filter hook postrouting priority 0; policy accept;
        oifname "{uplink_dev}" ip saddr {nets} log prefix "{GUARD_LOG_PREFIX}" counter drop
        oifname "{uplink_dev}" ip daddr {nets} log prefix "{GUARD_LOG_PREFIX}" counter drop
    }}
    chain forward {{
        type filter hook forward priority 0; policy accept;
        iifname "{POD_BRIDGE}" oifname "{uplink_dev}" log prefix "{GUARD_LOG_PREFIX}" counter drop
        iifname "{NODE_BRIDGE}" oifname "{uplink_dev}" log prefix "{GUARD_LOG_PREFIX}" counter drop
    }}
}}
"""


def setup_network() -> None:
    if run("ip", "link", "show", NODE_BRIDGE, check=False).returncode != 0:
        run("ip", "link", "add", NODE_BRIDGE, "type", "bridge")
    run("ip", "addr", "replace", f"{NODE_IP}/32", "dev", NODE_BRIDGE)
    run("ip", "link", "set", NODE_BRIDGE, "up")
    # Service addresses are routed to the node's bridge, not to the default route: a packet to a
    # ClusterIP that kube-proxy has not (or no longer) rewritten stays on this machine, where it
    # goes nowhere, instead of heading for the uplink. Host-to-ClusterIP connections then also
    # take the node's address as their source. The route goes with the bridge at teardown.
    run("ip", "route", "replace", SERVICE_CIDR, "dev", NODE_BRIDGE)
    dev = uplink()
    run("nft", "delete", "table", "inet", GUARD_TABLE, check=False)
    if dev:
        done = subprocess.run(["nft", "-f", "-"], input=guard_rules(dev), capture_output=True, text=True)
        if done.returncode != 0:
            raise ClusterError("host", f"could not load the traffic guard: {done.stderr.strip()}",
                               check="is nftables installed (scripts/setup-host)?")


def service_rules_synced(service_ip: str) -> bool:
    """Whether kube-proxy has written the NAT rules of a Service address."""
    done = run("iptables", "-w", "-t", "nat", "-S", "KUBE-SERVICES", check=False)
    return done.returncode == 0 and f"{service_ip}/32" in done.stdout


def guard_drops() -> int:
    """Packets the guard dropped (0 unless something tried to leave)."""
    done = run("nft", "-j", "list", "table", "inet", GUARD_TABLE, check=False)
    if done.returncode != 0:
        return 0
    total = 0
    for item in json.loads(done.stdout).get("nftables", []):
        for expr in (item.get("rule") or {}).get("expr", []):
            if "counter" in expr:
                total += int(expr["counter"].get("packets", 0))
    return total


def teardown_network() -> list[str]:
    removed = []
    for link in links_of_bridge(POD_BRIDGE):
        run("ip", "link", "delete", link, check=False)
        removed.append(f"veth {link}")
    for bridge in (POD_BRIDGE, NODE_BRIDGE):
        if run("ip", "link", "show", bridge, check=False).returncode == 0:
            run("ip", "link", "delete", bridge, check=False)
            removed.append(f"bridge {bridge}")
    if run("nft", "list", "table", "inet", GUARD_TABLE, check=False).returncode == 0:
        run("nft", "delete", "table", "inet", GUARD_TABLE, check=False)
        removed.append(f"nft table {GUARD_TABLE}")
    return removed


def links_of_bridge(bridge: str) -> list[str]:
    done = run("ip", "-j", "link", "show", "master", bridge, check=False)
    if done.returncode != 0:
        return []
    return [link["ifname"] for link in json.loads(done.stdout or "[]")]


# ---------------------------------------------------------------------------- mounts, netns, cgroups

def mounts_below(*roots: Path) -> list[str]:
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == str(r) or point.startswith(f"{r}/") for r in roots):
            found.append(point)
    return sorted(found, key=len, reverse=True)


def unmount_below(*roots: Path) -> list[str]:
    removed = []
    for _ in range(3):  # nested and stacked mounts come off in a few passes
        points = mounts_below(*roots)
        if not points:
            break
        for point in points:
            if run("umount", point, check=False).returncode != 0:
                run("umount", "-l", point, check=False)
            removed.append(f"mount {point}")
    return removed


def remove_pod_netns(known: set[str]) -> list[str]:
    """The network namespaces containerd made for our pods (bind mounts in /var/run/netns)."""
    removed = []
    netns_dir = Path("/var/run/netns")
    for name in sorted(known):
        path = netns_dir / name
        if path.exists():
            run("umount", str(path), check=False)
            try:
                path.unlink()
            except OSError:
                pass
            removed.append(f"netns {name}")
    return removed


def remove_kubepods_cgroups() -> list[str]:
    removed = []
    for controller in sorted(CGROUP_ROOT.iterdir()):
        top = controller / KUBEPODS_CGROUP
        if not top.is_dir():
            continue
        for directory in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            _rmdir(directory)
        _rmdir(top)
        if not top.exists():
            removed.append(f"cgroup {top}")
    return removed


def _rmdir(path: Path) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass


def remove_kube_proxy_rules(kube_proxy: Optional[Path]) -> list[str]:
    """kube-proxy's, kube-router's and the kubelet's KUBE-* chains, and the jumps into them, in
    both families (the kubelet makes its canary and firewall chains in ip6tables too)."""
    if kube_proxy and kube_proxy.exists():
        run(str(kube_proxy), "--cleanup", check=False)
    removed = []
    for iptables, save in IPTABLES_FAMILIES:
        for table in IPTABLES_TABLES:
            dump = run(save, "-t", table, check=False).stdout.splitlines()
            chains = [line[1:].split()[0] for line in dump if line.startswith(":KUBE-")]
            for line in dump:  # jumps from the built-in chains first, or the chains cannot go
                words = shlex.split(line)
                if words[:1] == ["-A"] and not words[1].startswith("KUBE-") and "-j" in words \
                        and words[words.index("-j") + 1].startswith("KUBE-"):
                    run(iptables, "-t", table, "-D", *words[1:], check=False)
            for chain in chains:
                run(iptables, "-t", table, "-F", chain, check=False)
            for chain in chains:
                run(iptables, "-t", table, "-X", chain, check=False)
            removed += [f"{iptables} {table} chain {c}" for c in chains]
    return removed


def kube_router_synced() -> bool:
    """Whether kube-router has hooked its chains into FORWARD (its first full sync)."""
    done = run("iptables", "-w", "-S", "FORWARD", check=False)
    return f"-j {KUBE_ROUTER_CHAIN_PREFIX}FORWARD" in done.stdout


def lab_ipsets() -> list[str]:
    """kube-router's network policy ipsets (KUBE-SRC-*, KUBE-DST-* per policy; IPv4 only here)."""
    done = run("ipset", "list", "-n", check=False)
    return [name for name in done.stdout.split() if name.startswith("KUBE-")]


def remove_ipsets() -> list[str]:
    """Destroy kube-router's ipsets; run after its iptables rules are gone (a set in use stays)."""
    names = lab_ipsets()
    for name in names:
        run("ipset", "destroy", name, check=False)
    return [f"ipset {name}" for name in names]


def iptables_chains() -> list[tuple[str, str]]:
    """Every chain of the tables the lab touches, as (command, chain), in both families."""
    chains = []
    for iptables, save in IPTABLES_FAMILIES:
        for table in IPTABLES_TABLES:
            done = run(save, "-t", table, check=False)
            chains += [(iptables, line[1:].split()[0]) for line in done.stdout.splitlines() if line.startswith(":")]
    return chains


# containerd 1.6's shims listen here whatever the daemon's state directory (not configurable).
SHIM_SOCKET_DIR = Path("/run/containerd/s")


def stale_shim_sockets() -> list[Path]:
    """Shim sockets nobody listens on: a shim killed with its containers leaves its socket file
    behind. A socket that still answers (another containerd's shim) is not stale."""
    stale = []
    for path in sorted(SHIM_SOCKET_DIR.glob("*")) if SHIM_SOCKET_DIR.is_dir() else []:
        if not path.is_socket():
            continue
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            try:
                sock.connect(str(path))
            except OSError:
                stale.append(path)
    return stale


def remove_stale_shim_sockets() -> list[str]:
    removed = []
    for path in stale_shim_sockets():
        path.unlink(missing_ok=True)
        removed.append(f"stale shim socket {path}")
    return removed


def remove_hostpath_volumes() -> list[str]:
    if HOSTPATH_PV_DIR.exists():
        shutil.rmtree(HOSTPATH_PV_DIR, ignore_errors=True)
        return [f"directory {HOSTPATH_PV_DIR}"]
    return []


def guard_log(limit: int = 20) -> list[str]:
    """The kernel's log lines of the packets the guard dropped (the latest `limit`)."""
    done = run("dmesg", check=False)
    lines = [line for line in done.stdout.splitlines() if GUARD_LOG_PREFIX.strip() in line]
    return lines[-limit:]
