"""The lab's cluster DNS: dnsmasq on the lab network's gateway address, authoritative for the
cluster domain, as CoreDNS is in a cluster.

Why not podman's own resolver (aardvark-dns): it forwards every name it does not know, also
names under the cluster domain, to the host's resolver, which loses queries here (docs/lab.md
has the measurement). A lookup of a pod that is gone (the name Sentinel looks up again and again
during a failover) goes through the search path, several queries each, and every lost one costs
the pod's resolver its 1 s timeout. Sentinel resolves in its event loop, so those seconds add up
to TILT, and a failover waits. CoreDNS answers such a name NXDOMAIN at once;
so does this server: `--local` keeps the cluster domain to its own records, and it forwards
nothing at all (the lab network is internal).

Records are files in a directory, one per pod or Service, `IP NAME...`; dnsmasq watches the
directory (inotify), so a record appears when the pod gets its IP and vanishes when the pod is
removed, as an Endpoints change does in a cluster.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Iterable, Optional

from .errors import LabError
from .podman import Podman

START_TIMEOUT_SECONDS = 5.0


def _dnsmasq() -> str:
    found = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq" if Path("/usr/sbin/dnsmasq").exists() else None)
    if not found:
        raise LabError("the lab's cluster DNS needs dnsmasq (Debian: apt-get install dnsmasq-base; "
                       "scripts/setup-host installs it)")
    return found


def create_network(podman: Podman, network: str, label: str) -> str:
    """An `--internal` network without podman's DNS; returns its gateway, where ClusterDns listens.

    Without DNS, podman gives an internal network no gateway address: so take the free subnet
    podman picks, then create the network again on it with the first address as gateway."""
    podman.run("network", "create", "--internal", "--disable-dns", "--label", label, network)
    subnet = ipaddress.ip_network(podman.json("network", "inspect", network)[0]["subnets"][0]["subnet"])
    podman.run("network", "rm", network)
    gateway = str(next(subnet.hosts()))
    podman.run("network", "create", "--internal", "--disable-dns", "--label", label,
               "--subnet", str(subnet), "--gateway", gateway, network)
    return gateway


class ClusterDns:
    """One dnsmasq per lab; its records live in `<lab dir>/dns/records`."""

    def __init__(self, lab_dir: Path, listen_ip: str, cluster_domain: str) -> None:
        self.dir = lab_dir / "dns"
        self.records_dir = self.dir / "records"
        self.listen_ip = listen_ip
        self.cluster_domain = cluster_domain.rstrip(".")
        self.process: Optional[subprocess.Popen] = None

    def command(self) -> list[str]:
        return [
            _dnsmasq(), "--keep-in-foreground", "--conf-file=/dev/null",
            "--no-resolv", "--no-hosts", "--no-poll",  # no upstream, no host files: only the lab's records
            f"--local=/{self.cluster_domain}/",  # unknown names under the domain: NXDOMAIN, at once
            f"--listen-address={self.listen_ip}",
            "--bind-dynamic",  # the bridge comes and goes with its first and last container
            "--user=root",  # reads the lab's private directory
            f"--hostsdir={self.records_dir}",
            "--local-ttl=0",  # a recreated pod's new IP is what the next lookup gets
            "--cache-size=0",
            f"--log-facility={self.dir / 'dnsmasq.log'}",
        ]

    def start(self) -> None:
        self.records_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace").strip() if self.process.stderr else ""
                raise LabError(f"the lab's cluster DNS (dnsmasq on {self.listen_ip}:53) did not start: {error}")
            if (self.dir / "dnsmasq.log").exists():
                return
            time.sleep(0.05)
        raise LabError(f"the lab's cluster DNS (dnsmasq on {self.listen_ip}:53) wrote no log in "
                       f"{START_TIMEOUT_SECONDS:.0f} s")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def publish(self, owner: str, ip: str, names: Iterable[str]) -> None:
        """`names` resolve to `ip` from now on (written whole, then renamed: never half a file)."""
        names = sorted(set(names))
        if not names:
            return
        staging = self.dir / f".{owner}.tmp"
        staging.write_text(f"{ip} {' '.join(names)}\n")
        os.replace(staging, self.records_dir / owner)

    def withdraw(self, owner: str) -> None:
        (self.records_dir / owner).unlink(missing_ok=True)


def stop_strays(lab_dir: Path) -> list[str]:
    """Stop every dnsmasq serving `lab_dir`'s records (left behind by a lab that did not stop)."""
    marker = f"--hostsdir={lab_dir / 'dns' / 'records'}"
    stopped = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker.encode() in args and Path(args[0].decode(errors="replace")).name == "dnsmasq":
            try:
                os.kill(int(proc.name), signal.SIGTERM)
                stopped.append(f"dnsmasq pid {proc.name}")
            except ProcessLookupError:
                pass
    return stopped
