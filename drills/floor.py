"""The floor: a bare three-pod Sentinel cluster in the same engine, made by hand.

Each pod is a podman pod on its own `--internal` network with two containers running the plain
`redis-server` and `redis-sentinel` of the lab image, from minimal configs written here: names
instead of IPs (as any cluster whose pods change IP must), a fixed `sentinel myid` (a sentinel
that restarts as a new peer would break the majority), and the gateway's down-after,
failover-timeout and parallel-syncs. No boot scripts, no probes, no HAProxy, no resource limits.
The pods get the same resolver options as the gateway's pods and the same DNS, the lab's
(lab.dns: a pod's name resolves while the pod exists).

A hard kill is what it measures: SIGKILL to the master's pod, which is removed and created again
at once with a new IP and its own data directory (the volume), as a StatefulSet would. What the
gateway loses against this floor is what its scripts and proxies cost.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any, Optional

from lab.dns import ClusterDns, create_network, stop_strays
from lab.podman import Podman
from smoke import Address, Targets

from .health import Timing, wait_settled
from .observe import SentinelPanel

LABEL = "io.kubernaut-redis.floor"
IMAGE = "localhost/kubernaut-redis-lab:7.0.15"
CLIENT_IMAGE = "localhost/kubernaut-redis-client:7.0.15"
REPO = Path(__file__).resolve().parents[1]
SOURCE_IN_TOOLBOX = "/opt/kubernaut-redis/src"
REDIS_UID = 999
MASTER_SET = "floor-master"
REDIS_PORT = 6379
SENTINEL_PORT = 26379
SUBDOMAIN = "floor-headless"
NAMESPACE = "drills"
CLUSTER_DOMAIN = "cluster.local"
# The resolver the gateway's pods get: dnsConfig's options, and what ClusterFirst adds in any
# Kubernetes pod (ndots:5 and the namespace's search path). The search path matters here: a name
# that no longer resolves (a removed pod) is tried once per search domain.
DNS_OPTIONS = ("ndots:5", "timeout:1", "attempts:5")
DNS_SEARCH = (f"{NAMESPACE}.svc.{CLUSTER_DOMAIN}", f"svc.{CLUSTER_DOMAIN}", CLUSTER_DOMAIN)
START_TIMEOUT_SECONDS = 120.0


def default_state_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kubernaut-redis" / "floor"


class FloorCluster:
    """`with FloorCluster(timing) as floor:` creates network, toolbox and pods; leaving removes them."""

    master_set = MASTER_SET
    replicas = 3

    def __init__(self, timing: Timing, name: str = "kr-floor", state_root: Optional[Path] = None) -> None:
        self.timing = timing
        self.name = name
        self.network = f"{name}-net"
        self.toolbox = f"{name}-toolbox"
        self.dir = (state_root or default_state_root()) / name
        self.podman = Podman()
        self.ips: dict[str, str] = {}
        self.dns: Optional[ClusterDns] = None
        self.panel = SentinelPanel(self.pod_ips, SENTINEL_PORT, None, MASTER_SET)
        self.targets_json = Targets(tuple(Address(self.fqdn(pod), SENTINEL_PORT) for pod in self.pod_names()),
                                    MASTER_SET, self.replicas, REDIS_PORT).to_json()

    # ------------------------------------------------------------------ names

    def pod_names(self) -> list[str]:
        return [f"floor-{i}" for i in range(self.replicas)]

    def fqdn(self, pod: str) -> str:
        return f"{pod}.{SUBDOMAIN}.{NAMESPACE}.svc.{CLUSTER_DOMAIN}"

    def podman_pod(self, pod: str) -> str:
        return f"{self.name}-{pod}"

    @property
    def sentinel_addresses(self) -> list[str]:
        return [f"{self.fqdn(pod)}:{SENTINEL_PORT}" for pod in self.pod_names()]

    # ------------------------------------------------------------------ life

    def __enter__(self) -> "FloorCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        for image in (IMAGE, CLIENT_IMAGE):
            if not self.podman.exists("image", image):
                raise RuntimeError(f"image {image} is missing: build it with lab/images/build-images")
        self.stop()
        self.dir.mkdir(parents=True, mode=0o700)
        gateway = create_network(self.podman, self.network, f"{LABEL}={self.name}")
        self.dns = ClusterDns(self.dir, gateway, CLUSTER_DOMAIN)
        self.dns.start()
        self._start_toolbox()
        for pod in self.pod_names():
            self._write_configs(pod)
            self._create_pod(pod)
        self._wait_resolvable(self.pod_names())
        for pod in self.pod_names():
            self._start_containers(pod)
        self.wait_healthy(START_TIMEOUT_SECONDS)

    def stop(self) -> None:
        if self.dns:
            self.dns.stop()
            self.dns = None
        stop_strays(self.dir)
        for pod in self.podman.json("pod", "ps", "--format", "json", "--filter", f"label={LABEL}={self.name}"):
            self.podman.run("pod", "rm", "--force", "--time", "0", pod["Name"], check=False)
        for container in self.podman.json("ps", "-a", "--format", "json", "--filter", f"label={LABEL}={self.name}"):
            self.podman.run("rm", "--force", "--time", "0", container["Id"], check=False)
        if self.podman.exists("network", self.network):
            self.podman.run("network", "rm", "--force", self.network, check=False)
        if self.dir.exists():
            shutil.rmtree(self.dir)

    def _dns_args(self) -> list[str]:
        args = ["--dns", self.dns.listen_ip]
        for option in DNS_OPTIONS:
            args += ["--dns-option", option]
        for domain in DNS_SEARCH:
            args += ["--dns-search", domain]
        return args

    def _start_toolbox(self) -> None:
        self.podman.run("run", "-d", "--name", self.toolbox, "--network", self.network, "--pull", "never",
                        "--label", f"{LABEL}={self.name}", *self._dns_args(),
                        "--cap-drop", "all", "--security-opt", "no-new-privileges",
                        "--volume", f"{REPO}:{SOURCE_IN_TOOLBOX}:ro", "--env", f"PYTHONPATH={SOURCE_IN_TOOLBOX}",
                        "--workdir", SOURCE_IN_TOOLBOX, CLIENT_IMAGE, "sleep", "infinity")

    # ------------------------------------------------------------------ configs (the pod's volume)

    def _volume(self, pod: str) -> Path:
        return self.dir / pod

    def _write_configs(self, pod: str) -> None:
        volume = self._volume(pod)
        (volume / "redis").mkdir(parents=True)
        (volume / "sentinel").mkdir()
        (volume / "redis.conf").write_text(self.redis_conf(pod))
        (volume / "sentinel" / "sentinel.conf").write_text(self.sentinel_conf(pod))
        for path in [volume, *volume.rglob("*")]:
            os.chown(path, REDIS_UID, REDIS_UID)

    def redis_conf(self, pod: str) -> str:
        first = self.pod_names()[0]
        lines = [
            f"port {REDIS_PORT}", "bind * -::*", "protected-mode no", "dir /data/redis", 'save ""',
            "appendonly no", f"replica-announce-ip {self.fqdn(pod)}",
        ]
        if pod != first:
            lines.append(f"replicaof {self.fqdn(first)} {REDIS_PORT}")
        return "\n".join(lines) + "\n"

    def sentinel_conf(self, pod: str) -> str:
        t, first = self.timing, self.fqdn(self.pod_names()[0])
        quorum = self.replicas // 2 + 1
        myid = hashlib.sha1(f"{self.name}/{pod}".encode()).hexdigest()
        return "\n".join([
            f"port {SENTINEL_PORT}", "protected-mode no", "dir /data/sentinel",
            "sentinel resolve-hostnames yes", "sentinel announce-hostnames yes",
            f"sentinel announce-ip {self.fqdn(pod)}", f"sentinel myid {myid}",
            f"sentinel monitor {MASTER_SET} {first} {REDIS_PORT} {quorum}",
            f"sentinel down-after-milliseconds {MASTER_SET} {t.down_after_ms}",
            f"sentinel failover-timeout {MASTER_SET} {t.failover_timeout_ms}",
            f"sentinel parallel-syncs {MASTER_SET} {t.parallel_syncs}",
        ]) + "\n"

    # ------------------------------------------------------------------ pods

    def _create_pod(self, pod: str) -> None:
        name = self.podman_pod(pod)
        self.podman.run("pod", "create", "--name", name, "--infra-name", f"{name}-infra", "--hostname", pod,
                        "--network", self.network, "--label", f"{LABEL}={self.name}", *self._dns_args())
        self.podman.run("pod", "start", name)
        self.ips[pod] = self.podman.ip(f"{name}-infra", self.network)
        self.dns.publish(name, self.ips[pod], [self.fqdn(pod)])

    def _start_containers(self, pod: str) -> None:
        name = self.podman_pod(pod)
        common = ["run", "-d", "--pod", name, "--pull", "never", "--user", f"{REDIS_UID}:{REDIS_UID}",
                  "--label", f"{LABEL}={self.name}", "--volume", f"{self._volume(pod)}:/data"]
        self.podman.run(*common, "--name", f"{name}-redis", IMAGE, "redis-server", "/data/redis.conf")
        self.podman.run(*common, "--name", f"{name}-sentinel", IMAGE, "redis-sentinel",
                        "/data/sentinel/sentinel.conf")

    def _wait_resolvable(self, pods: list[str]) -> None:
        """Sentinel refuses a config whose monitored name does not resolve: wait for the names."""
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        names = [self.fqdn(pod) for pod in pods]
        while time.monotonic() < deadline:
            done = self.podman.exec(self.toolbox, ["getent", "hosts", *names], timeout=30)
            if done.returncode == 0 and len(done.stdout.strip().splitlines()) == len(names):
                return
            time.sleep(0.5)
        raise RuntimeError(f"floor pod names do not resolve on {self.network}: {names}")

    def kill_pod(self, pod: str, recreate: bool = True) -> dict[str, Any]:
        """SIGKILL every container of the pod and remove it; unless held down (recreate=False),
        create it again at once (new IP, same volume), as a StatefulSet does."""
        name = self.podman_pod(pod)
        result: dict[str, Any] = {"pod": pod, "operation": "kill", "old_ip": self.ips.get(pod, "")}
        self.podman.run("pod", "kill", "--signal", "KILL", name)
        result["fault_at"] = result["killed_at"] = time.time()
        self.podman.run("pod", "rm", "--force", "--time", "0", name)
        self.dns.withdraw(name)
        result["removed_at"] = time.time()
        self.ips.pop(pod, None)
        if recreate:
            result.update(self.recreate_pod(pod))
        return result

    def recreate_pod(self, pod: str) -> dict[str, Any]:
        self._create_pod(pod)
        self._start_containers(pod)
        return {"recreated_at": time.time(), "new_ip": self.ips[pod]}

    def sentinel_container(self, pod: str) -> str:
        return f"{self.podman_pod(pod)}-sentinel"

    def pod_ips(self) -> dict[str, str]:
        return dict(self.ips)

    # ------------------------------------------------------------------ health

    def wait_healthy(self, timeout: float) -> float:
        return wait_settled(self.podman, self.toolbox, self.targets_json, {}, timeout)

    def writer_env(self) -> dict[str, str]:
        return {}  # the floor runs without passwords
