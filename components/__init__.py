"""Pulumi components of kubernaut-redis; they take validated args and never read pulumi.Config."""

from .monitoring import Monitoring
from .namespace import ensure_namespace
from .network_policies import NetworkPolicies
from .redis_sentinel_cluster import RedisSentinelCluster, RedisSentinelClusterArgs
from .single_redis_cache import SingleRedisCache, SingleRedisCacheArgs

__all__ = [
    "Monitoring", "NetworkPolicies", "RedisSentinelCluster", "RedisSentinelClusterArgs", "SingleRedisCache", "SingleRedisCacheArgs",
    "ensure_namespace",
]
