"""The pictures of drills.plots: the data each one takes from hand-made saved results, and the
files main() writes from them."""

from __future__ import annotations

import json

import pytest

from drills.plots import (InputError, benchmark_outages, comparison_outages, main, outage_columns, read,
                          workload_latency, workload_throughput)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def trials(*outages):
    return [{"trial": n, "outage_s": outage, "lost": 0} for n, outage in enumerate(outages, 1)]


BENCHMARKS = {"scenarios": {
    "master-kill": {"description": "kill", "trials": trials(7.3, 7.1, 7.8), "summary": {}},
    "master-delete": {"description": "delete", "trials": trials(2.6, None) + [{"trial": 3, "error": "boom"}]},
    "floor-master-kill": {"description": "bare", "trials": trials(5.7, 6.9)},
}}
COMPARISON = {"scenarios": {
    "master-kill": {"description": "kill", "sides": {"stack": trials(7.28), "redis-ha chart": trials(7.23, 9.5)}},
    "full-restart": {"description": "all", "sides": {"stack": trials(25.6), "redis-ha chart": []}},
}}


def histogram(count, buckets, p99_ms=999.0):
    # p99_ms as the driver reports it per run: a decoy, the pictures take the merged buckets
    return {"count": count, "p50_ms": 999.0, "p95_ms": 999.0, "p99_ms": p99_ms, "buckets_us": buckets}


def run(phase, target, alert, round_trip=None, alerts_per_s=100.0, number=1):
    return {"round": number, "phase": phase, "target": target, "cpu": [],
            "result": {"alert": histogram(0, alert), "round_trip": histogram(0, round_trip or alert),
                       "alerts_per_s": alerts_per_s, "round_trips_per_s": alerts_per_s * 14}}


WORKLOAD = {"runs": [
    run("saturation", "direct", {"500.0": 10}, alerts_per_s=900.0),
    run("steady", "endpoint", {"1000.0": 90, "3000.0": 5}, {"100.0": 1}),
    run("steady", "endpoint", {"1000.0": 3, "2000.0": 1, "8000.0": 1}, {"200.0": 1}, number=2),
    run("saturation", "endpoint", {"1000.0": 10}, alerts_per_s=1000.0),
    run("saturation", "endpoint", {"1000.0": 10}, alerts_per_s=1200.0, number=2),
    run("burst", "chart", {"1000.0": 0}),
]}


def test_the_floor_scenario_is_the_floor_column_of_the_scenario_without_the_prefix():
    columns = outage_columns(benchmark_outages(BENCHMARKS), comparison_outages(COMPARISON))
    assert list(columns) == ["master-kill", "master-delete", "full-restart"]
    assert columns["master-kill"] == [
        {"source": "ours (benchmark)", "outages_s": [7.3, 7.1, 7.8], "trials": 3},
        {"source": "ours (comparison run)", "outages_s": [7.28], "trials": 1},
        {"source": "redis-ha chart", "outages_s": [7.23, 9.5], "trials": 2},
        {"source": "floor", "outages_s": [5.7, 6.9], "trials": 2},
    ]


def test_unmeasured_trials_count_but_have_no_dot_and_a_side_without_trials_has_no_column():
    columns = outage_columns(benchmark_outages(BENCHMARKS), comparison_outages(COMPARISON))
    assert columns["master-delete"] == [{"source": "ours (benchmark)", "outages_s": [2.6], "trials": 3}]
    assert columns["full-restart"] == [{"source": "ours (comparison run)", "outages_s": [25.6], "trials": 1}]


def test_runs_of_the_same_phase_and_target_are_merged_before_the_percentiles():
    latency = workload_latency(WORKLOAD)
    assert list(latency) == ["steady", "saturation"]  # burst: its one run recorded nothing
    # merged: 1000 µs x93, 2000 x1, 3000 x5, 8000 x1; p99 is the 99th of 100, in the 3000 µs bucket
    # (each run alone: 3.0 and 8.0 ms; their mean 5.5)
    assert latency["steady"]["alert"]["endpoint"] == {"p50": 1.0, "p95": 3.0, "p99": 3.0, "p99.9": 8.0}
    assert latency["steady"]["round_trip"]["endpoint"] == {"p50": 0.1, "p95": 0.2, "p99": 0.2, "p99.9": 0.2}
    assert list(latency["saturation"]["alert"]) == ["endpoint", "direct"]


def test_the_throughput_is_the_saturation_runs_alerts_per_second_and_their_mean():
    assert workload_throughput(WORKLOAD) == {"endpoint": {"runs": [1000.0, 1200.0], "mean": 1100.0},
                                             "direct": {"runs": [900.0], "mean": 900.0}}


def test_a_missing_file_is_skipped_and_said(tmp_path):
    said = []
    assert read(tmp_path / "benchmarks.json", benchmark_outages, said.append) is None
    assert said == [f"{tmp_path / 'benchmarks.json'}: not found, skipped"]


@pytest.mark.parametrize("name, content, missing", [
    ("benchmarks.json", {"scenarios": {"master-kill": {"description": "kill"}}}, "scenarios.master-kill.trials"),
    ("benchmarks.json", {"scenarios": {"master-kill": {"trials": [{"outage_s": "7 s"}]}}},
     "scenarios.master-kill.trials[0].outage_s"),
    ("peer-comparison.json", {"scenarios": {"master-kill": {"trials": []}}}, "scenarios.master-kill.sides"),
    ("workload.json", {"runs": [{"phase": "steady", "target": "direct", "result": {"alert": {}}}]},
     "runs[0].result.alert.buckets_us"),
    ("workload.json", {"rounds": []}, "runs"),
])
def test_a_malformed_file_fails_naming_the_file_and_the_field(tmp_path, capsys, name, content, missing):
    (tmp_path / name).write_text(json.dumps(content))
    assert main(["--docs", str(tmp_path)]) == 1
    error = capsys.readouterr().err
    assert f"{tmp_path / name}: {missing}" in error
    assert not (tmp_path / "plots").exists()  # nothing drawn from the good files either


def test_a_file_that_is_not_json_fails_naming_the_file(tmp_path):
    (tmp_path / "benchmarks.json").write_text('{"scenarios": ')
    with pytest.raises(InputError, match="benchmarks.json"):
        read(tmp_path / "benchmarks.json", benchmark_outages, print)


def test_main_draws_a_png_per_scenario_and_the_workload_pictures(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, content in (("benchmarks.json", BENCHMARKS), ("peer-comparison.json", COMPARISON),
                          ("workload.json", WORKLOAD)):
        (docs / name).write_text(json.dumps(content))
    out = tmp_path / "pictures"
    assert main(["--docs", str(docs), "--out", str(out)]) == 0
    names = ["outage-master-kill.png", "outage-master-delete.png", "outage-full-restart.png",
             "workload-latency.png", "workload-throughput.png"]
    assert capsys.readouterr().out.splitlines() == [str(out / name) for name in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    for name in names:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5000, name
    first = {name: (out / name).read_bytes() for name in names}
    assert main(["--docs", str(docs), "--out", str(out)]) == 0
    assert {name: (out / name).read_bytes() for name in names} == first  # the same bytes again


def test_main_skips_the_missing_files_and_draws_the_rest(tmp_path, capsys):
    (tmp_path / "benchmarks.json").write_text(json.dumps(BENCHMARKS))
    assert main(["--docs", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == [
        "outage-master-delete.png", "outage-master-kill.png"]
    assert "peer-comparison.json: not found, skipped" in captured.err
    assert "workload.json: not found, skipped" in captured.err


def test_main_rejects_a_docs_folder_that_is_not_there(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["--docs", str(tmp_path / "nowhere")])
    assert exit.value.code == 2
    assert "not a directory" in capsys.readouterr().err
