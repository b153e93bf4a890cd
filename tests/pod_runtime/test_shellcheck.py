"""Every shell script of the repo is shellcheck-clean (with -x, from the repo root), and the pod
scripts never put a password on a command line."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from runtime_support import REPO, require_tools

SHELL_SHEBANG = re.compile(r"^#!\s*(/usr/bin/env\s+)?(/bin/|/usr/bin/)?(sh|bash|dash)\b")
POD_SCRIPTS = REPO / "pod_scripts"


SHELL_DIRECTIVE = re.compile(r"^# shellcheck shell=")


def is_shell_script(path: Path) -> bool:
    """A .sh file, a file with a sh/bash shebang, or a sourced file that names its shell (the CI
    lint step picks the same files)."""
    if path.suffix == ".sh":
        return True
    try:
        with path.open("r", encoding="utf-8") as handle:
            first_line = handle.readline()
    except (UnicodeDecodeError, OSError):
        return False
    return bool(SHELL_SHEBANG.match(first_line) or SHELL_DIRECTIVE.match(first_line))


def repo_shell_scripts() -> list[Path]:
    candidates = [*POD_SCRIPTS.rglob("*"), *(REPO / "scripts").rglob("*"), *(REPO / "lab").rglob("*"),
                  *(REPO / "ops").rglob("*")]
    return sorted(p for p in candidates if p.is_file() and "__pycache__" not in p.parts and is_shell_script(p))


def test_the_pod_scripts_are_found():
    found = {p.name for p in repo_shell_scripts()}
    expected = {"common.sh", "redis-start.sh", "sentinel-start.sh", "redis-readiness.sh",
                "redis-liveness.sh", "sentinel-probe.sh", "redis-prestop.sh", "cache-start.sh", "operator-cli.sh",
                "handover.sh", "redis-switchover.sh", "place-legacy-rdb.sh"}
    assert expected <= found


@pytest.mark.parametrize("script", repo_shell_scripts(), ids=lambda p: str(p.relative_to(REPO)))
def test_shellcheck_clean(script: Path):
    require_tools("shellcheck")
    result = subprocess.run(["shellcheck", "-x", str(script.relative_to(REPO))],
                            cwd=REPO, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("script", sorted(POD_SCRIPTS.rglob("*.sh")), ids=lambda p: p.name)
def test_pod_scripts_are_posix_sh_without_blanket_disables(script: Path):
    text = script.read_text()
    first_line = text.splitlines()[0]
    assert first_line in ("#!/bin/sh", "# shellcheck shell=sh"), first_line
    for line in text.splitlines():
        if "shellcheck disable" in line:
            # a disable names one check and says why
            assert re.search(r"disable=SC\d{4}\s+#\s*\S", line), line


@pytest.mark.parametrize("script", sorted(POD_SCRIPTS.rglob("*.sh")), ids=lambda p: p.name)
def test_passwords_never_reach_argv(script: Path):
    text = script.read_text()
    # the CLI's -a / --pass / --user put the password in the process list
    assert not re.search(r"(redis-cli|valkey-cli|ENGINE_CLI)\b[^\n]*\s(-a|--pass|--askpass)\b", text)
    # the password variables are only expanded into REDISCLI_AUTH, printf (a builtin) or checks
    for line in text.splitlines():
        if re.search(r"\$\{?(REDIS_PASSWORD|SENTINEL_PASSWORD|ACL_[A-Z]+_PASSWORD)", line):
            assert re.search(r"REDISCLI_AUTH=|printf |check_password|-n \"\$\{|case \$\{|(^|\s)[a-z_]+=\$\{ACL_", line), line
        # The S3 credentials reach curl through its config on stdin (s3.sh: printf | curl -K -).
        if re.search(r"\$\{?AWS_(SECRET_ACCESS_KEY|ACCESS_KEY_ID)\b", line) and "require_env" not in line:
            assert line.strip().startswith("printf "), line
