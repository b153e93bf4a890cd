"""Constants and stand-ins shared by the unit tests."""

from __future__ import annotations

import types

STACKS = ("dev", "prod", "lab")
# Gateway auth is on in every stack file; dev is the only stack allowed to switch it off.
DEV_WITHOUT_AUTH = {"gateway.auth.enabled": False, "gateway.auth.sentinel": False}
# Distinctive, so that a leak is found by a plain substring search anywhere.
PASSWORDS = {
    "gatewayRedisPassword": "gw-redis-pw-5f2c91d7e4",
    "gatewaySentinelPassword": "gw-sentinel-pw-a83b06c2f1",
    "contextCachePassword": "cache-pw-77d1e0b9c3",
    "kubeconfig": "apiVersion: v1\nkind: Config\n# kubeconfig-marker-0c9e2b\n",
}


def placeholder_redis_files() -> types.ModuleType:
    """Stands in for redis_files until it exists; its text depends on the config like the real one."""
    module = types.ModuleType("redis_files")
    module.gateway_redis_conf = lambda cfg: (
        f"maxmemory {cfg.gateway.maxmemory_bytes}\nmaxmemory-policy {cfg.gateway.maxmemory_policy}\n"
        f"min-replicas-to-write {cfg.gateway.min_replicas_to_write}\n")
    module.gateway_sentinel_conf = lambda cfg: (
        f"sentinel monitor gateway-master 127.0.0.1 6379 {cfg.gateway.effective_quorum}\n"
        f"sentinel down-after-milliseconds gateway-master {cfg.gateway.down_after_milliseconds}\n")
    module.haproxy_cfg = lambda cfg: f"global\n# servers {cfg.gateway.replicas}\n"
    module.cache_redis_conf = lambda cfg: f"maxmemory {cfg.context_cache.maxmemory_bytes}\n"
    module.gateway_scripts = lambda: {name: "#!/bin/sh\nexit 0\n" for name in (
        "redis-start.sh", "sentinel-start.sh", "redis-readiness.sh", "redis-liveness.sh",
        "sentinel-probe.sh", "redis-prestop.sh")}
    module.cache_scripts = lambda: {"cache-start.sh": "#!/bin/sh\nexit 0\n"}
    return module
