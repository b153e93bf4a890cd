"""The lab reads manifests whatever their file names, translates the fields it honours, and fails
loudly, naming the object and the field, on everything else. No containers are started here."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from lab import LabError, UnsupportedField, load_manifests
from lab.podspec import LabNet, plan_pod
from lab_support import REPO, TINY, python_module, render_stack

NET = LabNet(lab="kr-unit", network="kr-unit-net", resolver_ip="10.89.9.1", cluster_domain="lab.test")


def tiny_documents() -> list[dict]:
    return [d for d in yaml.safe_load_all((TINY / "objects.yaml").read_text()) if d]


def write(tmp_path: Path, documents: list[dict], name: str = "any-name.yml") -> Path:
    (tmp_path / "nested").mkdir(exist_ok=True)
    (tmp_path / "nested" / name).write_text(yaml.safe_dump_all(documents))
    return tmp_path


def statefulset(documents: list[dict]) -> dict:
    return next(d for d in documents if d["kind"] == "StatefulSet")


def test_every_document_below_the_directory_counts_whatever_the_file_is_called(tmp_path):
    manifests = load_manifests(write(tmp_path, tiny_documents()))
    kinds = sorted(o.kind for o in manifests.objects)
    assert kinds == ["ConfigMap", "Deployment", "Namespace", "PodDisruptionBudget", "Secret",
                     "Service", "Service", "StatefulSet"]


def test_the_cluster_domain_comes_from_the_fqdns_in_the_manifests():
    assert load_manifests(TINY).cluster_domain == "lab.test"


def test_approximations_are_reported_per_object_and_field():
    fields = {path for _, path, _ in load_manifests(TINY).approximations}
    assert "spec.volumeClaimTemplates[0].spec.resources.requests.storage" in fields
    assert "spec.template.spec.volumes[1].emptyDir.sizeLimit" in fields


@pytest.mark.parametrize("mutate, field", [
    (lambda s: s["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}),
     "spec.template.spec.containers[0].env[5].valueFrom.fieldRef.fieldPath"),
    (lambda s: s["spec"]["template"]["spec"]["volumes"].append({"name": "host", "hostPath": {"path": "/"}}),
     "spec.template.spec.volumes[2].hostPath"),
    (lambda s: s["spec"]["template"]["spec"].__setitem__("initContainers", [{"name": "x", "image": "y"}]),
     "spec.template.spec.initContainers"),
    (lambda s: s["spec"]["template"]["spec"]["containers"][0]["readinessProbe"].__setitem__(
        "httpGet", {"port": 80}),
     "spec.template.spec.containers[0].readinessProbe.httpGet"),
    (lambda s: s["spec"]["template"]["spec"]["containers"][0]["securityContext"].__setitem__("privileged", True),
     "spec.template.spec.containers[0].securityContext.privileged"),
    (lambda s: s["spec"].__setitem__("updateStrategy", {"type": "OnDelete"}), "spec.updateStrategy.type"),
])
def test_a_field_the_lab_cannot_honour_fails_naming_object_and_field(tmp_path, mutate, field):
    documents = tiny_documents()
    mutate(statefulset(documents))
    with pytest.raises(UnsupportedField) as refused:
        load_manifests(write(tmp_path, documents))
    assert refused.value.field == field
    assert "StatefulSet lab-fixture/tiny" in refused.value.obj


def test_an_unknown_kind_is_refused(tmp_path):
    documents = tiny_documents() + [{"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
                                     "metadata": {"name": "web", "namespace": "lab-fixture"}}]
    with pytest.raises(UnsupportedField, match="Ingress"):
        load_manifests(write(tmp_path, documents))


def test_a_missing_secret_is_refused_before_anything_starts(tmp_path):
    documents = [d for d in tiny_documents() if d["kind"] != "Secret"]
    with pytest.raises(LabError, match="Secret 'tiny-secret' key 'token'"):
        load_manifests(write(tmp_path, documents))


def test_a_statefulset_needs_its_headless_service(tmp_path):
    documents = [d for d in tiny_documents() if d["metadata"]["name"] != "tiny-headless"]
    with pytest.raises(UnsupportedField, match="serviceName"):
        load_manifests(write(tmp_path, documents))


def test_pod_translation_follows_the_manifest(tmp_path):
    manifests = load_manifests(TINY)
    workload = next(o for o in manifests.workloads if o.kind == "StatefulSet")
    plan = plan_pod(NET, manifests, workload, "tiny-1", tmp_path / "pod", {"data": tmp_path / "claim"})
    create = " ".join(plan.create_args)
    assert "--hostname tiny-1" in create
    assert set(plan.aliases) == {"tiny-1.tiny-headless.lab-fixture.svc.lab.test", "tiny-headless.lab-fixture.svc.lab.test"}
    assert "--dns 10.89.9.1" in create
    assert "--dns-search lab-fixture.svc.lab.test" in create
    assert "--dns-option timeout:1" in create and "--dns-option ndots:5" in create
    app = plan.containers[0]
    run = " ".join(app.run_args)
    for expected in ("--user 999:999", "--group-add 999", "--read-only", "--read-only-tmpfs=false",
                     "--cap-drop all", "--security-opt no-new-privileges", "--cpus 0.200",
                     f"--memory {64 * 2**20}b", "--env POD_NAME=tiny-1", "--env GREETING=hello tiny-1",
                     "--pull never", '--entrypoint ["sh", "/scripts/app.sh"]'):
        assert expected in run, expected
    assert app.secret_env == {"TOKEN": "string-data-value", "OTHER": "other-value"}
    assert "string-data-value" not in run and "other-value" not in run
    assert "--env TOKEN" in run
    assert app.pre_stop == ("sh", "/scripts/prestop.sh")
    server = plan.containers[1]
    assert server.probes["readiness"].port == 7000
    scripts = next(v for v in plan.volumes if v.name == "scripts")
    assert scripts.files["app.sh"][1] == 0o555


def test_a_secret_in_a_command_line_is_refused(tmp_path):
    documents = tiny_documents()
    container = statefulset(documents)["spec"]["template"]["spec"]["containers"][0]
    container["args"] = ["--token=$(TOKEN)"]
    manifests = load_manifests(write(tmp_path, documents))
    workload = next(o for o in manifests.workloads if o.kind == "StatefulSet")
    with pytest.raises(UnsupportedField, match="visible to ps"):
        plan_pod(NET, manifests, workload, "tiny-0", tmp_path / "pod", {"data": tmp_path / "claim"})


def test_the_rendered_dev_and_lab_stacks_are_playable(tmp_path):
    for stack in ("dev", "lab"):
        out = render_stack(stack, tmp_path / stack)
        checked = python_module("lab", "check", str(out))
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "cluster domain cluster.local" in checked.stdout



def test_a_headless_service_must_publish_not_ready_addresses(tmp_path):
    documents = tiny_documents()
    headless = next(d for d in documents if d["metadata"]["name"] == "tiny-headless")
    headless["spec"]["publishNotReadyAddresses"] = False
    with pytest.raises(UnsupportedField) as refused:
        load_manifests(write(tmp_path, documents))
    assert refused.value.field == "spec.publishNotReadyAddresses"


def test_the_real_engines_render_of_the_lab_stack_is_playable(tmp_path):
    """scripts/lab-up plays what the real engine renders (scripts/bootstrap-pulumi builds it)."""
    out = tmp_path / "engine"
    rendered = subprocess.run([str(REPO / "scripts" / "pulumi-render-stack"), "--stack", "lab", "--out", str(out)],
                              cwd=REPO, capture_output=True, text=True, timeout=600)
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr
    checked = python_module("lab", "check", str(out))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "namespace(s) kubernaut-system, cluster domain cluster.local" in checked.stdout
