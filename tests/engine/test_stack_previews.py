"""`pulumi preview` of the dev and prod stacks through the real engine: the committed stack
files, the config namespace, secrets set the way the stack files tell a newcomer to set them,
our language host and the Kubernetes provider, together.

There is no cluster here. The stacks get a kubeconfig for https://127.0.0.1:1, which refuses
connections: the v4.25.0 provider then marks the cluster unreachable and previews from the
program's inputs (it would fail `up`, which these tests do not run).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PROJECT = "kubernaut-redis"

# Objects both stacks create (docs/architecture.md); the Secret only where auth is on.
COMMON_OBJECTS = {
    ("StatefulSet", "redis-gateway"),
    ("Service", "redis-gateway-headless"),
    ("Deployment", "redis-gateway-haproxy"),
    ("Service", "redis-gateway-ha"),
    ("ConfigMap", "redis-gateway-config"),
    ("ConfigMap", "redis-gateway-scripts"),
    ("ConfigMap", "redis-gateway-haproxy-config"),
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
    ("NetworkPolicy", "redis"),
}


def stack_settings(stack: str) -> dict:
    return yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())["config"]


def secret_keys(stack: str) -> list[str]:
    """The secret keys the stack file says this stack needs."""
    config = stack_settings(stack)
    gateway_auth = config[f"{PROJECT}:gateway"]["auth"]
    keys = ["kubeconfig"] if not config[f"{PROJECT}:platform"]["kubernetes"]["renderYamlToDirectory"] else []
    if gateway_auth["enabled"]:
        keys.append("gatewayRedisPassword")
        if stack == "prod":  # required there, optional elsewhere (stack_config.keys)
            keys.append("gatewayOperatorPassword")
    if gateway_auth["sentinel"]:
        keys.append("gatewaySentinelPassword")
    if config[f"{PROJECT}:contextCache"]["auth"]["enabled"]:
        keys.append("contextCachePassword")
    return keys


def created_objects(preview: dict) -> dict[tuple[str, str], dict]:
    """(kind, metadata.name) -> step, for every Kubernetes object the preview creates."""
    objects = {}
    for step in preview["steps"]:
        state = step.get("newState") or {}
        if step["op"] == "create" and state.get("type", "").startswith("kubernetes:") and state.get("custom"):
            inputs = state.get("inputs") or {}
            name = (inputs.get("metadata") or {}).get("name")
            if name:
                objects[(inputs.get("kind"), name)] = step
    return objects


@pytest.fixture(scope="module")
def module_project(module_sandbox):
    return module_sandbox.copy_project(REPO)


@pytest.fixture(scope="module", params=["dev", "prod"])
def previewed(request, module_sandbox, module_project, unreachable_kubeconfig):
    """Each stack initialised and previewed once; the tests below only read the result."""
    stack, sandbox, project = request.param, module_sandbox, module_project
    sandbox.pulumi("stack", "init", stack, cwd=project)
    for key in secret_keys(stack):
        value = unreachable_kubeconfig if key == "kubeconfig" else sandbox.new_secret()
        sandbox.set_secret(project, stack, key, value)
    result = sandbox.pulumi("preview", "--json", "--stack", stack, cwd=project)
    return stack, json.loads(result.stdout), result, sandbox


def test_preview_creates_every_object_of_the_architecture(previewed):
    stack, preview, _, _ = previewed
    objects = created_objects(preview)
    assert COMMON_OBJECTS <= set(objects), sorted(COMMON_OBJECTS - set(objects))
    auth = stack_settings(stack)[f"{PROJECT}:gateway"]["auth"]["enabled"]
    assert (("Secret", "redis-gateway-auth") in objects) == auth
    assert not [d for d in preview.get("diagnostics", []) if d.get("severity") == "error"]


def test_stack_config_reaches_the_objects(previewed):
    stack, preview, _, _ = previewed
    settings = stack_settings(stack)
    objects = created_objects(preview)
    statefulset = objects[("StatefulSet", "redis-gateway")]
    spec = statefulset["newState"]["inputs"]["spec"]
    assert spec["replicas"] == settings[f"{PROJECT}:gateway"]["replicas"]
    assert spec["podManagementPolicy"] == "Parallel"
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["resources"]["requests"]["storage"] == settings[f"{PROJECT}:gateway"]["persistence"]["size"]
    # protectData (prod) is the engine's protect flag, which refuses deletes and replacements.
    assert bool(statefulset["newState"].get("protect")) == settings[f"{PROJECT}:platform"]["protectData"]
    for _, step in objects.items():
        assert step["newState"]["inputs"]["metadata"]["namespace"] == settings[f"{PROJECT}:platform"]["namespace"]


def test_secrets_stay_secret_in_the_preview(previewed):
    stack, preview, result, sandbox = previewed
    for value in sandbox.secret_values:
        assert value not in result.stdout and value not in result.stderr
    for key in secret_keys(stack):
        assert preview["config"][f"{PROJECT}:{key}"] == "[secret]"


def test_preview_fails_on_a_program_error(sandbox, unreachable_kubeconfig):
    """A broken stack config must fail the preview (and so CI), not pass with a warning."""
    project = sandbox.copy_project(REPO)
    sandbox.pulumi("stack", "init", "dev", cwd=project)
    sandbox.set_secret(project, "dev", "kubeconfig", unreachable_kubeconfig)
    sandbox.pulumi("config", "set", "--path", "gateway.replicas", "4", "--stack", "dev", cwd=project)
    result = sandbox.run_pulumi("preview", "--stack", "dev", cwd=project)
    assert result.returncode != 0
    assert "gateway.replicas" in result.stdout + result.stderr


def test_preview_fails_on_an_unknown_project_key_and_a_refused_password(sandbox, unreachable_kubeconfig):
    """Through the real engine, which hands the program its config in PULUMI_CONFIG: a typo of a
    key and a password the pods would refuse stop the preview, each named, the password unshown."""
    project = sandbox.copy_project(REPO)
    sandbox.pulumi("stack", "init", "dev", cwd=project)
    sandbox.set_secret(project, "dev", "kubeconfig", unreachable_kubeconfig)
    refused_password = "has a space " + sandbox.new_secret()
    sandbox.set_secret(project, "dev", "gatewayRedisPassword", refused_password)
    sandbox.set_secret(project, "dev", "gatewaySentinelPassword", sandbox.new_secret())
    sandbox.pulumi("config", "set", "gatway", '{"replicas": 5}', "--stack", "dev", cwd=project)
    result = sandbox.run_pulumi("preview", "--stack", "dev", cwd=project)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "kubernaut-redis:gatway: unknown key; allowed keys of kubernaut-redis: " in output
    assert "gatewayRedisPassword: got a value that breaks the rule (a secret, not shown)" in output
    assert refused_password not in output and "has a space" not in output
