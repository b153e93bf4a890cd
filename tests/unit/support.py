"""Constants shared by the unit tests."""

from __future__ import annotations

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
