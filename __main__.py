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
    cache_endpoint,
    check_kubeconfig,
    gateway_master_endpoint,
    gateway_sentinel_addresses,
    gateway_sentinel_endpoint,
    load_stack_config,
    names,
)

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


def read_stack_config(config: pulumi.Config, stack: str) -> StackConfig:
    """Everything is checked before anything is created: the structured keys, unknown keys of
    the project, and the plain text of the passwords the config switches on (never shown)."""
    raw = {key: _decoded(config, key) for key in CONFIG_KEYS}
    passwords = {key: config.get(key) for key in PASSWORD_KEYS}
    try:
        return load_stack_config(raw, stack, passwords=passwords, config_keys=stack_config_keys())
    except ConfigError as err:
        raise pulumi.RunError(f"invalid configuration of stack '{stack}':\n{err}") from None


def read_passwords(config: pulumi.Config, cfg: StackConfig) -> Passwords:
    """Each password is its own secret key: secrets inside a get_object value would come back plain."""
    auth = cfg.gateway.auth
    gateway_redis = config.require_secret(GATEWAY_REDIS_PASSWORD_KEY) if auth.enabled else None
    operator = config.get_secret(GATEWAY_OPERATOR_PASSWORD_KEY) if auth.enabled else None
    context_cache = (config.require_secret(CONTEXT_CACHE_PASSWORD_KEY)
                     if cfg.context_cache.auth.enabled else None)
    return Passwords(
        gateway_redis=gateway_redis,
        gateway_sentinel=config.require_secret(GATEWAY_SENTINEL_PASSWORD_KEY) if auth.sentinel else None,
        context_cache=context_cache,
        gateway_acl=acl_passwords(GATEWAY_PASSWORDS, gateway_redis, operator) if gateway_redis is not None else None,
        gateway_operator_set=operator is not None,
        cache_acl=acl_passwords(CACHE_PASSWORDS, context_cache, config.get_secret(CONTEXT_CACHE_OPERATOR_PASSWORD_KEY)),
    )


def acl_passwords(derivation: PasswordDerivation, clients: Optional[pulumi.Output[str]],
                  operator: Optional[pulumi.Output[str]]) -> dict[str, pulumi.Output[str]]:
    """A component's internal ACL users' passwords as secret Outputs, derived in the program
    (stack_config/acl.py) so that operators set no extra key per user."""
    both = pulumi.Output.all(clients, operator)
    derived = both.apply(lambda values: derivation.internal_passwords(values[0], values[1]))
    return {user: pulumi.Output.secret(derived.apply(lambda passwords, user=user: passwords[user]))
            for user in derivation.internal_users(clients is not None, operator is not None)}


def read_kubeconfig(config: pulumi.Config, stack: str) -> pulumi.Output[str]:
    """The secret key `kubeconfig`, checked to be self-contained (stack_config/kubeconfig.py)
    before anything is created; its text is read only for that check and never shown."""
    kubeconfig = config.require_secret(KUBECONFIG_KEY)
    try:
        check_kubeconfig(config.require(KUBECONFIG_KEY), stack)
    except ConfigError as err:
        raise pulumi.RunError(f"invalid configuration of stack '{stack}': {err}") from None
    return kubeconfig


def kubernetes_provider(config: pulumi.Config, cfg: StackConfig) -> k8s.Provider:
    """The only provider (default providers are disabled in every stack file), never the ambient
    kubeconfig. ConfigMaps and Secrets are updated in place instead of delete-then-create under
    the same name; the pod-template checksum rolls the pods when a ConfigMap changes."""
    target = cfg.platform.kubernetes
    common = {"enable_config_map_mutable": True, "enable_secret_mutable": True}
    if target.render_yaml_to_directory:
        # Render mode refuses kubeconfig/context: it talks to no cluster.
        return k8s.Provider("kubernetes", render_yaml_to_directory=target.render_yaml_to_directory, **common)
    return k8s.Provider(
        "kubernetes",
        kubeconfig=read_kubeconfig(config, pulumi.get_stack()),
        context=target.context or None,
        **common,
    )


def warn_about_weak_settings(cfg: StackConfig, passwords: Passwords) -> None:
    if cfg.gateway.auth.enabled and not passwords.gateway_operator_set:
        pulumi.log.warn(
            f"{GATEWAY_OPERATOR_PASSWORD_KEY} is not set: the gateway's internal Redis users (operator, pod, "
            f"sentinel, replication, probe, exporter) get passwords derived from {GATEWAY_REDIS_PASSWORD_KEY}, so "
            "whoever holds the clients' password can compute them; set it to keep the clients to their own user")
    if not cfg.gateway.auth.enabled:
        pulumi.log.warn(
            "gateway.auth.enabled is false: the Gateway's Redis and Sentinel accept unauthenticated "
            "clients (allowed outside prod only)")


def main() -> None:
    config = pulumi.Config()
    cfg = read_stack_config(config, pulumi.get_stack())
    passwords = read_passwords(config, cfg)
    warn_about_weak_settings(cfg, passwords)

    provider = kubernetes_provider(config, cfg)
    namespace = ensure_namespace(cfg, pulumi.ResourceOptions(provider=provider))
    component_opts = pulumi.ResourceOptions(
        providers=[provider], depends_on=[namespace] if namespace else None)

    gateway = RedisSentinelCluster(
        names.GATEWAY,
        RedisSentinelClusterArgs(
            config=cfg, namespace=cfg.platform.namespace,
            redis_password=passwords.gateway_redis, sentinel_password=passwords.gateway_sentinel,
            acl_passwords=passwords.gateway_acl),
        opts=component_opts,
    )
    cache = SingleRedisCache(
        names.CACHE,
        SingleRedisCacheArgs(config=cfg, namespace=cfg.platform.namespace, password=passwords.context_cache,
                             acl_passwords=passwords.cache_acl),
        opts=component_opts,
    )

    if cfg.network_policy.enabled:
        NetworkPolicies("network-policies", cfg.network_policy, cfg.platform.namespace,
                        monitoring=cfg.monitoring.enabled, opts=component_opts)

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
    })
    pulumi.export("contextCache", {
        "endpoint": cache_endpoint(cfg),
        "service": cache.service_name,
    })


main()
