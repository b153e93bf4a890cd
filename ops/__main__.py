"""python -m ops [--namespace NS] [--kubeconfig FILE] status|switchover|backup-now|migrate-from-legacy ...

    status       each gateway node's role, replication link and offset, each sentinel's master,
                 flags and quorum; exit 0 when healthy, 1 with the problems otherwise
    switchover   move the master role with the preStop's fencing (no acknowledged write lost),
                 to --to POD or to Sentinel's best replica; prints the new master
    backup-now   a backup outside the schedule (a Job from the CronJob redis-gateway-backup), waited
                 for; prints the object it stored (docs/backup.md)
    migrate-from-legacy --image IMAGE [--master POD] [--check-rdb BINARY]
                 stop the deployment this stack replaces (Kubernaut's kubectl manifests) and put
                 its master's data on the volume of this stack's pod 0; then `pulumi up`
                 (docs/migration.md)

kubectl comes from $KUBERNAUT_LAB_BIN (the lab: `eval "$(python -m labcluster env)"`) or PATH;
the kubeconfig from --kubeconfig, $KUBECONFIG or ~/.kube/config.
"""

from __future__ import annotations

import argparse
import json
import sys

from cluster import KubernetesCluster
from stack_config import names

from .backup import backup_now
from .gateway import GatewayOps, GatewayStatus, SwitchoverError
from .migration import LegacyMigration, MigrationError


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
    backup = sub.add_parser("backup-now", help="a backup outside the schedule, waited for")
    backup.add_argument("--json", action="store_true")
    migrate = sub.add_parser("migrate-from-legacy", help="stop the legacy deployment, keep its data for pulumi up")
    migrate.add_argument("--image", required=True,
                         help="the stack's platform.images.redis (it runs the copy and checks the RDB)")
    migrate.add_argument("--master", default=None, help="the legacy pod whose data to keep, when not exactly one "
                         "reports role:master")
    migrate.add_argument("--check-rdb", default="redis-check-rdb", help="the image's RDB checker (valkey-check-rdb "
                         "on Valkey images)")
    migrate.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    if args.command == "migrate-from-legacy":
        return _migrate(args)
    if args.command == "backup-now":
        return _backup_now(args)
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


def _backup_now(args: argparse.Namespace) -> int:
    try:
        report = backup_now(KubernetesCluster.from_environment(args.kubeconfig), args.namespace)
    except LookupError as err:
        print(f"backup-now: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.as_dict(), indent=1))
    elif report.succeeded:
        print(f"backup-now: {report.key}: {report.bytes} bytes from {report.source} (RDB {report.rdb_seconds} s, "
              f"upload {report.upload_seconds} s)")
    else:
        print(f"backup-now: Job {report.job.name} failed; its log:\n{report.job.log}", file=sys.stderr)
    return 0 if report.succeeded else 1


def _migrate(args: argparse.Namespace) -> int:
    migration = LegacyMigration(KubernetesCluster.from_environment(args.kubeconfig), args.namespace,
                                say=lambda line: print(line, file=sys.stderr, flush=True))
    try:
        report = migration.migrate(args.image, args.master, args.check_rdb)
    except MigrationError as err:
        print(f"migrate-from-legacy: {err}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.as_dict(), indent=1))
    else:
        print(f"migrate-from-legacy: the data of {report.master} ({report.master_keys} keys) is on the volume of "
              f"{names.GATEWAY}-0; run `pulumi up` now (with gateway.auth.clientsWithoutPassword true while "
              "clients send no password)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
