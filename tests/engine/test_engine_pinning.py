"""The engine is exactly the pinned one, finds its pieces without downloading anything, and
fails fast and clearly when a piece is missing or a project asks for what our language host
does not do."""

from __future__ import annotations

import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURE_PROGRAM = Path(__file__).parent / "fixtures" / "statefulset-program"


def fixture_stack(sandbox) -> Path:
    """The fixture program with a stack ready to preview (render mode, throwaway secret)."""
    project = sandbox.copy_project(FIXTURE_PROGRAM)
    sandbox.pulumi("stack", "init", "pinning", cwd=project)
    sandbox.pulumi("config", "set", "renderDir", str(sandbox.private_dir("rendered")), cwd=project)
    sandbox.set_secret(project, "pinning", "redisPassword", sandbox.new_secret())
    return project


def test_cli_provider_and_wheel_versions_agree_with_the_pins(sandbox, engine_pins):
    pins = engine_pins
    assert sandbox.pulumi("version", cwd=sandbox.root).stdout.strip() == f"v{pins['PULUMI_CLI_VERSION']}"
    plugins = json.loads(sandbox.pulumi("plugin", "ls", "--json", cwd=sandbox.root).stdout)
    assert [(p["kind"], p["name"], p["version"]) for p in plugins] == [
        ("resource", "kubernetes", pins["KUBERNETES_PROVIDER_VERSION"])]
    assert f"pulumi-kubernetes=={pins['KUBERNETES_PROVIDER_VERSION']}" in (REPO / "requirements.txt").read_text()


def test_language_host_maps_the_wheel_to_the_provider_and_reports_the_interpreter(sandbox, engine_pins):
    project = sandbox.copy_project(FIXTURE_PROGRAM)
    about = json.loads(sandbox.pulumi("about", "--json", cwd=project).stdout)
    pins = engine_pins
    assert {"name": "kubernetes", "version": pins["KUBERNETES_PROVIDER_VERSION"], "kind": "resource"} in about["plugins"]
    assert {"name": "python", "version": pins["PULUMI_CLI_VERSION"], "kind": "language"} in about["plugins"]
    assert about["runtime"]["executable"] == sandbox.env["PULUMI_PYTHON_CMD"]
    dependencies = {d["name"].replace("_", "-"): d["version"] for d in about["dependencies"]}
    assert dependencies.get("pulumi-kubernetes") == pins["KUBERNETES_PROVIDER_VERSION"]


def test_missing_provider_plugin_fails_fast_and_downloads_nothing(sandbox):
    project = fixture_stack(sandbox)
    plugins = Path(sandbox.env["PULUMI_HOME"]) / "plugins"
    plugins.unlink()
    plugins.mkdir()
    started = time.monotonic()
    result = sandbox.run_pulumi("preview", cwd=project)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert time.monotonic() - started < 60
    assert "no resource plugin 'pulumi-resource-kubernetes' found in the workspace at version v4.25.0" in output
    assert "download" not in output.lower()
    assert not list(plugins.iterdir())


def test_virtualenv_runtime_option_is_refused_not_ignored(sandbox):
    project = fixture_stack(sandbox)
    (project / "Pulumi.yaml").write_text(
        "name: statefulset-fixture\nruntime:\n  name: python\n  options:\n    virtualenv: venv\n")
    result = sandbox.run_pulumi("preview", cwd=project)
    assert result.returncode != 0
    assert 'runtime option "virtualenv"=venv in Pulumi.yaml is not supported' in result.stdout + result.stderr


def test_missing_interpreter_is_named_in_the_error(sandbox):
    project = fixture_stack(sandbox)
    sandbox.env["PULUMI_PYTHON_CMD"] = "/nonexistent/python3"
    result = sandbox.run_pulumi("preview", cwd=project)
    assert result.returncode != 0
    assert 'python interpreter "/nonexistent/python3" not found' in result.stdout + result.stderr


def test_program_error_text_reaches_the_user(sandbox):
    project = fixture_stack(sandbox)
    with (project / "__main__.py").open("a") as main:
        main.write("\nraise SystemExit(3)\n")
    result = sandbox.run_pulumi("preview", cwd=project)
    assert result.returncode != 0
    assert "the Python program exited with code 3" in result.stdout + result.stderr
