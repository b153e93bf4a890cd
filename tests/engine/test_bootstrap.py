"""scripts/bootstrap-pulumi: reuses what is built, prefers a pinned pulumi already on PATH, and
says what is missing instead of half-building."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BOOTSTRAP = REPO / "scripts" / "bootstrap-pulumi"
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def bootstrap(*args: str, cache: Path | None = None, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if cache is not None:
        env["KUBERNAUT_ENGINE_CACHE"] = str(cache)
    if path is not None:
        env["PATH"] = path
    return subprocess.run([str(BOOTSTRAP), *args], env=env, capture_output=True, text=True, check=False, timeout=120)


def test_reuses_the_built_engine_at_once(engine):
    started = time.monotonic()
    result = bootstrap()
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 10
    assert result.stdout.strip() == str(engine.bin_dir)
    assert "already in place" in result.stderr


def test_check_on_an_empty_cache_fails_and_builds_nothing(tmp_path):
    result = bootstrap("--check", cache=tmp_path / "cache", path=SYSTEM_PATH)
    assert result.returncode == 1
    assert result.stdout == ""
    assert not (tmp_path / "cache").exists()


def test_missing_go_toolchain_is_named(tmp_path):
    if shutil.which("go", path=SYSTEM_PATH) or shutil.which("pulumi", path=SYSTEM_PATH):
        pytest.fail(f"this test needs a PATH without go and pulumi; {SYSTEM_PATH} has one", pytrace=False)
    result = bootstrap(cache=tmp_path / "cache", path=SYSTEM_PATH)
    assert result.returncode == 1
    assert "the Go toolchain ('go', >= 1.26.6) is not on PATH" in result.stderr


def test_pinned_pulumi_on_path_is_used_with_the_cached_provider(engine, tmp_path):
    """A team machine with pulumi v<pinned> installed needs only the provider plugin."""
    installed = tmp_path / "installed-bin"
    installed.mkdir()
    (installed / "pulumi").symlink_to(engine.bin_dir / "pulumi")
    cache = tmp_path / "cache"
    (cache / "pulumi-home").mkdir(parents=True)
    (cache / "pulumi-home" / "plugins").symlink_to(engine.plugins_dir)
    result = bootstrap(cache=cache, path=f"{installed}:{SYSTEM_PATH}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(installed)
    assert "phase" not in result.stderr, "nothing may be built"
    assert [p.name for p in cache.iterdir()] == ["pulumi-home"], "nothing may be built"
