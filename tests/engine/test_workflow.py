"""The pull-request workflow (.github/workflows/pulumi.yml): valid against GitHub's workflow
schema (check-jsonschema's vendored copy, checked with no network at all), shell steps that
pass shellcheck, and the preview/gate wiring the docs promise."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOW = REPO / ".github" / "workflows" / "pulumi.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"
ALLOW_LABEL = "allow-stateful-replacement"


def validate_offline(path: Path) -> subprocess.CompletedProcess[str]:
    """Run the schema check in a new network namespace with no interfaces but loopback, so it
    passes only if the schema is vendored and nothing is fetched."""
    if not CHECK_JSONSCHEMA.exists():
        pytest.fail(f"{CHECK_JSONSCHEMA} is missing; install requirements-dev.txt into .venv", pytrace=False)
    if shutil.which("unshare") is None:
        pytest.fail("unshare (util-linux) is needed to run the schema check without network", pytrace=False)
    return subprocess.run(
        ["unshare", "--map-root-user", "--net", str(CHECK_JSONSCHEMA), "--builtin-schema",
         "vendor.github-workflows", str(path)],
        capture_output=True, text=True, check=False, timeout=120)


def load_workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def steps_of(job: str) -> list[dict]:
    return load_workflow()["jobs"][job]["steps"]


def test_workflow_is_valid_against_the_github_workflow_schema_offline():
    result = validate_offline(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok -- validation done" in result.stdout


def test_schema_check_rejects_a_job_without_runs_on(tmp_path):
    broken = tmp_path / "pulumi.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "runs-onn:"))
    result = validate_offline(broken)
    assert result.returncode == 1
    assert "'runs-on' is a required property" in result.stdout


def test_every_stack_is_previewed_commented_and_gated():
    preview = load_workflow()["jobs"]["preview"]
    assert preview["strategy"]["matrix"]["stack"] == ["dev", "prod"]
    assert preview["permissions"]["pull-requests"] == "write"
    action = next(s for s in preview["steps"] if s.get("uses", "").startswith("pulumi/actions@"))
    assert action["with"]["command"] == "preview"
    assert action["with"]["comment-on-pr"] is True
    assert action["with"]["stack-name"] == "${{ matrix.stack }}"
    runs = "\n".join(s.get("run", "") for s in preview["steps"])
    assert "pulumi preview --stack \"${{ matrix.stack }}\" --refresh --json" in runs
    assert "scripts/pulumi-preview-gate" in runs
    assert load_workflow()["env"]["ALLOW_LABEL"] == ALLOW_LABEL
    assert ALLOW_LABEL in (REPO / "scripts" / "pulumi-preview-gate").read_text()


def test_labelling_the_pull_request_reruns_the_gate():
    # PyYAML follows YAML 1.1, where the key `on` is the boolean True.
    assert {"labeled", "unlabeled"} <= set(load_workflow()[True]["pull_request"]["types"])


def test_tests_run_before_any_preview():
    workflow = load_workflow()
    assert workflow["jobs"]["preview"]["needs"] == "test"
    assert any(".ci/run" in s.get("run", "") for s in steps_of("test"))


@pytest.mark.parametrize("job", ["test", "preview"])
def test_shell_steps_pass_shellcheck(job, tmp_path):
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed (scripts/setup-host installs it)", pytrace=False)
    for index, step in enumerate(s for s in steps_of(job) if "run" in s):
        # GitHub substitutes ${{ }} before bash sees the script; a plain word stands in for it.
        script = re.sub(r"\$\{\{[^}]*\}\}", "EXPR", step["run"])
        path = tmp_path / f"{job}-{index}.sh"
        path.write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + script)
        result = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"step {step.get('name', index)}:\n{result.stdout}"
