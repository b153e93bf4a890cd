"""python -m drills.compare --trials 3 --out docs/peer-comparison.md --json-out FILE [--from-json FILE]

The stack against the `redis-ha` chart, side by side in one run on the lab cluster: the lab stack
(`pulumi up -s lab`) and the chart's release (lab/peer_chart.py, installed when missing) are
drilled by the same scenarios with the same writer (Sentinel discovery, 100 writes/s) and the
same invariants, trial by trial in turn (stack, chart, stack, ...), so that both see the same
machine. The report has, per scenario and side: the outage p50/p95/max, the acknowledged writes
lost, the trials with a split brain (the old master acknowledged a write after the new master's
first, while the role was the new master's) and the trials that broke the stack's own
expectations (for the chart: findings, not failures). `--from-json` renders the report again
from saved results without running anything.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

from .analysis import summarize
from .benchmark import machine_facts, redis_version, save
from .peer import peer_target, split_brain
from .report import _fmt, _row, generated_header, master_moves
from .runner import Options, gateway_target, lab_cluster, restore_bound, run_trial
from .scenarios import SCENARIOS

ORDER = ["master-kill", "master-kill-restart", "master-cut", "master-delete", "replica-kill",
         "sentinel-then-master", "rolling-restart", "full-restart"]
STACK, CHART = "stack", "redis-ha chart"
SIDES = (STACK, CHART)


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m drills.compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("docs/peer-comparison.md"))
    parser.add_argument("--json-out", type=Path, help="also save every trial as JSON here")
    parser.add_argument("--from-json", type=Path, help="render --out from saved results; run nothing")
    parser.add_argument("--scenarios", default=",".join(ORDER), help="comma-separated subset, in the order to run")
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios.split(",") if s and (s not in SCENARIOS or SCENARIOS[s].floor)]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)} (choose from {', '.join(ORDER)})")
    if not 1 <= args.trials <= 50:
        parser.error("--trials must be between 1 and 50")
    return args


def run_trials(targets: dict[str, Any], names: list[str], trials: int, options: Options,
               results: dict[str, Any]) -> None:
    """Trial n of a scenario on each side in turn; a side whose cluster stays broken after a
    failed trial is left out of that scenario's remaining trials (recorded as lost)."""
    for name in names:
        scenario = SCENARIOS[name]
        entry = results["scenarios"].setdefault(name, {"description": scenario.summary,
                                                       "sides": {side: [] for side in SIDES}})
        broken: set[str] = set()
        for number in range(1, trials + 1):
            for side, target in targets.items():
                if side in broken:
                    continue
                record = run_trial(target, scenario, number, options)
                entry["sides"][side].append(record)
                # Not stored: the report judges each record again (side_summary).
                options.say(f"{name} {number}/{trials} {side}: outage {record.get('outage_s')} s, lost "
                            f"{record.get('lost')}, split brain {split_brain(record)}"
                            + (f", UNMET {record['unmet']}" if record["unmet"] else ""))
                options.save(results)
                if record.get("error"):
                    try:
                        target.wait_healthy(restore_bound(target))
                    except TimeoutError as err:
                        broken.add(side)
                        results.setdefault("clusters_lost", []).append(
                            {"side": side, "scenario": name, "after_trial": number, "problems": str(err)[:600]})


def run_comparison(args: argparse.Namespace, command: str, say: Callable[[str], None]) -> dict[str, Any]:
    from lab import peer_chart

    options = Options(rate=args.rate, echo=say, checkpoint=lambda partial: save(partial, args.json_out))
    cluster = lab_cluster(options)
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "command": command,
        "trials": args.trials, "rate": args.rate, "machine": machine_facts(cluster), "versions": {},
        "peer": {"chart": str(peer_chart.chart_dir()), "release": peer_chart.RELEASE,
                 "namespace": peer_chart.NAMESPACE, "values": peer_chart.values(password="(lab password)")},
        "scenarios": {},
    }
    results["peer"]["install_s"] = round(peer_chart.install(say=say), 1)
    with gateway_target(options) as ours, peer_target(cluster, say) as theirs:
        results["timing"] = {STACK: vars(ours.timing), CHART: vars(theirs.timing)}
        results["versions"] = {STACK: redis_version(ours), CHART: redis_version(theirs)}
        run_trials({STACK: ours, CHART: theirs}, [n for n in args.scenarios.split(",") if n], args.trials,
                   options, results)
    results["machine"]["loadavg_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return results


def side_summary(trials: list[dict[str, Any]]) -> dict[str, Any]:
    summary = summarize(trials)
    # Judged again from each trial's record, so that --from-json renders with the current rule.
    verdicts = [split_brain(t) for t in trials]
    undecided = verdicts.count(None)
    summary["split_brains"] = f"{verdicts.count(True)}" + (f" ({undecided} undecided)" if undecided else "")
    summary["unmet"] = len([t for t in trials if t.get("unmet")])
    return summary


def comparison_table(results: dict[str, Any]) -> list[str]:
    lines = [_row(["scenario", "side", "trials", "outage p50", "p95", "max", "lost (trials with loss)",
                   "split brains", "failovers", "master moves (most in a trial)", "unmet expectations"]),
             _row(["---"] * 11)]
    for name, entry in results["scenarios"].items():
        for side in SIDES:
            trials = entry["sides"].get(side) or []
            if not trials:
                continue
            s = side_summary(trials)
            lines.append(_row([f"`{name}`", side, s["trials"], _fmt(s["p50"], " s"), _fmt(s["p95"], " s"),
                               _fmt(s["max"], " s"), f"{s['lost_total']} ({s['trials_with_loss']})",
                               s["split_brains"], s["failovers"], master_moves(s["master_moves"]), s["unmet"]]))
    return lines


def findings(results: dict[str, Any]) -> list[str]:
    """Each trial that broke an expectation, or failed, with what it broke."""
    lines = []
    for name, entry in results["scenarios"].items():
        for side in SIDES:
            for trial in entry["sides"].get(side) or []:
                if trial.get("unmet"):
                    lines.append(f"- `{name}` trial {trial['trial']}, {side}: {'; '.join(map(str, trial['unmet']))[:400]}")
    for lost in results.get("clusters_lost", []):
        lines.append(f"- {lost['side']} did not heal after `{lost['scenario']}` trial {lost['after_trial']}: "
                     f"{lost['problems'][:300]}")
    return lines or ["- none"]


def render(results: dict[str, Any]) -> str:
    machine, timing, versions = results["machine"], results.get("timing", {}), results.get("versions", {})
    scenarios = "\n".join(f"- `{name}`: {entry['description']}" for name, entry in results["scenarios"].items())
    stack_timing, chart_timing = timing.get(STACK, {}), timing.get(CHART, {})
    parts = [
        *generated_header("The stack against the redis-ha chart", "drills/compare.py", "one run", results),
        f"- cluster: {machine.get('kubernetes')}, runtime {machine['runtime']}",
        f"- stack: the lab stack, redis {versions.get(STACK, '-')}, down-after {stack_timing.get('down_after_ms')} ms, "
        f"failover-timeout {stack_timing.get('failover_timeout_ms')} ms, parallel-syncs "
        f"{stack_timing.get('parallel_syncs')}",
        f"- chart: `redis-ha` release `{results['peer']['release']}` in `{results['peer']['namespace']}` "
        f"(lab/peer_chart.py; installed or upgraded in {results['peer'].get('install_s', '-')} s), redis "
        f"{versions.get(CHART, '-')}, down-after {chart_timing.get('down_after_ms')} ms, failover-timeout "
        f"{chart_timing.get('failover_timeout_ms')} ms, parallel-syncs {chart_timing.get('parallel_syncs')}",
        f"- writer: Sentinel discovery, {results['rate']:g} writes/s, every acknowledged write read back at the end",
        "",
        "## Results",
        "",
        *comparison_table(results),
        "",
        "Outage: the longest gap between two acknowledged writes. Split brain: the old master",
        "acknowledged a write after the new master's first, while the role was the new master's;",
        "undecided: the old master took the role back later in the trial and its last write came",
        "after that, so the record cannot tell whether it also took writes in between. Unmet",
        "expectations: the stack's own rules for the scenario (drills/scenarios.py); on the chart",
        "they are findings.",
        "",
        "## Findings (unmet expectations, clusters that did not heal)",
        "",
        *findings(results),
        "",
        "## Scenarios",
        "",
        scenarios,
    ]
    return "\n".join(parts).rstrip() + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        command = "python -m drills.compare " + shlex.join(sys.argv[1:] if argv is None else argv)
        results = run_comparison(args, command, lambda text: print(text, file=sys.stderr, flush=True))
        save(results, args.json_out)
    args.out.write_text(render(results))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
