"""Data of ConfigMap redis-gateway-topology: the gateway's pod count and Sentinel's quorum.

Kept apart from the pod templates' files on purpose: nothing that depends on the pod count is in
the config checksum or the pod template, so `gateway.replicas` 3 -> 5 -> 3 adds or removes pods
without rolling the others. The scripts read these files when they use them (common.sh,
topology_replicas / topology_quorum); the kubelet refreshes a mounted ConfigMap within about a
minute, and the topology Job (pod_scripts/topology-reconcile.sh) applies the quorum to the
running sentinels and clears what they remember of removed pods.
"""

from __future__ import annotations

from stack_config import StackConfig, names


def gateway_topology(cfg: StackConfig) -> dict[str, str]:
    gateway = cfg.gateway
    return {names.TOPOLOGY_REPLICAS_KEY: f"{gateway.replicas}\n",
            names.TOPOLOGY_QUORUM_KEY: f"{gateway.effective_quorum}\n"}
