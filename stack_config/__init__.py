"""Validated stack config of kubernaut-redis (see docs/architecture.md, "Stack config").

`load_stack_config` is the only entry point that applies every rule, including the per-stack
ones (prod requires auth): build `StackConfig` through it.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Optional

from pydantic import ValidationError

from . import names
from .acl import CACHE_PASSWORDS, GATEWAY_PASSWORDS, PasswordDerivation, derived_password, internal_passwords
from .derived import (
    POD_SECURITY_BASELINE,
    POD_SECURITY_RESTRICTED,
    AwaitTimeouts,
    cache_await_timeouts,
    cache_endpoint,
    gateway_await_timeouts,
    gateway_ha_fqdn,
    gateway_headless_fqdn,
    gateway_master_endpoint,
    gateway_pod_fqdn,
    gateway_pod_fqdns,
    gateway_pod_name,
    gateway_pod_start_seconds,
    gateway_sentinel_addresses,
    gateway_sentinel_endpoint,
    gateway_startup_budget_seconds,
    namespace_delete_seconds,
    pod_security_level,
    proxy_await_timeouts,
    sentinel_id,
    service_fqdn,
)
from .engines import ENGINES, Engine, EngineBinaries, engine_binaries, image_engine
from .errors import ConfigError, format_validation_error
from .keys import (
    ACCEPTED_KEYS,
    BACKUP_CREDENTIAL_KEYS,
    CONFIG_KEYS,
    CONTEXT_CACHE_OPERATOR_PASSWORD_KEY,
    CONTEXT_CACHE_PASSWORD_KEY,
    GATEWAY_BACKUP_ACCESS_KEY_ID_KEY,
    GATEWAY_BACKUP_SECRET_ACCESS_KEY_KEY,
    GATEWAY_OPERATOR_PASSWORD_KEY,
    GATEWAY_REDIS_PASSWORD_KEY,
    GATEWAY_SENTINEL_PASSWORD_KEY,
    KNOWN_KEYS,
    OPTIONAL_PASSWORD_KEYS,
    PASSWORD_KEYS,
    SECRET_KEYS,
    accepted_key,
    backup_credential_problems,
    password_keys_in_use,
    password_problems,
    unknown_key_problems,
)
from .kubeconfig import check_kubeconfig
from .models import (
    BackupConfig,
    BackupS3Config,
    CacheAuthConfig,
    ContainerResources,
    ContextCacheConfig,
    CpuMemory,
    GatewayAuthConfig,
    GatewayConfig,
    GatewayResources,
    ImagesConfig,
    KubernetesConfig,
    MonitoringConfig,
    NetworkPolicyConfig,
    PersistenceConfig,
    PlatformConfig,
    PolicyPeer,
    ProxyConfig,
    StackConfig,
)


def load_stack_config(raw: Mapping[str, Any], stack: str, *,
                      passwords: Optional[Mapping[str, Optional[str]]] = None,
                      config_keys: Optional[Iterable[str]] = None) -> StackConfig:
    """Validate the decoded values of the structured config keys of stack `stack`.

    `raw` maps each key of CONFIG_KEYS to its JSON-decoded value; a missing or null key means
    "all defaults". The program also passes `passwords` (each password key's plain value, None
    when unset), checked where the config switches them on, and `config_keys`, every config key
    of the stack (`kubernaut-redis:gateway`, `kubernetes:...`), checked for unknown keys of the
    project. Raises ConfigError with one line per problem; a password is never shown.
    """
    problems = unknown_key_problems(config_keys) if config_keys is not None else []
    present = {key: value for key, value in raw.items() if value is not None}
    try:
        cfg = StackConfig.model_validate(present, context={"stack": stack})
    except ValidationError as err:
        raise ConfigError(problems + format_validation_error(err, StackConfig)) from None
    if passwords is not None:
        in_use = password_keys_in_use(cfg.gateway.auth.enabled, cfg.gateway.auth.sentinel,
                                      cfg.context_cache.auth.enabled)
        problems += password_problems(passwords, in_use, stack)
        problems += backup_credential_problems(passwords, cfg.gateway.backup.enabled, stack)
    if problems:
        raise ConfigError(problems)
    return cfg


__all__ = [
    "ACCEPTED_KEYS", "BACKUP_CREDENTIAL_KEYS", "GATEWAY_BACKUP_ACCESS_KEY_ID_KEY", "GATEWAY_BACKUP_SECRET_ACCESS_KEY_KEY", "accepted_key", "password_keys_in_use", "CACHE_PASSWORDS", "CONFIG_KEYS", "CONTEXT_CACHE_OPERATOR_PASSWORD_KEY", "CONTEXT_CACHE_PASSWORD_KEY",
    "GATEWAY_PASSWORDS", "PasswordDerivation", "GATEWAY_OPERATOR_PASSWORD_KEY", "GATEWAY_REDIS_PASSWORD_KEY",
    "GATEWAY_SENTINEL_PASSWORD_KEY", "KNOWN_KEYS", "OPTIONAL_PASSWORD_KEYS", "PASSWORD_KEYS", "derived_password",
    "internal_passwords", "SECRET_KEYS", "POD_SECURITY_BASELINE", "POD_SECURITY_RESTRICTED", "AwaitTimeouts", "BackupConfig", "BackupS3Config", "CacheAuthConfig",
    "ConfigError", "ContainerResources", "ENGINES", "Engine", "EngineBinaries", "engine_binaries",
    "image_engine", "ContextCacheConfig", "CpuMemory", "GatewayAuthConfig",
    "GatewayConfig", "GatewayResources", "ImagesConfig", "KubernetesConfig", "MonitoringConfig", "NetworkPolicyConfig", "PersistenceConfig",
    "PlatformConfig", "PolicyPeer", "ProxyConfig", "StackConfig", "cache_await_timeouts", "cache_endpoint", "check_kubeconfig",
    "gateway_await_timeouts", "gateway_ha_fqdn", "gateway_headless_fqdn", "gateway_master_endpoint",
    "gateway_pod_fqdn", "gateway_pod_fqdns", "gateway_pod_name", "gateway_pod_start_seconds",
    "gateway_sentinel_addresses", "gateway_sentinel_endpoint", "gateway_startup_budget_seconds",
    "load_stack_config", "names", "namespace_delete_seconds", "pod_security_level",
    "proxy_await_timeouts", "sentinel_id", "service_fqdn",
]
