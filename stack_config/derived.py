"""Values derived from a validated config that the components, renderers and scripts share.

One definition of each DNS name: sentinels, HAProxy and the stack outputs must spell a pod's
name identically, or Sentinel sees two instances (`+fix-slave-config` loops). One definition of
how long a pod may take to start: the startup probes and the time `pulumi up` waits for a
rollout follow from the same numbers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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


# ---------------------------------------------------------------------------- Pod Security

POD_SECURITY_RESTRICTED = "restricted"
POD_SECURITY_BASELINE = "baseline"


def pod_security_level(cfg: StackConfig) -> str:
    """The strictest Pod Security level every pod of the stack meets: `restricted`, except that
    the gateway's volume-permissions init container (root, CHOWN/FOWNER/DAC_OVERRIDE) needs
    `baseline`."""
    if cfg.gateway.persistence.volume_permissions:
        return POD_SECURITY_BASELINE
    return POD_SECURITY_RESTRICTED


# ---------------------------------------------------------------------------- start and await times

# Before a pod's first container runs: scheduling, pulling an image onto a cold node,
# provisioning and attaching a new volume, init containers.
POD_START_MARGIN_SECONDS = 90
# After a gateway container's boot waits: loading the RDB/AOF until Redis answers (liveness
# accepts LOADING, not "not listening yet").
STARTUP_LOADING_MARGIN_SECONDS = 60
STARTUP_PROBE_PERIOD_SECONDS = 5
READINESS_PROBE_PERIOD_SECONDS = 5
# The pods that set no terminationGracePeriodSeconds (HAProxy, the cache) get Kubernetes' default.
DEFAULT_TERMINATION_GRACE_SECONDS = 30
# Deleting a workload: the API server and the garbage collector, beyond the pods' grace period.
DELETE_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class AwaitTimeouts:
    """How long `pulumi up`/`destroy` waits for an object to be ready or gone, in seconds, before
    it fails (the provider's default is 10 minutes for every workload)."""

    create: int
    update: int
    delete: int


def gateway_startup_budget_seconds(cfg: StackConfig) -> int:
    """What a gateway container's startup probe allows before liveness applies: its own DNS
    record, the peer sentinels, then loading the data."""
    gateway = cfg.gateway
    return gateway.dns_wait_seconds + gateway.boot_peer_wait_seconds + STARTUP_LOADING_MARGIN_SECONDS


def gateway_pod_start_seconds(cfg: StackConfig) -> int:
    """The worst honest time from a gateway pod's creation to Ready: the start margin, the
    startup budget, then one period of the startup and of the readiness probe."""
    return (POD_START_MARGIN_SECONDS + gateway_startup_budget_seconds(cfg)
            + STARTUP_PROBE_PERIOD_SECONDS + READINESS_PROBE_PERIOD_SECONDS)


def gateway_await_timeouts(cfg: StackConfig) -> AwaitTimeouts:
    """StatefulSet `redis-gateway`. Created: every pod starts at once (Parallel). Updated: a
    rolling update replaces one pod at a time, each after its predecessor's handover (preStop,
    bounded by the grace period) and start. Deleted: every pod stops at once."""
    gateway = cfg.gateway
    start = gateway_pod_start_seconds(cfg)
    grace = gateway.termination_grace_period_seconds
    return AwaitTimeouts(create=start, update=gateway.replicas * (grace + start),
                         delete=grace + DELETE_MARGIN_SECONDS)


def _single_container_pod_start_seconds() -> int:
    """HAProxy and the cache wait for nothing before they listen: Ready at the first readiness
    probe once the container runs."""
    return POD_START_MARGIN_SECONDS + READINESS_PROBE_PERIOD_SECONDS


def proxy_await_timeouts(cfg: StackConfig) -> AwaitTimeouts:
    """Deployment `redis-gateway-haproxy` (and Service `redis-gateway-ha`, which waits for its
    pods). Updated: maxSurge 1, maxUnavailable 0 replaces one pod at a time, each start followed by
    the old pod's stop."""
    start = _single_container_pod_start_seconds()
    return AwaitTimeouts(create=start,
                         update=cfg.gateway.proxy.replicas * (start + DEFAULT_TERMINATION_GRACE_SECONDS),
                         delete=DEFAULT_TERMINATION_GRACE_SECONDS + DELETE_MARGIN_SECONDS)


def cache_await_timeouts(cfg: StackConfig) -> AwaitTimeouts:
    """Deployment `redis` (and Service `redis`, which waits for its pod). Updated: Recreate stops
    the old pod, then starts the new one."""
    start = _single_container_pod_start_seconds()
    return AwaitTimeouts(create=start, update=DEFAULT_TERMINATION_GRACE_SECONDS + start,
                         delete=DEFAULT_TERMINATION_GRACE_SECONDS + DELETE_MARGIN_SECONDS)


def namespace_delete_seconds(cfg: StackConfig) -> int:
    """A created namespace is deleted last: what remains in it (the PVCs, anything a failed
    destroy left behind) goes with it, pods within their grace period."""
    return max(gateway_await_timeouts(cfg).delete, proxy_await_timeouts(cfg).delete,
               cache_await_timeouts(cfg).delete) + DELETE_MARGIN_SECONDS
