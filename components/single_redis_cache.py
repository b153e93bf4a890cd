"""SingleRedisCache: the Context-API's L1 cache, one Redis pod without persistence.

The Context-API degrades to its in-memory LRU and PostgreSQL when the cache is away, so one pod
(`Recreate`: never two caches at once) is enough. Its client sends no password, so auth is off
by default. Either way the server runs ACL users (redis_files/acl.py, cache_acl_rules): the
clients' `default` may run the Context-API's commands and read-only introspection, never
FLUSHALL, CONFIG, DEBUG or SHUTDOWN. Passwords (the clients', with auth; the probe's and the
exporter's, derived from it or from the operator's; the operator's, when set) reach the pod only
through the Secret `redis-auth`; the ConfigMap holds rules only. During a rotation
(docs/architecture.md, "Rotation") a password has a twin `<key>-accepted` that the server accepts
too. A password change restarts the one pod (a salted digest on its template): for the cache,
a rotation's only disruption.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

import redis_files
from stack_config import CACHE_PASSWORDS, StackConfig, cache_await_timeouts, engine_binaries, names
from stack_config.derived import READINESS_PROBE_PERIOD_SECONDS

from .checksum import config_checksum
from .labels import object_labels, selector_labels
from .monitoring import cache_exporter_containers
from .pod_spec import (
    EXECUTABLE_MODE,
    READ_ONLY_MODE,
    accepted_secret_env,
    container_security_context,
    exec_probe,
    literal_env,
    pod_annotations,
    pod_security_context,
    resource_requirements,
    secret_env,
    tcp_probe,
    tmp_mount,
    tmp_volume,
    with_accepted,
    workload_annotations,
)
from .timeouts import create_timeout, custom_timeouts

TYPE_TOKEN = "kubernaut:redis:SingleRedisCache"
REVISION_HISTORY_LIMIT = 10
CONF_VOLUME = "conf"
SCRIPTS_VOLUME = "scripts"
DATA_VOLUME = "data"


@dataclass(frozen=True)
class SingleRedisCacheArgs:
    config: StackConfig
    namespace: str
    # The clients' password (user `default`), with contextCache.auth.enabled.
    password: Optional[pulumi.Input[str]] = None
    # ACL user -> password of the internal users (CACHE_PASSWORDS.internal_users): `probe` and
    # `exporter` with auth, `operator` while contextCacheOperatorPassword is set.
    acl_passwords: Optional[Mapping[str, pulumi.Input[str]]] = None
    # A rotation's second passwords: the clients', and (ACL user -> password) the internal users'.
    password_accepted: Optional[pulumi.Input[str]] = None
    acl_passwords_accepted: Optional[Mapping[str, pulumi.Input[str]]] = None

    def __post_init__(self) -> None:
        auth = self.config.context_cache.auth.enabled
        if auth and self.password is None:
            raise ValueError("contextCache.auth.enabled needs the context cache password")
        given = set(self.acl_passwords or {})
        expected = set(CACHE_PASSWORDS.internal_users(auth, names.ACL_USER_OPERATOR in given))
        if given != expected:
            raise ValueError(f"the cache's ACL users are {sorted(expected)} with contextCache.auth.enabled={auth}, "
                             f"got passwords of {sorted(given)}")
        if not set(self.acl_passwords_accepted or {}) <= given:
            raise ValueError("a second password of an ACL user needs that user's password")

    def secret_data(self) -> dict[str, pulumi.Input[str]]:
        """Secret key -> password of Secret `redis-auth`: the clients' (with auth), each internal
        user's, and their second passwords during a rotation."""
        current = {names.acl_secret_key(user): value for user, value in (self.acl_passwords or {}).items()}
        accepted = {names.acl_secret_key(user): value for user, value in (self.acl_passwords_accepted or {}).items()}
        if self.config.context_cache.auth.enabled:
            current = {names.SECRET_KEY_REDIS_PASSWORD: self.password, **current}
            accepted[names.SECRET_KEY_REDIS_PASSWORD] = self.password_accepted
        return with_accepted(current, accepted)

    @property
    def operator(self) -> bool:
        return names.ACL_USER_OPERATOR in (self.acl_passwords or {})


@dataclass(frozen=True)
class CacheFiles:
    config: dict[str, str]
    scripts: dict[str, str]

    @classmethod
    def render(cls, cfg: StackConfig, operator: bool) -> "CacheFiles":
        return cls(config={names.REDIS_CONF: redis_files.cache_redis_conf(cfg),
                           names.USERS_ACL: redis_files.cache_users_acl(cfg, operator)},
                   scripts=dict(redis_files.cache_scripts()))

    @property
    def checksum(self) -> str:
        return config_checksum(self.config, self.scripts)


class SingleRedisCache(pulumi.ComponentResource):
    """Deployment and Service `redis`, ConfigMap `redis-config`, Secret `redis-auth` when auth is on."""

    deployment_name: pulumi.Output[str]
    service_name: pulumi.Output[str]

    def __init__(self, name: str, args: SingleRedisCacheArgs,
                 opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        self._name = name
        self._cfg = args.config
        self._namespace = args.namespace
        files = CacheFiles.render(args.config, args.operator)
        self._acl_users = tuple(args.acl_passwords or {})
        secret_data = args.secret_data()
        self._secret_keys = frozenset(secret_data)

        config_map = self._config_map(files)
        secret = self._auth_secret(secret_data)
        annotations = pod_annotations(files.checksum, f"{args.namespace}/{names.CACHE}", secret_data)
        deployment = self._deployment(files, annotations, depends_on=[config_map, *([secret] if secret else [])])
        service = self._service()

        self.deployment_name = deployment.metadata.name
        self.service_name = service.metadata.name
        self.register_outputs({"deploymentName": self.deployment_name, "serviceName": self.service_name})

    def _child(self, **extra) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self, **extra)

    def _metadata(self, object_name: str) -> k8s.meta.v1.ObjectMetaArgs:
        return k8s.meta.v1.ObjectMetaArgs(
            name=object_name, namespace=self._namespace,
            labels=object_labels(names.CACHE, names.COMPONENT_CACHE, names.CACHE))

    def _config_map(self, files: CacheFiles) -> k8s.core.v1.ConfigMap:
        return k8s.core.v1.ConfigMap(
            f"{self._name}-config",
            metadata=self._metadata(names.CACHE_CONFIG_MAP),
            data={**files.config, **files.scripts},
            opts=self._child(),
        )

    def _auth_secret(self, string_data: Mapping[str, pulumi.Input[str]]) -> Optional[k8s.core.v1.Secret]:
        """SingleRedisCacheArgs.secret_data; no Secret without a password."""
        if not string_data:
            return None
        return k8s.core.v1.Secret(
            f"{self._name}-auth",
            metadata=self._metadata(names.CACHE_AUTH_SECRET),
            type="Opaque",
            string_data={key: pulumi.Output.secret(value) for key, value in string_data.items()},
            opts=self._child(),
        )

    def _service(self) -> k8s.core.v1.Service:
        return k8s.core.v1.Service(
            f"{self._name}-service",
            metadata=self._metadata(names.CACHE),
            spec=k8s.core.v1.ServiceSpecArgs(
                type="ClusterIP",
                selector=selector_labels(names.CACHE, names.COMPONENT_CACHE),
                ports=[k8s.core.v1.ServicePortArgs(
                    name="redis", port=names.REDIS_PORT, target_port="redis", protocol="TCP")],
            ),
            # The provider waits until the Service has the ready cache pod behind it.
            opts=self._child(custom_timeouts=create_timeout(cache_await_timeouts(self._cfg))),
        )

    def _deployment(self, files: CacheFiles, annotations: Mapping[str, pulumi.Input[str]],
                    depends_on: list[pulumi.Resource]) -> k8s.apps.v1.Deployment:
        selector = selector_labels(names.CACHE, names.COMPONENT_CACHE)
        metadata = self._metadata(names.CACHE)
        metadata.annotations = workload_annotations()
        return k8s.apps.v1.Deployment(
            f"{self._name}-deployment",
            metadata=metadata,
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=1,
                revision_history_limit=REVISION_HISTORY_LIMIT,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels=selector),
                strategy=k8s.apps.v1.DeploymentStrategyArgs(type="Recreate"),
                template=k8s.core.v1.PodTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        labels=object_labels(names.CACHE, names.COMPONENT_CACHE, names.CACHE),
                        annotations=dict(annotations)),
                    spec=k8s.core.v1.PodSpecArgs(
                        automount_service_account_token=False,
                        enable_service_links=False,
                        security_context=pod_security_context(names.REDIS_UID),
                        containers=[self._container(), *cache_exporter_containers(self._cfg)],
                        volumes=self._volumes(files),
                    ),
                ),
            ),
            opts=self._child(
                depends_on=depends_on, custom_timeouts=custom_timeouts(cache_await_timeouts(self._cfg))),
        )

    def _volumes(self, files: CacheFiles) -> list[k8s.core.v1.VolumeArgs]:
        volumes = [
            _config_map_items_volume(CONF_VOLUME, list(files.config), READ_ONLY_MODE),
            # No persistence: scratch for anything Redis writes to its working directory.
            k8s.core.v1.VolumeArgs(name=DATA_VOLUME, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs()),
            tmp_volume(),
        ]
        volumes.append(_config_map_items_volume(SCRIPTS_VOLUME, sorted(files.scripts), EXECUTABLE_MODE))
        return volumes

    def _mounts(self) -> list[k8s.core.v1.VolumeMountArgs]:
        return [
            k8s.core.v1.VolumeMountArgs(name=CONF_VOLUME, mount_path=names.CONF_DIR, read_only=True),
            k8s.core.v1.VolumeMountArgs(name=DATA_VOLUME, mount_path=names.DATA_DIR),
            tmp_mount(),
            k8s.core.v1.VolumeMountArgs(name=SCRIPTS_VOLUME, mount_path=names.SCRIPTS_DIR, read_only=True),
        ]

    def _container(self) -> k8s.core.v1.ContainerArgs:
        cfg, cache = self._cfg, self._cfg.context_cache
        binaries = engine_binaries(cfg.platform.engine)
        # cache-start.sh execs the engine's server, cache-readiness.sh runs its CLI (stack_config.engines).
        env = literal_env({"ENGINE_SERVER": binaries.server, "ENGINE_CLI": binaries.cli})
        if cache.auth.enabled:
            env += [
                secret_env("REDIS_PASSWORD", names.CACHE_AUTH_SECRET, names.SECRET_KEY_REDIS_PASSWORD),
                # people's bare `redis-cli` in the container authenticates as the clients' user
                # without `-a` (valkey-cli reads it too)
                secret_env("REDISCLI_AUTH", names.CACHE_AUTH_SECRET, names.SECRET_KEY_REDIS_PASSWORD),
            ]
        # cache-start.sh hashes every internal user's password into redis.conf (the exporter's
        # too: its user is defined here), and the readiness probe is `probe`.
        env += [secret_env(names.acl_password_env(user), names.CACHE_AUTH_SECRET, names.acl_secret_key(user))
                for user in self._acl_users]
        # A rotation's second passwords, which cache-start.sh adds to each user (passwords.sh).
        checked = {names.acl_password_env(user): names.acl_secret_key(user) for user in self._acl_users}
        if cache.auth.enabled:
            checked["REDIS_PASSWORD"] = names.SECRET_KEY_REDIS_PASSWORD
        env += accepted_secret_env(checked, names.CACHE_AUTH_SECRET, self._secret_keys)
        return k8s.core.v1.ContainerArgs(
            name="redis",
            image=cfg.platform.images.redis,
            image_pull_policy=cfg.platform.images.pull_policy,
            command=["sh", f"{names.SCRIPTS_DIR}/{names.CACHE_START_SCRIPT}"],
            ports=[k8s.core.v1.ContainerPortArgs(name="redis", container_port=names.REDIS_PORT)],
            env=env,
            resources=resource_requirements(cache.resources),
            volume_mounts=self._mounts(),
            security_context=container_security_context(),
            # PING as the ACL user `probe` (with auth) or `default`, failing on an error reply.
            readiness_probe=exec_probe(["sh", f"{names.SCRIPTS_DIR}/{names.CACHE_READINESS_SCRIPT}",
                                        str(names.REDIS_PORT)],
                                       period=READINESS_PROBE_PERIOD_SECONDS, timeout=3, failures=2),
            liveness_probe=tcp_probe(names.REDIS_PORT, period=10, timeout=3, failures=3),
        )


def _config_map_items_volume(volume: str, keys: list[str], mode: int) -> k8s.core.v1.VolumeArgs:
    """A volume with only `keys` of the cache ConfigMap, so config and scripts get their own modes."""
    return k8s.core.v1.VolumeArgs(
        name=volume,
        config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
            name=names.CACHE_CONFIG_MAP, default_mode=mode,
            items=[k8s.core.v1.KeyToPathArgs(key=key, path=key) for key in keys]),
    )
