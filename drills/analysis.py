"""Outage and loss from a writer result (drills.writer) and the time of the fault.

- outage: the longest gap between two consecutive acknowledged writes over the whole run (at
  100 writes/s a healthy gap is 0.01 s);
- first write after the fault: first acknowledgement after the fault, and first one from a node
  other than the master of before the fault (the new master);
- lost: acknowledged keys missing on the final master, and which node had acknowledged them.
"""

from __future__ import annotations

import datetime
import statistics
from typing import Any, Callable, Optional

from .observe import pod_of


def longest_gap(times: list[float]) -> tuple[float, Optional[float], Optional[float]]:
    """(gap, from, to) of the longest pause between consecutive times."""
    best = (0.0, None, None)
    for before, after in zip(times, times[1:]):
        if after - before > best[0]:
            best = (after - before, before, after)
    return best


def _slowest(slowest: Optional[list[Any]], fault_at: float) -> Optional[list[Any]]:
    if not slowest:
        return None
    sequence, started, seconds, outcome = slowest
    return [sequence, _relative(started, fault_at), seconds, outcome]


def writer_metrics(result: dict[str, Any], fault_at: float, old_master: str,
                   host_to_pod: Callable[[str], str] = pod_of) -> dict[str, Any]:
    """`host_to_pod`: the pod of a host the writer wrote to (observe.SentinelView.host_to_pod)."""
    nodes = [host_to_pod(node.rsplit(":", 1)[0]) for node in result["nodes"]]
    acks = sorted(result["acks"], key=lambda ack: ack[1])
    times = [ack[1] for ack in acks]
    gap, gap_from, gap_to = longest_gap(times)
    after = [ack for ack in acks if ack[1] > fault_at]
    on_new_master = [ack for ack in after if nodes[ack[2]] != old_master]
    lost = result.get("lost")
    return {
        "outage_s": round(gap, 3),
        "outage_from_fault_s": _relative(gap_from, fault_at),
        "first_ack_after_fault_s": _relative(after[0][1] if after else None, fault_at),
        "first_ack_on_new_master_s": _relative(on_new_master[0][1] if on_new_master else None, fault_at),
        "acked_by_old_master_after_fault": len([ack for ack in after if nodes[ack[2]] == old_master]),
        # a fault lands a few milliseconds after it is sent: the old master's last word, to tell
        # writes in flight from a node that came back and took writes
        "last_ack_by_old_master_s": _relative(max((ack[1] for ack in acks if nodes[ack[2]] == old_master),
                                                  default=None), fault_at),
        "attempts": result["attempts"],
        "acked": result["acked"],
        "failed_attempts": result["attempts"] - result["acked"],
        "errors": result["errors"],
        # [sequence, seconds after the fault, text]: the first failures, to read a long outage by
        "error_samples": [[n, _relative(at, fault_at), text] for n, at, text in result.get("error_samples") or []],
        # [sequence, started (s after the fault), seconds, outcome] of the longest single SET
        "slowest_attempt": _slowest(result.get("slowest_attempt"), fault_at),
        "lost": None if lost is None else len(lost),
        "lost_by_node": {host_to_pod(k.rsplit(":", 1)[0]): v for k, v in (result.get("lost_by_node") or {}).items()},
        "verify_error": result.get("verify_error"),
        "final_master": host_to_pod(result["final_master"].rsplit(":", 1)[0]) if result.get("final_master") else None,
        "nodes": nodes,
        "stopped_by": result.get("stopped_by"),
    }


# What a writer through the master-only endpoint tells: every reply comes from the Service's
# address, so nothing about which node took a write.
ENDPOINT_KEYS = ("outage_s", "outage_from_fault_s", "first_ack_after_fault_s", "attempts", "acked",
                 "failed_attempts", "errors", "error_samples", "slowest_attempt", "lost", "verify_error")


def endpoint_metrics(result: dict[str, Any], fault_at: float) -> dict[str, Any]:
    measured = writer_metrics(result, fault_at, old_master="")
    return {key: measured[key] for key in ENDPOINT_KEYS}


def _relative(at: Optional[float], origin: float) -> Optional[float]:
    return None if at is None else round(at - origin, 3)


def percentile(values: list[float], fraction: float) -> Optional[float]:
    """Nearest-rank percentile (p95 of 20 values is the 19th smallest)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-int(round(fraction * 1000)) * len(ordered) // 1000))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(trials: list[dict[str, Any]], key: str = "outage_s") -> dict[str, Any]:
    values = [t[key] for t in trials if t.get(key) is not None]
    lost = [t["lost"] for t in trials if t.get("lost") is not None]
    return {
        "trials": len(trials),
        "measured": len(values),
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "max": max(values) if values else None,
        "mean": round(statistics.fmean(values), 3) if values else None,
        "lost_total": sum(lost),
        "lost_max": max(lost) if lost else None,
        "trials_with_loss": len([n for n in lost if n]),
        "failovers": len([t for t in trials if t.get("failover")]),
        "tilt_trials": len([t for t in trials if t.get("tilt")]),
        "invariants_restored": len([t for t in trials if t.get("restored_s") is not None]),
        "failed_trials": len([t for t in trials if t.get("error")]),
        # Recorded by the drills since the replication watch exists; None for older results.
        "chain_trials": _count_if(trials, "chains", bool),
        "cycle_trials": _count_if(trials, "cycles", bool),
        "longest_chain_s": max((t["longest_chain_s"] for t in trials if "longest_chain_s" in t), default=None),
        "aborts": _sum_counts(t.get("aborts") for t in trials) if any("aborts" in t for t in trials) else None,
        # How often the master moved in each trial (a rolling restart should move it once).
        "master_moves": _master_moves(trials),
        # The second writer, through the master-only endpoint, in the scenarios that run one.
        "endpoint": _endpoint_summary([t for t in trials if "endpoint" in t]),
        # The third writer, with go-redis's Sentinel client, in the runs that had one.
        "failover_client": _writer_summary([t["failover_client"] for t in trials if "failover_client" in t]),
    }


def _writer_summary(measured: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    """Outage percentiles and verified losses of a second or third writer over the trials."""
    if not measured:
        return None
    values = [m["outage_s"] for m in measured if m.get("outage_s") is not None]
    lost = [m["lost"] for m in measured if m.get("lost") is not None]
    return {"measured": len(values), "p50": percentile(values, 0.50), "p95": percentile(values, 0.95),
            "max": max(values) if values else None, "lost_total": sum(lost), "verified": len(lost),
            "failed_attempts": sum(m.get("failed_attempts") or 0 for m in measured)}


def _endpoint_summary(trials: list[dict[str, Any]]) -> Optional[dict[str, Any]]:
    if not trials:
        return None
    measured = [t["endpoint"] for t in trials]
    follows = [endpoint_follow(t) for t in trials]
    behind = [f["behind_sentinel_writer_s"] for f in follows if f.get("behind_sentinel_writer_s") is not None]
    after_named = [f["after_majority_named_s"] for f in follows if f.get("after_majority_named_s") is not None]
    return {**_writer_summary(measured),
            "readonly_replies": sum((m.get("errors") or {}).get("ReadOnlyError", 0) for m in measured),
            "behind_p50": percentile(behind, 0.50), "behind_max": max(behind) if behind else None,
            "after_named_p50": percentile(after_named, 0.50),
            "after_named_max": max(after_named) if after_named else None}


def _outage_end(measured: dict[str, Any]) -> Optional[float]:
    """When the longest gap ended (its first acknowledgement), in seconds after the fault."""
    start, gap = measured.get("outage_from_fault_s"), measured.get("outage_s")
    return None if start is None or gap is None else start + gap


def endpoint_follow(trial: dict[str, Any]) -> dict[str, Optional[float]]:
    """How far the writer through the master-only endpoint lagged, in one trial with both writers:
    the end of its longest gap minus the end of the Sentinel writer's (`behind_sentinel_writer_s`),
    and minus the moment a majority of the sentinels named the new master (`after_majority_named_s`):
    HAProxy admits a master only once `quorum` sentinels name it (a majority by default). A sentinel
    names it from its `+switch-master` on, and the failover's leader from its `+promoted-slave`
    (Sentinel answers with the promoted replica while it reconfigures the others); a sentinel of a
    killed pod may log its switch only when it is back."""
    endpoint_end, sentinel_end = _outage_end(trial.get("endpoint") or {}), _outage_end(trial)
    fault_at = (trial.get("fault") or {}).get("fault_at")
    logs = trial.get("sentinel_logs") or {}
    per_pod = ([line for line in pod.get("events", []) if "# +switch-master " in line or "# +promoted-slave " in line]
               for pod in logs.values())
    switched = sorted(min(_event_time(line, fault_at) - fault_at for line in switches)
                      for switches in per_pod if switches and fault_at is not None)
    majority = len(logs) // 2 + 1
    return {
        "behind_sentinel_writer_s": (None if endpoint_end is None or sentinel_end is None
                                     else round(endpoint_end - sentinel_end, 3)),
        "after_majority_named_s": (None if endpoint_end is None or len(switched) < majority
                                    else round(endpoint_end - switched[majority - 1], 3)),
    }


def _master_moves(trials: list[dict[str, Any]]) -> Optional[dict[str, int]]:
    """Total and most in one trial of the master changes the trials' timelines (`masters`, the
    master at the fault and then each change) recorded; None when no trial recorded one."""
    moves = [len(t["masters"]) - 1 for t in trials if t.get("masters")]
    return {"total": sum(moves), "max": max(moves)} if moves else None


def _count_if(trials: list[dict[str, Any]], key: str, predicate) -> Optional[int]:
    recorded = [t for t in trials if key in t]
    return len([t for t in recorded if predicate(t[key])]) if recorded else None


def _sum_counts(counts) -> dict[str, int]:
    total: dict[str, int] = {}
    for one in counts:
        for reason, number in (one or {}).items():
            total[reason] = total.get(reason, 0) + number
    return dict(sorted(total.items()))


# The graceful handover's phases: (label, from, to). A name with "+" is the first sentinel log
# event of that kind in the trial; "prestop" is when the redis container's preStop started (on
# Kubernetes: the delete request);
# "new-master-ack" the first write the new master acknowledged.
HANDOVER_PHASES = (
    ("preStop start to +try-failover (pause, replicas caught up)", "prestop", "+try-failover"),
    ("+selected-slave to +promoted-slave (Sentinel sees the promotion in INFO)", "+selected-slave", "+promoted-slave"),
    ("+promoted-slave to the first +switch-master", "+promoted-slave", "+switch-master"),
    ("first +switch-master to the first write acknowledged by the new master", "+switch-master", "new-master-ack"),
)


def _event_time(line: str, fault_at: float) -> float:
    """Wall clock of a kept sentinel log line ("<year> HH:MM:SS.mmm # ..."), on the fault's day."""
    day = datetime.datetime.fromtimestamp(fault_at, datetime.timezone.utc).date()
    clock = datetime.datetime.strptime(line.split()[1], "%H:%M:%S.%f").time()
    return datetime.datetime.combine(day, clock, datetime.timezone.utc).timestamp()


def handover_points(trial: dict[str, Any]) -> dict[str, float]:
    """The time points of HANDOVER_PHASES in one graceful trial (those it has; none when the
    trial failed before its fault was applied)."""
    fault = trial.get("fault") or {}
    points: dict[str, float] = {}
    if "fault_at" not in fault:
        return points
    prestop = fault.get("containers", {}).get("redis", {}).get("prestop_started_at")
    if prestop is None and fault.get("operation") == "delete":
        # A kubelet does not publish when it starts a hook; it starts it as soon as its watch
        # shows the deletion (milliseconds on one node), so the delete request stands for it.
        prestop = fault["fault_at"]
    if prestop is not None:
        points["prestop"] = prestop
    if trial.get("first_ack_on_new_master_s") is not None:
        points["new-master-ack"] = fault["fault_at"] + trial["first_ack_on_new_master_s"]
    for logs in (trial.get("sentinel_logs") or {}).values():
        for line in logs.get("events", []):
            for kind in {start for _, start, _ in HANDOVER_PHASES} | {end for _, _, end in HANDOVER_PHASES}:
                if kind.startswith("+") and f"# {kind} " in line:
                    at = _event_time(line, fault["fault_at"])
                    points[kind] = min(points.get(kind, at), at)
    return points


def handover_phases(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per phase over the trials that failed over: label, trials, min, p50, max (seconds)."""
    points = [handover_points(t) for t in trials if t.get("failover")]
    rows = []
    for label, start, end in HANDOVER_PHASES:
        values = [p[end] - p[start] for p in points if start in p and end in p]
        rows.append({"phase": label, "trials": len(values),
                     "min": round(min(values), 3) if values else None,
                     "p50": round(percentile(values, 0.5), 3) if values else None,
                     "max": round(max(values), 3) if values else None})
    return rows
