"""The language host's Go source: gofmt-clean (go vet runs in scripts/bootstrap-pulumi, which
builds it in the CLI's wrapper module go/pulumi-engine, against the CLI's dependency set)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HOST_SOURCE = Path(__file__).resolve().parents[2] / "go" / "pulumi-engine" / "python-language-host"


def test_source_is_gofmt_clean():
    assert list(HOST_SOURCE.glob("*.go")), f"no Go source in {HOST_SOURCE}"
    gofmt = shutil.which("gofmt")
    if gofmt is None:
        pytest.fail("gofmt (part of the Go toolchain) is not on PATH", pytrace=False)
    result = subprocess.run([gofmt, "-l", str(HOST_SOURCE)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "", f"not gofmt-formatted:\n{result.stdout}"
