"""The peer chart as a drill target, and the comparison's report, without a cluster: the chart's
announced addresses map back to its pods, the invariants are given those addresses, a split
brain is what the writer saw, and the report puts both sides of every scenario side by side."""

from __future__ import annotations

import json

import pytest

from drills import compare
from drills.analysis import writer_metrics
from drills.observe import SentinelView
from drills.peer import PeerChartTarget, announce_service, split_brain
from lab import peer_chart

ANNOUNCED = {"10.96.0.21": "redis-ha-server-0", "10.96.0.22": "redis-ha-server-1", "10.96.0.23": "redis-ha-server-2"}


class FakeCluster:
    """What PeerChartTarget.from_cluster reads: the announce Services and the auth Secret."""

    def __init__(self, services: dict[str, str], password: str | None = "lab-password") -> None:
        self.services, self.password = services, password

    def object(self, namespace, kind, name):
        assert (namespace, kind) == (peer_chart.NAMESPACE, "Service")
        ip = self.services.get(name)
        return None if ip is None else {"spec": {"clusterIP": ip}}

    def secret_value(self, namespace, name, key):
        assert (namespace, name, key) == (peer_chart.NAMESPACE, peer_chart.RELEASE, "auth")
        return self.password


def _target() -> PeerChartTarget:
    services = {announce_service(int(pod.rsplit("-", 1)[1])): ip for ip, pod in ANNOUNCED.items()}
    return PeerChartTarget.from_cluster(FakeCluster(services))


def test_announced_addresses_map_back_to_the_chart_pods_and_are_what_the_invariants_check():
    target = _target()
    assert target.pod_names() == ["redis-ha-server-0", "redis-ha-server-1", "redis-ha-server-2"]
    assert [target.pod_of(ip) for ip in ANNOUNCED] == list(ANNOUNCED.values())
    # A name (a log line's, a stack's FQDN) still maps by its first label.
    assert target.pod_of("redis-ha-server-1.redis-ha.peer-redis-ha.svc.cluster.local") == "redis-ha-server-1"
    invariants = json.loads(target.targets_json)
    assert invariants["sentinels"] == [f"{ip}:26379" for ip in ANNOUNCED]
    assert invariants["master_set"] == peer_chart.MASTER_SET
    assert invariants["master_endpoint"] == "redis-ha-haproxy.peer-redis-ha.svc.cluster.local:6379"
    assert invariants["redis_auth"] is True and invariants["sentinel_auth"] is False
    assert target.redis_password == "lab-password" and target.sentinel_password is None
    assert (target.timing.down_after_ms, target.timing.failover_timeout_ms) == (
        peer_chart.DOWN_AFTER_MILLISECONDS, peer_chart.FAILOVER_TIMEOUT)
    assert [(e.variable, e.secret, e.key) for e in target.client.secret_env] == [("REDIS_PASSWORD", "redis-ha", "auth")]


def test_the_sentinel_panel_and_the_writer_name_pods_by_the_announced_address():
    target = _target()
    view = SentinelView("redis-ha-server-0", master_host="10.96.0.22", host_to_pod=target.pod_of)
    assert view.master_pod == "redis-ha-server-1"
    result = {"nodes": ["10.96.0.21:6379", "10.96.0.23:6379"], "acks": [[1, 10.0, 0], [2, 12.0, 1]],
              "attempts": 2, "acked": 2, "errors": 0, "lost": [], "lost_by_node": {"10.96.0.21:6379": 0},
              "final_master": "10.96.0.23:6379"}
    metrics = writer_metrics(result, 11.0, "redis-ha-server-0", target.pod_of)
    assert metrics["nodes"] == ["redis-ha-server-0", "redis-ha-server-2"]
    assert metrics["final_master"] == "redis-ha-server-2"
    assert metrics["first_ack_on_new_master_s"] == 1.0
    assert metrics["lost_by_node"] == {"redis-ha-server-0": 0}


def test_a_missing_release_or_secret_is_named():
    with pytest.raises(RuntimeError, match="redis-ha-announce-0.*peer-chart up"):
        PeerChartTarget.from_cluster(FakeCluster({}))
    services = {announce_service(i): f"10.96.0.{30 + i}" for i in range(3)}
    with pytest.raises(RuntimeError, match="Secret peer-redis-ha/redis-ha"):
        PeerChartTarget.from_cluster(FakeCluster(services, password=None))


def test_a_split_brain_is_an_old_master_acknowledging_after_the_new_masters_first_write():
    assert split_brain({"first_ack_on_new_master_s": 6.0, "last_ack_by_old_master_s": 0.01}) is False
    assert split_brain({"first_ack_on_new_master_s": 6.0, "last_ack_by_old_master_s": 7.5}) is True
    assert split_brain({"first_ack_on_new_master_s": None, "last_ack_by_old_master_s": 7.5}) is False


def test_an_old_master_that_took_the_role_back_later_is_no_split_brain_by_its_later_writes():
    roles = {"old_master": "server-2", "first_ack_on_new_master_s": 6.7,
             "masters": [[0.0, "server-2"], [7.1, "server-0"], [136.7, "server-2"]]}
    # Its last write before it was master again: it took writes while server-0 was master.
    assert split_brain({**roles, "last_ack_by_old_master_s": 50.0}) is True
    # Its last write after: the record cannot tell whether it also took some in between.
    assert split_brain({**roles, "last_ack_by_old_master_s": 217.7}) is None
    # No return: any write after the new master's first is a split brain.
    assert split_brain({**roles, "masters": roles["masters"][:2], "last_ack_by_old_master_s": 217.7}) is True


def _trial(number: int, outage: float, lost: int = 0, split=False, unmet=()) -> dict:
    # split: True (the old master wrote after the new one's first write, role never back),
    # None (it took the role back and its last write came after that), False.
    trial = {"trial": number, "outage_s": outage, "lost": lost, "failover": True, "unmet": list(unmet),
             "old_master": "a", "first_ack_on_new_master_s": 5.0, "last_ack_by_old_master_s": 0.01,
             "masters": [[0.0, "a"], [5.0, "b"]]}
    if split is not False:
        trial["last_ack_by_old_master_s"] = 9.0
    if split is None:
        trial["masters"].append([8.0, "a"])
    return trial


def test_the_report_puts_both_sides_of_each_scenario_side_by_side_with_the_findings():
    results = {
        "date": "2026-12-03 22:00:00 UTC", "finished": "2026-12-03 22:30:00 UTC",
        "command": "python -m drills.compare --trials 2", "trials": 2, "rate": 100.0,
        "machine": {"nproc": 2, "memory_gib": 23.5, "kernel": "6.1", "os": "Debian 12", "kubernetes": "Kubernetes v1.37.2",
                    "runtime": "containerd", "loadavg_at_start": ["1", "1", "1"]},
        "versions": {compare.STACK: "8.0.2", compare.CHART: "8.0.2"},
        "timing": {side: {"down_after_ms": 5000, "failover_timeout_ms": 10000, "parallel_syncs": 1}
                   for side in compare.SIDES},
        "peer": {"release": "redis-ha", "namespace": "peer-redis-ha", "install_s": 150.0},
        "scenarios": {"master-delete": {"description": "graceful delete", "sides": {
            compare.STACK: [_trial(1, 3.1), _trial(2, 3.4)],
            compare.CHART: [_trial(1, 9.5, lost=12, split=True, unmet=["lost 12 acknowledged writes"]),
                            _trial(2, 11.0, split=None)]}}},
    }
    text = compare.render(results)
    rows = [line for line in text.splitlines() if line.startswith("| `master-delete`")]
    # master moves: one a trial on the stack; the chart's second trial moved it away and back
    assert rows == ["| `master-delete` | stack | 2 | 3.10 s | 3.40 s | 3.40 s | 0 (0) | 0 | 2 | 2 (1) | 0 |",
                    "| `master-delete` | redis-ha chart | 2 | 9.50 s | 11.00 s | 11.00 s | 12 (1) | 1 (1 undecided) | 2 "
                    "| 3 (2) | 1 |"]
    assert "- `master-delete` trial 1, redis-ha chart: lost 12 acknowledged writes" in text
    assert "`python -m drills.compare --trials 2`" in text


def test_arguments_are_checked():
    with pytest.raises(SystemExit):
        compare.parse_args(["--scenarios", "floor-master-kill"])
    with pytest.raises(SystemExit):
        compare.parse_args(["--trials", "0"])
    assert compare.parse_args([]).scenarios.split(",") == compare.ORDER
