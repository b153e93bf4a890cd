"""python -m drills SCENARIO [--trials N] [--json]: failover drills on the lab's real Kubernetes.

Scenarios (drills.scenarios): master-kill, master-kill-restart, master-cut, master-delete,
volume-lost (the master's PVC and pod deleted: rebuilt on a new volume), replica-kill,
sentinel-then-master, rolling-restart on the gateway; switchover (the operators'
fenced `python -m ops switchover --to`) and sentinel-failover (a bare SENTINEL FAILOVER, which it
replaces); the two where Sentinel
cannot fail over for a while (no-quorum, no-good-replica: they measure the degraded state and
its healing, and are not in the benchmark's default set); floor-master-kill and
floor-master-kill-restart on the bare hand-made cluster of drills.floor instead. The day-2
operations, each a `pulumi up` of a config change with a second writer through the master-only
endpoint: scale (gateway.replicas +2 and back), upgrade-to-redis-8.0 and upgrade-to-valkey-8.1
(replicas first, the master's pod last), rollback-from-redis-8.0 (staged on the replicas, then
undone); start an upgrade from the old engine with `--fresh --engine redis-7.0`.

The lab cluster is brought up (a healthy one is reused); the gateway is the lab stack, deployed
with `pulumi up -s lab` and the --set overrides first (the Pulumi engine must be built:
scripts/bootstrap-pulumi), and stays deployed afterwards; --no-deploy drills what is deployed.
The floor is applied in its own namespace and deleted at the end.
Prints one line per trial and a summary, or with --json one JSON document with every trial.
Exit status 1 when a trial failed or showed something its scenario forbids.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from typing import Any, Optional

from labcluster.layout import LAB_ENGINE_IMAGES

from .analysis import endpoint_follow, summarize
from .runner import Options, cluster_for, run_trial
from .scenarios import SCENARIOS


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m drills", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="one JSON document on stdout")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="config override of the lab stack (pulumi config set --path KEY VALUE), e.g. "
                        "gateway.resources.sentinel.limits.cpu=100m; the floor takes its Sentinel timing too")
    parser.add_argument("--no-deploy", dest="deploy", action="store_false",
                        help="drill the lab stack as deployed, without `pulumi up` first")
    parser.add_argument("--engine", choices=[engine.name for engine in LAB_ENGINE_IMAGES],
                        help="deploy the lab stack on this engine of the lab's images (before the --set overrides)")
    parser.add_argument("--fresh", action="store_true",
                        help="destroy the lab stack first, volumes included (to start an upgrade drill from an older "
                        "engine than the one deployed)")
    parser.add_argument("--rate", type=float, default=100.0, help="writes per second (default 100)")
    parser.add_argument("--endpoint-writer", action="store_true",
                        help="a second writer through the master-only endpoint beside the one through Sentinel, in "
                        "any scenario (the day-2 operations always run one)")
    parser.add_argument("--failover-client-writer", action="store_true",
                        help="a third writer with go-redis v9's Sentinel client (FailoverClient: it subscribes to "
                        "+switch-master; go/workload's `failover-writer`), under `failover_client` in the results")
    args = parser.parse_args(argv)
    if not 1 <= args.trials <= 200:
        parser.error("--trials must be between 1 and 200")
    if args.failover_client_writer and SCENARIOS[args.scenario].floor:
        parser.error("--failover-client-writer: only in the gateway's scenarios, not on the floor")
    return args


def endpoint_part(trial: dict[str, Any]) -> str:
    """What the writer through the master-only endpoint saw, for the trial line."""
    endpoint, follow = trial["endpoint"], endpoint_follow(trial)
    lags = [f"{follow['behind_sentinel_writer_s']} s behind the Sentinel writer"
            if follow["behind_sentinel_writer_s"] is not None else "",
            f"{follow['after_majority_named_s']} s after a majority of the sentinels named the new master"
            if follow["after_majority_named_s"] is not None else ""]
    lag = ", ".join(filter(None, lags))
    return (f", through the endpoint: outage {endpoint['outage_s']} s{f' ({lag})' if lag else ''}, "
            f"READONLY {(endpoint.get('errors') or {}).get('ReadOnlyError', 0)}, lost {endpoint['lost']} of "
            f"{endpoint.get('acked')} acknowledged, masters {' -> '.join(pod for _, pod in trial['masters'])}")


def failover_client_part(measured: dict[str, Any]) -> str:
    return (f", go-redis FailoverClient: outage {measured['outage_s']} s, lost {measured['lost']} of "
            f"{measured.get('acked')} acknowledged")


def trial_line(trial: dict[str, Any]) -> str:
    if trial.get("error") and "outage_s" not in trial:
        return f"trial {trial['trial']}: ERROR {trial['error']}"
    timings = (trial.get("fault") or {}).get("timings_s") or {}
    return (f"trial {trial['trial']}: outage {trial['outage_s']} s, first write on new master "
            f"{trial['first_ack_on_new_master_s']} s, lost {trial['lost']} of {trial.get('acked')} acknowledged, "
            f"restored {trial['restored_s']} s, "
            f"failover {trial['failover']} ({trial['old_master']} -> {trial['new_master']}), "
            f"TILT {trial['tilt'] or 'none'}, chains {list(trial.get('chains', {})) or 'none'}, "
            f"aborts {trial.get('aborts') or 'none'}"
            + (endpoint_part(trial) if "endpoint" in trial else "")
            + (failover_client_part(trial["failover_client"]) if "failover_client" in trial else "")
            + "".join(f", {name} {seconds} s" for name, seconds in timings.items())
            + (f", UNMET: {'; '.join(trial['unmet'])}" if trial["unmet"] else ""))


def run(args: argparse.Namespace) -> dict[str, Any]:
    scenario = SCENARIOS[args.scenario]
    if args.endpoint_writer:
        scenario = dataclasses.replace(scenario, endpoint_writer=True)
    echo = (lambda text: print(text, file=sys.stderr, flush=True))
    engine = [e for e in LAB_ENGINE_IMAGES if e.name == args.engine]
    overrides = [*(engine[0].overrides() if engine else []), *args.overrides]
    options = Options(overrides=overrides, deploy=args.deploy, fresh=args.fresh, rate=args.rate, echo=echo,
                      failover_client_writer=args.failover_client_writer)
    trials = []
    with cluster_for(scenario, options) as target:
        for number in range(1, args.trials + 1):
            trial = run_trial(target, scenario, number, options)
            trials.append(trial)
            echo(trial_line(trial))
    return {"scenario": scenario.name, "summary": summarize(trials), "trials": trials}


def main(argv: Optional[list[str]] = None) -> int:
    from cluster.kubernetes import ClusterAccessError
    from lab.stack import StackError
    from labcluster import ClusterError

    args = parse_args(argv)
    try:
        report = run(args)
    except (ClusterError, ClusterAccessError, StackError) as err:
        print(f"drills: {err}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(report, sys.stdout, indent=1, default=str)
        print()
    else:
        print(json.dumps(report["summary"], indent=1))
    return 1 if any(t["unmet"] for t in report["trials"]) else 0


if __name__ == "__main__":
    sys.exit(main())
