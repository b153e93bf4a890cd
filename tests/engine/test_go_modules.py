"""The engine's Go wrapper modules (go/pulumi-engine, go/kubernetes-provider): their committed
go.mod files pin what scripts/engine-versions pins, their go.sum files cover every package the
engine is built from, and scripts/bootstrap-pulumi builds from them as they are, resolving nothing
afresh (only scripts/engine/update-go-mods does)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENGINE_MODULE = REPO / "go" / "pulumi-engine"
PROVIDER_MODULE = REPO / "go" / "kubernetes-provider"
REGENERATE = "run scripts/engine/update-go-mods and commit go.mod/go.sum"


def go() -> str:
    path = shutil.which("go")
    if path is None:
        pytest.fail("go (the Go toolchain) is not on PATH", pytrace=False)
    return path


def go_environment() -> dict[str, str]:
    """The Go environment the builds use: scripts/go-env, sourced."""
    script = f". {REPO / 'scripts' / 'go-env'} && env -0"
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


def go_mod(module: Path) -> dict:
    out = subprocess.run([go(), "mod", "edit", "-json"], cwd=module, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def requirements(module: Path) -> dict[str, str]:
    return {r["Path"]: r["Version"] for r in go_mod(module)["Require"]}


def test_engine_module_pins_the_cli_version(engine_pins):
    version = f"v{engine_pins['PULUMI_CLI_VERSION']}"
    required = requirements(ENGINE_MODULE)
    assert required.get("github.com/pulumi/pulumi/pkg/v3") == version, REGENERATE
    assert required.get("github.com/pulumi/pulumi/sdk/v3") == version, REGENERATE
    mod = go_mod(ENGINE_MODULE)
    assert [t["Path"] for t in mod.get("Tool") or []] == ["github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"]
    # pkg/v3's module replace, which applies only where pkg/v3 is the main module.
    assert {(r["Old"]["Path"], r["New"]["Path"]) for r in mod.get("Replace") or []} == {
        ("github.com/atotto/clipboard", "github.com/tgummerer/clipboard")}
    assert "Toolchain" not in mod


def test_provider_module_pins_the_provider_commit_and_its_sdk(engine_pins):
    required = requirements(PROVIDER_MODULE)
    assert required.get("github.com/pulumi/pulumi-kubernetes/provider/v4") == engine_pins["KUBERNETES_PROVIDER_PSEUDO"], REGENERATE
    assert required.get("github.com/pulumi/pulumi-kubernetes/sdk/v4") == f"v{engine_pins['KUBERNETES_PROVIDER_VERSION']}", REGENERATE
    assert "Toolchain" not in go_mod(PROVIDER_MODULE)


def test_the_go_environment_builds_read_only():
    assert go_environment()["GOFLAGS"].split() == ["-mod=readonly", "-buildvcs=false"]


def test_bootstrap_builds_from_the_committed_modules_and_resolves_nothing():
    text = (REPO / "scripts" / "bootstrap-pulumi").read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"\bgo\s+(get|mod\s+(tidy|init|edit))\b", code)
    assert not re.search(r"-mod[= ]mod\b", code)
    assert re.search(r'^\s*\. "\$here/go-env"$', code, flags=re.M), "bootstrap-pulumi must source scripts/go-env"


def test_go_sum_covers_every_package_the_engine_is_built_from(engine, tmp_path):
    """With -mod=readonly a missing requirement or go.sum line fails here, not at the next cold build."""
    env = go_environment()
    listed = subprocess.run(
        [go(), "list", "-deps", "-tags", "osusergo,grpcnotrace",
         "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi", "./python-language-host"],
        cwd=ENGINE_MODULE, env=env, capture_output=True, text=True, check=False, timeout=300)
    assert listed.returncode == 0, listed.stderr
    # The provider's main package embeds two generated files: list it in a copy with stand-ins.
    copy = tmp_path / "kubernetes-provider"
    copy.mkdir()
    for name in ("go.mod", "go.sum", "main.go"):
        shutil.copy(PROVIDER_MODULE / name, copy)
    for name in ("schema-embed.json", "terraform-mapping-embed.json"):
        (copy / name).write_text("{}")
    listed = subprocess.run([go(), "list", "-deps", "."], cwd=copy, env=env,
                            capture_output=True, text=True, check=False, timeout=300)
    assert listed.returncode == 0, listed.stderr


def test_generated_embed_files_stay_out_of_the_repo(engine):
    """bootstrap-pulumi generates them in a build directory in its cache, not in the module."""
    assert not list((REPO / "go").rglob("*-embed.json"))


def test_engine_binaries_carry_no_checkout_state(engine):
    """A binary stamped with the checkout's git revision would differ from one commit to the next."""
    binaries = [engine.bin_dir / "pulumi", engine.bin_dir / "pulumi-language-python",
                *engine.plugins_dir.glob("resource-kubernetes-v*/pulumi-resource-kubernetes")]
    for binary in binaries:
        info = subprocess.run([go(), "version", "-m", str(binary)], capture_output=True, text=True, check=True).stdout
        assert "\tbuild\t-trimpath=true" in info, f"{binary}:\n{info}"
        assert "vcs" not in info, f"{binary}:\n{info}"
