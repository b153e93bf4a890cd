"""__main__.py: config handling, the provider, the namespace, exports, preview; component structure."""

from __future__ import annotations

import ast
from pathlib import Path

import pulumi
import pytest

from components import RedisSentinelCluster, RedisSentinelClusterArgs
from stack_config import load_stack_config, names
from tools.pulumi_mock_run import REPO, run_program

from .conftest import stack_config_values
from .support import DEV_WITHOUT_AUTH, PASSWORDS, STACKS, acl_passwords

FQDN_SUFFIX = "kubernaut-system.svc.cluster.local"


@pytest.mark.parametrize("stack, overrides, secret_name", [
    *[(stack, {}, "redis-gateway-auth") for stack in STACKS],
    ("dev", DEV_WITHOUT_AUTH, None),
], ids=[*STACKS, "dev-without-auth"])
def test_exports(program, stack, overrides, secret_name):
    run = program(stack, overrides)
    assert run.outputs["namespace"] == "kubernaut-system"
    assert run.outputs["gateway"] == {
        "masterSet": "gateway-master",
        "masterEndpoint": f"redis-gateway-ha.{FQDN_SUFFIX}:6379",
        "sentinelEndpoint": f"redis-gateway-ha.{FQDN_SUFFIX}:26379",
        "sentinelAddresses": [f"redis-gateway-{i}.redis-gateway-headless.{FQDN_SUFFIX}:26379" for i in range(3)],
        "statefulSet": "redis-gateway",
        "headlessService": "redis-gateway-headless",
        "secretName": secret_name,
        "clientsWithoutPassword": False,
        "backup": None,
    }
    assert run.outputs["contextCache"] == {"endpoint": f"redis.{FQDN_SUFFIX}:6379", "service": "redis"}


def test_sentinel_addresses_follow_replicas_and_domain(program):
    run = program("dev", {"gateway.replicas": 5, "platform.clusterDomain": "k8s.example"})
    addresses = run.outputs["gateway"]["sentinelAddresses"]
    assert addresses[-1] == "redis-gateway-4.redis-gateway-headless.kubernaut-system.svc.k8s.example:26379"
    assert len(addresses) == 5


@pytest.mark.parametrize("stack", STACKS)
def test_provider_uses_kubeconfig_and_context_from_config(program, stack):
    """The lab too: it is applied with `pulumi up` to the lab's cluster."""
    run = program(stack, {"platform.kubernetes.context": "kind-kubernaut"})
    (provider,) = run.providers()
    inputs = provider.inputs
    assert inputs["context"] == "kind-kubernaut"
    assert inputs["kubeconfig"]["value"] == PASSWORDS["kubeconfig"]
    assert inputs["enableConfigMapMutable"] == "true"
    assert "renderYamlToDirectory" not in inputs


@pytest.mark.parametrize("stack", STACKS)
def test_render_mode_passes_no_kubeconfig_or_context(program, stack):
    run = program(stack, {"platform.kubernetes.renderYamlToDirectory": "/nonexistent/render"},
                  passwords={k: v for k, v in PASSWORDS.items() if k != "kubeconfig"})
    (provider,) = run.providers()
    assert provider.inputs["renderYamlToDirectory"] == "/nonexistent/render"
    assert "kubeconfig" not in provider.inputs and "context" not in provider.inputs
    assert provider.inputs["enableConfigMapMutable"] == "true"


def test_every_resource_uses_the_explicit_provider(program, resource_options):
    program("prod")
    for (token, name), opts in resource_options.items():
        if token.startswith("kubernetes:"):
            inherited = opts.parent is not None and opts.parent._type.startswith("kubernaut:redis:")
            assert inherited or opts.provider is not None, f"{token} {name} would use a default provider"


@pytest.mark.parametrize("stack", STACKS)
def test_every_workload_takes_its_fields_back_from_another_field_manager(program, stack):
    """A `kubectl scale` makes kubectl the owner of spec.replicas: without the force, the next
    `pulumi up` that sets another count fails on a server-side apply conflict (the lab test
    tests/lab/test_drills.py shows it on the cluster). Only the workloads force: their pods'
    templates carry no such annotation, so adding it rolls no pod."""
    workloads = [o for o in program(stack).kubernetes_objects() if o["kind"] in ("StatefulSet", "Deployment")]
    assert sorted(o["metadata"]["name"] for o in workloads) == sorted(
        [names.GATEWAY, names.GATEWAY_HAPROXY, names.CACHE])
    for workload in workloads:
        assert workload["metadata"]["annotations"]["pulumi.com/patchForce"] == "true", workload["metadata"]
        template = workload["spec"]["template"]["metadata"].get("annotations") or {}
        assert "pulumi.com/patchForce" not in template


def test_invalid_config_stops_before_any_resource(program):
    with pytest.raises(pulumi.RunError) as caught:
        program("prod", {"gateway.replicas": 4, "gateway.auth.sentinel": False})
    message = str(caught.value)
    assert message.splitlines() == [
        "invalid configuration of stack 'prod':",
        "gateway.replicas: got 4; must be an odd number between 3 and 9",
    ]


def test_stack_rule_errors_name_the_stack(program):
    with pytest.raises(pulumi.RunError, match="gateway.auth.enabled: got false; must be true in prod"):
        program("prod", {"gateway.auth.enabled": False, "gateway.auth.sentinel": False})


def test_missing_password_is_reported(program):
    with pytest.raises(Exception, match="gatewayRedisPassword"):
        program("prod", passwords={"kubeconfig": "x"})


def test_dev_without_auth_warns_and_prod_does_not(program):
    assert any("gateway.auth.enabled is false" in w for w in program("dev", DEV_WITHOUT_AUTH).warnings)
    assert program("prod").warnings == []


def test_without_an_operator_password_the_internal_users_derive_from_the_clients_and_the_program_warns(program):
    without = {key: value for key, value in PASSWORDS.items() if key != "gatewayOperatorPassword"}
    run = program("dev", passwords=without)
    assert [w for w in run.warnings if w.startswith("gatewayOperatorPassword is not set")], run.warnings
    secret = run.object("Secret", names.GATEWAY_AUTH_SECRET)["stringData"]["value"]
    assert secret == {"redis-password": without["gatewayRedisPassword"],
                      "sentinel-password": without["gatewaySentinelPassword"],
                      **{f"acl-{user}-password": password for user, password in acl_passwords(without).items()}}
    assert len(set(secret.values())) == len(secret), "every user has a password of its own"


def test_with_an_operator_password_no_internal_password_derives_from_the_clients(program):
    secret = program("prod").object("Secret", names.GATEWAY_AUTH_SECRET)["stringData"]["value"]
    from_clients = acl_passwords({"gatewayRedisPassword": PASSWORDS["gatewayRedisPassword"]})
    assert secret["acl-operator-password"] == PASSWORDS["gatewayOperatorPassword"]
    assert not set(from_clients.values()) & set(secret.values())


def test_a_migration_window_warns_until_it_is_closed(program):
    run = program("prod", {"gateway.auth.clientsWithoutPassword": True})
    assert [w for w in run.warnings if w.startswith("gateway.auth.clientsWithoutPassword is true")], run.warnings
    users = run.object("ConfigMap", names.GATEWAY_CONFIG_MAP)["data"][names.USERS_ACL]
    assert "user default on nopass " in users
    assert run.outputs["gateway"]["clientsWithoutPassword"] is True


def test_dev_as_committed_has_auth_and_no_warning(program):
    run = program("dev")
    assert run.warnings == []
    assert run.object("Secret", names.GATEWAY_AUTH_SECRET)


def test_dev_needs_the_gateway_passwords(program):
    with pytest.raises(Exception, match="gatewayRedisPassword"):
        program("dev", passwords={"kubeconfig": "x"})
    with pytest.raises(Exception, match="gatewaySentinelPassword"):
        program("dev", passwords={"kubeconfig": "x", "gatewayRedisPassword": "x"})


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_namespace_is_used_not_owned_by_default(program, stack):
    assert not [o for o in program(stack).kubernetes_objects() if o["kind"] == "Namespace"]


def test_created_namespace_is_protected_with_protect_data(program, resource_options):
    run = program("prod", {"platform.createNamespace": True})
    namespace = run.object("Namespace", "kubernaut-system")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert resource_options[("kubernetes:core/v1:Namespace", "namespace")].protect is True


def test_lab_creates_its_namespace_unprotected(program, resource_options):
    program("lab")
    options = resource_options[("kubernetes:core/v1:Namespace", "namespace")]
    assert options.protect is False
    assert options.custom_timeouts.delete == "180s"


POD_SECURITY = "pod-security.kubernetes.io/"


def _pod_security_labels(run) -> dict[str, str]:
    labels = run.object("Namespace", "kubernaut-system")["metadata"]["labels"]
    return {key.removeprefix(POD_SECURITY): value for key, value in labels.items() if key.startswith(POD_SECURITY)}


def test_created_namespace_enforces_restricted_without_volume_permissions(program):
    assert _pod_security_labels(program("dev", {"platform.createNamespace": True})) == {
        "enforce": "restricted", "enforce-version": "latest"}


@pytest.mark.parametrize("stack, overrides", [
    ("lab", {}), ("dev", {"platform.createNamespace": True, "gateway.persistence.volumePermissions": True})])
def test_created_namespace_enforces_baseline_for_the_root_init_container(program, stack, overrides):
    """Baseline admits the init container (root, CHOWN/FOWNER/DAC_OVERRIDE); restricted is still
    warned about and audited, so any other pod that falls short of it shows."""
    assert _pod_security_labels(program(stack, overrides)) == {
        "enforce": "baseline", "enforce-version": "latest",
        "warn": "restricted", "warn-version": "latest",
        "audit": "restricted", "audit-version": "latest",
    }


@pytest.mark.parametrize("stack", STACKS)
def test_preview_with_unknowns_does_not_crash(program, stack):
    run = program(stack, preview=True)
    assert run.object("StatefulSet", names.GATEWAY)


def test_components_refuse_missing_passwords():
    cfg = load_stack_config(stack_config_values("prod"), "prod")
    with pytest.raises(ValueError, match="gateway redis password"):
        RedisSentinelClusterArgs(config=cfg, namespace="ns")
    with pytest.raises(ValueError, match="sentinel password"):
        RedisSentinelClusterArgs(config=cfg, namespace="ns", redis_password="x")
    with pytest.raises(ValueError, match="ACL users"):
        RedisSentinelClusterArgs(config=cfg, namespace="ns", redis_password="x", sentinel_password="y",
                                 acl_passwords={"pod": "z"})


def test_component_can_be_built_without_the_program():
    """Components take validated args; nothing of theirs reads pulumi.Config."""
    cfg = load_stack_config(stack_config_values("dev", {"platform.namespace": "other"}), "dev")

    def build():
        RedisSentinelCluster("redis-gateway", RedisSentinelClusterArgs(
            config=cfg, namespace="other", redis_password=pulumi.Output.secret("component-redis-pw"),
            sentinel_password=pulumi.Output.secret("component-sentinel-pw"),
            acl_passwords={user: pulumi.Output.secret(f"component-{user}-pw") for user in names.ACL_INTERNAL_USERS}))

    run = run_program("dev", {}, {}, program=build)
    statefulset = run.object("StatefulSet", names.GATEWAY)
    assert statefulset["metadata"]["namespace"] == "other"
    env = {e["name"]: e.get("value") for e in statefulset["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["POD_NAMESPACE"] == "other"
    assert env["REDIS_PASSWORD"] is None, "the password comes from the Secret, not a literal"
    assert run.object("Secret", names.GATEWAY_AUTH_SECRET)["metadata"]["namespace"] == "other"


def test_components_do_not_read_pulumi_config():
    for path in (REPO / "components").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            assert not (isinstance(node, ast.Attribute) and node.attr == "Config"), f"{path.name} reads Config"


def _component_classes(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
                isinstance(base, ast.Attribute) and base.attr == "ComponentResource" for base in node.bases):
            yield node


@pytest.mark.parametrize("path", sorted((REPO / "components").glob("*.py")), ids=lambda p: p.name)
def test_register_outputs_is_the_last_statement_of_each_component(path: Path):
    tree = ast.parse(path.read_text())
    for cls in _component_classes(tree):
        (init,) = [n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"]
        calls = [n for n in ast.walk(init) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
                 and n.func.attr == "register_outputs"]
        assert len(calls) == 1, f"{cls.name}: register_outputs must be called exactly once"
        last = init.body[-1]
        assert isinstance(last, ast.Expr) and last.value is calls[0], f"{cls.name}: not the last statement"
        super_call = init.body[1] if isinstance(init.body[0], ast.Expr) and isinstance(
            init.body[0].value, ast.Constant) else init.body[0]
        args = super_call.value.args
        assert isinstance(args[2], ast.Constant) and args[2].value is None, f"{cls.name}: props must be None"


def test_component_modules_exist_for_the_ast_test():
    found = [cls.name for path in (REPO / "components").glob("*.py")
             for cls in _component_classes(ast.parse(path.read_text()))]
    assert sorted(found) == ["GatewayBackup", "Monitoring", "NetworkPolicies", "RedisSentinelCluster",
                             "SingleRedisCache", "TopologyJob"]


def test_project_file():
    import yaml

    project = yaml.safe_load((REPO / "Pulumi.yaml").read_text())
    assert project["name"] == "kubernaut-redis"
    assert project["runtime"] == "python"
    assert project["description"]


@pytest.mark.parametrize("stack", STACKS)
def test_stack_files_disable_default_providers_and_hold_no_secrets(stack):
    import yaml

    document = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text())
    config = document["config"]
    assert config["pulumi:disable-default-providers"] == ["kubernetes"]
    assert not {"kubernaut-redis:gatewayRedisPassword", "kubernaut-redis:gatewaySentinelPassword",
                "kubernaut-redis:contextCachePassword", "kubernaut-redis:kubeconfig"} & set(config)
    assert set(config) == {"pulumi:disable-default-providers", "kubernaut-redis:platform",
                           "kubernaut-redis:gateway", "kubernaut-redis:contextCache", "kubernaut-redis:monitoring",
                           "kubernaut-redis:networkPolicy"}
