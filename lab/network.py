"""Cut a pod off the network and heal it, inside the pod's own network namespace.

The rules live in a table of the pod's namespace (entered with `nsenter --net` from the infra
container's PID): the pod keeps its IP, its address still resolves, loopback still works (so exec
probes and the pod's own containers talk as before), and every other packet is DROPPED, never
rejected, so peers see silence as with a real partition rather than resets. Nothing outside the
pod's namespace is touched.
"""

from __future__ import annotations

import shutil
import subprocess

from .errors import LabError
from .podman import Podman

TABLE = "kubernaut_lab_cut"
# Priority -300 runs before conntrack: established connections are cut as well.
CUT_RULES = f"""
table inet {TABLE} {{
    chain input {{
        type filter hook input priority -300; policy drop;
        iif "lo" accept
    }}
    chain output {{
        type filter hook output priority -300; policy drop;
        oif "lo" accept
    }}
}}
"""


def _tools() -> tuple[str, str]:
    nsenter, nft = shutil.which("nsenter"), shutil.which("nft")
    if not nsenter or not nft:
        raise LabError("cutting a pod off needs nsenter (util-linux) and nft (Debian: apt-get install nftables)")
    return nsenter, nft


def _nft(podman: Podman, infra: str, args: list[str], stdin: str = "") -> subprocess.CompletedProcess:
    nsenter, nft = _tools()
    pid = podman.pid(infra)
    if pid <= 0:
        raise LabError(f"{infra} is not running: its network namespace is gone")
    return subprocess.run([nsenter, "--target", str(pid), "--net", nft, *args], input=stdin,
                          capture_output=True, text=True, timeout=30)


def cut(podman: Podman, infra: str) -> None:
    done = _nft(podman, infra, ["-f", "-"], CUT_RULES)
    if done.returncode != 0:
        raise LabError(f"nft in the namespace of {infra} failed: {done.stderr.strip()}")


def heal(podman: Podman, infra: str) -> None:
    done = _nft(podman, infra, ["delete", "table", "inet", TABLE])
    if done.returncode != 0 and "No such file" not in done.stderr:
        raise LabError(f"nft in the namespace of {infra} failed: {done.stderr.strip()}")


def is_cut(podman: Podman, infra: str) -> bool:
    return _nft(podman, infra, ["list", "table", "inet", TABLE]).returncode == 0
