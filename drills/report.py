"""docs/benchmarks.md from the results of drills.benchmark (also saved as JSON)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Optional

from .analysis import handover_phases

HARD_KILL, FLOOR = "master-kill", "floor-master-kill"
GRACEFUL = "master-delete"
RATIO_TARGET = 1.10
GRACEFUL_OUTAGE_TARGET_S = 1.0

READING = """\
TILT: Sentinel resolves names synchronously in its event loop; when one pass of its timer takes
more than 2 s it enters TILT and takes no action for 30 s, so a failover that meets TILT waits
about 30 s longer. During a failover the sentinels look up the dead master's name again and again,
and while it does not resolve the resolver asks for it once per search domain as well. The lab
cluster's CoreDNS answers such names NXDOMAIN at once and caches answers for 30 s (`cache 30`,
`ttl 30`), so a recreated pod's name may still give its old address for that long; the table
below is what a lookup costs here. A cluster DNS that is slow or lossy for those names costs the
pods' resolver `timeout:1` s per lost query, and TILT follows.
"""

METHOD = """\
## How it is measured

Each trial: a pod whose containers an earlier trial restarted is replaced first (graceful delete,
outside the measured time: the kubelet's restart back-off of its containers would carry over);
the cluster's invariants hold (one master, every sentinel names it and knows n-1
sentinels and n-1 replicas with its quorum, every replica linked, no TILT, every pod Ready); the
writer (`drills/writer.py`, redis-py's Sentinel client in a client pod in the target's namespace,
started with `kubectl exec`, socket timeouts 0.5 s, one retry) writes a unique key {rate:g} times a second and
records each ACKNOWLEDGED key with the time of the reply and the node that sent it; after 3 s of
steady writes the fault is applied at a recorded time; the drill waits until the invariants hold
again (bounded by down-after + failover-timeout + 10 s, plus 30 s for one TILT, plus 60 s for
the pod to come back, plus 30 s for the cluster DNS' cache of its old address), writes
2 s more, stops the writer, which then looks up every acknowledged key on the master the
Sentinels name.

- outage: the longest gap between two acknowledged writes in the run (0.01 s when healthy);
- new master: time from the fault to the first write acknowledged by a node other than the
  master of before the fault;
- lost: acknowledged keys missing on the final master;
- restored: time from the fault until every invariant held again;
- TILT: trials in which any sentinel reported `sentinel_tilt:1` (polled every 0.5 s);
- percentiles are nearest-rank (p95 of 20 trials is the 19th smallest).

Faults, all on the one node of the lab cluster: a pod SIGKILLed is every process of it, its
sandbox included, killed through containerd (the kubelet gives it a new sandbox with a new IP and
restarts its containers, with its restart back-off); a cut is an nftables DROP of everything but
loopback inside the pod's network namespace (no resets); a delete goes through the API (the
kubelet runs the preStop hook; its start is taken as the delete request).

Scenarios:
{scenarios}

The floor (`drills/floor.py`) is a bare three-pod StatefulSet written by hand, applied to the same
cluster in its own namespace: plain `redis-server` and `redis-sentinel` from the same image, names
instead of IPs (a headless Service that publishes not-ready addresses), fixed sentinel ids, the
same down-after / failover-timeout / parallel-syncs and resolver options as the gateway's pods, no
persistence, no scripts but copying its config and waiting for the monitored name, no probes, no
HAProxy, no CPU limits.
"""


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}{unit}"
    return f"{value}{unit}"


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def _p95(results: dict[str, Any], name: str) -> Optional[float]:
    scenario = results["scenarios"].get(name)
    return scenario["summary"]["p95"] if scenario else None


def ratio_line(results: dict[str, Any]) -> list[str]:
    ours, floor = _p95(results, HARD_KILL), _p95(results, FLOOR)
    if ours is None or not floor:
        return []
    ratio = ours / floor
    floor_summary = results["scenarios"][FLOOR]["summary"]
    floor_whole = floor_summary["failovers"] == floor_summary["trials"] and floor_summary["lost_total"] == 0
    verdict = "MET" if ratio <= RATIO_TARGET else "NOT MET"
    if not floor_whole:
        verdict = "NOT COMPARABLE (the floor did not fail over every time)"
    return [f"- Hard kill, p95 outage: gateway {ours:.2f} s, bare floor {floor:.2f} s, ratio "
            f"{ratio:.2f} (target <= {RATIO_TARGET:.2f}): **{verdict}**; the floor failed over in "
            f"{floor_summary['failovers']} of {floor_summary['trials']} trials and lost "
            f"{floor_summary['lost_total']} acknowledged writes."]


def verdicts(results: dict[str, Any]) -> list[str]:
    lines = ratio_line(results)
    graceful = results["scenarios"].get(GRACEFUL)
    if graceful:
        summary = graceful["summary"]
        ok = (summary["p95"] is not None and summary["p95"] < GRACEFUL_OUTAGE_TARGET_S
              and summary["lost_total"] == 0 and summary["measured"] == summary["trials"])
        lines.append(f"- Graceful delete of the master: p95 outage {_fmt(summary['p95'], ' s')}, max "
                     f"{_fmt(summary['max'], ' s')}, {summary['lost_total']} acknowledged writes lost in "
                     f"{summary['trials']} trials (target < {GRACEFUL_OUTAGE_TARGET_S:g} s and 0 lost): "
                     f"**{'MET' if ok else 'NOT MET'}**.")
    return lines


def master_moves(moves: Optional[dict[str, int]]) -> str:
    """"total (most in one trial)", or "-" for results from before the drills recorded it."""
    return "-" if moves is None else f"{moves['total']} ({moves['max']})"


def summary_table(results: dict[str, Any]) -> list[str]:
    lines = [_row(["scenario", "trials", "outage p50", "p95", "max", "new master p50", "p95",
                   "lost (trials with loss)", "failovers", "master moves (most in a trial)", "TILT trials",
                   "restored p50", "max", "unmet"]),
             _row(["---"] * 14)]
    for name, scenario in results["scenarios"].items():
        s, n = scenario["summary"], scenario["summary_new_master"]
        restored = summarize_restored(scenario["trials"])
        unmet = len([t for t in scenario["trials"] if t.get("unmet")])
        lines.append(_row([f"`{name}`", s["trials"], _fmt(s["p50"], " s"), _fmt(s["p95"], " s"), _fmt(s["max"], " s"),
                           _fmt(n["p50"], " s"), _fmt(n["p95"], " s"),
                           f"{s['lost_total']} ({s['trials_with_loss']})", s["failovers"],
                           master_moves(s.get("master_moves")), s["tilt_trials"],
                           _fmt(restored[0], " s"), _fmt(restored[1], " s"), unmet]))
    return lines


def replication_table(results: dict[str, Any]) -> list[str]:
    """Per scenario: trials with a replication chain or cycle (polled every 0.25 s from the host),
    the longest chain, and Sentinel's failover aborts by reason (from its logs)."""
    lines = [_row(["scenario", "trials", "trials with a chain", "with a cycle", "longest chain", "failover aborts"]),
             _row(["---"] * 6)]
    for name, scenario in results["scenarios"].items():
        s = scenario["summary"]
        if s.get("chain_trials") is None:
            lines.append(_row([f"`{name}`", s["trials"], "not recorded", "", "", ""]))
            continue
        aborts = ", ".join(f"{reason} {n}" for reason, n in (s.get("aborts") or {}).items()) or "none"
        lines.append(_row([f"`{name}`", s["trials"], s["chain_trials"], s["cycle_trials"],
                           _fmt(s["longest_chain_s"], " s"), aborts]))
    return lines


def summarize_restored(trials: list[dict[str, Any]]) -> tuple[Optional[float], Optional[float]]:
    values = sorted(t["restored_s"] for t in trials if t.get("restored_s") is not None)
    if not values:
        return None, None
    return values[(len(values) - 1) // 2], values[-1]


def handover_lines(results: dict[str, Any]) -> list[str]:
    """Where a graceful handover's outage goes, from each trial's timestamps and sentinel logs."""
    graceful = results["scenarios"].get(GRACEFUL)
    if not graceful:
        return []
    lines = [f"## `{GRACEFUL}`, phase by phase", "",
             "From the preStop's start (the delete request, where the kubelet does not record it), the",
             "sentinels' log events and the writer's first write on the new master, over the trials that",
             "failed over (seconds):", "",
             _row(["phase", "trials", "min", "p50", "max"]), _row(["---"] * 5)]
    for row in handover_phases(graceful["trials"]):
        lines.append(_row([row["phase"], row["trials"], _fmt(row["min"]), _fmt(row["p50"]), _fmt(row["max"])]))
    return lines + [""]


def dns_lines(results: dict[str, Any]) -> list[str]:
    probes = results.get("dns")
    if not probes:
        return []
    lines = ["## DNS: what a name that is gone costs here", "",
             "Measured in the drills' client pod, which has the gateway pods' resolver settings (search path",
             "of the namespace, `ndots:5`, `timeout:1`, `attempts:5`), with `python3 -m drills.dnsprobe`:", "",
             _row(["name looked up", "lookups", "failed", "slower than 0.5 s", "p50", "p99", "max"]),
             _row(["---"] * 7)]
    for probe in probes:
        if "error" in probe:
            lines.append(_row([f"`{probe['name']}`", "error", probe["error"], "", "", "", ""]))
            continue
        lines.append(_row([f"`{probe['name']}`", probe["lookups"], probe["failed"], probe["slow"],
                           _fmt(probe["p50"], " s"), _fmt(probe["p99"], " s"), _fmt(probe["max"], " s")]))
    return lines + [""]


def lost_clusters(results: dict[str, Any]) -> list[str]:
    lost = results.get("clusters_lost") or []
    if not lost:
        return []
    lines = ["## Clusters that did not recover", "",
             "After these trials the invariants did not hold again within the bound; the remaining",
             "trials ran on a fresh one (the stack destroyed and deployed again, or a new floor). What did",
             "not hold:", ""]
    for item in lost:
        lines.append(f"- `{item['scenario']}` after trial {item['after_trial']}: {item['problems'][:600]}")
    return lines + [""]


def trial_lists(results: dict[str, Any]) -> list[str]:
    lines = []
    for name, scenario in results["scenarios"].items():
        outages = ", ".join(_fmt(t.get("outage_s")) for t in scenario["trials"])
        lines.append(f"- `{name}` outages (s): {outages}")
        problems = [f"trial {t['trial']}: {'; '.join(t['unmet'])}" for t in scenario["trials"] if t.get("unmet")]
        for problem in problems:
            lines.append(f"  - {problem[:300]}")
    return lines


def generated_header(title: str, script: str, source: str, results: dict[str, Any],
                     machine_note: str = "") -> list[str]:
    """The lines every generated report opens with: what made it, when, with which command, on
    which machine (the load average at start and end: a busy machine shows in the numbers)."""
    machine = results["machine"]
    return [
        f"# {title}",
        "",
        f"Generated by `{script}` from {source} on the lab's Kubernetes; do not edit by hand, run",
        "the command below again (or `--from-json` on its saved results).",
        "",
        f"- date: {results['date']} (finished {results.get('finished', '-')})",
        f"- command: `{results['command']}`",
        f"- machine: {machine['nproc']} CPUs, {machine['memory_gib']} GiB, kernel {machine['kernel']}, "
        f"{machine['os']}; load average {' '.join(machine['loadavg_at_start'])} at start, "
        f"{' '.join(machine.get('loadavg_at_end', ['-']))} at end{machine_note}",
    ]


def render_report(results: dict[str, Any]) -> str:
    machine, versions = results["machine"], results.get("versions", {})
    timing = results.get("timing", {})
    scenarios = "\n".join(f"- `{name}`: {s['description']}" for name, s in results["scenarios"].items())
    parts = [
        *generated_header("Failover benchmarks", "drills/benchmark.py", "real runs", results,
                          "; shared with other work"),
        f"- cluster: {machine.get('kubernetes') or machine.get('podman')}, runtime {machine['runtime']}; "
        f"redis {versions.get('redis', '-')}",
        f"- Sentinel timing (stack `{results['stack']}`): down-after {timing.get('down_after_ms')} ms, "
        f"failover-timeout {timing.get('failover_timeout_ms')} ms, parallel-syncs {timing.get('parallel_syncs')}; "
        f"writer {results['rate']:g} writes/s",
        "",
        "## Targets",
        "",
        *(verdicts(results) or ["- (the target scenarios were not run)"]),
        "",
        "## Results",
        "",
        *summary_table(results),
        "",
        "### Replication chains, cycles and failover aborts",
        "",
        *replication_table(results),
        "",
        *handover_lines(results),
        *READING.splitlines(),
        "",
        *dns_lines(results),
        *lost_clusters(results),
        "## Every trial",
        "",
        *trial_lists(results),
        "",
        METHOD.format(rate=results["rate"], scenarios=scenarios),
    ]
    return "\n".join(parts).rstrip() + "\n"


def write_record(path: str, module: str, argv: Optional[list[str]], **payload: Any) -> None:
    """A drill's record as committed under docs/: the command line that made it, then its results."""
    command = " ".join([f"python -m {module}", *(argv if argv is not None else sys.argv[1:])])
    Path(path).write_text(json.dumps({"command": command, **payload}, indent=1) + "\n")
