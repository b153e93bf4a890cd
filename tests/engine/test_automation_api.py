"""The lab stack's whole life through the Automation API (pulumi.automation) and the real
engine, against the lab's real Kubernetes (in a namespace of its own, beside the lab stack):
preview, up (the pods Ready), outputs, a config change that must update the StatefulSet in place
rather than replace it and that reaches the running sentinels, destroy."""

from __future__ import annotations

from pathlib import Path

import json
import time

import pulumi.automation as auto
import pytest

REPO = Path(__file__).resolve().parents[2]
STATEFULSET = "kubernetes:apps/v1:StatefulSet"
STATEFUL_TYPES = {STATEFULSET, "kubernetes:core/v1:PersistentVolumeClaim", "kubernetes:core/v1:Namespace"}
DESTRUCTIVE_OPS = {auto.OpType.REPLACE, auto.OpType.CREATE_REPLACEMENT, auto.OpType.DELETE_REPLACED,
                   auto.OpType.DELETE}
NAMESPACE = "kubernaut-automation"
ROLLOUT_TIMEOUT_SECONDS = 420


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


def sentinel_down_after(lab_cluster, pod: str) -> str:
    done = lab_cluster.kubectl("-n", NAMESPACE, "exec", pod, "-c", "sentinel", "--", "redis-cli", "-p", "26379",
                               "sentinel", "master", "gateway-master", check=False)
    lines = done.stdout.split("\n")
    return dict(zip(lines[::2], lines[1::2])).get("down-after-milliseconds", "")


def wait_rollout(lab_cluster) -> dict:
    lab_cluster.kubectl("-n", NAMESPACE, "rollout", "status", "statefulset/redis-gateway",
                        f"--timeout={ROLLOUT_TIMEOUT_SECONDS}s", timeout=ROLLOUT_TIMEOUT_SECONDS + 10)
    return json.loads(lab_cluster.kubectl("-n", NAMESPACE, "get", "statefulset", "redis-gateway", "-o", "json").stdout)


@pytest.fixture
def lab(sandbox, lab_cluster):
    project = sandbox.copy_project(REPO)
    stack = create_lab_stack(sandbox, project)
    set_throwaway_passwords(sandbox, project)
    sandbox.set_secret(project, "lab", "kubeconfig", lab_cluster.kubeconfig.read_text())
    stack.set_config("platform.namespace", auto.ConfigValue(NAMESPACE), path=True)
    yield stack
    try:
        stack.destroy(on_output=lambda _: None)
    finally:
        stack.workspace.remove_stack("lab", force=True)
        lab_cluster.kubectl("delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=false", check=False)


def test_lab_stack_preview_up_update_in_place_destroy(lab, lab_cluster):
    stack = lab

    first = StepRecorder()
    preview = stack.preview(on_event=first)
    assert set(preview.change_summary) == {auto.OpType.CREATE}
    assert [s.op for s in first.of_type(STATEFULSET)] == [auto.OpType.CREATE]

    up = stack.up(on_output=lambda _: None)
    assert up.summary.result == "succeeded"
    gateway = up.outputs["gateway"].value
    assert up.outputs["namespace"].value == NAMESPACE
    assert gateway["statefulSet"] == "redis-gateway"
    assert gateway["masterSet"] == "gateway-master"
    assert gateway["masterEndpoint"] == f"redis-gateway-ha.{NAMESPACE}.svc.cluster.local:6379"
    assert len(gateway["sentinelAddresses"]) == 3
    before = wait_rollout(lab_cluster)
    assert before["status"]["readyReplicas"] == 3
    assert sentinel_down_after(lab_cluster, "redis-gateway-0") == "5000"

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
    after = wait_rollout(lab_cluster)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["status"]["updateRevision"] != before["status"]["updateRevision"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and sentinel_down_after(lab_cluster, "redis-gateway-0") != "7000":
        time.sleep(1)
    assert {sentinel_down_after(lab_cluster, f"redis-gateway-{i}") for i in range(3)} == {"7000"}

    destroy = stack.destroy(on_output=lambda _: None)
    assert destroy.summary.result == "succeeded"
    gone = lab_cluster.kubectl("get", "namespace", NAMESPACE, "-o", "json", check=False)
    assert gone.returncode != 0 or json.loads(gone.stdout)["status"]["phase"] == "Terminating"
