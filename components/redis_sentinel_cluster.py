"""RedisSentinelCluster: the Gateway's Redis with co-located Sentinels and a master-only proxy.

Objects and names are fixed by docs/architecture.md. Two kinds of fields need care:
- StatefulSet fields that force a replacement (selector, serviceName, podManagementPolicy,
  revisionHistoryLimit, volumeClaimTemplates, metadata name/namespace) are literals derived
  only from config that never changes by accident; tests/unit guard them.
- Passwords live only in the Secret `redis-gateway-auth` and reach the containers through
  secretKeyRef; ConfigMaps, the config checksum and the outputs never see them. A password
  change rolls the pods that hold it through a salted, slow digest of all of their passwords
  (names.PASSWORDS_ANNOTATION; not a secret, pod_spec.pod_annotations says why).
- During a rotation (docs/architecture.md, "Rotation") a password has a twin `<key>-accepted`
  in the Secret, `<VARIABLE>_ACCEPTED` in the containers that check it: the servers accept it,
  nothing sends it.
- With gateway.auth.enabled the servers run Redis ACL users (redis_files/acl.py): each container
  gets the passwords of the users it acts as, and only the redis container, which writes the
  users file, gets all of them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

import redis_files
from stack_config import (
    StackConfig,
    engine_binaries,
    gateway_await_timeouts,
    gateway_startup_budget_seconds,
    names,
    proxy_await_timeouts,
)
from stack_config.derived import READINESS_PROBE_PERIOD_SECONDS, STARTUP_PROBE_PERIOD_SECONDS

from .backup import GatewayBackup, backup_args, restore_init_container
from .checksum import config_checksum
from .labels import object_labels, selector_labels
from .monitoring import gateway_exporter_containers
from .pod_spec import (
    EXECUTABLE_MODE,
    READ_ONLY_MODE,
    SCRIPTS_VOLUME,
    TOPOLOGY_VOLUME,
    accepted_secret_env,
    config_map_volume,
    container_security_context,
    exec_probe,
    gateway_identity_env,
    hostname_anti_affinity,
    literal_env,
    pod_annotations,
    pod_security_context,
    resource_requirements,
    secret_env,
    short_dns_timeouts,
    tcp_probe,
    tmp_mount,
    tmp_volume,
    topology_start_env,
    volume_permissions_container,
    with_accepted,
    workload_annotations,
)
from .timeouts import create_timeout, custom_timeouts
from .topology_job import TopologyJob, TopologyJobArgs

TYPE_TOKEN = "kubernaut:redis:RedisSentinelCluster"

# pulumi-kubernetes' switch off of its readiness wait for one object, and its conditions that
# replace that wait.
SKIP_AWAIT_ANNOTATION = "pulumi.com/skipAwait"
WAIT_FOR_ANNOTATION = "pulumi.com/waitFor"
# Replace-forcing StatefulSet fields: constants, so that no config value can ever change them.
POD_MANAGEMENT_POLICY = "Parallel"  # ordered start deadlocks a full restart whose master is not pod-0
REVISION_HISTORY_LIMIT = 10
# volumeClaimTemplates apply when a PVC is first created; later size/class edits are made on the
# PVCs themselves (expandable StorageClass). Ignoring them here keeps such an edit from
# replacing the StatefulSet (delete-first: every pod down at once).
STATEFULSET_IGNORE_CHANGES = ["spec.volumeClaimTemplates"]

CONF_VOLUME = "conf"
HAPROXY_CONF_VOLUME = "haproxy-config"
# A new HAProxy pod is Ready only after this: until its first checks have answered (every second,
# each bounded by `timeout check`), HAProxy counts every server as up, and its admission rule
# (role:master and `quorum` sentinels naming it) then admits any pod.
HAPROXY_READY_DELAY_SECONDS = 3
# A stopping HAProxy pod keeps its listeners this long: the Service drops the pod's endpoint
# first, so no new connection is refused. Without the two, the scale drill (which rolls the
# proxy) saw refused connections, then READONLY errors through the endpoint; with them, none
# (README, "Scaling").
HAPROXY_PRESTOP_SECONDS = 5


@dataclass(frozen=True)
class RedisSentinelClusterArgs:
    """Validated config plus the namespace and the password Outputs (Pulumi secrets)."""

    config: StackConfig
    namespace: str
    redis_password: Optional[pulumi.Input[str]] = None
    sentinel_password: Optional[pulumi.Input[str]] = None
    # ACL user -> password of every internal user (names.ACL_INTERNAL_USERS), with auth.enabled.
    acl_passwords: Optional[Mapping[str, pulumi.Input[str]]] = None
    # A rotation's second passwords: the clients', Sentinel's, and (ACL user -> password) the
    # internal users' while their seed has one.
    redis_password_accepted: Optional[pulumi.Input[str]] = None
    sentinel_password_accepted: Optional[pulumi.Input[str]] = None
    acl_passwords_accepted: Optional[Mapping[str, pulumi.Input[str]]] = None
    # The backups' S3 credentials (Secret key -> value) when the stack creates their Secret.
    backup_credentials: Optional[Mapping[str, pulumi.Input[str]]] = None

    def __post_init__(self) -> None:
        auth = self.config.gateway.auth
        if auth.enabled and self.redis_password is None:
            raise ValueError("gateway.auth.enabled needs the gateway redis password")
        if auth.sentinel and self.sentinel_password is None:
            raise ValueError("gateway.auth.sentinel needs the gateway sentinel password")
        if auth.enabled and set(self.acl_passwords or {}) != set(names.ACL_INTERNAL_USERS):
            raise ValueError(f"gateway.auth.enabled needs the passwords of the ACL users {names.ACL_INTERNAL_USERS}")
        if not set(self.acl_passwords_accepted or {}) <= set(self.acl_passwords or {}):
            raise ValueError("a second password of an ACL user needs that user's password")

    def secret_data(self) -> dict[str, pulumi.Input[str]]:
        """Secret key -> password of Secret `redis-gateway-auth`: every password the pods hold."""
        auth = self.config.gateway.auth
        if not auth.enabled:
            return {}
        acl, acl_accepted = self.acl_passwords or {}, self.acl_passwords_accepted or {}
        current = {names.SECRET_KEY_REDIS_PASSWORD: self.redis_password,
                   **{names.acl_secret_key(user): acl[user] for user in names.ACL_INTERNAL_USERS}}
        accepted = {names.SECRET_KEY_REDIS_PASSWORD: self.redis_password_accepted,
                    **{names.acl_secret_key(user): value for user, value in acl_accepted.items()}}
        if auth.sentinel:
            current[names.SECRET_KEY_SENTINEL_PASSWORD] = self.sentinel_password
            accepted[names.SECRET_KEY_SENTINEL_PASSWORD] = self.sentinel_password_accepted
        return with_accepted(current, accepted)


@dataclass(frozen=True)
class GatewayFiles:
    """The non-secret files the gateway pods and the proxy mount (ConfigMap data). `topology`
    (pod count, quorum) is left out of the pods' checksum on purpose: a scale rolls no pod."""

    config: dict[str, str]
    scripts: dict[str, str]
    haproxy: dict[str, str]
    topology: dict[str, str]

    @classmethod
    def render(cls, cfg: StackConfig) -> "GatewayFiles":
        acl = {names.USERS_ACL: redis_files.gateway_users_acl(cfg)} if cfg.gateway.auth.enabled else {}
        return cls(
            config={names.REDIS_CONF: redis_files.gateway_redis_conf(cfg),
                    names.SENTINEL_CONF: redis_files.gateway_sentinel_conf(cfg), **acl},
            scripts=dict(redis_files.gateway_scripts()),
            haproxy={names.HAPROXY_CFG: redis_files.haproxy_cfg(cfg)},
            topology=redis_files.gateway_topology(cfg),
        )

    @property
    def gateway_checksum(self) -> str:
        return config_checksum(self.config, self.scripts)

    @property
    def haproxy_checksum(self) -> str:
        return config_checksum(self.haproxy)


class RedisSentinelCluster(pulumi.ComponentResource):
    """StatefulSet `redis-gateway` (redis + sentinel per pod), its Services, the HAProxy master
    proxy, ConfigMaps, the auth Secret, PodDisruptionBudgets and the topology Job."""

    stateful_set_name: pulumi.Output[str]
    headless_service_name: pulumi.Output[str]
    ha_service_name: pulumi.Output[str]
    secret_name: pulumi.Output[Optional[str]]
    master_set: pulumi.Output[str]

    def __init__(self, name: str, args: RedisSentinelClusterArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        # No props: the args hold secret Outputs, and component inputs are written to state.
        super().__init__(TYPE_TOKEN, name, None, opts)
        cfg, namespace = args.config, args.namespace
        files = GatewayFiles.render(cfg)
        self._name = name
        self._cfg = cfg
        self._namespace = namespace

        secret_data = args.secret_data()
        self._secret_keys = frozenset(secret_data)
        config_maps = self._config_maps(files)
        secret = self._auth_secret(secret_data)
        mounted = [*config_maps, *([secret] if secret else [])]
        headless = self._headless_service()
        # Before the StatefulSet: a restore's init container reads the credentials' Secret, which
        # the backup component may create. Its Jobs mount the scripts and topology ConfigMaps and
        # read the auth Secret.
        backup = (GatewayBackup(f"{name}-backup", backup_args(cfg, namespace, args.backup_credentials),
                                opts=self._child(depends_on=mounted))
                  if cfg.gateway.backup.enabled else None)
        stateful_set = self._stateful_set(
            pod_annotations(files.gateway_checksum, f"{namespace}/{names.GATEWAY}", secret_data),
            depends_on=[*mounted, headless, *([backup] if backup else [])])
        # After the StatefulSet has every pod Ready: the running sentinels take the quorum and
        # forget the pods a scale-in removed.
        TopologyJob(f"{name}-topology", topology_job_args(cfg, namespace), opts=self._child(depends_on=[stateful_set]))
        self._pod_disruption_budget(
            f"{name}-pdb", names.GATEWAY_PDB, names.COMPONENT_SENTINEL_CLUSTER)
        # HAProxy sends the clients' and Sentinel's passwords in its checks, and accepts none.
        proxy_passwords = {key: value for key, value in secret_data.items()
                           if key in (names.SECRET_KEY_REDIS_PASSWORD, names.SECRET_KEY_SENTINEL_PASSWORD)}
        haproxy = self._haproxy_deployment(
            pod_annotations(files.haproxy_checksum, f"{namespace}/{names.GATEWAY_HAPROXY}", proxy_passwords),
            depends_on=mounted)
        self._pod_disruption_budget(
            f"{name}-haproxy-pdb", names.GATEWAY_HAPROXY_PDB, names.COMPONENT_MASTER_PROXY)
        ha_service = self._ha_service(depends_on=[haproxy])

        self.stateful_set_name = stateful_set.metadata.name
        self.headless_service_name = headless.metadata.name
        self.ha_service_name = ha_service.metadata.name
        self.secret_name = secret.metadata.name if secret else pulumi.Output.from_input(None)
        self.master_set = pulumi.Output.from_input(names.MASTER_SET)
        self.register_outputs({
            "statefulSetName": self.stateful_set_name,
            "headlessServiceName": self.headless_service_name,
            "haServiceName": self.ha_service_name,
            "secretName": self.secret_name,
            "masterSet": self.master_set,
        })

    # ------------------------------------------------------------------ helpers

    def _child(self, **extra) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    def _metadata(self, object_name: str, component: str) -> k8s.meta.v1.ObjectMetaArgs:
        labels, _ = _labels(component)
        return k8s.meta.v1.ObjectMetaArgs(name=object_name, namespace=self._namespace, labels=labels)

    # ------------------------------------------------------------------ ConfigMaps and Secret

    def _config_maps(self, files: GatewayFiles) -> list[k8s.core.v1.ConfigMap]:
        specs = [
            ("config", names.GATEWAY_CONFIG_MAP, names.COMPONENT_SENTINEL_CLUSTER, files.config),
            ("scripts", names.GATEWAY_SCRIPTS_CONFIG_MAP, names.COMPONENT_SENTINEL_CLUSTER, files.scripts),
            ("haproxy-config", names.GATEWAY_HAPROXY_CONFIG_MAP, names.COMPONENT_MASTER_PROXY, files.haproxy),
            ("topology", names.GATEWAY_TOPOLOGY_CONFIG_MAP, names.COMPONENT_SENTINEL_CLUSTER, files.topology),
        ]
        return [
            k8s.core.v1.ConfigMap(
                f"{self._name}-{suffix}",
                metadata=self._metadata(object_name, component),
                data=data,
                opts=self._child(),
            )
            for suffix, object_name, component, data in specs
        ]

    def _auth_secret(self, string_data: Mapping[str, pulumi.Input[str]]) -> Optional[k8s.core.v1.Secret]:
        if not string_data:
            return None
        return k8s.core.v1.Secret(
            f"{self._name}-auth",
            metadata=self._metadata(names.GATEWAY_AUTH_SECRET, names.COMPONENT_SENTINEL_CLUSTER),
            type="Opaque",
            string_data={key: pulumi.Output.secret(value) for key, value in string_data.items()},
            opts=self._child(),
        )

    # ------------------------------------------------------------------ Services

    def _headless_service(self) -> k8s.core.v1.Service:
        _, selector = _labels(names.COMPONENT_SENTINEL_CLUSTER)
        return k8s.core.v1.Service(
            f"{self._name}-headless",
            metadata=self._metadata(names.GATEWAY_HEADLESS_SERVICE, names.COMPONENT_SENTINEL_CLUSTER),
            spec=k8s.core.v1.ServiceSpecArgs(
                cluster_ip="None",
                # A pod's name must resolve before it is Ready: peers and Sentinel address it by name
                # while it boots and syncs.
                publish_not_ready_addresses=True,
                selector=selector,
                ports=_redis_and_sentinel_ports(),
            ),
            opts=self._child(),
        )

    def _ha_service(self, depends_on: list[pulumi.Resource]) -> k8s.core.v1.Service:
        _, selector = _labels(names.COMPONENT_MASTER_PROXY)
        return k8s.core.v1.Service(
            f"{self._name}-ha",
            metadata=self._metadata(names.GATEWAY_HA_SERVICE, names.COMPONENT_MASTER_PROXY),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector,
                ports=_redis_and_sentinel_ports(),
            ),
            # The provider waits until the Service has a ready HAProxy pod behind it.
            opts=self._child(
                depends_on=depends_on, custom_timeouts=create_timeout(proxy_await_timeouts(self._cfg))),
        )

    # ------------------------------------------------------------------ StatefulSet

    def _stateful_set(self, annotations: Mapping[str, pulumi.Input[str]],
                      depends_on: list[pulumi.Resource]) -> k8s.apps.v1.StatefulSet:
        gateway = self._cfg.gateway
        labels, selector = _labels(names.COMPONENT_SENTINEL_CLUSTER)
        metadata = self._metadata(names.GATEWAY, names.COMPONENT_SENTINEL_CLUSTER)
        if gateway.update_partition > 0:
            # A partition above 0 holds the rollout back on purpose: a wait for every pod would
            # time out. The staged pods are watched with `kubectl rollout status` (README,
            # "Engine upgrade and rollback").
            metadata.annotations = workload_annotations({SKIP_AWAIT_ANNOTATION: "true"})
        else:
            # The provider's own StatefulSet wait compares status fields without the generation,
            # and right after an update the status is still the last rollout's: `pulumi up`
            # returned before a pod was replaced. A waitFor condition is read only once the
            # controller has observed the new generation: every pod updated and Ready.
            metadata.annotations = workload_annotations({WAIT_FOR_ANNOTATION: json.dumps([
                f"jsonpath={{.status.updatedReplicas}}={gateway.replicas}",
                f"jsonpath={{.status.readyReplicas}}={gateway.replicas}"])})
        return k8s.apps.v1.StatefulSet(
            f"{self._name}-statefulset",
            metadata=metadata,
            spec=k8s.apps.v1.StatefulSetSpecArgs(
                service_name=names.GATEWAY_HEADLESS_SERVICE,
                replicas=gateway.replicas,
                pod_management_policy=POD_MANAGEMENT_POLICY,
                revision_history_limit=REVISION_HISTORY_LIMIT,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                # A partition above 0 stages a rollout: the pods below it keep their template
                # (the master's pod, during an engine upgrade), so that it can still be undone.
                update_strategy=k8s.apps.v1.StatefulSetUpdateStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateStatefulSetStrategyArgs(
                        partition=gateway.update_partition)),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels, annotations=dict(annotations)),
                    spec=self._gateway_pod_spec(selector),
                ),
                volume_claim_templates=[self._data_claim_template()],
            ),
            opts=self._child(
                depends_on=depends_on,
                protect=self._cfg.platform.protect_data,
                custom_timeouts=custom_timeouts(gateway_await_timeouts(self._cfg)),
                ignore_changes=STATEFULSET_IGNORE_CHANGES,
            ),
        )

    def _data_claim_template(self) -> k8s.core.v1.PersistentVolumeClaimArgs:
        persistence = self._cfg.gateway.persistence
        return k8s.core.v1.PersistentVolumeClaimArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(name=names.DATA_VOLUME_CLAIM),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteOnce"],
                storage_class_name=persistence.storage_class,
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": persistence.size}),
            ),
        )

    def _gateway_pod_spec(self, selector: dict[str, str]) -> k8s.core.v1.PodSpecArgs:
        gateway = self._cfg.gateway
        return k8s.core.v1.PodSpecArgs(
            automount_service_account_token=False,
            enable_service_links=False,
            termination_grace_period_seconds=gateway.termination_grace_period_seconds,
            security_context=pod_security_context(names.REDIS_UID),
            dns_config=short_dns_timeouts(),
            affinity=hostname_anti_affinity(gateway.anti_affinity, selector),
            init_containers=self._init_containers(),
            containers=[self._redis_container(), self._sentinel_container(),
                        *gateway_exporter_containers(self._cfg)],
            volumes=[
                config_map_volume(CONF_VOLUME, names.GATEWAY_CONFIG_MAP, READ_ONLY_MODE),
                config_map_volume(SCRIPTS_VOLUME, names.GATEWAY_SCRIPTS_CONFIG_MAP, EXECUTABLE_MODE),
                config_map_volume(TOPOLOGY_VOLUME, names.GATEWAY_TOPOLOGY_CONFIG_MAP, READ_ONLY_MODE),
                tmp_volume(),
            ],
        )

    def _init_containers(self) -> Optional[list[k8s.core.v1.ContainerArgs]]:
        """The data volume's owner, where the volume plugin does not apply fsGroup; then, while
        gateway.backup.restoreFrom is set, the restore of a backup into pod 0's empty volume."""
        images = self._cfg.platform.images
        containers = []
        if self._cfg.gateway.persistence.volume_permissions:
            containers.append(volume_permissions_container(
                images.redis, images.pull_policy, names.DATA_VOLUME_CLAIM, names.DATA_DIR, names.REDIS_UID))
        restore = restore_init_container(self._cfg)
        if restore is not None:
            containers.append(restore)
        return containers or None

    def _gateway_env(self, container: str, cli_password_key: Optional[str]) -> list[k8s.core.v1.EnvVarArgs]:
        """The scripts' environment, plus REDISCLI_AUTH from the Secret key `cli_password_key` (if
        any): operators' `kubectl exec ... -- redis-cli ...` then authenticates to the server of that
        container as written. The scripts set or clear REDISCLI_AUTH per call themselves.

        Passwords: the `redis` container gets every one (redis-start.sh writes the ACL users file and
        masterauth; its scripts act as `pod` and `probe`). The `sentinel` container gets Sentinel's
        own and, with ACL users, the `sentinel` user's only (Sentinel's auth-user), not the clients'."""
        cfg, gateway = self._cfg, self._cfg.gateway
        env = gateway_identity_env(self._namespace, cfg.platform.cluster_domain, engine_binaries(cfg.platform.engine))
        env += literal_env({
            "DNS_WAIT_SECONDS": gateway.dns_wait_seconds,
            "BOOT_PEER_WAIT_SECONDS": gateway.boot_peer_wait_seconds,
        })
        env += topology_start_env()
        passwords: dict[str, str] = {}  # variable -> Secret key
        if gateway.auth.enabled and container == "redis":
            passwords["REDIS_PASSWORD"] = names.SECRET_KEY_REDIS_PASSWORD
        if gateway.auth.sentinel:
            passwords["SENTINEL_PASSWORD"] = names.SECRET_KEY_SENTINEL_PASSWORD
        if gateway.auth.enabled:
            users = names.ACL_INTERNAL_USERS if container == "redis" else (names.ACL_USER_SENTINEL,)
            passwords.update({names.acl_password_env(user): names.acl_secret_key(user) for user in users})
        env += [secret_env(variable, names.GATEWAY_AUTH_SECRET, key) for variable, key in passwords.items()]
        # A rotation's second passwords, for the servers that check them: the redis container's
        # users file (every user) and the sentinel's own password (sentinel-start.sh). The
        # sentinel's ACL user password is only sent, never checked there.
        checked = passwords if container == "redis" else {"SENTINEL_PASSWORD": names.SECRET_KEY_SENTINEL_PASSWORD}
        env += accepted_secret_env(checked, names.GATEWAY_AUTH_SECRET, self._secret_keys)
        if cli_password_key:
            env.append(secret_env("REDISCLI_AUTH", names.GATEWAY_AUTH_SECRET, cli_password_key))
        return env

    def _gateway_mounts(self) -> list[k8s.core.v1.VolumeMountArgs]:
        return [
            k8s.core.v1.VolumeMountArgs(name=CONF_VOLUME, mount_path=names.CONF_DIR, read_only=True),
            k8s.core.v1.VolumeMountArgs(name=SCRIPTS_VOLUME, mount_path=names.SCRIPTS_DIR, read_only=True),
            k8s.core.v1.VolumeMountArgs(name=TOPOLOGY_VOLUME, mount_path=names.TOPOLOGY_DIR, read_only=True),
            k8s.core.v1.VolumeMountArgs(name=names.DATA_VOLUME_CLAIM, mount_path=names.DATA_DIR),
            tmp_mount(),
        ]

    def _startup_probe(self, script: str) -> k8s.core.v1.ProbeArgs:
        budget = gateway_startup_budget_seconds(self._cfg)
        return exec_probe(_script(script), period=STARTUP_PROBE_PERIOD_SECONDS, timeout=5,
                          failures=math.ceil(budget / STARTUP_PROBE_PERIOD_SECONDS))

    def _redis_container(self) -> k8s.core.v1.ContainerArgs:
        cfg = self._cfg
        return k8s.core.v1.ContainerArgs(
            name="redis",
            image=cfg.platform.images.redis,
            image_pull_policy=cfg.platform.images.pull_policy,
            command=_script(names.REDIS_START_SCRIPT),
            ports=[k8s.core.v1.ContainerPortArgs(name="redis", container_port=names.REDIS_PORT)],
            env=self._gateway_env("redis", names.SECRET_KEY_REDIS_PASSWORD if cfg.gateway.auth.enabled else None),
            resources=resource_requirements(cfg.gateway.resources.redis),
            volume_mounts=self._gateway_mounts(),
            security_context=container_security_context(),
            startup_probe=self._startup_probe(names.REDIS_LIVENESS_SCRIPT),
            # Ready: master, or a replica that is linked and not syncing (a rolling update must not
            # take down the master while the only replicas are empty).
            readiness_probe=exec_probe(_script(names.REDIS_READINESS_SCRIPT),
                                       period=READINESS_PROBE_PERIOD_SECONDS, timeout=4, failures=2),
            liveness_probe=exec_probe(_script(names.REDIS_LIVENESS_SCRIPT), period=10, timeout=5, failures=3),
            lifecycle=k8s.core.v1.LifecycleArgs(
                pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                    exec_=k8s.core.v1.ExecActionArgs(command=_script(names.REDIS_PRESTOP_SCRIPT)))),
        )

    def _sentinel_container(self) -> k8s.core.v1.ContainerArgs:
        cfg = self._cfg
        return k8s.core.v1.ContainerArgs(
            name="sentinel",
            image=cfg.platform.images.redis,
            image_pull_policy=cfg.platform.images.pull_policy,
            command=_script(names.SENTINEL_START_SCRIPT),
            ports=[k8s.core.v1.ContainerPortArgs(name="sentinel", container_port=names.SENTINEL_PORT)],
            # Sentinel has a password of its own only with auth.sentinel (sentinel-start.sh makes
            # it the `default` user's from SENTINEL_PASSWORD alone); without it, it takes no AUTH.
            env=self._gateway_env(
                "sentinel", names.SECRET_KEY_SENTINEL_PASSWORD if cfg.gateway.auth.sentinel else None),
            resources=resource_requirements(cfg.gateway.resources.sentinel),
            volume_mounts=self._gateway_mounts(),
            security_context=container_security_context(),
            startup_probe=self._startup_probe(names.SENTINEL_PROBE_SCRIPT),
            readiness_probe=exec_probe(_script(names.SENTINEL_PROBE_SCRIPT),
                                       period=READINESS_PROBE_PERIOD_SECONDS, timeout=4, failures=2),
            liveness_probe=exec_probe(_script(names.SENTINEL_PROBE_SCRIPT), period=10, timeout=5, failures=3),
        )

    # ------------------------------------------------------------------ HAProxy master proxy

    def _haproxy_deployment(self, annotations: Mapping[str, pulumi.Input[str]],
                            depends_on: list[pulumi.Resource]) -> k8s.apps.v1.Deployment:
        gateway = self._cfg.gateway
        labels, selector = _labels(names.COMPONENT_MASTER_PROXY)
        metadata = self._metadata(names.GATEWAY_HAPROXY, names.COMPONENT_MASTER_PROXY)
        metadata.annotations = workload_annotations()
        return k8s.apps.v1.Deployment(
            f"{self._name}-haproxy",
            metadata=metadata,
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=gateway.proxy.replicas,
                revision_history_limit=REVISION_HISTORY_LIMIT,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(
                    type="RollingUpdate",
                    rolling_update=k8s.apps.v1.RollingUpdateDeploymentArgs(max_unavailable=0, max_surge=1)),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels, annotations=dict(annotations)),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        enable_service_links=False,
                        security_context=pod_security_context(gateway.proxy.run_as_user),
                        dns_config=short_dns_timeouts(),
                        affinity=hostname_anti_affinity("soft", selector),
                        containers=[self._haproxy_container()],
                        volumes=[
                            config_map_volume(HAPROXY_CONF_VOLUME, names.GATEWAY_HAPROXY_CONFIG_MAP, READ_ONLY_MODE),
                            tmp_volume(),
                        ],
                    ),
                ),
            ),
            opts=self._child(
                depends_on=depends_on, custom_timeouts=custom_timeouts(proxy_await_timeouts(self._cfg))),
        )

    def _haproxy_container(self) -> k8s.core.v1.ContainerArgs:
        cfg, gateway = self._cfg, self._cfg.gateway
        env = []
        # haproxy.cfg reads the passwords from the environment for its AUTH health checks (on Redis
        # the clients' user, `default`: redis_files/haproxy.py says why).
        if gateway.auth.enabled:
            env.append(secret_env("REDIS_PASSWORD", names.GATEWAY_AUTH_SECRET, names.SECRET_KEY_REDIS_PASSWORD))
        if gateway.auth.sentinel:
            env.append(secret_env(
                "SENTINEL_PASSWORD", names.GATEWAY_AUTH_SECRET, names.SECRET_KEY_SENTINEL_PASSWORD))
        return k8s.core.v1.ContainerArgs(
            name="haproxy",
            image=cfg.platform.images.haproxy,
            image_pull_policy=cfg.platform.images.pull_policy,
            command=["haproxy", "-W", "-db", "-f", f"{names.HAPROXY_CONF_DIR}/{names.HAPROXY_CFG}"],
            ports=[
                k8s.core.v1.ContainerPortArgs(name="redis", container_port=names.REDIS_PORT),
                k8s.core.v1.ContainerPortArgs(name="sentinel", container_port=names.SENTINEL_PORT),
            ],
            env=env or None,
            resources=resource_requirements(gateway.resources.haproxy),
            volume_mounts=[
                k8s.core.v1.VolumeMountArgs(
                    name=HAPROXY_CONF_VOLUME, mount_path=names.HAPROXY_CONF_DIR, read_only=True),
                tmp_mount(),
            ],
            security_context=container_security_context(),
            readiness_probe=tcp_probe(names.REDIS_PORT, period=READINESS_PROBE_PERIOD_SECONDS, timeout=2,
                                      failures=2, initial_delay=HAPROXY_READY_DELAY_SECONDS),
            liveness_probe=tcp_probe(names.REDIS_PORT, period=10, timeout=3, failures=3),
            lifecycle=k8s.core.v1.LifecycleArgs(
                pre_stop=k8s.core.v1.LifecycleHandlerArgs(
                    exec_=k8s.core.v1.ExecActionArgs(command=["sleep", str(HAPROXY_PRESTOP_SECONDS)]))),
        )

    # ------------------------------------------------------------------ disruption budgets

    def _pod_disruption_budget(self, logical_name: str, object_name: str, component: str) -> None:
        _, selector = _labels(component)
        k8s.policy.v1.PodDisruptionBudget(
            logical_name,
            metadata=self._metadata(object_name, component),
            spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                max_unavailable=1,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
            ),
            opts=self._child(),
        )


def topology_job_args(cfg: StackConfig, namespace: str) -> TopologyJobArgs:
    """The topology Job's slice of the config (its name follows from it)."""
    return TopologyJobArgs(
        namespace=namespace,
        cluster_domain=cfg.platform.cluster_domain,
        replicas=cfg.gateway.replicas,
        quorum=cfg.gateway.effective_quorum,
        image=cfg.platform.images.redis,
        pull_policy=cfg.platform.images.pull_policy,
        engine=engine_binaries(cfg.platform.engine),
        sentinel_password_key=names.SECRET_KEY_SENTINEL_PASSWORD if cfg.gateway.auth.sentinel else None,
    )


def _labels(component: str) -> tuple[dict[str, str], dict[str, str]]:
    """(all labels, selector labels) of the gateway's workloads: one instance, `redis-gateway`,
    whose Redis pods and proxy pods differ by component and by `app`."""
    app = names.GATEWAY_HAPROXY if component == names.COMPONENT_MASTER_PROXY else names.GATEWAY
    return (object_labels(names.GATEWAY, component, app), selector_labels(names.GATEWAY, component))


def _script(file_name: str) -> list[str]:
    """Scripts run through `sh`: ConfigMap files keep their mode, but `sh` works whatever it is."""
    return ["sh", f"{names.SCRIPTS_DIR}/{file_name}"]


def _redis_and_sentinel_ports() -> list[k8s.core.v1.ServicePortArgs]:
    return [
        k8s.core.v1.ServicePortArgs(name="redis", port=names.REDIS_PORT, target_port="redis", protocol="TCP"),
        k8s.core.v1.ServicePortArgs(
            name="sentinel", port=names.SENTINEL_PORT, target_port="sentinel", protocol="TCP"),
    ]
