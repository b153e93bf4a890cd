"""docs/engine.md's newcomer commands, run as written: bootstrap (reused), a passphrase file,
`. scripts/pulumi-env`, then dev and prod stacks initialised and previewed.

They run in a copy of the repo with a private HOME (its ~/.kube/config points at an unreachable
loopback API server) and a private engine cache that links to the built engine, so the user's
own home, backend and cache are never touched."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "engine.md"


def newcomer_block() -> str:
    match = re.search(r"<!-- newcomer-commands:[^>]*-->\s*```bash\n(.*?)```", DOC.read_text(), flags=re.S)
    assert match, "docs/engine.md lost its newcomer-commands block"
    return match.group(1)


def private_checkout(tmp_path: Path) -> Path:
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO, checkout, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "__pycache__", ".pulumi-state", ".rendered", ".pytest_cache", "tests"))
    (checkout / ".venv").symlink_to(REPO / ".venv")
    return checkout


def private_cache(tmp_path: Path, engine) -> Path:
    cache = tmp_path / "engine-cache"
    (cache / "pulumi-home").mkdir(parents=True)
    (cache / engine.bin_dir.name).symlink_to(engine.bin_dir)
    (cache / "pulumi-home" / "plugins").symlink_to(engine.plugins_dir)
    return cache


def newcomer_environment(home: Path, cache: Path, engine) -> dict[str, str]:
    """A login-like environment: no Pulumi variables, the engine not yet on PATH."""
    path = ":".join(p for p in os.environ["PATH"].split(":") if p and Path(p) != engine.bin_dir)
    env = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TMPDIR", "GOROOT")}
    env.update({"HOME": str(home), "PATH": path, "KUBERNAUT_ENGINE_CACHE": str(cache), "USER": "newcomer"})
    return env


def test_newcomer_commands_initialise_and_preview_dev_and_prod(engine, tmp_path, unreachable_kubeconfig):
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(unreachable_kubeconfig)
    checkout = private_checkout(tmp_path)
    env = newcomer_environment(home, private_cache(tmp_path, engine), engine)

    result = subprocess.run(["bash", "-euo", "pipefail", "-c", newcomer_block()], cwd=checkout, env=env,
                            capture_output=True, text=True, check=False, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "already in place" in output
    assert output.count("Previewing update") == 2
    # dev and prod create the same 29 objects (both with the gateway's auth Secret, both with
    # monitoring: its component, the two metrics Services and the dashboard ConfigMap; both with
    # network policies: their component and four NetworkPolicies; the topology ConfigMap and the
    # TopologyJob component with its Job)
    assert output.count("+ 29 to create") == 2, re.findall(r"\+ \d+ to create", output)
    state = checkout / ".pulumi-state"
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert {p.name for p in (state / ".pulumi" / "stacks" / "kubernaut-redis").iterdir()} >= {"dev.json", "prod.json"}
    passphrase = home / ".config" / "kubernaut-redis" / "passphrase"
    assert stat.S_IMODE(passphrase.stat().st_mode) == 0o600
    assert passphrase.read_text().strip() not in output
    prod_file = (checkout / "Pulumi.prod.yaml").read_text()
    assert "encryptionsalt:" in prod_file and "gatewayRedisPassword:\n    secure:" in prod_file
