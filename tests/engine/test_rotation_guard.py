"""The rotation guard (docs/architecture.md, "Rotation") on the real engine: the program reads the
record of the last finished `pulumi up` back through a StackReference to its own stack, and a
`pulumi preview` that skips a step fails with the guard's line, before anything changes.

No cluster: the stack's state gets a root Stack resource whose `passwordRotation` output is the
record of a deployed gateway (as `pulumi stack import` takes a checkpoint with plaintext
secrets), then the dev stack is previewed against an unreachable API server.
"""

from __future__ import annotations

import json
from pathlib import Path

from stack_config.rotation import ROTATION_OUTPUT, PasswordWindow, rotation_record

REPO = Path(__file__).resolve().parents[2]
PROJECT = "kubernaut-redis"
STACK = "dev"
KEY = "gatewayRedisPassword"
# The marker of a secret value in a checkpoint (sdk/go/common/resource/sig).
SECRET_SIG = {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"}


def _deployed(sandbox, project: Path, record: dict) -> None:
    """The stack's state as a finished `pulumi up` of `record`'s passwords left it (outputs only)."""
    exported = json.loads(sandbox.pulumi("stack", "export", "--stack", STACK, cwd=project).stdout)
    deployment = exported.setdefault("deployment", {})
    deployment["resources"] = [{
        "urn": f"urn:pulumi:{STACK}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{STACK}",
        "custom": False,
        "type": "pulumi:pulumi:Stack",
        "outputs": {ROTATION_OUTPUT: {**SECRET_SIG, "plaintext": json.dumps(record)}},
    }]
    sandbox.pulumi("stack", "import", "--stack", STACK, cwd=project, stdin=json.dumps(exported))


def test_a_skipped_rotation_step_stops_the_real_preview(sandbox, unreachable_kubeconfig):
    project = sandbox.copy_project(REPO)
    sandbox.pulumi("stack", "init", STACK, cwd=project)
    sandbox.set_secret(project, STACK, "kubeconfig", unreachable_kubeconfig)
    sandbox.set_secret(project, STACK, "gatewaySentinelPassword", sandbox.new_secret())
    old, new = sandbox.new_secret(), sandbox.new_secret()
    sandbox.set_secret(project, STACK, KEY, old)
    _deployed(sandbox, project, rotation_record(STACK, {KEY: PasswordWindow(old)}))

    sandbox.set_secret(project, STACK, KEY, new)
    result = sandbox.run_pulumi("preview", "--stack", STACK, cwd=project)
    output = result.stdout + result.stderr
    assert result.returncode != 0, sandbox.mask(output)
    assert f"password rotation of stack '{STACK}' refused, nothing changed:" in output, sandbox.mask(output)
    assert f"{KEY}: the deployed pods do not accept the new value yet: first `pulumi up` with it as " \
           f"{KEY}Accepted" in output
    assert "Traceback" not in output
    assert old not in output and new not in output

    # Step 1 of the same rotation previews.
    sandbox.set_secret(project, STACK, KEY, old)
    sandbox.set_secret(project, STACK, f"{KEY}Accepted", new)
    sandbox.pulumi("preview", "--stack", STACK, cwd=project)
