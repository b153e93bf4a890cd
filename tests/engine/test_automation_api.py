"""The lab stack's whole life through the Automation API (pulumi.automation) and the real
engine: preview, up (render mode), outputs, a config change that must update the StatefulSet
in place rather than replace it, destroy."""

from __future__ import annotations

from pathlib import Path

import pulumi.automation as auto
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
STATEFUL_TYPES = {STATEFULSET, "kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:core/v1:Namespace"}
DESTRUCTIVE_OPS = {auto.OpType.REPLACE, auto.OpType.CREATE_REPLACEMENT, auto.OpType.DELETE_REPLACED,
                   auto.OpType.DELETE}


class StepRecorder:
    """Collects the engine's step events (op, type, urn, diffs) of one operation."""

    def __init__(self) -> None:
        self.steps: list[auto.StepEventMetadata] = []

    def __call__(self, event: auto.EngineEvent) -> None:
        if event.resource_pre_event:
            self.steps.append(event.resource_pre_event.metadata)

    def of_type(self, rtype: str) -> list[auto.StepEventMetadata]:
        return [s for s in self.steps if s.type == rtype]


def create_lab_stack(sandbox, project: Path) -> auto.Stack:
    # PulumiCommand looks for <root>/bin/pulumi; the engine's bin directory is version-stamped.
    root = sandbox.private_dir("pulumi-root")
    (root / "bin").symlink_to(sandbox.engine.bin_dir)
    return auto.create_stack("lab", work_dir=str(project), opts=auto.LocalWorkspaceOptions(
        pulumi_command=auto.PulumiCommand(root=str(root)),
        env_vars=sandbox.env,
        secrets_provider="passphrase",
    ))


def set_throwaway_passwords(sandbox, project: Path) -> None:
    # Not stack.set_config: it passes the value in argv, where process lists would show it.
    for key in ("gatewayRedisPassword", "gatewaySentinelPassword"):
        sandbox.set_secret(project, "lab", key, sandbox.new_secret())


def rendered(render_dir: Path, kind: str, name: str) -> dict:
    for path in (render_dir / "1-manifest").glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"{kind} {name} not rendered in {render_dir}")


@pytest.fixture
def lab(sandbox):
    project = sandbox.copy_project(REPO)
    render_dir = sandbox.private_dir("rendered")
    stack = create_lab_stack(sandbox, project)
    set_throwaway_passwords(sandbox, project)
    stack.set_config("platform.kubernetes.renderYamlToDirectory", auto.ConfigValue(str(render_dir)), path=True)
    yield stack, render_dir
    stack.workspace.remove_stack("lab", force=True)


def test_lab_stack_preview_up_update_in_place_destroy(lab):
    stack, render_dir = lab

    first = StepRecorder()
    preview = stack.preview(on_event=first)
    assert set(preview.change_summary) == {auto.OpType.CREATE}
    assert [s.op for s in first.of_type(STATEFULSET)] == [auto.OpType.CREATE]

    up = stack.up(on_output=lambda _: None)
    assert up.summary.result == "succeeded"
    gateway = up.outputs["gateway"].value
    assert up.outputs["namespace"].value == "kubernaut-system"
    assert gateway["statefulSet"] == "redis-gateway"
    assert gateway["masterSet"] == "gateway-master"
    assert gateway["masterEndpoint"] == "redis-gateway-ha.kubernaut-system.svc.cluster.local:6379"
    assert len(gateway["sentinelAddresses"]) == 3
    before = rendered(render_dir, "StatefulSet", "redis-gateway")

    stack.set_config("gateway.downAfterMilliseconds", auto.ConfigValue("7000"), path=True)
    change = StepRecorder()
    preview = stack.preview(on_event=change)
    statefulset_steps = change.of_type(STATEFULSET)
    assert [s.op for s in statefulset_steps] == [auto.OpType.UPDATE], [(s.op, s.urn) for s in change.steps]
    # Only the pod template's config checksum changes: the pods roll, the StatefulSet stays.
    changed = list(statefulset_steps[0].detailed_diff or {})
    assert changed and all(path.startswith("spec.template.metadata.annotations") for path in changed), changed
    destructive = [(s.op, s.urn) for s in change.steps if s.op in DESTRUCTIVE_OPS and s.type in STATEFUL_TYPES]
    assert not destructive
    assert auto.OpType.REPLACE not in preview.change_summary
    assert preview.change_summary.get(auto.OpType.UPDATE, 0) >= 2  # the ConfigMap and the StatefulSet

    update = stack.up(on_output=lambda _: None)
    assert update.summary.result == "succeeded"
    assert "down-after-milliseconds gateway-master 7000" in rendered(
        render_dir, "ConfigMap", "redis-gateway-config")["data"]["sentinel.conf"]
    after = rendered(render_dir, "StatefulSet", "redis-gateway")
    assert after["spec"]["template"]["metadata"]["annotations"] != before["spec"]["template"]["metadata"]["annotations"]

    destroy = stack.destroy(on_output=lambda _: None)
    assert destroy.summary.result == "succeeded"
    assert not list((render_dir / "1-manifest").glob("*.yaml"))
