"""sentinel.conf template of the gateway pods; sentinel-start.sh completes it at boot."""

from __future__ import annotations

from stack_config import StackConfig, names

# The master is known only at boot; sentinel-start.sh replaces this host in the monitor line.
# It is a real address so that the template alone is a valid sentinel.conf.
MONITOR_PLACEHOLDER_HOST = "127.0.0.1"
# The quorum follows the pod count, which lives in ConfigMap redis-gateway-topology so that a
# scale rolls no pod: sentinel-start.sh replaces this quorum with the topology's.
MONITOR_PLACEHOLDER_QUORUM = 1
SENTINEL_DATA_DIR = f"{names.DATA_DIR}/sentinel"


def gateway_sentinel_conf(cfg: StackConfig) -> str:
    gateway = cfg.gateway
    master_set = names.MASTER_SET
    lines = [
        "# sentinel.conf template of the redis-gateway pods (ConfigMap redis-gateway-config).",
        "# sentinel-start.sh writes /data/sentinel/sentinel.conf from it at every boot: the monitor",
        "# line gets the current master and the quorum of ConfigMap redis-gateway-topology, and the",
        "# pod's myid, announce-ip, passwords, epochs and peers are appended. Settings below take",
        "# effect on the next sentinel restart; the quorum also through the topology Job.",
        f"port {names.SENTINEL_PORT}",
        "bind * -::*",
        "protected-mode no",
        f"dir {SENTINEL_DATA_DIR}",
        'logfile ""',
        # Pods are addressed by DNS name only; these must precede the monitor line, which
        # Sentinel resolves while it loads the file.
        "sentinel resolve-hostnames yes",
        "sentinel announce-hostnames yes",
        f"sentinel monitor {master_set} {MONITOR_PLACEHOLDER_HOST} {names.REDIS_PORT} {MONITOR_PLACEHOLDER_QUORUM}",
        f"sentinel down-after-milliseconds {master_set} {gateway.down_after_milliseconds}",
        f"sentinel failover-timeout {master_set} {gateway.failover_timeout_milliseconds}",
        f"sentinel parallel-syncs {master_set} {gateway.parallel_syncs}",
        "sentinel deny-scripts-reconfig yes",
    ]
    return "\n".join(lines) + "\n"
