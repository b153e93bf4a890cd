"""python -m drills.cpu [--seconds 120] [--json]: the CPU the lab stack's containers use, idle.

Reads each running container's own cgroup (CPU time used, periods throttled; cgroup v1 or v2)
in the stack's namespace at the start and the end of the window, through the cluster interface's
exec, and prints per pod and container the millicores used on average and the CFS periods in
which its limit throttled it. What the containers do meanwhile is up to the caller: idle, the
checks of HAProxy (`gateway.proxy.checkIntervalMilliseconds`), a writer in another shell. The
stack is measured as deployed (`python -m drills SCENARIO --set ...` deploys another config).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Optional

from cluster.interface import Cluster
from stack_config import PlatformConfig

# The container's own cgroup, as cgroup v2's cpu.stat lines (usage_usec, nr_throttled) on either
# hierarchy: v1 keeps the usage in cpuacct (nanoseconds) and the throttling in cpu. Containers
# without a shell (the exporters' images) or that ended meanwhile are left out.
CPU_STAT_SCRIPT = """
if [ -f /sys/fs/cgroup/cpu.stat ]; then cat /sys/fs/cgroup/cpu.stat; exit; fi
echo "usage_usec $(($(cat /sys/fs/cgroup/cpuacct/cpuacct.usage) / 1000))"
grep nr_throttled /sys/fs/cgroup/cpu/cpu.stat
"""


def cpu_stat(text: str) -> dict[str, int]:
    """usage_usec and nr_throttled of a cgroup v2 cpu.stat."""
    fields = dict(line.split(None, 1) for line in text.splitlines() if " " in line)
    return {"usage_usec": int(fields["usage_usec"]), "nr_throttled": int(fields.get("nr_throttled", "0"))}


def sample(cluster: Cluster, namespace: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(pod, container) -> cpu.stat and when it was read, for every running pod's containers."""
    samples = {}
    for pod in cluster.pods(namespace):
        if pod.phase != "Running" or pod.terminating:
            continue
        for container in pod.restarts:
            result = cluster.exec(namespace, pod.name, container, ["sh", "-c", CPU_STAT_SCRIPT], timeout=30.0)
            if result.returncode == 0:
                samples[(pod.name, container)] = {**cpu_stat(result.stdout), "at": time.time()}
    return samples


def usage(before: dict, after: dict) -> list[dict[str, Any]]:
    """Average millicores and throttled periods between two samples, per container in both."""
    rows = []
    for key in sorted(before.keys() & after.keys()):
        start, end = before[key], after[key]
        seconds = end["at"] - start["at"]
        if seconds <= 0 or end["usage_usec"] < start["usage_usec"]:
            continue  # restarted in between: a new cgroup
        rows.append({"pod": key[0], "container": key[1], "seconds": round(seconds, 1),
                     "millicores": round((end["usage_usec"] - start["usage_usec"]) / 1000 / seconds, 1),
                     "throttled_periods": end["nr_throttled"] - start["nr_throttled"]})
    return rows


def main(argv: Optional[list[str]] = None) -> int:
    from cluster.kubernetes import KubernetesCluster

    parser = argparse.ArgumentParser(prog="python -m drills.cpu", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--namespace", default=PlatformConfig().namespace)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not 1 <= args.seconds <= 3600:
        parser.error("--seconds must be between 1 and 3600")
    cluster = KubernetesCluster.lab()
    before = sample(cluster, args.namespace)
    time.sleep(args.seconds)
    rows = usage(before, sample(cluster, args.namespace))
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        print()
    else:
        for row in rows:
            print(f"{row['pod']:45} {row['container']:12} {row['millicores']:7.1f} m  "
                  f"throttled {row['throttled_periods']} periods in {row['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
