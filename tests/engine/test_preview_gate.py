"""The pull-request gate (scripts/pulumi-preview-gate) on `pulumi preview --json` output recorded
from the real engine by scripts/pulumi-record-gate-previews (fixture program, render mode).

The committed recordings keep the gate's tests fast and readable; test_fresh_recordings_*
re-records with the engine of this checkout, so they cannot drift from what it really emits.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GATE = REPO / "scripts" / "pulumi-preview-gate"
RECORDER = REPO / "scripts" / "pulumi-record-gate-previews"
RECORDED = Path(__file__).parent / "fixtures" / "previews"

# scenario -> (gate exit code without the label, the guarded step it must name or None)
EXPECTED = {
    "no-change": (0, None),
    "config-update": (0, None),
    "statefulset-replace": (1, "replace kubernetes:apps/v1:StatefulSet"),
    "namespace-delete": (1, "delete kubernetes:core/v1:Namespace"),
}


def run_gate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(GATE), *args], capture_output=True, text=True, check=False, timeout=60)


def ops_by_type(preview_file: Path) -> dict[str, set[str]]:
    ops: dict[str, set[str]] = {}
    for step in json.loads(preview_file.read_text())["steps"]:
        ops.setdefault(step["urn"].split("::")[2], set()).add(step["op"])
    return ops


def test_recordings_hold_the_changes_they_are_named_after():
    assert set(ops_by_type(RECORDED / "no-change.json")) == {"pulumi:pulumi:Stack"}
    assert ops_by_type(RECORDED / "config-update.json")["kubernetes:apps/v1:StatefulSet"] == {"update"}
    assert ops_by_type(RECORDED / "statefulset-replace.json")["kubernetes:apps/v1:StatefulSet"] == {"replace"}
    assert ops_by_type(RECORDED / "namespace-delete.json")["kubernetes:core/v1:Namespace"] == {"delete"}


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_gate_verdict_on_recorded_preview(scenario):
    exit_code, named_step = EXPECTED[scenario]
    result = run_gate(str(RECORDED / f"{scenario}.json"))
    assert result.returncode == exit_code, result.stdout + result.stderr
    if named_step:
        assert named_step in result.stdout
        assert "allow-stateful-replacement" in result.stdout
    else:
        assert "no StatefulSet, PVC or Namespace is replaced or deleted" in result.stdout


def test_label_lets_a_replacement_through_but_still_lists_it():
    result = run_gate("--allow", str(RECORDED / "statefulset-replace.json"))
    assert result.returncode == 0
    assert "replace kubernetes:apps/v1:StatefulSet" in result.stdout
    assert "allowed by the allow-stateful-replacement label" in result.stdout


def test_one_failing_stack_fails_the_gate_for_all():
    result = run_gate(str(RECORDED / "config-update.json"), str(RECORDED / "namespace-delete.json"))
    assert result.returncode == 1
    assert "namespace-delete.json: delete kubernetes:core/v1:Namespace" in result.stdout


@pytest.mark.parametrize("content", ["not json", '{"config": {}}', "[]"])
def test_input_that_is_not_a_preview_is_an_error_not_a_pass(tmp_path, content):
    bogus = tmp_path / "preview.json"
    bogus.write_text(content)
    result = run_gate(str(bogus))
    assert result.returncode == 2
    assert str(bogus) in result.stderr


def test_fresh_recordings_from_this_engine_get_the_same_verdicts(engine, tmp_path):
    out = tmp_path / "previews"
    record = subprocess.run([str(RECORDER), str(out)], capture_output=True, text=True, check=False, timeout=600)
    assert record.returncode == 0, record.stdout + record.stderr
    assert sorted(p.stem for p in out.glob("*.json")) == sorted(EXPECTED)
    for scenario, (exit_code, _) in EXPECTED.items():
        assert run_gate(str(out / f"{scenario}.json")).returncode == exit_code, scenario
        assert ops_by_type(out / f"{scenario}.json") == ops_by_type(RECORDED / f"{scenario}.json"), scenario
