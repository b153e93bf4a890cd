"""What a drill acts on: the gateway in the lab, or the bare floor cluster (drills.floor).

Both offer the same few things: the sentinels' names inside their network, the toolbox container
where the writer runs, the pods' bridge IPs, the invariants, and the faults.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lab import Lab
from lab.lab import LAB_IMAGE

from smoke import from_manifest_objects

from .health import Timing, wait_settled, wait_until
from .observe import SentinelPanel

REPO = Path(__file__).resolve().parents[1]
STATEFULSET = "redis-gateway"
CONFIG_MAP = "redis-gateway-config"
REDIS_PORT = 6379
SENTINEL_PORT = 26379


def sentinel_setting(conf: str, key: str) -> int:
    match = re.search(rf"^sentinel {re.escape(key)} \S+ (\d+)\s*$", conf, re.MULTILINE)
    if not match:
        raise ValueError(f"sentinel.conf has no `sentinel {key}` line")
    return int(match.group(1))


def render_stack(stack: str, out: Path, overrides: list[str]) -> Path:
    """Rendered manifests of a stack in `out` (below the git-ignored .rendered/), with only the
    images pointed at the lab image (as scripts/lab-up renders it), then `overrides`."""
    command = [sys.executable, "-m", "tools.render_manifests", "--stack", stack, "--out", str(out)]
    for override in [f"platform.images.redis={LAB_IMAGE}", f"platform.images.haproxy={LAB_IMAGE}", *overrides]:
        command += ["--set", override]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"rendering stack {stack} failed: {done.stderr.strip()[-2000:]}")
    return out


class LabTarget:
    """The gateway StatefulSet of a running lab.Lab."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.name = lab.name
        self.toolbox = lab.toolbox
        statefulset = next(o for o in lab.manifests.workloads if o.kind == "StatefulSet" and o.name == STATEFULSET)
        self.namespace = statefulset.namespace
        self.replicas = int(statefulset.spec.get("replicas") or 1)
        self.headless = statefulset.spec["serviceName"]
        self.cluster_domain = lab.manifests.cluster_domain
        conf = lab.manifests.config_map_data(self.namespace, CONFIG_MAP)["sentinel.conf"].decode()
        self.master_set = re.search(r"^sentinel monitor (\S+) ", conf, re.MULTILINE).group(1)
        self.timing = Timing(sentinel_setting(conf, "down-after-milliseconds"),
                             sentinel_setting(conf, "failover-timeout"), sentinel_setting(conf, "parallel-syncs"))
        targets, passwords = from_manifest_objects([o.body for o in lab.manifests.objects])
        self.targets_json = targets.to_json()
        self.redis_password, self.sentinel_password = passwords.redis, passwords.sentinel
        self.cache_password = passwords.cache
        self.panel = SentinelPanel(self.pod_ips, SENTINEL_PORT, self.sentinel_password, self.master_set)

    def pod_names(self) -> list[str]:
        return [f"{STATEFULSET}-{i}" for i in range(self.replicas)]

    def fqdn(self, pod: str) -> str:
        return f"{pod}.{self.headless}.{self.namespace}.svc.{self.cluster_domain}"

    @property
    def sentinel_addresses(self) -> list[str]:
        return [f"{self.fqdn(pod)}:{SENTINEL_PORT}" for pod in self.pod_names()]

    @property
    def podman(self):
        return self.lab.podman

    def sentinel_container(self, pod: str) -> str:
        return f"{self.lab.name}-{pod}-sentinel"

    def pod_ips(self) -> dict[str, str]:
        """Bridge IP of every gateway pod that is running (not terminating, not yet created)."""
        pods = self.lab.status()["pods"]
        return {name: pods[name]["ip"] for name in self.pod_names()
                if name in pods and pods[name]["phase"] == "Running" and pods[name]["ip"]}

    def wait_healthy(self, timeout: float) -> float:
        """When the smoke invariants held and every pod of the lab was Ready (as kubectl shows)."""
        started = time.monotonic()
        settled_at = wait_settled(self.podman, self.toolbox, self.targets_json, self.smoke_env(), timeout)
        if self.lab.status()["all_ready"]:
            return settled_at
        left = max(1.0, timeout - (time.monotonic() - started))
        return wait_until(lambda: self.lab.status()["all_ready"], left, f"lab {self.name}: every pod Ready")

    def smoke_env(self) -> dict[str, str]:
        env = self.writer_env()
        if self.cache_password:
            env["CACHE_PASSWORD"] = self.cache_password
        return env

    def writer_env(self) -> dict[str, str]:
        env = {}
        if self.redis_password:
            env["REDIS_PASSWORD"] = self.redis_password
        if self.sentinel_password:
            env["SENTINEL_PASSWORD"] = self.sentinel_password
        return env

    # ------------------------------------------------------------------ faults

    def kill_pod(self, pod: str, recreate: bool = True) -> dict[str, Any]:
        result = self.lab.kill_pod(pod, recreate=recreate, wait="created" if recreate else "removed")
        return {**result, "fault_at": result["killed_at"]}

    def recreate_pod(self, pod: str) -> dict[str, Any]:
        return self.lab.recreate_pod(pod, wait="created")

    def delete_pod(self, pod: str) -> dict[str, Any]:
        result = self.lab.delete_pod(pod, wait="created")
        return {**result, "fault_at": result["requested_at"]}

    def cut_pod(self, pod: str) -> dict[str, Any]:
        result = self.lab.cut_pod(pod)
        return {**result, "fault_at": result["cut_at"]}

    def heal_pod(self, pod: str) -> dict[str, Any]:
        return self.lab.heal_pod(pod)

    def kill_sentinel(self, pod: str) -> dict[str, Any]:
        result = self.lab.kill_container(pod, "sentinel", wait="restarted")
        return {**result, "fault_at": result["killed_at"]}

    def logs_since(self, since: float) -> list[dict[str, Any]]:
        return self.lab.ctl.events.since(since)
