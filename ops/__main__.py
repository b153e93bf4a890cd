"""python -m ops [--namespace NS] [--kubeconfig FILE] status|switchover [--to POD] [--json]

    status       each gateway node's role, replication link and offset, each sentinel's master,
                 flags and quorum; exit 0 when healthy, 1 with the problems otherwise
    switchover   move the master role with the preStop's fencing (no acknowledged write lost),
                 to --to POD or to Sentinel's best replica; prints the new master

kubectl comes from $KUBERNAUT_LAB_BIN (the lab: `eval "$(python -m labcluster env)"`) or PATH;
the kubeconfig from --kubeconfig, $KUBECONFIG or ~/.kube/config.
"""

from __future__ import annotations

import argparse
import json
import sys

from cluster import KubernetesCluster
from stack_config import names

from .gateway import GatewayOps, GatewayStatus, SwitchoverError


def _table(status: GatewayStatus) -> str:
    sentinels = {s.pod: s for s in status.sentinels}
    rows = [("pod", "role", "replicates", "link", "offset", "sentinel names", "quorum")]
    for node in status.nodes:
        s = sentinels.get(node.pod)
        rows.append((node.pod, node.role or "DOWN", node.master or "-", node.link or "-",
                     "-" if node.offset is None else str(node.offset),
                     (s.master or "?") if s and not s.error else "DOWN",
                     "-" if not s or s.error else ("ok" if s.quorum_ok else "NO")))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.append(f"master: {status.master or 'none agreed'}")
    lines += [f"problem: {p}" for p in status.problems]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops", description=__doc__.split("\n\n")[0])
    parser.add_argument("--namespace", default="kubernaut-system")
    parser.add_argument("--kubeconfig", default=None)
    sub = parser.add_subparsers(dest="command", required=True)
    status_parser = sub.add_parser("status", help="the gateway's nodes and sentinels")
    status_parser.add_argument("--json", action="store_true")
    switch = sub.add_parser("switchover", help="move the master role, fenced")
    switch.add_argument("--to", default=None, help=f"the pod to promote, e.g. {names.GATEWAY}-1")
    args = parser.parse_args(argv)

    ops = GatewayOps(KubernetesCluster.from_environment(args.kubeconfig), args.namespace)
    if args.command == "status":
        status = ops.status()
        print(json.dumps(status.as_dict(), indent=1) if args.json else _table(status))
        return 0 if not status.problems else 1
    try:
        new_master = ops.switchover(args.to)
    except SwitchoverError as err:
        print(f"switchover: {err}", file=sys.stderr)
        return 1
    print(f"switchover: the master is now {new_master}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
