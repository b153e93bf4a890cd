"""`pulumi up` of the lab stack in the provider's render mode (scripts/pulumi-render-stack):
the manifests a reviewer reads without a cluster come out of the real engine, into a private
directory outside the repo."""

from __future__ import annotations

import base64
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from components.redis_sentinel_cluster import topology_job_args
from tools.pulumi_mock_run import stack_config

REPO = Path(__file__).resolve().parents[2]
RENDER = REPO / "scripts" / "pulumi-render-stack"

LAB_OBJECTS = {
    ("Namespace", "kubernaut-system"),
    ("StatefulSet", "redis-gateway"),
    ("Service", "redis-gateway-headless"),
    ("Deployment", "redis-gateway-haproxy"),
    ("Service", "redis-gateway-ha"),
    ("ConfigMap", "redis-gateway-config"),
    ("ConfigMap", "redis-gateway-scripts"),
    ("ConfigMap", "redis-gateway-haproxy-config"),
    ("ConfigMap", "redis-gateway-topology"),
    # the topology Job, named after what it applies
    ("Job", topology_job_args(stack_config("lab"), "kubernaut-system").job_name),
    ("Secret", "redis-gateway-auth"),
    ("PodDisruptionBudget", "redis-gateway"),
    ("PodDisruptionBudget", "redis-gateway-haproxy"),
    ("Deployment", "redis"),
    ("Service", "redis"),
    ("ConfigMap", "redis-config"),
    # monitoring (every stack file switches the exporters and the dashboard on)
    ("Service", "redis-gateway-metrics"),
    ("Service", "redis-metrics"),
    ("ConfigMap", "kubernaut-redis-dashboard"),
    # network policies (every stack file switches them on)
    ("NetworkPolicy", "redis-gateway"),
    ("NetworkPolicy", "redis-gateway-haproxy"),
    ("NetworkPolicy", "redis-gateway-topology"),
    ("NetworkPolicy", "redis"),
}


def render(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(RENDER), "--stack", "lab", "--out", str(out), *extra],
                          capture_output=True, text=True, check=False, timeout=600)


def read_manifests(directory: Path) -> dict[tuple[str, str], dict]:
    objects = {}
    for path in sorted(directory.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                objects[(doc["kind"], doc["metadata"]["name"])] = doc
    return objects


@pytest.fixture(scope="module")
def rendered(engine, tmp_path_factory):
    out = tmp_path_factory.mktemp("lab") / "rendered"
    result = render(out)
    assert result.returncode == 0, result.stdout + result.stderr
    return out, result


def test_every_object_is_rendered_into_the_providers_layout(rendered):
    out, result = rendered
    assert result.stdout.strip() == str(out)
    assert {p.name for p in out.iterdir()} <= {"0-crd", "1-manifest"}
    assert not list(out.glob("0-crd/*")), "the program defines no CRDs"
    objects = read_manifests(out)
    assert set(objects) == LAB_OBJECTS
    # The provider names files <apiVersion>-<kind>-<namespace>-<name>.yaml, one object each.
    assert (out / "1-manifest" / "apps_v1-statefulset-kubernaut-system-redis-gateway.yaml").is_file()
    assert len(list((out / "1-manifest").glob("*.yaml"))) == len(LAB_OBJECTS)


def test_rendered_statefulset_is_the_gateway_of_the_lab_stack(rendered):
    out, _ = rendered
    statefulset = read_manifests(out)[("StatefulSet", "redis-gateway")]
    spec = statefulset["spec"]
    assert statefulset["metadata"]["namespace"] == "kubernaut-system"
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["serviceName"] == "redis-gateway-headless"
    assert spec["replicas"] == 3
    assert [c["metadata"]["name"] for c in spec["volumeClaimTemplates"]] == ["data"]
    containers = {c["name"]: c for c in spec["template"]["spec"]["containers"]}
    assert set(containers) == {"redis", "sentinel", "redis-exporter", "sentinel-exporter"}
    assert containers["redis-exporter"]["image"] == "localhost/kubernaut-redis-exporter:1.45.0"
    assert containers["redis"]["image"] == "localhost/kubernaut-redis-lab:8.0.2"
    env_names = {e["name"] for e in containers["redis"]["env"]}
    assert {"REDIS_PASSWORD", "SENTINEL_PASSWORD", "POD_NAME", "MASTER_SET", "ENGINE_SERVER"} <= env_names


def test_rendered_secret_holds_throwaway_passwords_never_printed(rendered):
    out, result = rendered
    secret = read_manifests(out)[("Secret", "redis-gateway-auth")]
    values = {key: secret_value(secret, key) for key in ("redis-password", "sentinel-password")}
    assert all(len(v) >= 24 for v in values.values())
    assert values["redis-password"] != values["sentinel-password"]
    for value in values.values():
        assert value not in result.stdout + result.stderr


def secret_value(secret: dict, key: str) -> str:
    if key in (secret.get("stringData") or {}):
        return secret["stringData"][key]
    return base64.b64decode(secret["data"][key]).decode()


def test_output_directory_is_private(rendered):
    out, _ = rendered
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    for path in out.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_refuses_to_render_inside_the_repo():
    inside = REPO / "rendered-by-test"
    result = render(inside)
    assert result.returncode == 1
    assert "inside the repo" in result.stderr
    assert not inside.exists()


def test_refuses_a_directory_that_is_not_empty(tmp_path):
    (tmp_path / "stale.yaml").write_text("kind: ConfigMap\n")
    result = render(tmp_path)
    assert result.returncode == 1
    assert "not empty" in result.stderr
