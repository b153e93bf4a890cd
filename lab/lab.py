"""A lab: one podman network, the manifests' pods and Services on it, a controller loop, a toolbox.

    with Lab(manifest_dir, name="kr-test") as lab:
        lab.wait_ready()
        lab.delete_pod("redis-gateway-0")          # timestamps of every step
        lab.client_exec(["python3", "-m", "smoke", ...], env={"REDIS_PASSWORD": ...})

Everything it creates carries the label io.kubernaut-redis.lab=<name> and a name that starts with
`<name>-`; starting removes what an earlier lab of the same name left behind, and leaving the
`with` block (also on an exception) removes everything again. The network is `--internal`: lab
containers reach one another and the host's bridge address, nothing else. Its DNS is the lab's own
(lab/dns.py), on the bridge address, authoritative for the cluster domain as CoreDNS is.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

from . import dns as cluster_dns
from . import manifests as manifest_loader
from .controller import DEFAULT_READY_TIMEOUT_SECONDS, Controller
from .errors import LabError
from .events import EventLog
from .podman import LAB_LABEL, ROLE_LABEL, Podman
from .podspec import KUBERNETES_NDOTS, LabNet
from .services import ServiceProxy, cluster_ip_services

REPO = Path(__file__).resolve().parents[1]
LAB_IMAGE = "localhost/kubernaut-redis-lab:7.0.15"
CLIENT_IMAGE = "localhost/kubernaut-redis-client:7.0.15"
TOOLBOX_SOURCE_DIR = "/opt/kubernaut-redis/src"
SWEEP_RETRIES = 10
_LAB_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$")


def toolbox_name(lab: str) -> str:
    return f"{lab}-toolbox"


def default_state_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kubernaut-redis" / "lab"


def lab_dir(name: str, state_root: Optional[Path] = None) -> Path:
    return (state_root or default_state_root()) / name


def check_name(name: str) -> str:
    if not _LAB_NAME.match(name):
        raise LabError(f"lab name {name!r}: use 1-32 lower-case letters, digits and '-' (it prefixes every name)")
    return name


class Lab:
    def __init__(self, manifest_dir: Path, name: str = "kr-lab", state_root: Optional[Path] = None,
                 cluster_domain: Optional[str] = None, proxy_image: str = LAB_IMAGE,
                 toolbox_image: str = CLIENT_IMAGE, echo=None) -> None:
        self.name = check_name(name)
        self.manifests = manifest_loader.load(Path(manifest_dir), cluster_domain)
        self.dir = lab_dir(name, state_root)
        self.network = f"{name}-net"
        self.proxy_image = proxy_image
        self.toolbox_image = toolbox_image
        self.toolbox = toolbox_name(name)
        self.podman = Podman()
        self.echo = echo
        self.controller: Optional[Controller] = None
        self.dns: Optional[cluster_dns.ClusterDns] = None
        self.started_at = 0.0

    # ------------------------------------------------------------------ lifecycle

    def __enter__(self) -> "Lab":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:
        self.started_at = time.time()
        self._check_images()
        sweep(self.podman, self.name, self.dir)
        self.dir.mkdir(parents=True, mode=0o700)
        os.chmod(self.dir, 0o700)
        for sub in ("pods", "claims", "logs", "services"):
            (self.dir / sub).mkdir()
        events = EventLog(self.dir / "events.jsonl", self.echo)
        net = LabNet(self.name, self.network, self._create_network(), self.manifests.cluster_domain)
        self.dns = cluster_dns.ClusterDns(self.dir, net.resolver_ip, net.cluster_domain)
        self.dns.start()
        proxies = {s.name: ServiceProxy(self.podman, s, self.name, self.network, net.cluster_domain,
                                        self.proxy_image, self.dir / "services" / s.name, events)
                   for s in cluster_ip_services(self.manifests)}
        for proxy in proxies.values():
            proxy.start()
            self.dns.publish(proxy.container, proxy.ip(), [proxy.fqdn])
        self._start_toolbox(net)
        self.controller = Controller(net, self.manifests, self.podman, self.dir, events, proxies, self.dns)
        self.controller.start()
        events.add("lab-started", lab=self.name, manifests=str(self.manifests.root))

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()
            self.controller = None
        if self.dns:
            self.dns.stop()
            self.dns = None
        sweep(self.podman, self.name, self.dir)
        # A podman call that was in flight when the controller stopped may still add a container.
        for _ in range(SWEEP_RETRIES):
            if not leftovers(self.podman, self.name):
                return
            time.sleep(1)
            sweep(self.podman, self.name, self.dir)

    def _check_images(self) -> None:
        images = {self.proxy_image, self.toolbox_image}
        for workload in self.manifests.workloads:
            for container in workload.spec["template"]["spec"]["containers"]:
                images.add(container["image"])
        missing = sorted(i for i in images if not self.podman.exists("image", i))
        if missing:
            raise LabError(f"image(s) not in local podman storage: {', '.join(missing)} "
                           "(the lab pulls nothing; build them with lab/images/build-images)")

    def _create_network(self) -> str:
        return cluster_dns.create_network(self.podman, self.network, f"{LAB_LABEL}={self.name}")

    def _start_toolbox(self, net: LabNet) -> None:
        """A long-running client container in the manifests' namespace: smoke checks and drill
        clients run in it with `podman exec`, so no container start disturbs DNS during a check."""
        namespace = (self.manifests.namespaces or ["default"])[0]
        domain = net.cluster_domain
        args = ["run", "-d", "--name", self.toolbox, "--network", self.network, "--pull", "never",
                "--label", f"{LAB_LABEL}={self.name}", "--label", f"{ROLE_LABEL}=toolbox",
                "--dns", net.resolver_ip, "--dns-option", f"ndots:{KUBERNETES_NDOTS}",
                "--dns-option", "timeout:1", "--dns-option", "attempts:5",
                "--cap-drop", "all", "--security-opt", "no-new-privileges",
                "--volume", f"{REPO}:{TOOLBOX_SOURCE_DIR}:ro", "--env", f"PYTHONPATH={TOOLBOX_SOURCE_DIR}",
                "--workdir", TOOLBOX_SOURCE_DIR]
        for search in (f"{namespace}.svc.{domain}", f"svc.{domain}", domain):
            args += ["--dns-search", search]
        self.podman.run(*args, self.toolbox_image, "sleep", "infinity")

    # ------------------------------------------------------------------ use

    @property
    def ctl(self) -> Controller:
        if self.controller is None:
            raise LabError(f"lab {self.name} is not running")
        return self.controller

    def wait_ready(self, timeout: float = DEFAULT_READY_TIMEOUT_SECONDS) -> float:
        return self.ctl.wait_ready(timeout)

    def client_exec(self, command: Sequence[str], env: Optional[Mapping[str, str]] = None,
                    timeout: float = 300.0) -> subprocess.CompletedProcess:
        """Run a command in the toolbox (the lab network, the namespace's DNS search path).
        `env` values reach it through podman's environment, never its command line."""
        return toolbox_exec(self.podman, self.toolbox, command, env or {}, timeout)

    def client_popen(self, command: Sequence[str], env: Optional[Mapping[str, str]] = None,
                     **popen: Any) -> subprocess.Popen:
        """Start a long-running command in the toolbox (e.g. a drill's writer, driven through its
        stdin); `popen` goes to subprocess.Popen (stdin=PIPE, stdout=PIPE, ...)."""
        env = dict(env or {})
        environ = {**os.environ, **env}
        env_args = [arg for name in sorted(env) for arg in ("--env", name)]
        return subprocess.Popen([self.podman.binary, "exec", "-i", *env_args, self.toolbox, *command],
                                env=environ, **popen)

    def pod_ip(self, name: str) -> str:
        return self.ctl.pod(name).ip

    def __getattr__(self, op: str):
        if op in OPERATIONS:
            return getattr(self.ctl, op)
        raise AttributeError(op)


# The controller operations a Lab (and lab.server's clients) expose.
OPERATIONS = ("delete_pod", "kill_pod", "kill_container", "recreate_pod", "cut_pod", "heal_pod",
              "restart_all", "rolling_restart", "status", "exec", "check_disruption")


def toolbox_exec(podman: Podman, toolbox: str, command: Sequence[str], env: Mapping[str, str],
                 timeout: float) -> subprocess.CompletedProcess:
    return podman.exec(toolbox, list(command), timeout=timeout, env_names=sorted(env), secret_env=dict(env))


def sweep(podman: Podman, name: str, directory: Optional[Path]) -> list[str]:
    """Remove every container, pod and network of lab `name`, and its directory."""
    removed = []
    for pod in podman.pods(name):
        podman.run("pod", "rm", "--force", "--time", "0", pod["Name"], check=False)
        removed.append(f"pod {pod['Name']}")
    for container in podman.containers(name):
        podman.run("rm", "--force", "--time", "0", container["Id"], check=False)
        removed.append(f"container {container['Names'][0]}")
    network = f"{name}-net"
    if podman.exists("network", network):
        podman.run("network", "rm", "--force", network, check=False)
        removed.append(f"network {network}")
    if directory:
        removed += cluster_dns.stop_strays(directory)
        if directory.exists():
            shutil.rmtree(directory)
            removed.append(f"directory {directory}")
    return removed


def leftovers(podman: Podman, name: str) -> list[str]:
    """What of lab `name` still exists in podman (empty after a clean `down`)."""
    found = [f"pod {p['Name']}" for p in podman.pods(name)]
    found += [f"container {c['Names'][0]}" for c in podman.containers(name)]
    if podman.exists("network", f"{name}-net"):
        found.append(f"network {name}-net")
    return found
