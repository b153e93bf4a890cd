"""scripts/pulumi-env: what a shell has after sourcing it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def sourced_environment(engine, home: Path, **preset: str) -> tuple[dict[str, str], str]:
    """Source the file in a clean bash with a private HOME; returns its environment and stderr."""
    cache = engine.plugins_dir.parent.parent
    env = {"HOME": str(home), "PATH": os.environ["PATH"], "KUBERNAUT_ENGINE_CACHE": str(cache), **preset}
    result = subprocess.run(["bash", "-c", f". {REPO}/scripts/pulumi-env && env -0"], env=env,
                            capture_output=True, text=True, check=True, timeout=60)
    pairs = (item.split("=", 1) for item in result.stdout.split("\0") if "=" in item)
    return dict(pairs), result.stderr


def test_team_backend_is_kept_and_plugin_downloads_are_off(engine, tmp_path):
    env, _ = sourced_environment(engine, tmp_path, PULUMI_BACKEND_URL="s3://team-state/kubernaut-redis",
                                 KUBECONFIG="/somewhere/config", PULUMI_CONFIG_PASSPHRASE="")
    assert shutil.which("pulumi", path=env["PATH"]) == str(engine.bin_dir / "pulumi")
    assert shutil.which("python3", path=env["PATH"]) == str(REPO / ".venv" / "bin" / "python3")
    assert env["PULUMI_HOME"] == str(engine.plugins_dir.parent)
    assert env["PULUMI_BACKEND_URL"] == "s3://team-state/kubernaut-redis"
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert env["PULUMI_IGNORE_AMBIENT_PLUGINS"] == "true"
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert "KUBECONFIG" not in env
    assert env["VIRTUAL_ENV"] == str(REPO / ".venv")
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in env  # an explicit (even empty) passphrase wins


def test_passphrase_file_is_used_and_its_absence_explained(engine, tmp_path):
    _, warning = sourced_environment(engine, tmp_path, PULUMI_BACKEND_URL="file:///nonexistent")
    assert "no passphrase" in warning and "~/.config/kubernaut-redis/passphrase" in warning
    passphrase = tmp_path / ".config" / "kubernaut-redis" / "passphrase"
    passphrase.parent.mkdir(parents=True)
    passphrase.write_text("local only\n")
    env, warning = sourced_environment(engine, tmp_path, PULUMI_BACKEND_URL="file:///nonexistent")
    assert env["PULUMI_CONFIG_PASSPHRASE_FILE"] == str(passphrase)
    assert "PULUMI_CONFIG_PASSPHRASE" not in env
    assert warning == ""
