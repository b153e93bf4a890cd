"""tools.render_manifests: layout, privacy, overrides, and every object against the Kubernetes schema."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tools import render_manifests
from tools.render_manifests import RenderError, manifest_file_name, parse_override, render

from .support import STACKS, acl_passwords

# The Kubernetes version whose OpenAPI schema every rendered object must satisfy (strict: no
# unknown fields). Bump together with the oldest cluster version we support.
KUBERNETES_VERSION = "1.31"
ENV = {"KUBERNAUT_GATEWAY_REDIS_PASSWORD": "render-redis-pw-1e5a", "KUBERNAUT_GATEWAY_SENTINEL_PASSWORD":
       "render-sentinel-pw-9c0d", "KUBERNAUT_GATEWAY_OPERATOR_PASSWORD": "render-operator-pw-4b7a"}
GATEWAY_SECRET_FILE = "v1-secret-kubernaut-system-redis-gateway-auth.yaml"


def _documents(directory: Path) -> list[dict]:
    return [yaml.safe_load(path.read_text()) for path in sorted((directory / "1-manifest").glob("*.yaml"))]


@pytest.mark.parametrize("stack", STACKS)
def test_every_rendered_object_validates_against_the_schema(tmp_path, stack):
    files = render(stack, tmp_path / "out", env=ENV)
    assert len(files) >= 12
    for document in _documents(tmp_path / "out"):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_schema_validation_is_real(tmp_path):
    """A typo in a field must fail validation (the check above is not vacuous)."""
    render("dev", tmp_path / "out", env=ENV)
    path = tmp_path / "out" / "1-manifest" / "apps_v1-statefulset-kubernaut-system-redis-gateway.yaml"
    document = yaml.safe_load(path.read_text())
    document["spec"]["podManagmentPolicy"] = document["spec"].pop("podManagementPolicy")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_layout_names_and_permissions(tmp_path):
    out = tmp_path / "render"
    files = render("prod", out, env=ENV)
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "1-manifest").stat().st_mode) == 0o700
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in files)
    names = {path.name for path in files}
    assert {
        "apps_v1-statefulset-kubernaut-system-redis-gateway.yaml",
        "v1-service-kubernaut-system-redis-gateway-ha.yaml",
        "v1-secret-kubernaut-system-redis-gateway-auth.yaml",
        "policy_v1-poddisruptionbudget-kubernaut-system-redis-gateway.yaml",
        "apps_v1-deployment-kubernaut-system-redis.yaml",
    } <= names
    for path in files:
        document = yaml.safe_load(path.read_text())
        assert path.name == manifest_file_name(document)
        assert list(document)[:3] == ["apiVersion", "kind", "metadata"]


def test_cluster_scoped_objects_use_default_as_namespace(tmp_path):
    files = render("lab", tmp_path / "out", env=ENV)
    assert "v1-namespace-default-kubernaut-system.yaml" in {path.name for path in files}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_secrets_hold_plain_passwords_from_the_environment(tmp_path, stack):
    render(stack, tmp_path / "out", env=ENV)
    secret = yaml.safe_load(
        (tmp_path / "out" / "1-manifest" / GATEWAY_SECRET_FILE).read_text())
    assert "stringData" not in secret, "the provider's render mode writes base64 data"
    derived = acl_passwords({"gatewayRedisPassword": "render-redis-pw-1e5a",
                             "gatewayOperatorPassword": "render-operator-pw-4b7a"})
    assert {key: base64.b64decode(value).decode() for key, value in secret["data"].items()} == {
        "redis-password": "render-redis-pw-1e5a", "sentinel-password": "render-sentinel-pw-9c0d",
        **{f"acl-{user}-password": password for user, password in derived.items()}}
    assert derived["operator"] == "render-operator-pw-4b7a"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_random_passwords_when_the_environment_has_none(tmp_path, stack):
    render(stack, tmp_path / "a", env={})
    render(stack, tmp_path / "b", env={})
    secrets = [yaml.safe_load((tmp_path / d / "1-manifest" / GATEWAY_SECRET_FILE)
                              .read_text())["data"] for d in "ab"]
    assert secrets[0]["redis-password"] != secrets[1]["redis-password"]
    assert len(base64.b64decode(secrets[0]["redis-password"])) >= 24


def test_integers_stay_integers(tmp_path):
    render("dev", tmp_path / "out", env=ENV)
    text = (tmp_path / "out" / "1-manifest" / "apps_v1-statefulset-kubernaut-system-redis-gateway.yaml").read_text()
    assert "replicas: 3\n" in text and "3.0" not in text


def test_overrides_and_stale_files(tmp_path):
    out = tmp_path / "out"
    render("dev", out, env=ENV)
    assert (out / "1-manifest" / GATEWAY_SECRET_FILE).exists(), "dev has auth on"
    render("dev", out, [parse_override("gateway.auth.enabled=false"), parse_override("gateway.auth.sentinel=false"),
                        parse_override("gateway.replicas=5")], env=ENV)
    assert not (out / "1-manifest" / GATEWAY_SECRET_FILE).exists()
    statefulset = yaml.safe_load((out / "1-manifest" / "apps_v1-statefulset-kubernaut-system-redis-gateway.yaml")
                                 .read_text())
    assert statefulset["spec"]["replicas"] == 5


def test_render_mode_is_what_the_provider_gets(tmp_path):
    values = render_manifests.render_config("dev", tmp_path, [])
    assert values["platform"]["kubernetes"]["renderYamlToDirectory"] == str(tmp_path)


@pytest.mark.parametrize("text, expected", [
    ("gateway.replicas=5", ("gateway.replicas", 5)),
    ("gateway.auth.enabled=false", ("gateway.auth.enabled", False)),
    ("platform.images.redis=localhost/x:1", ("platform.images.redis", "localhost/x:1")),
    ("gateway.quorum=null", ("gateway.quorum", None)),
])
def test_parse_override(text, expected):
    assert parse_override(text) == expected


@pytest.mark.parametrize("bad", ["gateway.replicas", "=5", "gateway..replicas=5"])
def test_bad_overrides_are_refused(bad):
    with pytest.raises(RenderError):
        parse_override(bad)


def test_refuses_a_directory_inside_the_repository():
    with pytest.raises(RenderError, match="outside the repository"):
        render("dev", render_manifests.REPO / "docs" / "rendered", env=ENV)


def test_accepts_the_ignored_render_directory():
    assert render_manifests.check_output_dir(render_manifests.IGNORED_RENDER_DIR / "dev") == \
        render_manifests.IGNORED_RENDER_DIR / "dev"
    ignored = (render_manifests.REPO / ".gitignore").read_text().splitlines()
    assert ".rendered/" in ignored


def test_command_line_reports_invalid_config(tmp_path, capsys):
    assert render_manifests.main(["--stack", "dev", "--out", str(tmp_path), "--set", "gateway.replicas=4"]) == 2
    assert "gateway.replicas: got 4; must be an odd number between 3 and 9" in capsys.readouterr().err


def test_command_line_writes_and_lists_files(tmp_path, capsys, monkeypatch):
    for variable, value in ENV.items():
        monkeypatch.setenv(variable, value)
    assert render_manifests.main(["--stack", "prod", "--out", str(tmp_path / "o")]) == 0
    listed = capsys.readouterr().out.split()
    assert len(listed) == len(list((tmp_path / "o" / "1-manifest").glob("*.yaml")))
    assert not any(value in " ".join(listed) for value in ENV.values())


def test_command_line_never_prints_generated_passwords(tmp_path, capsys, monkeypatch):
    """dev with auth on and no password variables: throwaway passwords, in the Secret only."""
    for variable in render_manifests.PASSWORD_ENV.values():
        monkeypatch.delenv(variable, raising=False)
    assert render_manifests.main(["--stack", "dev", "--out", str(tmp_path / "o")]) == 0
    captured = capsys.readouterr()
    secret = yaml.safe_load((tmp_path / "o" / "1-manifest" / GATEWAY_SECRET_FILE).read_text())
    passwords = [base64.b64decode(value).decode() for value in secret["data"].values()]
    # The clients', Sentinel's and the ACL users' (operator included: random too).
    assert len(passwords) == 9 and all(len(password) >= 24 for password in passwords)
    for password in passwords:
        assert password not in captured.out and password not in captured.err
