"""ClusterIP Services: one small TCP proxy per Service, in place of kube-proxy.

The Service's DNS name resolves to the proxy container (lab.dns; its IP plays the
ClusterIP) and forwards each port to the Service's endpoints: the selected pods that are Ready
and not terminating (all running ones with publishNotReadyAddresses). When the endpoints change,
the lab rewrites the proxy's configuration and reloads it (HAProxy master-worker, SIGUSR2):
established connections stay where they are, as with kube-proxy's conntrack entries, and new
connections go to the new endpoints only. A Service without endpoints closes new connections.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from .events import EventLog
from .manifests import Manifests, Obj, is_headless, selects
from .podman import LAB_LABEL, ROLE_LABEL, Podman
from .runtime import PodRuntime

CONFIG_DIR_IN_CONTAINER = "/etc/lab-service-proxy"
PROXY_USER = "999:999"


@dataclass(frozen=True)
class Endpoint:
    pod: str
    ip: str
    ports: tuple[tuple[str, int], ...]  # (service port name or number, target port)


class ServiceProxy:
    def __init__(self, podman: Podman, service: Obj, lab: str, network: str, cluster_domain: str,
                 image: str, config_dir: Path, events: EventLog) -> None:
        self.podman = podman
        self.service = service
        self.container = f"{lab}-svc-{service.name}"
        self.lab = lab
        self.network = network
        self.fqdn = f"{service.name}.{service.namespace}.svc.{cluster_domain}"
        self.image = image
        self.config_dir = config_dir
        self.events = events
        self.endpoints: tuple[Endpoint, ...] = ()

    @property
    def ports(self) -> list[dict]:
        return self.service.spec.get("ports") or []

    def start(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.config_dir, 0o755)
        self._write_config(())
        self.podman.run(
            "run", "-d", "--name", self.container, "--network", self.network,
            "--label", f"{LAB_LABEL}={self.lab}",
            "--label", f"{ROLE_LABEL}=service-proxy", "--pull", "never", "--user", PROXY_USER,
            "--cap-drop", "all", "--security-opt", "no-new-privileges",
            "--volume", f"{self.config_dir}:{CONFIG_DIR_IN_CONTAINER}:ro",
            self.image, "haproxy", "-W", "-db", "-f", f"{CONFIG_DIR_IN_CONTAINER}/haproxy.cfg")

    def ip(self) -> str:
        return self.podman.ip(self.container, self.network)

    def update(self, endpoints: Iterable[Endpoint]) -> bool:
        endpoints = tuple(sorted(endpoints, key=lambda e: e.pod))
        if endpoints == self.endpoints:
            return False
        self._write_config(endpoints)
        self.podman.run("kill", "--signal", "USR2", self.container, check=False)
        self.endpoints = endpoints
        self.events.add("service-endpoints", self.service.name, endpoints=[f"{e.pod}={e.ip}" for e in endpoints])
        return True

    def _write_config(self, endpoints: tuple[Endpoint, ...]) -> None:
        path = self.config_dir / "haproxy.cfg"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(render_config(self.ports, endpoints))
        os.chmod(tmp, 0o644)
        tmp.replace(path)


def render_config(ports: list[dict], endpoints: tuple[Endpoint, ...]) -> str:
    lines = [
        "global",
        "    maxconn 4096",
        "defaults",
        "    mode tcp",
        "    timeout connect 3s",
        # Redis clients hold connections open for hours; kube-proxy never times them out either.
        "    timeout client 24h",
        "    timeout server 24h",
    ]
    for port in ports:
        key = str(port.get("name") or port["port"])
        lines += [f"frontend port-{key}", f"    bind :{port['port']}", f"    default_backend port-{key}",
                  f"backend port-{key}", "    balance roundrobin"]
        for endpoint in endpoints:
            target = dict(endpoint.ports).get(key)
            if target:
                lines.append(f"    server {endpoint.pod} {endpoint.ip}:{target}")
    return "\n".join(lines) + "\n"


def endpoints_for(service: Obj, pods: Iterable[PodRuntime]) -> list[Endpoint]:
    """The pods a Service routes to now, with each service port resolved to the pod's port."""
    publish_not_ready = bool(service.spec.get("publishNotReadyAddresses"))
    found = []
    for pod in pods:
        if pod.plan.namespace != service.namespace or not selects(service.spec.get("selector"), pod.plan.labels):
            continue
        if pod.phase != "Running" or not pod.ip or not (pod.ready or publish_not_ready):
            continue
        named = {name: number for c in pod.plan.containers for name, number in c.ports.items()}
        ports = []
        for port in service.spec.get("ports") or []:
            target = port.get("targetPort", port["port"])
            number = named.get(target) if isinstance(target, str) else int(target)
            if number:
                ports.append((str(port.get("name") or port["port"]), number))
        found.append(Endpoint(pod.name, pod.ip, tuple(ports)))
    return found


def cluster_ip_services(manifests: Manifests) -> list[Obj]:
    return [s for s in manifests.of_kind("Service") if not is_headless(s)]
