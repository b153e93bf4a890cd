"""Outage, loss and percentile arithmetic of the drills, on hand-made writer results."""

from __future__ import annotations

import pytest

from drills.analysis import handover_phases, longest_gap, percentile, summarize, writer_metrics
from drills.report import render_report

MASTER_A = "redis-gateway-0.redis-gateway-headless.ns.svc.cluster.local:6379"
MASTER_B = "redis-gateway-1.redis-gateway-headless.ns.svc.cluster.local:6379"


def writer_result(acks, lost=(), lost_by_node=None):
    return {"nodes": [MASTER_A, MASTER_B], "acks": acks, "attempts": len(acks) + 5, "acked": len(acks),
            "errors": {"ConnectionError": 5}, "lost": list(lost), "lost_by_node": lost_by_node or {},
            "final_master": MASTER_B, "stopped_by": "stdin"}


def test_the_outage_is_the_longest_gap_between_acknowledged_writes():
    assert longest_gap([1.0, 1.01, 1.02, 7.5, 7.51]) == pytest.approx((6.48, 1.02, 7.5))
    assert longest_gap([3.0]) == (0.0, None, None)


def test_writer_metrics_time_the_first_write_on_the_new_master_from_the_fault():
    acks = [[1, 100.00, 0], [2, 100.01, 0], [3, 106.50, 0], [4, 107.00, 1], [5, 107.01, 1]]
    metrics = writer_metrics(writer_result(acks, lost=[3], lost_by_node={MASTER_A: 1}), 100.02, "redis-gateway-0")
    assert metrics["outage_s"] == pytest.approx(6.49)
    assert metrics["first_ack_after_fault_s"] == pytest.approx(6.48)
    assert metrics["first_ack_on_new_master_s"] == pytest.approx(6.98)
    assert metrics["acked_by_old_master_after_fault"] == 1
    assert metrics["last_ack_by_old_master_s"] == pytest.approx(6.48)
    assert metrics["lost"] == 1 and metrics["lost_by_node"] == {"redis-gateway-0": 1}
    assert metrics["final_master"] == "redis-gateway-1" and metrics["failed_attempts"] == 5


def test_unverified_writes_are_not_reported_as_zero_lost():
    result = writer_result([[1, 1.0, 0]])
    result["lost"] = None
    assert writer_metrics(result, 0.5, "redis-gateway-0")["lost"] is None


def test_nearest_rank_percentiles():
    values = [float(v) for v in range(1, 21)]
    assert percentile(values, 0.95) == 19.0
    assert percentile(values, 0.50) == 10.0
    assert percentile([4.0], 0.95) == 4.0
    assert percentile([], 0.5) is None


def test_the_report_states_whether_the_targets_are_met():
    def trials(outage, lost=0):
        return [{"trial": 1, "outage_s": outage, "first_ack_on_new_master_s": outage, "lost": lost,
                 "failover": True, "tilt": [], "restored_s": 20.0, "unmet": []}]
    results = {
        "date": "d", "finished": "f", "command": "python -m drills.benchmark --trials 1", "trials": 1,
        "rate": 100.0, "stack": "dev", "versions": {"redis": "7.0.15"},
        "timing": {"down_after_ms": 5000, "failover_timeout_ms": 10000, "parallel_syncs": 1},
        "machine": {"nproc": 2, "memory_gib": 24.0, "kernel": "k", "os": "Debian", "podman": "podman 4.3.1",
                    "runtime": "runc", "loadavg_at_start": ["1", "1", "1"], "loadavg_at_end": ["1", "1", "1"]},
        "scenarios": {name: {"description": name, "trials": t, "summary": summarize(t),
                             "summary_new_master": summarize(t, "first_ack_on_new_master_s")}
                      for name, t in (("floor-master-kill", trials(7.0)), ("master-kill", trials(7.5)),
                                      ("master-delete", trials(0.4, lost=2)))},
    }
    text = render_report(results)
    assert "ratio 1.07 (target <= 1.10): **MET**" in text
    assert "2 acknowledged writes lost in 1 trials (target < 1 s and 0 lost): **NOT MET**" in text
    assert "| `master-kill` | 1 | 7.50 s |" in text
    # results from before the drills recorded the master's timeline
    assert "| 0 (0) | 1 | - | 0 |" in text


def test_the_slowest_attempt_and_the_error_samples_are_timed_from_the_fault():
    result = writer_result([[1, 100.0, 0], [2, 131.0, 1]])
    result["slowest_attempt"] = [2, 100.5, 30.5, "acknowledged"]
    result["error_samples"] = [[3, 101.25, "ConnectionError: The previous master is now a slave"]]
    metrics = writer_metrics(result, 100.0, "redis-gateway-0")
    assert metrics["slowest_attempt"] == [2, 0.5, 30.5, "acknowledged"]
    assert metrics["error_samples"] == [[3, 1.25, "ConnectionError: The previous master is now a slave"]]
    assert writer_metrics(writer_result([[1, 1.0, 0]]), 0.5, "redis-gateway-0")["slowest_attempt"] is None


def graceful_trial(fault_at, prestop, events, first_ack_on_new_master_s, failover=True):
    return {"failover": failover, "first_ack_on_new_master_s": first_ack_on_new_master_s,
            "fault": {"fault_at": fault_at, "containers": {"redis": {"prestop_started_at": prestop}}},
            "sentinel_logs": {"redis-gateway-1": {"events": events}}}


def test_the_graceful_handover_is_split_into_phases_from_the_trials_timestamps():
    fault_at = 1795658184.0  # 2026-11-26 01:56:24 UTC
    events = ["2026 01:56:24.400 # +try-failover master gateway-master redis-gateway-0 6379",
              "2026 01:56:24.500 # +selected-slave slave redis-gateway-1 redis-gateway-1 6379 @ gateway-master",
              "2026 01:56:25.450 # +promoted-slave slave redis-gateway-1 redis-gateway-1 6379 @ gateway-master",
              "2026 01:56:25.600 # +switch-master gateway-master redis-gateway-0 6379 redis-gateway-1 6379",
              "2026 01:56:25.500 # +switch-master gateway-master redis-gateway-0 6379 redis-gateway-1 6379"]
    trials = [graceful_trial(fault_at, fault_at + 0.1, events, 2.5),
              graceful_trial(fault_at, fault_at + 0.1, events, 9.0, failover=False)]
    rows = {row["phase"].split(" (")[0]: row for row in handover_phases(trials)}
    assert [row["trials"] for row in rows.values()] == [1, 1, 1, 1]
    assert rows["preStop start to +try-failover"]["p50"] == pytest.approx(0.3)
    assert rows["+selected-slave to +promoted-slave"]["max"] == pytest.approx(0.95)
    # the first +switch-master of any sentinel counts
    assert rows["+promoted-slave to the first +switch-master"]["min"] == pytest.approx(0.05)
    assert rows["first +switch-master to the first write acknowledged by the new master"]["p50"] == pytest.approx(1.0)


def test_replication_chains_and_cycles_are_found_in_a_link_map():
    from drills.observe import chains_of
    assert chains_of({"r-0": None, "r-1": "r-0", "r-2": "r-0"}) == []
    assert chains_of({"r-0": None, "r-1": "r-0", "r-2": "r-1"}) == [("r-2 -> r-1 -> r-0", None)]
    # A master that does not answer (absent from the map: say, claiming with its port closed)
    # makes no chain; a replica between two nodes does, answering or not at its end.
    assert chains_of({"r-2": "r-1", "r-0": "r-1"}) == []
    assert chains_of({"r-1": "r-0", "r-2": "r-1"}) == [("r-2 -> r-1 -> r-0", None)]
    # A replica whose link is down (its master's name stale until Sentinel reconfigures it)
    # replicates nothing: no chain through it from its side; one that follows it is in a chain.
    assert chains_of({"r-0": None, "r-2": "r-0", "r-1": ""}) == []
    assert chains_of({"r-0": None, "r-1": "", "r-2": "r-1"}) == [("r-2 -> r-1 -> (its link down)", None)]
    assert chains_of({"r-1": "r-2", "r-2": "r-1", "r-0": "r-2"}) == [
        ("r-0 -> r-2 -> r-1", None), ("r-1 -> r-2 -> r-1", "r-1 <-> r-2"), ("r-2 -> r-1 -> r-2", "r-1 <-> r-2")]


def test_failover_aborts_are_counted_by_reason_from_the_sentinel_logs():
    from drills.observe import failover_aborts
    logs = {"redis-gateway-0": {"events": ["# -failover-abort-not-elected master gateway-master r-2 6379",
                                           "# +try-failover master gateway-master r-2 6379"]},
            "redis-gateway-1": {"events": ["# -failover-abort-no-good-slave master gateway-master r-2 6379",
                                           "# -failover-abort-not-elected master gateway-master r-2 6379"]}}
    assert failover_aborts(logs) == {"not-elected": 2, "no-good-slave": 1}


def test_the_summary_counts_chains_cycles_and_aborts_and_marks_older_results_unrecorded():
    recorded = [{"outage_s": 1.0, "lost": 0, "chains": {"a -> b -> c": 1.5}, "cycles": [], "longest_chain_s": 1.5,
                 "aborts": {"not-elected": 1}},
                {"outage_s": 2.0, "lost": 0, "chains": {}, "cycles": ["a <-> b"], "longest_chain_s": 0.0, "aborts": {}}]
    summary = summarize(recorded)
    assert (summary["chain_trials"], summary["cycle_trials"], summary["longest_chain_s"]) == (1, 1, 1.5)
    assert summary["aborts"] == {"not-elected": 1}
    older = summarize([{"outage_s": 1.0, "lost": 0}])
    assert older["chain_trials"] is None and older["aborts"] is None
    assert older["master_moves"] is None


def test_the_summary_counts_the_master_moves_of_each_trial():
    once = {"outage_s": 1.0, "lost": 0, "masters": [[0.0, "a"], [2.5, "b"]]}
    twice = {"outage_s": 1.0, "lost": 0, "masters": [[0.0, "a"], [2.5, "b"], [30.0, "c"]]}
    stayed = {"outage_s": 0.1, "lost": 0, "masters": [[0.0, "a"]]}
    assert summarize([once, twice, stayed])["master_moves"] == {"total": 3, "max": 2}


def test_the_endpoint_writer_is_summarised_beside_the_sentinel_writer():
    from drills.analysis import endpoint_metrics

    endpoint = "redis-gateway-ha.ns.svc.cluster.local:6379"
    result = {**writer_result([[1, 100.0, 0], [2, 100.01, 0], [3, 103.5, 0]], lost=[2]), "nodes": [endpoint]}
    measured = endpoint_metrics(result, 100.02)
    assert measured["outage_s"] == pytest.approx(3.49) and measured["lost"] == 1
    assert "first_ack_on_new_master_s" not in measured, "the node behind the Service is not known"
    trials = [{"outage_s": 1.0, "lost": 0, "endpoint": measured},
              {"outage_s": 2.0, "lost": 0, "endpoint": {**measured, "outage_s": 1.5, "lost": 0}}]
    summary = summarize(trials)["endpoint"]
    assert (summary["max"], summary["lost_total"], summary["verified"]) == (3.49, 1, 2)
    assert summarize([{"outage_s": 1.0, "lost": 0}])["endpoint"] is None


def test_an_upgrade_must_leave_the_master_on_pod_0_until_the_last_step():
    from drills.scenarios import SCENARIOS, unmet_expectations

    old, new = "redis 7.0.15", "redis 8.0.2"
    pods = ["redis-gateway-0", "redis-gateway-1", "redis-gateway-2"]
    staged = {"engines": {pods[0]: old, pods[1]: new, pods[2]: new}, "master": pods[0]}
    upgraded = {"staged": staged, "completed": {"engines": dict.fromkeys(pods, new), "master": pods[2]}}
    trial = {"lost": 0, "fault": upgraded}
    assert unmet_expectations(SCENARIOS["upgrade-to-redis-8.0"], trial) == []
    moved_early = {**upgraded, "staged": {**staged, "master": pods[1]}}
    assert "staged rollout: master redis-gateway-1" in " ".join(
        unmet_expectations(SCENARIOS["upgrade-to-redis-8.0"], {**trial, "fault": moved_early}))
    rolled_back = {"staged": staged, "rolled_back": {"engines": {**dict.fromkeys(pods, old), pods[1]: new},
                                                     "master": pods[0]}}
    assert unmet_expectations(SCENARIOS["rollback-from-redis-8.0"], {**trial, "fault": rolled_back}) == [
        f"rollback: engines {rolled_back['rolled_back']['engines']}, expected all {old}"]


def test_a_scale_drill_fails_on_ghosts_a_wrong_quorum_a_restarted_pod_or_a_failover():
    from drills.scenarios import SCENARIOS, unmet_expectations

    lives = {"redis-gateway-0": "uid0 [('redis', 0), ('sentinel', 0)]", "redis-gateway-1": "uid1 []"}
    good = {"staying_before": lives,
            "out": {"status": {"pods": 5, "problems": [], "quorums": [3]}, "staying": lives},
            "in": {"status": {"pods": 3, "problems": [], "quorums": [2]}, "staying": lives}}
    assert unmet_expectations(SCENARIOS["scale"], {"lost": 0, "fault": good}) == []
    ghost = {**good, "in": {"status": {"pods": 3, "quorums": [3],
                                       "problems": ["redis-gateway-0: sentinel knows 4 other sentinels"]},
                            "staying": lives}}
    unmet = unmet_expectations(SCENARIOS["scale"], {"lost": 0, "odown_samples": {"redis-gateway-1": 2}, "fault": ghost})
    assert unmet == ["after scaling in: redis-gateway-0: sentinel knows 4 other sentinels",
                     "after scaling in to 3 pods: sentinel quorums [3], expected the majority 2",
                     "a sentinel judged the master objectively down: {'redis-gateway-1': 2}"]
    restarted = {**lives, "redis-gateway-0": "uid0 [('redis', 1), ('sentinel', 0)]"}
    rolled = {**good, "out": {**good["out"], "staying": restarted}}
    assert unmet_expectations(SCENARIOS["scale"], {"lost": 0, "fault": rolled}) == [
        f"scaling out replaced or restarted pods that stay: {{'redis-gateway-0': \"{restarted['redis-gateway-0']}\"}}"]
    assert unmet_expectations(SCENARIOS["scale"], {"lost": 0, "fault": good, "failover": True}) == [
        "an unexpected failover happened"]


def test_an_endpoint_writer_added_to_a_failover_drill_does_not_forbid_the_failure_it_drills():
    import dataclasses

    from drills.__main__ import parse_args
    from drills.scenarios import SCENARIOS, unmet_expectations

    assert parse_args(["master-kill", "--endpoint-writer"]).endpoint_writer
    kill = dataclasses.replace(SCENARIOS["master-kill"], endpoint_writer=True)
    trial = {"lost": 0, "endpoint": {"lost": 0}, "failover": True, "old_master": "redis-gateway-0",
             "new_master": "redis-gateway-1", "odown_samples": {"redis-gateway-1": 3}}
    assert unmet_expectations(kill, trial) == []
    # the day-2 operations still refuse it
    assert SCENARIOS["scale"].fenced_only and not SCENARIOS["master-kill"].fenced_only


def test_the_master_timeline_starts_at_the_fault_and_keeps_changes_only():
    from drills.runner import masters_from

    changes = [[90.0, "redis-gateway-0"], [101.5, "redis-gateway-1"], [130.0, "redis-gateway-1"],
               [140.25, "redis-gateway-2"]]
    assert masters_from(changes, 100.0, "redis-gateway-0") == [
        [0.0, "redis-gateway-0"], [1.5, "redis-gateway-1"], [40.25, "redis-gateway-2"]]


def test_a_lost_volume_drill_fails_unless_the_pod_is_rebuilt_on_a_new_volume():
    from drills.scenarios import SCENARIOS, unmet_expectations

    scenario = SCENARIOS["volume-lost"]
    new = {"name": "data-redis-gateway-0", "uid": "u2", "volume": "pv-2", "phase": "Bound", "terminating": False}
    trial = {"lost": 0, "endpoint": {"lost": 0}, "failover": True, "old_master": "redis-gateway-0",
             "new_master": "redis-gateway-1"}
    good = {"operation": "volume-lost", "pod": "redis-gateway-0", "uid": "u1", "volume": "pv-1", "new_claim": new,
            "rebuilt_at": 2.0}
    assert unmet_expectations(scenario, {**trial, "fault": good}) == []
    assert unmet_expectations(scenario, {**trial, "fault": {**good, "new_claim": None}}) == [
        "no new PVC was bound for redis-gateway-0"]
    assert unmet_expectations(scenario, {**trial, "fault": {**good, "new_claim": {**new, "volume": "pv-1"},
                                                            "rebuilt_at": None}}) == [
        "the new PVC is bound to the old volume pv-1", "redis-gateway-0 was not Ready again on its new volume"]
    # The master's role moved by its preStop handover: staying master, or a sentinel's
    # objective-down judgement, is a failure.
    assert unmet_expectations(scenario, {**trial, "fault": good, "odown_samples": {"redis-gateway-1": 1}}) == [
        "a sentinel judged the master objectively down: {'redis-gateway-1': 1}"]
    assert unmet_expectations(scenario, {**trial, "fault": good, "failover": False,
                                         "new_master": "redis-gateway-0"}) == [
        "no failover happened", "redis-gateway-0 is master again instead of a replica"]


def test_a_trial_line_reports_what_was_acknowledged_and_the_scenarios_own_timings():
    """The README's drill tables come from these lines: lost of acknowledged on each path, and the
    times a scenario records beside the outage (volume-lost: the new PVC, the rebuilt pod)."""
    from drills.__main__ import trial_line

    trial = {"trial": 2, "outage_s": 2.9, "first_ack_on_new_master_s": 3.7, "lost": 0, "acked": 2326,
             "restored_s": 17.5, "failover": True, "old_master": "redis-gateway-0", "new_master": "redis-gateway-2",
             "tilt": [], "unmet": [], "masters": [[0.0, "redis-gateway-0"], [2.5, "redis-gateway-2"]],
             "outage_from_fault_s": 0.8,
             "endpoint": {"outage_s": 3.8, "outage_from_fault_s": 0.5, "lost": 0, "acked": 2255,
                          "errors": {"ReadOnlyError": 1}},
             "fault": {"timings_s": {"new PVC bound": 3.9, "pod Ready on it": 16.7}}}
    line = trial_line(trial)
    assert "lost 0 of 2326 acknowledged" in line
    # no sentinel log in this record: the lag behind the last switch is left out
    assert ("through the endpoint: outage 3.8 s (0.6 s behind the Sentinel writer), READONLY 1, "
            "lost 0 of 2255 acknowledged") in line
    assert line.endswith(", new PVC bound 3.9 s, pod Ready on it 16.7 s")


def test_the_endpoint_lag_is_measured_from_the_sentinel_writer_and_the_last_switch():
    import datetime

    from drills.analysis import endpoint_follow

    fault_at = datetime.datetime(2026, 11, 30, 10, 51, 35, tzinfo=datetime.timezone.utc).timestamp()
    trial = {"outage_from_fault_s": 0.3, "outage_s": 7.0, "fault": {"fault_at": fault_at},
             "endpoint": {"outage_from_fault_s": 0.2, "outage_s": 7.6, "lost": 0, "errors": {"ReadOnlyError": 2}},
             "sentinel_logs": {
                 # the leader names the promoted replica from +promoted-slave on
                 "redis-gateway-1": {"events": ["2026 10:51:41.900 # +promoted-slave slave b b 6379 @ gateway-master a",
                                                "2026 10:51:42.100 # +switch-master gateway-master a 6379 b 6379"]},
                 "redis-gateway-2": {"events": ["2026 10:51:41.600 # +switch-master gateway-master a 6379 b 6379",
                                                "2026 10:51:41.500 # +config-update-from sentinel x"]},
                 # the killed pod's sentinel, back much later
                 "redis-gateway-0": {"events": ["2026 10:51:55.000 # +switch-master gateway-master a 6379 b 6379"]}}}
    # the endpoint's first write after its gap at 7.8 s, the Sentinel writer's at 7.3 s; the
    # second of three sentinels named the new master at 6.9 s
    assert endpoint_follow(trial) == {"behind_sentinel_writer_s": 0.5, "after_majority_named_s": 0.9}
    summary = summarize([trial])["endpoint"]
    assert (summary["behind_max"], summary["after_named_max"], summary["readonly_replies"]) == (0.5, 0.9, 2)
    assert endpoint_follow({"outage_s": 1.0, "endpoint": {}}) == {
        "behind_sentinel_writer_s": None, "after_majority_named_s": None}
    # one sentinel of three names it: no majority yet
    trial["sentinel_logs"] = {"redis-gateway-1": trial["sentinel_logs"]["redis-gateway-1"],
                              "redis-gateway-2": {"events": []}, "redis-gateway-0": {"events": []}}
    assert endpoint_follow(trial)["after_majority_named_s"] is None


def test_the_go_redis_writer_is_summarised_reported_and_must_verify_its_writes():
    """The third writer (go-redis's FailoverClient, `--failover-client-writer`): its outage and
    losses in the summary and the trial line, and a trial whose writes it could not verify is
    unmet, as for the other writers."""
    from drills.__main__ import parse_args, trial_line
    from drills.analysis import endpoint_metrics
    from drills.scenarios import SCENARIOS, unmet_expectations

    assert parse_args(["master-delete", "--failover-client-writer"]).failover_client_writer
    with pytest.raises(SystemExit):
        parse_args(["floor-master-kill", "--failover-client-writer"])
    result = {**writer_result([[1, 100.0, 0], [2, 100.01, 0], [3, 101.2, 0]], lost=[3]), "nodes": ["failover-client"]}
    measured = endpoint_metrics(result, 100.02)
    trials = [{"outage_s": 1.0, "lost": 0, "failover_client": measured},
              {"outage_s": 2.0, "lost": 0, "failover_client": {**measured, "outage_s": 0.4, "lost": 0}}]
    summary = summarize(trials)["failover_client"]
    assert (summary["p50"], summary["max"], summary["lost_total"], summary["verified"]) == (0.4, 1.19, 1, 2)
    assert summarize([{"outage_s": 1.0, "lost": 0}])["failover_client"] is None
    trial = {"trial": 1, "outage_s": 2.9, "first_ack_on_new_master_s": 3.7, "lost": 0, "acked": 300,
             "restored_s": 17.5, "failover": True, "old_master": "redis-gateway-0", "new_master": "redis-gateway-2",
             "tilt": [], "unmet": [], "masters": [], "failover_client": measured}
    assert ", go-redis FailoverClient: outage 1.19 s, lost 1 of 3 acknowledged" in trial_line(trial)
    delete = SCENARIOS["master-delete"]
    unverified = {**trial, "failover_client": {**measured, "lost": None, "verify_error": "no master"}}
    assert unmet_expectations(delete, trial) == []
    assert unmet_expectations(delete, unverified) == ["writes of the go-redis writer not verified: no master"]
