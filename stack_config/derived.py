"""Values derived from a validated config that the components, renderers and scripts share.

One definition of each DNS name: sentinels, HAProxy and the stack outputs must spell a pod's
name identically, or Sentinel sees two instances (`+fix-slave-config` loops).
"""

from __future__ import annotations

import hashlib

from . import names
from .models import StackConfig


def gateway_pod_name(ordinal: int) -> str:
    return f"{names.GATEWAY}-{ordinal}"


def service_fqdn(cfg: StackConfig, service: str) -> str:
    return f"{service}.{cfg.platform.namespace}.svc.{cfg.platform.cluster_domain}"


def gateway_headless_fqdn(cfg: StackConfig) -> str:
    return service_fqdn(cfg, names.GATEWAY_HEADLESS_SERVICE)


def gateway_pod_fqdn(cfg: StackConfig, ordinal: int) -> str:
    """`redis-gateway-<i>.redis-gateway-headless.<namespace>.svc.<clusterDomain>`."""
    if not 0 <= ordinal < cfg.gateway.replicas:
        raise ValueError(f"ordinal {ordinal} outside 0..{cfg.gateway.replicas - 1}")
    return f"{gateway_pod_name(ordinal)}.{gateway_headless_fqdn(cfg)}"


def gateway_pod_fqdns(cfg: StackConfig) -> list[str]:
    return [gateway_pod_fqdn(cfg, i) for i in range(cfg.gateway.replicas)]


def gateway_ha_fqdn(cfg: StackConfig) -> str:
    return service_fqdn(cfg, names.GATEWAY_HA_SERVICE)


def gateway_master_endpoint(cfg: StackConfig) -> str:
    return f"{gateway_ha_fqdn(cfg)}:{names.REDIS_PORT}"


def gateway_sentinel_endpoint(cfg: StackConfig) -> str:
    return f"{gateway_ha_fqdn(cfg)}:{names.SENTINEL_PORT}"


def gateway_sentinel_addresses(cfg: StackConfig) -> list[str]:
    """Per-pod sentinel addresses for Sentinel-aware clients (go-redis failover, redis-py Sentinel)."""
    return [f"{fqdn}:{names.SENTINEL_PORT}" for fqdn in gateway_pod_fqdns(cfg)]


def cache_endpoint(cfg: StackConfig) -> str:
    return f"{service_fqdn(cfg, names.CACHE)}:{names.REDIS_PORT}"


def sentinel_id(ordinal: int) -> str:
    """A fixed 40-hex-digit `sentinel myid` per ordinal, so a restarted sentinel is the same peer."""
    return hashlib.sha1(f"{names.GATEWAY}/{ordinal}".encode()).hexdigest()
