"""python -m labcluster up|down|status|env|kubectl ARGS... (see labcluster/__init__.py)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .cluster import LabCluster
from .errors import ClusterError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labcluster", description=__doc__)
    parser.add_argument("command", choices=("up", "down", "status", "env", "kubectl"))
    parser.add_argument("args", nargs=argparse.REMAINDER)
    options = parser.parse_args(argv)
    cluster = LabCluster.default()

    def echo(line: str) -> None:
        print(line, file=sys.stderr, flush=True)
    try:
        if options.command == "up":
            cluster.up(echo)
            print(cluster.kubeconfig)
        elif options.command == "down":
            removed = cluster.down(echo)
            echo(f"lab cluster: down ({len(removed)} things removed)")
        elif options.command == "status":
            status = cluster.status()
            print(json.dumps(status, indent=2))
            return 0 if status.get("node_ready") and status.get("dns") else 1
        elif options.command == "env":
            for key, value in cluster.env().items():
                print(f"export {key}={value}")
            print(f'export PATH={cluster.bin}:"$PATH"')
        else:
            os.execv(str(cluster.bin / "kubectl"), ["kubectl", "--kubeconfig", str(cluster.kubeconfig), *options.args])
    except ClusterError as err:
        print(err, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
