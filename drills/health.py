"""When a cluster is whole again: the smoke check's state invariants (smoke.invariants), polled
inside the cluster's network by drills.settle in the target's client pod, plus the Sentinel timing
that bounds the wait.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from cluster import ClientSpec, Cluster

# Sentinel takes no action for this long once in TILT (hard-coded in Sentinel). A stall of its
# event loop sends it there (a slow DNS answer, CPU throttling: docs/benchmarks.md), and these are
# bounds, not targets, so they allow one TILT.
SENTINEL_TILT_SECONDS = 30.0
# After the election, a killed pod still has to get its new sandbox, boot (its scripts wait for
# DNS and ask the peers) and pass its readiness probe before the invariants can hold.
RESTORE_SLACK_SECONDS = 60.0
# A recreated pod comes back with a new IP, and the cluster DNS may keep answering its name with
# the old one (or with the NXDOMAIN of the moment it had none) for as long as it caches: CoreDNS'
# `cache 30` with the kubernetes plugin's `ttl 30`, as the lab cluster (labcluster/configs.py) and
# many users' clusters run it. Until then peers, Sentinel and the invariant check itself may
# talk to an address that is gone, so the restore bound carries it once.
CLUSTER_DNS_STALE_SECONDS = 30.0
# `kubectl exec` needs a moment of its own on a busy machine, beyond the wait it runs.
EXEC_SLACK_SECONDS = 30.0


@dataclass(frozen=True)
class Timing:
    """The Sentinel timing of a target, as rendered into its sentinel.conf."""

    down_after_ms: int
    failover_timeout_ms: int
    parallel_syncs: int

    @property
    def failover_bound_seconds(self) -> float:
        """Longest a healthy election may take: detection plus one failover attempt, plus slack
        for a busy machine (a bound, not a target)."""
        return (self.down_after_ms + self.failover_timeout_ms) / 1000 + 10

    @property
    def failover_bound_with_tilt_seconds(self) -> float:
        """The same when the sentinels spend one TILT period doing nothing first."""
        return self.failover_bound_seconds + SENTINEL_TILT_SECONDS

    @property
    def restore_bound_seconds(self) -> float:
        """Longest the invariants may take to hold again after a fault, a pod's stale DNS
        answer included."""
        return self.failover_bound_with_tilt_seconds + RESTORE_SLACK_SECONDS + CLUSTER_DNS_STALE_SECONDS


def wait_settled(cluster: Cluster, client: ClientSpec, targets_json: str, timeout: float) -> float:
    """Wall-clock time at which every state invariant first held, checked from the client pod
    (its passwords come from the pod's Secret-backed environment); TimeoutError naming the
    failed checks when they did not within `timeout` seconds."""
    command = ["python3", "-m", "drills.settle", "--targets-json", targets_json, "--timeout", str(timeout)]
    done = cluster.client_exec(client, command, timeout=timeout + EXEC_SLACK_SECONDS)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise TimeoutError(f"the invariant check did not report (exit {done.returncode}): "
                           f"{(done.stderr or done.stdout).strip()[-500:]}") from None
    if not report["ok"]:
        failed = [f"{c['name']}: {c['detail']}" for c in report["checks"] if c["status"] == "FAIL"]
        raise TimeoutError(f"invariants do not hold after {timeout:.0f} s: {'; '.join(failed)[:1500]}")
    return float(report["finished_at"])


def wait_until(condition, timeout: float, what: str, interval: float = 0.5) -> float:
    """Wall-clock time at which `condition()` first held; TimeoutError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        time.sleep(interval)
    raise TimeoutError(f"{what} not within {timeout:.0f} s")
