"""kubernaut-redis: the Redis tier of Kubernaut (the Gateway's Sentinel cluster, the Context-API cache).

Reads the stack config once, validates all of it before creating anything, then builds an
explicit Kubernetes provider and the two components. Components never read pulumi.Config.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime import config as runtime_config

from components import (
    Monitoring,
    NetworkPolicies,
    RedisSentinelCluster,
    RedisSentinelClusterArgs,
    SingleRedisCache,
    SingleRedisCacheArgs,
    ensure_namespace,
)
from stack_config import (
    ACCEPTED_KEYS,
    BACKUP_CREDENTIAL_KEYS,
    CACHE_PASSWORDS,
    CONFIG_KEYS,
    CONTEXT_CACHE_OPERATOR_PASSWORD_KEY,
    CONTEXT_CACHE_PASSWORD_KEY,
    GATEWAY_PASSWORDS,
    GATEWAY_OPERATOR_PASSWORD_KEY,
    GATEWAY_REDIS_PASSWORD_KEY,
    GATEWAY_SENTINEL_PASSWORD_KEY,
    PASSWORD_KEYS,
    ConfigError,
    PasswordDerivation,
    StackConfig,
    accepted_key,
    cache_endpoint,
    check_kubeconfig,
    gateway_master_endpoint,
    gateway_sentinel_addresses,
    gateway_sentinel_endpoint,
    load_stack_config,
    names,
    password_keys_in_use,
)
from stack_config.rotation import ROTATION_OUTPUT, PasswordWindow, rotation_problems, rotation_record
from stack_config.upgrade import ENGINE_OUTPUT, EngineImage, engine_problems, engine_record

KUBECONFIG_KEY = "kubeconfig"


@dataclass(frozen=True)
class Passwords:
    """Pulumi secret Outputs; None where the config switches that password off."""

    gateway_redis: Optional[pulumi.Output[str]]
    gateway_sentinel: Optional[pulumi.Output[str]]
    context_cache: Optional[pulumi.Output[str]]
    # ACL user -> password of the gateway's internal users (stack_config/acl.py), with gateway auth.
    gateway_acl: Optional[dict[str, pulumi.Output[str]]] = None
    # Whether gatewayOperatorPassword is set (the seed of the internal passwords).
    gateway_operator_set: bool = False
    # ACL user -> password of the cache's internal users (probe and exporter with auth, operator when set).
    cache_acl: Optional[dict[str, pulumi.Output[str]]] = None
    # A rotation's second passwords (<key>Accepted; docs/architecture.md, "Rotation"): the clients'
    # and Sentinel's where set, and each internal user's whose password it changes.
    gateway_redis_accepted: Optional[pulumi.Output[str]] = None
    gateway_sentinel_accepted: Optional[pulumi.Output[str]] = None
    context_cache_accepted: Optional[pulumi.Output[str]] = None
    gateway_acl_accepted: Optional[dict[str, pulumi.Output[str]]] = None
    cache_acl_accepted: Optional[dict[str, pulumi.Output[str]]] = None


def stack_config_keys() -> set[str]:
    """Every config key of the stack, of every namespace. The engine hands the program its config
    as the JSON bag PULUMI_CONFIG; the mocks and the automation API set it in the runtime."""
    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())


def _decoded(config: pulumi.Config, key: str) -> Any:
    """A structured key's value; text that is not JSON stays text, for the validator to refuse
    by key name (get_object would raise a bare JSON error)."""
    text = config.get(key)
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def plain_passwords(config: pulumi.Config) -> dict[str, Optional[str]]:
    """Every password key's plain text (and the backups' S3 credentials'), for the checks at
    preview only: what reaches a resource is the secret Output of read_passwords."""
    return {key: config.get(key) for key in (*PASSWORD_KEYS, *ACCEPTED_KEYS, *BACKUP_CREDENTIAL_KEYS)}


def read_stack_config(config: pulumi.Config, stack: str) -> StackConfig:
    """Everything is checked before anything is created: the structured keys, unknown keys of
    the project, and the plain text of the passwords the config switches on (never shown)."""
    raw = {key: _decoded(config, key) for key in CONFIG_KEYS}
    try:
        return load_stack_config(raw, stack, passwords=plain_passwords(config), config_keys=stack_config_keys())
    except ConfigError as err:
        raise pulumi.RunError(f"invalid configuration of stack '{stack}':\n{err}") from None


def read_passwords(config: pulumi.Config, cfg: StackConfig) -> Passwords:
    """Each password is its own secret key: secrets inside a get_object value would come back plain."""
    auth = cfg.gateway.auth
    gateway_redis = config.require_secret(GATEWAY_REDIS_PASSWORD_KEY) if auth.enabled else None
    operator = config.get_secret(GATEWAY_OPERATOR_PASSWORD_KEY) if auth.enabled else None
    context_cache = (config.require_secret(CONTEXT_CACHE_PASSWORD_KEY)
                     if cfg.context_cache.auth.enabled else None)
    cache_operator = config.get_secret(CONTEXT_CACHE_OPERATOR_PASSWORD_KEY)

    def accepted(key: str, on: bool = True) -> Optional[pulumi.Output[str]]:
        return config.get_secret(accepted_key(key)) if on else None

    gateway_redis_accepted = accepted(GATEWAY_REDIS_PASSWORD_KEY, auth.enabled)
    context_cache_accepted = accepted(CONTEXT_CACHE_PASSWORD_KEY, context_cache is not None)
    return Passwords(
        gateway_redis=gateway_redis,
        gateway_sentinel=config.require_secret(GATEWAY_SENTINEL_PASSWORD_KEY) if auth.sentinel else None,
        context_cache=context_cache,
        gateway_acl=acl_passwords(GATEWAY_PASSWORDS, gateway_redis, operator) if gateway_redis is not None else None,
        gateway_operator_set=operator is not None,
        cache_acl=acl_passwords(CACHE_PASSWORDS, context_cache, cache_operator),
        gateway_redis_accepted=gateway_redis_accepted,
        gateway_sentinel_accepted=accepted(GATEWAY_SENTINEL_PASSWORD_KEY, auth.sentinel),
        context_cache_accepted=context_cache_accepted,
        gateway_acl_accepted=(accepted_acl_passwords(
            GATEWAY_PASSWORDS, (gateway_redis, gateway_redis_accepted),
            (operator, accepted(GATEWAY_OPERATOR_PASSWORD_KEY, operator is not None)))
            if gateway_redis is not None else None),
        cache_acl_accepted=accepted_acl_passwords(
            CACHE_PASSWORDS, (context_cache, context_cache_accepted),
            (cache_operator, accepted(CONTEXT_CACHE_OPERATOR_PASSWORD_KEY, cache_operator is not None))),
    )


def acl_passwords(derivation: PasswordDerivation, clients: Optional[pulumi.Output[str]],
                  operator: Optional[pulumi.Output[str]]) -> dict[str, pulumi.Output[str]]:
    """A component's internal ACL users' passwords as secret Outputs, derived in the program
    (stack_config/acl.py) so that operators set no extra key per user."""
    both = pulumi.Output.all(clients, operator)
    derived = both.apply(lambda values: derivation.internal_passwords(values[0], values[1]))
    return {user: pulumi.Output.secret(derived.apply(lambda passwords, user=user: passwords[user]))
            for user in derivation.internal_users(clients is not None, operator is not None)}


Window = tuple[Optional[pulumi.Output[str]], Optional[pulumi.Output[str]]]


def accepted_acl_passwords(derivation: PasswordDerivation, clients: Window,
                           operator: Window) -> dict[str, pulumi.Output[str]]:
    """The internal users' second passwords while their seed's window is open (clients and
    operator: (password, <key>Accepted)): each derived from the seed's second password, and
    `operator`'s the operator key's own second one. Empty while the seed has none."""
    seed_accepted = operator[1] if operator[0] is not None else clients[1]
    if seed_accepted is None:
        return {}
    other_clients = clients[1] if operator[0] is None else clients[0]
    return acl_passwords(derivation, other_clients, operator[1] if operator[0] is not None else None)


def read_backup_credentials(config: pulumi.Config, cfg: StackConfig) -> Optional[dict[str, pulumi.Output[str]]]:
    """Secret key of gateway.backup.s3.credentialsSecret -> secret Output, when the stack creates
    that Secret (both credential keys set; stack_config checked that); None otherwise."""
    if not cfg.gateway.backup.enabled:
        return None
    values = [config.get_secret(key) for key in BACKUP_CREDENTIAL_KEYS]
    if any(value is None for value in values):
        return None
    return dict(zip((names.BACKUP_ACCESS_KEY_ID, names.BACKUP_SECRET_ACCESS_KEY), values))


def read_kubeconfig(config: pulumi.Config, stack: str) -> pulumi.Output[str]:
    """The secret key `kubeconfig`, checked to be self-contained (stack_config/kubeconfig.py)
    before anything is created; its text is read only for that check and never shown."""
    kubeconfig = config.require_secret(KUBECONFIG_KEY)
    try:
        check_kubeconfig(config.require(KUBECONFIG_KEY), stack)
    except ConfigError as err:
        raise pulumi.RunError(f"invalid configuration of stack '{stack}': {err}") from None
    return kubeconfig


def password_windows(passwords: dict[str, Optional[str]], cfg: StackConfig) -> dict[str, PasswordWindow]:
    """Each password key the config uses and sets, with its rotation's second password."""
    in_use = password_keys_in_use(cfg.gateway.auth.enabled, cfg.gateway.auth.sentinel, cfg.context_cache.auth.enabled)
    return {key: PasswordWindow(passwords[key], passwords.get(accepted_key(key)))
            for key in in_use if passwords.get(key) is not None}


@dataclass(frozen=True)
class DeploymentGuard:
    """The checks against the last `pulumi up` that finished, and the engine record this one leaves."""

    passed: Optional[pulumi.Output[bool]]  # None in render mode
    engine_record: pulumi.Output[dict[str, Any]]


def deployment_guard(cfg: StackConfig, rotation: dict[str, Any]) -> DeploymentGuard:
    """Refuses, against the records of the last `pulumi up` that finished, read back from the
    stack itself: a password change that skips a rotation step (stack_config/rotation.py), and an
    engine that cannot read the data of the engine every gateway pod has run (stack_config/
    upgrade.py). The provider waits for it, so a refusal stops every Kubernetes object before
    any changes. Render mode, which changes no cluster, checks nothing."""
    current = EngineImage(cfg.platform.engine, cfg.platform.images.redis)
    partition = cfg.gateway.update_partition
    if cfg.platform.kubernetes.render_yaml_to_directory:
        return DeploymentGuard(None, pulumi.Output.from_input(engine_record(current, partition, None)))
    stack = pulumi.get_stack()
    # A file backend's stacks belong to the organization `organization`.
    organization = pulumi.get_organization() or "organization"
    itself = pulumi.StackReference(f"{organization}/{pulumi.get_project()}/{stack}")
    deployed_engine = itself.get_output(ENGINE_OUTPUT)

    def check(deployed: list[Optional[dict[str, Any]]]) -> bool:
        rotation_deployed, engine_deployed = deployed
        problems = rotation_problems(rotation_deployed, rotation)
        if problems:
            raise pulumi.RunError(f"password rotation of stack '{stack}' refused, nothing changed:\n"
                                  + "\n".join(problems))
        problems = engine_problems(engine_deployed, current)
        if problems:
            raise pulumi.RunError(f"engine change of stack '{stack}' refused, nothing changed:\n" + "\n".join(problems))
        return True

    return DeploymentGuard(
        passed=pulumi.Output.all(itself.get_output(ROTATION_OUTPUT), deployed_engine).apply(check),
        engine_record=deployed_engine.apply(lambda deployed: engine_record(current, partition, deployed)))


def kubernetes_provider(config: pulumi.Config, cfg: StackConfig,
                        guard: Optional[pulumi.Output[bool]] = None) -> k8s.Provider:
    """The only provider (default providers are disabled in every stack file), never the ambient
    kubeconfig. ConfigMaps and Secrets are updated in place instead of delete-then-create under
    the same name; the pod-template checksum rolls the pods when a ConfigMap changes. Its
    kubeconfig waits for `guard`: every object waits for the provider."""
    target = cfg.platform.kubernetes
    common = {"enable_config_map_mutable": True, "enable_secret_mutable": True}
    if target.render_yaml_to_directory:
        # Render mode refuses kubeconfig/context: it talks to no cluster.
        return k8s.Provider("kubernetes", render_yaml_to_directory=target.render_yaml_to_directory, **common)
    kubeconfig = read_kubeconfig(config, pulumi.get_stack())
    if guard is not None:
        kubeconfig = pulumi.Output.all(guard, kubeconfig).apply(lambda values: values[1])
    return k8s.Provider(
        "kubernetes",
        kubeconfig=kubeconfig,
        context=target.context or None,
        **common,
    )


def backup_output(cfg: StackConfig) -> Optional[dict[str, object]]:
    """Where the backups go (None while gateway.backup.enabled is false): what the restore and the
    drills need to find them. The credentials' Secret is named, never read."""
    backup = cfg.gateway.backup
    if not backup.enabled:
        return None
    return {"cronJob": names.GATEWAY_BACKUP_CRONJOB, "schedule": backup.schedule, "endpoint": backup.s3.endpoint,
            "bucket": backup.s3.bucket, "prefix": backup.s3.prefix, "retention": backup.retention,
            "restoreFrom": backup.restore_from}


def warn_about_weak_settings(cfg: StackConfig, passwords: Passwords) -> None:
    if cfg.gateway.auth.enabled and not passwords.gateway_operator_set:
        pulumi.log.warn(
            f"{GATEWAY_OPERATOR_PASSWORD_KEY} is not set: the gateway's internal Redis users (operator, pod, "
            f"sentinel, replication, probe, exporter, backup) get passwords derived from {GATEWAY_REDIS_PASSWORD_KEY}, so "
            "whoever holds the clients' password can compute them; set it to keep the clients to their own user")
    if not cfg.gateway.auth.enabled:
        pulumi.log.warn(
            "gateway.auth.enabled is false: the Gateway's Redis and Sentinel accept unauthenticated "
            "clients (allowed outside prod only)")
    if cfg.gateway.backup.restore_from is not None:
        pulumi.log.warn(
            f"gateway.backup.restoreFrom is {cfg.gateway.backup.restore_from!r}: pod 0 restores that backup whenever "
            "its data volume is empty; unset it once the restored stack runs (docs/backup.md)")
    if cfg.gateway.auth.clients_without_password:
        pulumi.log.warn(
            "gateway.auth.clientsWithoutPassword is true: the Gateway's Redis accepts clients that send no "
            "password (a migration's window, docs/migration.md); set it to false once every client sends "
            f"{GATEWAY_REDIS_PASSWORD_KEY}")


def main() -> None:
    config = pulumi.Config()
    cfg = read_stack_config(config, pulumi.get_stack())
    passwords = read_passwords(config, cfg)
    warn_about_weak_settings(cfg, passwords)
    record = rotation_record(pulumi.get_stack(), password_windows(plain_passwords(config), cfg))
    guard = deployment_guard(cfg, record)

    provider = kubernetes_provider(config, cfg, guard.passed)
    namespace = ensure_namespace(cfg, pulumi.ResourceOptions(provider=provider))
    component_opts = pulumi.ResourceOptions(
        providers=[provider], depends_on=[namespace] if namespace else None)

    gateway = RedisSentinelCluster(
        names.GATEWAY,
        RedisSentinelClusterArgs(
            config=cfg, namespace=cfg.platform.namespace,
            redis_password=passwords.gateway_redis, sentinel_password=passwords.gateway_sentinel,
            acl_passwords=passwords.gateway_acl, redis_password_accepted=passwords.gateway_redis_accepted,
            sentinel_password_accepted=passwords.gateway_sentinel_accepted,
            acl_passwords_accepted=passwords.gateway_acl_accepted,
            backup_credentials=read_backup_credentials(config, cfg)),
        opts=component_opts,
    )
    cache = SingleRedisCache(
        names.CACHE,
        SingleRedisCacheArgs(config=cfg, namespace=cfg.platform.namespace, password=passwords.context_cache,
                             acl_passwords=passwords.cache_acl, password_accepted=passwords.context_cache_accepted,
                             acl_passwords_accepted=passwords.cache_acl_accepted),
        opts=component_opts,
    )

    if cfg.network_policy.enabled:
        backup = cfg.gateway.backup
        NetworkPolicies("network-policies", cfg.network_policy, cfg.platform.namespace,
                        monitoring=cfg.monitoring.enabled, opts=component_opts,
                        s3_port=backup.s3.port if backup.enabled else None,
                        restore=backup.restore_from is not None)

    if cfg.monitoring.enabled:
        # Depends on the namespace only: without the Prometheus Operator's CRDs only its own objects fail.
        Monitoring("monitoring", cfg, cfg.platform.namespace, opts=component_opts)

    pulumi.export("namespace", cfg.platform.namespace)
    pulumi.export("gateway", {
        "masterSet": gateway.master_set,
        "masterEndpoint": gateway_master_endpoint(cfg),
        "sentinelEndpoint": gateway_sentinel_endpoint(cfg),
        "sentinelAddresses": gateway_sentinel_addresses(cfg),
        "statefulSet": gateway.stateful_set_name,
        "headlessService": gateway.headless_service_name,
        "secretName": gateway.secret_name,
        "clientsWithoutPassword": cfg.gateway.auth.clients_without_password,
        "backup": backup_output(cfg),
    })
    pulumi.export("contextCache", {
        "endpoint": cache_endpoint(cfg),
        "service": cache.service_name,
    })
    # The guard's records: resolved only once the workloads holding the passwords and the engine
    # have rolled out, so a `pulumi up` that fails on the way leaves the previous records (the
    # engine keeps stack outputs that a failed update did not register).
    rolled_out = pulumi.Output.all(gateway.stateful_set_name, gateway.ha_service_name, cache.deployment_name)
    pulumi.export(ROTATION_OUTPUT, pulumi.Output.secret(rolled_out.apply(lambda _: record)))
    pulumi.export(ENGINE_OUTPUT, pulumi.Output.all(rolled_out, guard.engine_record).apply(lambda done: done[1]))


main()
