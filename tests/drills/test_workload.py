"""drills.workload without a cluster: its options, the bare pod it makes, the driver's command
lines, and how runs are merged, judged against the issue's targets and rendered."""

from __future__ import annotations

import argparse

import pytest

from cluster import ClientSpec
from drills import histogram
from drills.workload import (BARE_NAMESPACE, Endpoint, bare_objects, driver_command, parse_args, render_report,
                             summarize, verdicts)


def result(target: str, alert: dict[str, int], trip: dict[str, int], alerts_per_s: float, errors: int = 0):
    return {"target": target, "alerts": sum(alert.values()), "failed_alerts": 0, "errors": errors,
            "alerts_per_s": alerts_per_s, "round_trips_per_s": alerts_per_s * 14,
            "alert": {"buckets_us": alert}, "round_trip": {"buckets_us": trip}, "alerts_started_late": 0}


def run(phase: str, target: str, alert: dict[str, int], trip: dict[str, int], alerts_per_s: float = 100.0,
        cpu=()):
    return {"round": 1, "phase": phase, "target": target, "result": result(target, alert, trip, alerts_per_s),
            "cpu": list(cpu)}


def test_histograms_merge_by_bucket_and_give_nearest_rank_percentiles():
    merged = histogram.merge([{"1000.0": 98, "2000.0": 1}, {"1000.0": 0, "9000.0": 1}])
    assert merged == {1000.0: 98, 2000.0: 1, 9000.0: 1}
    assert histogram.percentile_ms(merged, 50) == 1.0
    assert histogram.percentile_ms(merged, 99) == 2.0  # rank 99 of 100
    assert histogram.percentile_ms(merged, 100) == 9.0
    with pytest.raises(ValueError):
        histogram.percentile_ms({}, 50)
    with pytest.raises(ValueError):
        histogram.percentile_ms(merged, 0)


@pytest.mark.parametrize("argv, message", [
    (["--rounds", "0"], "--rounds must be between 1 and 20"),
    (["--seconds", "4"], "--seconds must be between 5 and 600"),
    (["--burst-rate", "0"], "--burst-rate must be between 1 and 20000"),
    (["--phases", "steady,storm"], "--phases: unknown storm"),
])
def test_bad_options_are_refused_with_the_option_named(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_args(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_the_bare_pod_has_the_limits_given_no_persistence_and_meets_restricted():
    namespace, pod = bare_objects("img:1", {"cpu": "500m", "memory": "512Mi"}, {"cpu": "100m", "memory": "128Mi"},
                                  268435456, "allkeys-lru")
    assert namespace["metadata"] == {"name": BARE_NAMESPACE,
                                     "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}
    container = pod["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "100m", "memory": "128Mi"},
                                      "limits": {"cpu": "500m", "memory": "512Mi"}}
    command = container["command"]
    assert command[0] == "redis-server"
    assert command[command.index("--save") + 1] == "" and command[command.index("--appendonly") + 1] == "no"
    assert command[command.index("--maxmemory") + 1] == "268435456"
    assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_the_driver_gets_the_phase_rate_and_a_password_only_where_the_target_has_one():
    args = argparse.Namespace(steady_rate=100.0, burst_rate=1000.0, seconds=20.0)
    client = ClientSpec(namespace="ns")
    with_auth = Endpoint("endpoint", "svc:6379", client, True, ())
    bare = Endpoint("bare", "10.0.0.9:6379", client, False, ())
    burst = driver_command("/scratch/d", with_auth, "burst", args, "bench:1:burst:")
    assert burst[burst.index("-rate") + 1] == "1000" and burst[-2:] == ["-password-env", "REDIS_PASSWORD"]
    saturation = driver_command("/scratch/d", bare, "saturation", args, "p:")
    assert saturation[saturation.index("-rate") + 1] == "0" and "-password-env" not in saturation
    assert saturation[saturation.index("-addr") + 1] == "10.0.0.9:6379"


def sample_runs():
    fast, slow = {"500.0": 99, "1000.0": 1}, {"500.0": 90, "3000.0": 10}
    trip = {"50.0": 1390, "100.0": 10}
    return [
        run("burst", "endpoint", slow, trip),
        run("burst", "endpoint", fast, trip),
        run("burst", "direct", fast, trip),
        run("saturation", "endpoint", fast, trip, 850.0,
            [{"part": "haproxy", "millicores": 140.0, "throttled_periods": 7},
             {"part": "haproxy", "millicores": 100.0, "throttled_periods": 0},  # a second proxy pod
             {"part": "driver", "millicores": 600.0, "throttled_periods": 0}]),
        run("saturation", "direct", fast, trip, 1000.0),
        run("saturation", "bare", fast, trip, 1200.0),
    ]


def test_runs_of_a_phase_and_target_are_merged_and_judged_against_the_targets():
    summary = summarize(sample_runs())
    burst = summary[("burst", "endpoint")]
    assert burst["runs"] == 2 and burst["alerts"] == 200
    # 189 alerts at 0.5 ms, 1 at 1 ms, 10 at 3 ms: rank 190 (p95) is the 1 ms one, rank 198 (p99) at 3 ms
    assert (burst["alert_ms"][50], burst["alert_ms"][95], burst["alert_ms"][99]) == (0.5, 1.0, 3.0)
    assert summary[("saturation", "endpoint")]["cpu_millicores"] == {"haproxy": 240.0, "driver": 600.0}
    assert summary[("saturation", "endpoint")]["throttled_periods"] == 7  # the driver's own not counted
    judged = {what: (met, numbers) for what, met, numbers in verdicts(summary)}
    assert judged["burst through the endpoint: per alert p95 < 5 ms and p99 < 10 ms"][0] is True
    overhead = judged["burst: the proxy's overhead at p99 per alert <= 10%"]
    assert overhead == (False, "endpoint 3.00 ms vs direct 0.50 ms: +500%")
    assert judged["saturation through the endpoint >= 90% of a bare redis-server"] == (
        False, "850 vs 1200 alerts/s: 71%")
    assert judged["saturation through the endpoint >= 90% of the master direct"][0] is False
    assert not any(what.startswith("steady") for what in judged)  # not measured: not judged


def test_the_report_carries_the_tables_the_verdicts_and_the_command():
    results = {"date": "2026-12-05 08:00:00 UTC", "finished": "2026-12-05 08:30:00 UTC",
               "command": "python -m drills.workload --rounds 1",
               "machine": {"nproc": 2, "memory_gib": 23.5, "kernel": "6", "os": "Debian", "loadavg_at_start": ["1"],
                           "loadavg_at_end": ["2"], "kubernetes": "Kubernetes v1.37.2, one node",
                           "runtime": "containerd"},
               "config": {"rounds": 1, "seconds": 20, "steady_rate": 100, "burst_rate": 1000, "phases": ["burst"],
                          "pool": 10, "haproxy_limits": {"cpu": "250m"}, "redis_limits": {"cpu": "500m"}},
               "targets": {"endpoint": {"address": "svc:6379", "what": "the endpoint"}},
               "runs": sample_runs()}
    text = render_report(results)
    assert "command: `python -m drills.workload --rounds 1`" in text
    assert "| burst | `endpoint` | 2 | 100 | 0.50 ms | 1.00 ms | 3.00 ms | 3.00 ms |" in text
    assert "| saturation | `endpoint` | - | 240 | 600 | 7 |" in text
    assert "saturation through the endpoint >= 90% of a bare redis-server: 850 vs 1200 alerts/s: 71%: **NOT MET**" in text


def test_the_benchmark_report_quotes_the_saved_comparison_workload_and_pictures(tmp_path):
    import json

    from drills.benchmark import related_sections

    assert related_sections(tmp_path) == []  # nothing saved: nothing quoted
    workload = {"date": "2026-12-05 08:00:00 UTC", "command": "python -m drills.workload --rounds 3",
                "runs": sample_runs()}
    comparison = {"date": "2026-12-04 15:49:03 UTC", "command": "python -m drills.compare --trials 1",
                  "scenarios": {"master-kill": {"sides": {"stack": [{"outage_s": 7.28, "lost": 0}],
                                                          "redis-ha chart": [{"outage_s": 7.23, "lost": 0}]}}}}
    (tmp_path / "workload.json").write_text(json.dumps(workload))
    (tmp_path / "peer-comparison.json").write_text(json.dumps(comparison))
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "outage-master-kill.png").write_bytes(b"\x89PNG")
    text = "\n".join(related_sections(tmp_path))
    assert "`python -m drills.workload --rounds 3`" in text and "`python -m drills.compare --trials 1`" in text
    assert "| `master-kill` | stack | 1 | 7.28 s |" in text
    assert "| `master-kill` | redis-ha chart | 1 | 7.23 s |" in text
    assert "| saturation | `bare` | 1 | 1200 |" in text
    assert "![outage-master-kill](plots/outage-master-kill.png)" in text


def test_the_benchmark_report_quotes_the_saved_drill_and_pressure_runs_with_their_commands(tmp_path):
    import json

    from drills.benchmark import drill_run_lines

    assert drill_run_lines(tmp_path) == []
    (tmp_path / "drill-fast-profile-1500-master-kill.json").write_text(json.dumps({"summary": {
        "trials": 5, "p50": 3.644, "p95": 4.127, "max": 4.127, "lost_total": 0,
        "endpoint": {"p50": 3.509, "p95": 3.961, "max": 3.961, "after_named_max": 0.242, "readonly_replies": 0,
                     "lost_total": 0}}}))
    (tmp_path / "pressure-fast-profile-1500.json").write_text(json.dumps({
        "command": "python -m drills.pressure --minutes 30", "minutes": 30.0, "hogs": 2,
        "timing": {"down_after_ms": 1500}, "false_failovers": 0, "sdown_of_master": 1, "tilt": {"redis-gateway-0": 1},
        "writer": {"longest_gap_s": 0.159, "lost": 0, "acked": 35994}}))
    (tmp_path / "drill-failover-client-master-delete.json").write_text(json.dumps({"summary": {
        "trials": 5, "p50": 2.5, "p95": 2.7, "max": 2.75, "lost_total": 0,
        "failover_client": {"p50": 1.1, "p95": 1.3, "max": 1.31, "lost_total": 0},
        "endpoint": {"p50": 1.4, "p95": 1.8, "max": 1.8, "lost_total": 1}}}))
    text = "\n".join(drill_run_lines(tmp_path))
    assert ("--endpoint-writer --failover-client-writer --json`) | 5 | 2.50 / 2.70 / 2.75 s | 1.10 / 1.30 / 1.31 s "
            "| 1.40 / 1.80 / 1.80 s | 0 + 0 + 1 |") in text
    assert ("--set gateway.downAfterMilliseconds=1500 --json`) | 5 | 3.64 / 4.13 / 4.13 s | 3.51 / 3.96 / 3.96 s "
            "| 0.24 s | 0 | 0 + 0 |") in text
    assert "(`python -m drills.pressure --minutes 30`) | 30 min, 2 busy loops | 1500 ms | 0 | 1 | 1 | 0.16 s | 0 of 35994 |" in text
