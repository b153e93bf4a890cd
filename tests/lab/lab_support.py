"""Shared pieces of the lab tests. CI installs podman and builds the lab images, so a missing
prerequisite fails with the fix in the message; nothing here is ever skipped."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
TINY = FIXTURES / "tiny"
LAB_IMAGE = "localhost/kubernaut-redis-lab:7.0.15"
CLIENT_IMAGE = "localhost/kubernaut-redis-client:7.0.15"


def require_lab_prerequisites() -> None:
    missing = [tool for tool in ("podman", "nsenter", "nft") if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing on PATH: {', '.join(missing)}; run scripts/setup-host", pytrace=False)
    images = [i for i in (LAB_IMAGE, CLIENT_IMAGE)
              if subprocess.run(["podman", "image", "exists", i]).returncode != 0]
    if images:
        pytest.fail(f"missing podman images {', '.join(images)}; build them with lab/images/build-images",
                    pytrace=False)


def render_stack(stack: str, out: Path, *overrides: str) -> Path:
    """The mock renderer's output for `stack` with the lab images (the engine-free twin of the lab stack)."""
    command = [sys.executable, "-m", "tools.render_manifests", "--stack", stack, "--out", str(out),
               "--set", f"platform.images.redis={LAB_IMAGE}", "--set", f"platform.images.haproxy={LAB_IMAGE}"]
    for override in overrides:
        command += ["--set", override]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    return out


def stack_outputs(stack: str) -> dict:
    """What `pulumi stack output --json` gives for `stack`, from the program run under mocks."""
    code = ("import json; from tools.pulumi_mock_run import run_program, stack_file_config; "
            f"run = run_program({stack!r}, stack_file_config({stack!r}), "
            "{'gatewayRedisPassword': 'unused', 'gatewaySentinelPassword': 'unused', 'kubeconfig': 'unused'}); "
            "print(json.dumps(run.outputs))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def python_module(*args: str, env=None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=timeout)
