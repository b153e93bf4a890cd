"""Pure renderers of the files the Redis pods use: configs and the shipped shell scripts.

Each renderer takes the whole validated `StackConfig` and returns text. Templates hold no secret
and nothing that differs between pods: the start scripts of pod_scripts/ complete them at boot
(the pod's own DNS name, its sentinel id, the master, passwords from the environment).
"""

from __future__ import annotations

from .acl import cache_acl_rules, cache_users_acl, gateway_acl_rules, gateway_users_acl
from .haproxy import haproxy_cfg
from .redis_conf import cache_redis_conf, gateway_redis_conf
from .scripts import cache_scripts, gateway_scripts
from .sentinel_conf import MONITOR_PLACEHOLDER_HOST, MONITOR_PLACEHOLDER_QUORUM, gateway_sentinel_conf
from .topology import gateway_topology

__all__ = [
    "MONITOR_PLACEHOLDER_HOST",
    "MONITOR_PLACEHOLDER_QUORUM",
    "cache_acl_rules",
    "cache_redis_conf",
    "cache_users_acl",
    "gateway_acl_rules",
    "gateway_users_acl",
    "cache_scripts",
    "gateway_redis_conf",
    "gateway_scripts",
    "gateway_sentinel_conf",
    "gateway_topology",
    "haproxy_cfg",
]
