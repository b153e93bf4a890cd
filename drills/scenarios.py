"""The failover drills: one fault each, applied to the master (or around it) while the writer runs.

Each scenario's `apply` returns the fault's timeline with `fault_at` (wall clock);
`unmet_expectations` says what a finished trial shows that its scenario forbids, beyond the
invariants that every trial waits for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

# How long the master stays cut off after the others elected a new one: long enough for the
# isolated node to stay master alone for a while (as in a real partition), short for the run.
CUT_HOLD_SECONDS = 5.0


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    apply: Callable[[Any, str], dict[str, Any]]
    expects_failover: Optional[bool]  # None: the drill only measures (the bare cluster's restart)
    floor: bool = False  # runs on the bare floor cluster instead of the lab


def kill_master_and_restart(target, master: str) -> dict[str, Any]:
    """SIGKILL the master's pod; its StatefulSet creates it again at once (a crash on a live node)."""
    return target.kill_pod(master)


def kill_master(target, master: str) -> dict[str, Any]:
    """SIGKILL the master's pod and keep it down until the others elected a new master (a lost
    node: Kubernetes does not recreate its StatefulSet pod elsewhere for minutes), at most the
    restore bound; then it is created again with a new IP and must come back as a replica."""
    fault = target.kill_pod(master, recreate=False)
    fault["failover_seen_at"] = wait_for_new_master(target, master, target.timing.restore_bound_seconds)
    fault["recreate"] = target.recreate_pod(master)
    return fault


def wait_for_new_master(target, old_master: str, bound: float):
    """When the answering sentinels first agree on a master other than `old_master` (None if
    not within `bound` seconds)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        named = target.panel.agreed_master()
        if named and named != old_master:
            return time.time()
        time.sleep(0.2)
    return None


def delete_master(target, master: str) -> dict[str, Any]:
    return target.delete_pod(master)


def kill_replica(target, master: str) -> dict[str, Any]:
    replica = next(pod for pod in target.pod_names() if pod != master)
    return target.kill_pod(replica)


def cut_master(target, master: str) -> dict[str, Any]:
    """Drop every packet of the master's pod (no resets), wait until the other sentinels have a
    new master, hold the cut a little longer, then heal."""
    fault = target.cut_pod(master)
    fault["failover_seen_at"] = wait_for_new_master(target, master, target.timing.failover_bound_with_tilt_seconds)
    time.sleep(CUT_HOLD_SECONDS)
    fault["heal"] = target.heal_pod(master)
    fault["healed_at"] = fault["heal"]["healed_at"]
    return fault


def kill_sentinel_then_master(target, master: str) -> dict[str, Any]:
    """Kill the sentinel of a replica pod (the kubelet restarts it in the same pod), then at once
    the master's pod: the majority of sentinels must form again and elect a new master."""
    replica = next(pod for pod in target.pod_names() if pod != master)
    sentinel = target.kill_sentinel(replica)
    fault = target.kill_pod(master)
    fault["sentinel_killed"] = sentinel
    return fault


SCENARIOS = {s.name: s for s in [
    Scenario("master-kill", "master pod SIGKILLed, held down until a new master is elected, then recreated "
             "with a new IP", kill_master, True),
    Scenario("master-kill-restart", "master pod SIGKILLed and recreated at once with a new IP",
             kill_master_and_restart, True),
    Scenario("master-cut", "master pod cut off the network (drops, no resets), healed after the failover",
             cut_master, True),
    Scenario("master-delete", "master pod deleted gracefully (preStop handover)", delete_master, True),
    Scenario("replica-kill", "a replica pod SIGKILLed, recreated with a new IP", kill_replica, False),
    Scenario("sentinel-then-master", "a replica's sentinel SIGKILLed, then the master pod",
             kill_sentinel_then_master, True),
    Scenario("floor-master-kill", "bare hand-made cluster: as master-kill", kill_master, True, floor=True),
    Scenario("floor-master-kill-restart", "bare hand-made cluster: as master-kill-restart",
             kill_master_and_restart, None, floor=True),
]}


def unmet_expectations(scenario: Scenario, trial: dict[str, Any]) -> list[str]:
    """What a finished trial shows that the scenario must not (the invariants were checked already)."""
    unmet = []
    if trial.get("lost") is None:
        unmet.append(f"acknowledged writes not verified: {trial.get('verify_error')}")
    if scenario.expects_failover is None:
        return unmet
    if scenario.expects_failover:
        if not trial.get("failover"):
            unmet.append("no failover happened")
        if trial.get("new_master") == trial.get("old_master"):
            unmet.append(f"{trial.get('old_master')} is master again instead of a replica")
    elif trial.get("failover"):
        unmet.append("an unexpected failover happened")
    return unmet
