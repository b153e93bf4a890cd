"""RedisSentinelCluster as the program builds it for each stack: the fields that matter."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.redis_sentinel_cluster import TYPE_TOKEN
from components.topology_job import TYPE_TOKEN as TOPOLOGY_JOB_TYPE_TOKEN
from stack_config import names

from .support import DEV_WITHOUT_AUTH, STACKS

SCRIPTS = names.SCRIPTS_DIR
# Every stack as its file sets it (gateway auth on), plus dev with auth switched off: the one
# stack that may run without it.
CASES = {**{stack: (stack, {}) for stack in STACKS}, "dev-without-auth": ("dev", DEV_WITHOUT_AUTH)}


@pytest.fixture(params=list(CASES))
def case(request) -> str:
    return request.param


@pytest.fixture
def gateway_auth(case) -> bool:
    return case != "dev-without-auth"


@pytest.fixture
def run(program, case):
    stack, overrides = CASES[case]
    return program(stack, overrides)


def _statefulset(run):
    return run.object("StatefulSet", names.GATEWAY)


def _pod(run):
    return _statefulset(run)["spec"]["template"]["spec"]


def _topology_job(run):
    (job,) = [o for o in run.kubernetes_objects() if o["kind"] == "Job"]
    return job


# The Redis and Sentinel servers' containers; the exporters (monitoring) are tested in test_monitoring.py.
SERVER_CONTAINERS = ("redis", "sentinel")


def _servers(pod_spec):
    containers = [c for c in pod_spec["containers"] if c["name"] in SERVER_CONTAINERS]
    assert [c["name"] for c in containers] == list(SERVER_CONTAINERS)
    return containers


def _container(pod_spec, name):
    (container,) = [c for c in pod_spec["containers"] if c["name"] == name]
    return container


def _env(container):
    return {item["name"]: item for item in container.get("env", [])}


def test_objects_and_names(run, gateway_auth):
    kinds = {(o["kind"], o["metadata"]["name"]) for o in run.kubernetes_objects()
             if o["metadata"].get("labels", {}).get(names.LABEL_INSTANCE) == names.GATEWAY}
    expected = {
        ("StatefulSet", "redis-gateway"), ("Service", "redis-gateway-headless"), ("Service", "redis-gateway-ha"),
        ("Deployment", "redis-gateway-haproxy"), ("ConfigMap", "redis-gateway-config"),
        ("ConfigMap", "redis-gateway-scripts"), ("ConfigMap", "redis-gateway-haproxy-config"),
        ("PodDisruptionBudget", "redis-gateway"), ("PodDisruptionBudget", "redis-gateway-haproxy"),
        ("ConfigMap", "redis-gateway-topology"), ("Job", _topology_job(run)["metadata"]["name"]),
    }
    if gateway_auth:
        expected.add(("Secret", "redis-gateway-auth"))
    # The Monitoring component's objects about the gateway (every stack file switches them on).
    expected |= {("Service", "redis-gateway-metrics"), ("ConfigMap", "kubernaut-redis-dashboard")}
    # The NetworkPolicies component's (every stack file switches them on too).
    expected |= {("NetworkPolicy", "redis-gateway"), ("NetworkPolicy", "redis-gateway-haproxy"),
                 ("NetworkPolicy", "redis-gateway-topology")}
    assert kinds == expected
    assert all(o["metadata"]["namespace"] == "kubernaut-system" for o in run.kubernetes_objects()
               if o["kind"] != "Namespace")


def test_statefulset_shape(run):
    spec = _statefulset(run)["spec"]
    assert spec["serviceName"] == names.GATEWAY_HEADLESS_SERVICE
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["revisionHistoryLimit"] == 10
    assert spec["replicas"] == 3
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    (claim,) = spec["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == {"prod": "2Gi"}.get(run.stack, "1Gi")


def test_selectors_are_subsets_of_pod_labels(run):
    for kind, name in [("StatefulSet", names.GATEWAY), ("Deployment", names.GATEWAY_HAPROXY)]:
        spec = run.object(kind, name)["spec"]
        selector = spec["selector"]["matchLabels"]
        labels = spec["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
        assert set(selector) == {names.LABEL_NAME, names.LABEL_INSTANCE, names.LABEL_COMPONENT}


def test_services_select_the_right_pods(run):
    redis_pods = _statefulset(run)["spec"]["template"]["metadata"]["labels"]
    proxy_pods = run.object("Deployment", names.GATEWAY_HAPROXY)["spec"]["template"]["metadata"]["labels"]
    headless = run.object("Service", names.GATEWAY_HEADLESS_SERVICE)["spec"]
    ha = run.object("Service", names.GATEWAY_HA_SERVICE)["spec"]
    assert headless["selector"].items() <= redis_pods.items()
    assert not headless["selector"].items() <= proxy_pods.items()
    assert ha["selector"].items() <= proxy_pods.items()
    assert not ha["selector"].items() <= redis_pods.items(), "6379 of redis-gateway-ha must never reach a replica"


def test_service_ports(run):
    headless = run.object("Service", names.GATEWAY_HEADLESS_SERVICE)["spec"]
    assert headless["clusterIP"] == "None"
    assert headless["publishNotReadyAddresses"] is True
    for service in (headless, run.object("Service", names.GATEWAY_HA_SERVICE)["spec"]):
        assert {(p["name"], p["port"], p["targetPort"]) for p in service["ports"]} == {
            ("redis", 6379, "redis"), ("sentinel", 26379, "sentinel")}


def test_every_object_carries_the_common_labels(run):
    for obj in run.kubernetes_objects():
        if obj["kind"] == "Namespace":
            continue
        labels = obj["metadata"]["labels"]
        assert labels[names.LABEL_NAME] == "redis"
        assert labels[names.LABEL_PART_OF] == "kubernaut"
        assert labels[names.LABEL_MANAGED_BY] == "pulumi"
        assert labels[names.LABEL_APP] in (names.GATEWAY, names.GATEWAY_HAPROXY, names.CACHE, names.GATEWAY_TOPOLOGY_JOB)
        assert labels[names.LABEL_COMPONENT] in ("sentinel-cluster", "master-proxy", "cache", "topology")


def test_app_label_of_redis_pods_matches_the_previous_deployment(run):
    assert _statefulset(run)["spec"]["template"]["metadata"]["labels"]["app"] == "redis-gateway"
    proxy = run.object("Deployment", names.GATEWAY_HAPROXY)["spec"]["template"]["metadata"]["labels"]
    assert proxy["app"] != "redis-gateway", "`kubectl get pods -l app=redis-gateway` must list Redis pods only"


def test_containers_commands_ports_and_probes(run):
    pod = _pod(run)
    redis, sentinel = _container(pod, "redis"), _container(pod, "sentinel")
    assert redis["command"] == ["sh", f"{SCRIPTS}/redis-start.sh"]
    assert sentinel["command"] == ["sh", f"{SCRIPTS}/sentinel-start.sh"]
    assert redis["ports"] == [{"name": "redis", "containerPort": 6379}]
    assert sentinel["ports"] == [{"name": "sentinel", "containerPort": 26379}]
    assert redis["readinessProbe"]["exec"]["command"] == ["sh", f"{SCRIPTS}/redis-readiness.sh"]
    assert redis["livenessProbe"]["exec"]["command"] == ["sh", f"{SCRIPTS}/redis-liveness.sh"]
    assert redis["lifecycle"]["preStop"]["exec"]["command"] == ["sh", f"{SCRIPTS}/redis-prestop.sh"]
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert sentinel[probe]["exec"]["command"] == ["sh", f"{SCRIPTS}/sentinel-probe.sh"]
    assert redis["startupProbe"]["exec"]["command"] == ["sh", f"{SCRIPTS}/redis-liveness.sh"]


def test_startup_probe_covers_the_boot_waits(run):
    """Liveness must not kill a pod that is still waiting for DNS or its peers."""
    for container in _servers(_pod(run)):
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 60 + 20 + 60


def test_scripts_the_pod_spec_names_are_shipped(run):
    shipped = set(run.object("ConfigMap", names.GATEWAY_SCRIPTS_CONFIG_MAP)["data"])
    used = set()
    for container in _servers(_pod(run)):
        used.add(container["command"][1])
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            used.add(container[probe]["exec"]["command"][1])
        if "lifecycle" in container:
            used.add(container["lifecycle"]["preStop"]["exec"]["command"][1])
    assert {path.rsplit("/", 1)[1] for path in used} <= shipped


def test_environment(run, gateway_auth):
    auth = gateway_auth
    for container in _servers(_pod(run)):
        env = _env(container)
        assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
        literal = {name: item["value"] for name, item in env.items() if "value" in item}
        assert literal == {
            "POD_NAMESPACE": "kubernaut-system", "STATEFULSET_NAME": "redis-gateway",
            "HEADLESS_SERVICE": "redis-gateway-headless", "CLUSTER_DOMAIN": "cluster.local",
            "MASTER_SET": "gateway-master", "REDIS_PORT": "6379", "SENTINEL_PORT": "26379",
            "DNS_WAIT_SECONDS": "60", "BOOT_PEER_WAIT_SECONDS": "20",
            "ENGINE_SERVER": "redis-server", "ENGINE_SENTINEL": "redis-sentinel", "ENGINE_CLI": "redis-cli",
            "ENGINE_CHECK_RDB": "redis-check-rdb",
        }
        is_redis = container["name"] == "redis"
        # The clients' password only where redis-start.sh writes the users file; Sentinel acts as
        # the ACL user `sentinel`.
        assert ("REDIS_PASSWORD" in env) is (auth and is_redis) and ("SENTINEL_PASSWORD" in env) is auth
        assert ("REDISCLI_AUTH" in env) is auth
        acl = {name: item["valueFrom"]["secretKeyRef"] for name, item in env.items() if name.startswith("ACL_")}
        users = names.ACL_INTERNAL_USERS if is_redis else (names.ACL_USER_SENTINEL,)
        assert acl == ({f"ACL_{user.upper()}_PASSWORD": {"name": "redis-gateway-auth", "key": f"acl-{user}-password"}
                        for user in users} if auth else {})
        if auth:
            if is_redis:
                assert env["REDIS_PASSWORD"]["valueFrom"] == {
                    "secretKeyRef": {"name": "redis-gateway-auth", "key": "redis-password"}}
            assert env["SENTINEL_PASSWORD"]["valueFrom"] == {
                "secretKeyRef": {"name": "redis-gateway-auth", "key": "sentinel-password"}}


# `kubectl exec ... -c <container> -- redis-cli ...` authenticates to the server of that container.
CLI_PASSWORD_KEY = {"redis": "redis-password", "sentinel": "sentinel-password"}


def test_redis_cli_password_of_each_container_comes_from_the_secret(run, gateway_auth):
    for container in _servers(_pod(run)):
        env = _env(container)
        if not gateway_auth:
            assert "REDISCLI_AUTH" not in env
            continue
        assert env["REDISCLI_AUTH"] == {"name": "REDISCLI_AUTH", "valueFrom": {"secretKeyRef": {
            "name": "redis-gateway-auth", "key": CLI_PASSWORD_KEY[container["name"]]}}}


def test_kubectl_get_pods_by_app_label_lists_the_gateway_pods_only(run):
    """`kubectl get pods -l app=redis-gateway`: the StatefulSet's pods (3), no proxy or cache pod."""
    templates = [(obj["kind"], obj["metadata"]["name"], obj["spec"]["template"]["metadata"]["labels"])
                 for obj in run.kubernetes_objects() if "template" in obj.get("spec", {})]
    selected = [(kind, name) for kind, name, labels in templates if labels.get("app") == "redis-gateway"]
    assert selected == [("StatefulSet", names.GATEWAY)]
    assert _statefulset(run)["spec"]["replicas"] == 3


def test_mounts_and_volumes(run):
    pod = _pod(run)
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["conf"]["configMap"] == {"name": "redis-gateway-config", "defaultMode": 0o444}
    assert volumes["scripts"]["configMap"] == {"name": "redis-gateway-scripts", "defaultMode": 0o555}
    assert volumes["topology"]["configMap"] == {"name": "redis-gateway-topology", "defaultMode": 0o444}
    assert "emptyDir" in volumes["tmp"]
    for container in _servers(pod):
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        assert mounts == {
            "/etc/kubernaut-redis/conf": {"name": "conf", "mountPath": "/etc/kubernaut-redis/conf", "readOnly": True},
            "/opt/kubernaut-redis/bin": {"name": "scripts", "mountPath": "/opt/kubernaut-redis/bin", "readOnly": True},
            "/etc/kubernaut-redis/topology": {
                "name": "topology", "mountPath": "/etc/kubernaut-redis/topology", "readOnly": True},
            "/data": {"name": "data", "mountPath": "/data"},
            "/tmp": {"name": "tmp", "mountPath": "/tmp"},
        }
        assert not any("subPath" in m for m in container["volumeMounts"]), "Sentinel rewrites its file"


def test_config_map_holds_the_templates(run, gateway_auth):
    """redis.conf, sentinel.conf and, with auth, the ACL users' template (rules, no password)."""
    data = run.object("ConfigMap", names.GATEWAY_CONFIG_MAP)["data"]
    assert set(data) == {"redis.conf", "sentinel.conf", *(["users.acl"] if gateway_auth else [])}
    if gateway_auth:
        users = [line.split()[1] for line in data["users.acl"].splitlines() if line.startswith("user ")]
        assert users == ["default", *names.ACL_INTERNAL_USERS]
        rules = [line for line in data["users.acl"].splitlines() if not line.startswith("#")]
        assert rules and not any("#" in line or ">" in line for line in rules), "no password, no hash"
    assert set(run.object("ConfigMap", names.GATEWAY_HAPROXY_CONFIG_MAP)["data"]) == {"haproxy.cfg"}


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_resources_per_pod(program, stack_name):
    pod = _pod(program(stack_name))
    assert _container(pod, "redis")["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}}
    assert _container(pod, "sentinel")["resources"] == {
        "requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "250m", "memory": "128Mi"}}


def test_pod_security(run):
    for kind, name, uid in [("StatefulSet", names.GATEWAY, 999), ("Deployment", names.GATEWAY_HAPROXY, 99)]:
        pod = run.object(kind, name)["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True
        assert (context["runAsUser"], context["runAsGroup"], context["fsGroup"]) == (uid, uid, uid)
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}


def test_short_dns_timeouts(run):
    for kind, name in [("StatefulSet", names.GATEWAY), ("Deployment", names.GATEWAY_HAPROXY)]:
        options = run.object(kind, name)["spec"]["template"]["spec"]["dnsConfig"]["options"]
        assert {o["name"]: o["value"] for o in options} == {"timeout": "1", "attempts": "5"}


def test_anti_affinity_soft_in_dev_hard_in_prod(program):
    dev = _pod(program("dev"))["affinity"]["podAntiAffinity"]
    prod = _pod(program("prod"))["affinity"]["podAntiAffinity"]
    (preferred,) = dev["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert "requiredDuringSchedulingIgnoredDuringExecution" not in dev
    (required,) = prod["requiredDuringSchedulingIgnoredDuringExecution"]
    assert required["topologyKey"] == "kubernetes.io/hostname"
    assert required["labelSelector"]["matchLabels"] == \
        program("prod").object("StatefulSet", names.GATEWAY)["spec"]["selector"]["matchLabels"]


def test_grace_period(run):
    assert _pod(run)["terminationGracePeriodSeconds"] == 60


def test_pod_disruption_budgets(run):
    for name, workload in [(names.GATEWAY_PDB, ("StatefulSet", names.GATEWAY)),
                           (names.GATEWAY_HAPROXY_PDB, ("Deployment", names.GATEWAY_HAPROXY))]:
        spec = run.object("PodDisruptionBudget", name)["spec"]
        assert spec["maxUnavailable"] == 1
        assert spec["selector"]["matchLabels"] == run.object(*workload)["spec"]["selector"]["matchLabels"]


def test_haproxy_deployment(run, gateway_auth):
    deployment = run.object("Deployment", names.GATEWAY_HAPROXY)["spec"]
    assert deployment["replicas"] == {"dev": 1, "lab": 1, "prod": 2}[run.stack]
    (container,) = deployment["template"]["spec"]["containers"]
    assert container["command"] == ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
    assert container["image"] == ("localhost/kubernaut-redis-lab:8.0.2" if run.stack == "lab"
                                  else "docker.io/library/haproxy:3.0.27")
    assert container["readinessProbe"]["tcpSocket"] == {"port": 6379}
    # Not Ready before its first checks answered (until then HAProxy counts every server up), and
    # listening on while the Service drops a stopping pod.
    assert container["readinessProbe"]["initialDelaySeconds"] == 3
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "5"]
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "32Mi"}, "limits": {"cpu": "1", "memory": "64Mi"}}
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/usr/local/etc/haproxy", "/tmp"}
    env = _env(container)
    if not gateway_auth:
        assert env == {}
    else:
        # The Redis checks authenticate as the clients' user (password only); no internal user's password.
        assert {name: item["valueFrom"]["secretKeyRef"]["key"] for name, item in env.items()} == {
            "REDIS_PASSWORD": "redis-password", "SENTINEL_PASSWORD": "sentinel-password"}
    annotation = deployment["template"]["metadata"]["annotations"][names.CHECKSUM_ANNOTATION]
    assert len(annotation) == 64


def test_images_and_pull_policy(run):
    expected = "localhost/kubernaut-redis-lab:8.0.2" if run.stack == "lab" else "docker.io/library/redis:8.10.2"
    for container in _servers(_pod(run)):
        assert container["image"] == expected
        assert container["imagePullPolicy"] == "IfNotPresent"


def test_valkey_pods_run_the_valkey_binaries(program):
    run = program("dev", {"platform.engine": "valkey", "platform.images.redis": "docker.io/valkey/valkey:8.1.4"})
    for container in _servers(_pod(run)):
        literal = {name: item["value"] for name, item in _env(container).items() if "value" in item}
        assert (literal["ENGINE_SERVER"], literal["ENGINE_SENTINEL"], literal["ENGINE_CLI"]) == (
            "valkey-server", "valkey-sentinel", "valkey-cli")
        assert container["image"] == "docker.io/valkey/valkey:8.1.4"


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_secret_holds_exactly_the_enabled_passwords(program, stack_name):
    secret = program(stack_name).object("Secret", names.GATEWAY_AUTH_SECRET)
    assert secret["type"] == "Opaque"
    assert "data" not in secret
    string_data = secret["stringData"]
    assert string_data["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270", \
        "stringData must be a Pulumi secret"
    assert set(string_data["value"]) == {"redis-password", "sentinel-password", *{f"acl-{user}-password" for user in names.ACL_INTERNAL_USERS}}


def test_no_secret_when_dev_switches_auth_off(program):
    with pytest.raises(LookupError):
        program("dev", DEV_WITHOUT_AUTH).object("Secret", names.GATEWAY_AUTH_SECRET)


def test_sentinel_password_can_be_left_out_in_dev(program):
    """auth.sentinel off alone: the Secret keeps the Redis password only."""
    run = program("dev", {"gateway.auth.sentinel": False})
    assert set(run.object("Secret", names.GATEWAY_AUTH_SECRET)["stringData"]["value"]) == {
        "redis-password", *{f"acl-{user}-password" for user in names.ACL_INTERNAL_USERS}}
    for container in _servers(_pod(run)):
        env = _env(container)
        assert "SENTINEL_PASSWORD" not in env
        assert ("REDIS_PASSWORD" in env) is (container["name"] == "redis")
        assert "ACL_SENTINEL_PASSWORD" in env
    # Sentinel then has no password: its container gets no REDISCLI_AUTH (an AUTH to a server
    # without a password fails); the redis container keeps the Redis password.
    assert "REDISCLI_AUTH" not in _env(_container(_pod(run), "sentinel"))
    assert _env(_container(_pod(run), "redis"))["REDISCLI_AUTH"]["valueFrom"]["secretKeyRef"]["key"] == \
        "redis-password"


def test_options_protect_timeouts_ignore_and_parents(program, resource_options):
    program("prod")
    statefulset = resource_options[("kubernetes:apps/v1:StatefulSet", "redis-gateway-statefulset")]
    assert statefulset.protect is True
    timeouts = statefulset.custom_timeouts
    assert (timeouts.create, timeouts.update, timeouts.delete) == ("240s", "900s", "120s")
    assert statefulset.ignore_changes == ["spec.volumeClaimTemplates"]
    component = resource_options[(TYPE_TOKEN, "redis-gateway")]
    children = [opts for (token, name), opts in resource_options.items()
                if token.startswith("kubernetes:") and name.startswith("redis-gateway-")]
    assert len(children) == 12
    job = resource_options[("kubernetes:batch/v1:Job", "redis-gateway-topology-job")]
    assert job.parent._type == TOPOLOGY_JOB_TYPE_TOKEN
    assert resource_options[(TOPOLOGY_JOB_TYPE_TOKEN, "redis-gateway-topology")].parent._type == TYPE_TOKEN
    assert all(opts.parent is not None and opts.parent._type == TYPE_TOKEN for opts in children if opts is not job)
    assert isinstance(component.providers, list) and len(component.providers) == 1


def test_statefulset_not_protected_in_dev(program, resource_options):
    program("dev")
    assert resource_options[("kubernetes:apps/v1:StatefulSet", "redis-gateway-statefulset")].protect is False


# ---------------------------------------------------------------------------- await timeouts

AWAITED = {  # the kinds the provider waits for, with the operations it waits on
    "kubernetes:apps/v1:StatefulSet": ("create", "update", "delete"),
    "kubernetes:apps/v1:Deployment": ("create", "update", "delete"),
    "kubernetes:core/v1:Service": ("create",),
}


@pytest.mark.parametrize("stack_name", STACKS)
def test_everything_the_provider_awaits_has_derived_timeouts(program, resource_options, stack_name):
    run = program(stack_name)
    # the provider does not wait for a headless Service's pods
    headless = {names.GATEWAY_HEADLESS_SERVICE, names.GATEWAY_METRICS_SERVICE, names.CACHE_METRICS_SERVICE}
    checked = 0
    for reg in run.registrations:
        if reg.typ not in AWAITED or reg.inputs["metadata"]["name"] in headless:
            continue
        timeouts = resource_options[(reg.typ, reg.name)].custom_timeouts
        assert timeouts is not None, f"{reg.typ} {reg.name} waits the provider's default 10 minutes"
        for operation in AWAITED[reg.typ]:
            value = getattr(timeouts, operation)
            assert value and value.endswith("s") and int(value[:-1]) < 3600, (reg.name, operation, value)
        checked += 1
    assert checked == 5  # StatefulSet, two Deployments, Services redis-gateway-ha and redis


def test_timeouts_follow_the_config(program, resource_options):
    program("dev", {"gateway.dnsWaitSeconds": 120, "gateway.replicas": 5, "gateway.proxy.replicas": 2})
    statefulset = resource_options[("kubernetes:apps/v1:StatefulSet", "redis-gateway-statefulset")].custom_timeouts
    start = 90 + 120 + 20 + 60 + 5 + 5
    assert (statefulset.create, statefulset.update) == (f"{start}s", f"{5 * (60 + start)}s")
    proxy = resource_options[("kubernetes:apps/v1:Deployment", "redis-gateway-haproxy")].custom_timeouts
    assert (proxy.create, proxy.update, proxy.delete) == ("95s", "250s", "90s")
    assert resource_options[("kubernetes:core/v1:Service", "redis-gateway-ha")].custom_timeouts.create == "95s"


def test_startup_probe_budget_is_the_derived_one(program):
    """The startup probes and the StatefulSet's await time come from the same numbers."""
    for container in _servers(_pod(program("dev", {"gateway.dnsWaitSeconds": 33}))):
        startup = container["startupProbe"]
        assert startup["periodSeconds"] == 5
        assert startup["failureThreshold"] == -(-(33 + 20 + 60) // 5)


# ---------------------------------------------------------------------------- volume permissions

def _init_containers(run):
    return _pod(run).get("initContainers", [])


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_no_init_container_by_default(program, stack_name):
    assert _init_containers(program(stack_name)) == []


@pytest.mark.parametrize("stack_name, overrides", [
    ("lab", {}), ("dev", {"gateway.persistence.volumePermissions": True}),
    ("prod", {"gateway.persistence.volumePermissions": True, "platform.images.redis": "registry.example/redis:7"}),
], ids=["lab", "dev-switched-on", "prod-switched-on"])
def test_volume_permissions_init_container(program, stack_name, overrides):
    run = program(stack_name, overrides)
    redis_image = _container(_pod(run), "redis")["image"]
    (init,) = _init_containers(run)
    assert init["name"] == "volume-permissions"
    assert init["image"] == redis_image, "the redis image has sh and chown: nothing else to pull"
    assert init["command"] == ["sh", "-c", "chown -R -h 999:999 /data && chmod 0770 /data"]
    assert init["volumeMounts"] == [{"name": "data", "mountPath": "/data"}]
    security = init["securityContext"]
    assert security == {
        "runAsUser": 0, "runAsGroup": 0, "runAsNonRoot": False, "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True, "privileged": False,
        "capabilities": {"drop": ["ALL"], "add": ["CHOWN", "FOWNER", "DAC_OVERRIDE"]},
    }
    assert set(init["resources"]["limits"]) == {"cpu", "memory"}
    # the pod and its long-running containers stay non-root
    pod = _pod(run)
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 999
    for container in pod["containers"]:
        assert "runAsUser" not in container["securityContext"]


# Pod Security "baseline": capabilities beyond this set are forbidden (restricted allows only
# NET_BIND_SERVICE and requires runAsNonRoot).
BASELINE_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                         "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}


def test_volume_permissions_init_container_meets_baseline(program):
    (init,) = _init_containers(program("lab"))
    security = init["securityContext"]
    assert set(security["capabilities"]["add"]) <= BASELINE_CAPABILITIES
    assert security["privileged"] is False and security["allowPrivilegeEscalation"] is False


def test_switching_volume_permissions_rolls_the_pods_only_through_the_template(program):
    """The init container is part of the pod template (a rolling update), never of a
    replace-forcing field (tests/unit/test_replacement_guard.py) or of the config checksum."""
    off, on = program("dev"), program("dev", {"gateway.persistence.volumePermissions": True})
    annotation = names.CHECKSUM_ANNOTATION
    assert _statefulset(off)["spec"]["template"]["metadata"]["annotations"][annotation] == \
        _statefulset(on)["spec"]["template"]["metadata"]["annotations"][annotation]
    assert _statefulset(off)["spec"]["volumeClaimTemplates"] == _statefulset(on)["spec"]["volumeClaimTemplates"]


def test_the_prestop_handover_and_its_linger_fit_the_grace_period_the_config_requires():
    """The config requires terminationGracePeriodSeconds >= down-after + the margin; the preStop
    takes at most down-after + the handover's slack, then stays its linger with the ports
    closed. If the two outgrow the margin, the kubelet kills a pod mid-handover."""
    import re

    from stack_config.models import PRESTOP_HANDOVER_MARGIN_SECONDS

    scripts = Path(__file__).resolve().parents[2] / "pod_scripts"
    slack = int(re.search(r"^HANDOVER_SLACK_SECONDS=(\d+)$", (scripts / "handover.sh").read_text(), re.M).group(1))
    linger = int(re.search(r"^CLOSED_LINGER_SECONDS=(\d+)$", (scripts / "redis-prestop.sh").read_text(),
                           re.M).group(1))
    assert linger >= 1, "without a linger a client that kept the pod's sentinel waits out its dial timeout"
    assert slack + linger < PRESTOP_HANDOVER_MARGIN_SECONDS, (slack, linger, PRESTOP_HANDOVER_MARGIN_SECONDS)
