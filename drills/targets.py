"""What a drill acts on: the gateway (the lab stack, deployed by lab.stack.LabStack), or the bare
floor cluster (drills.floor), both on the same Kubernetes and reached through cluster.Cluster only.

Both offer the same few things: the pods' names and FQDNs, the sentinels' addresses inside the
cluster network, a client pod in the target's namespace where the writer and the invariant
check run, the pods' IPs (the host reaches pod IPs directly: drills.observe polls the sentinels
from here), the invariants, the faults, and the sentinels' logs.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import redis

from cluster import ClientSpec, Cluster, SecretEnv
from ops import GatewayOps
from smoke import Targets, from_stack_outputs
from stack_config import names

from .health import Timing, wait_settled, wait_until
from .observe import SentinelPanel, pod_of
from .writer_process import WriterProcess

REPO = Path(__file__).resolve().parents[1]
CONFIG_MAP = "redis-gateway-config"
SENTINEL_CONF = "sentinel.conf"
REDIS_PORT = names.REDIS_PORT
SENTINEL_PORT = names.SENTINEL_PORT
# The gateway's ACL user for people and tools, and its Secret key.
OPERATOR_USER = names.ACL_USER_OPERATOR
OPERATOR_SECRET_KEY = names.acl_secret_key(names.ACL_USER_OPERATOR)
CLUSTER_DOMAIN = "cluster.local"
CLIENT_NAME = "kubernaut-drills"
GO_WRITER_CLIENT = "kubernaut-go-writer"
GO_WRITER_PROGRAM = "gateway-workload"  # the binary scripts/build-cluster builds from go/workload
LAB_STACK = "lab"
INSTANCE_LABEL = "app.kubernetes.io/instance"
FINISHED_PHASES = ("Succeeded", "Failed")
# The host polls pod IPs (observe.SentinelPanel, twice a second while a fault plays); one listing
# of the pods serves all polls within this time, so the drill does not load the API server (and
# the two cores it shares) with a kubectl per poll. A recreated pod's new IP shows up this late.
POD_LIST_CACHE_SECONDS = 1.0


def sentinel_setting(conf: str, key: str) -> int:
    match = re.search(rf"^sentinel {re.escape(key)} \S+ (\d+)\s*$", conf, re.MULTILINE)
    if not match:
        raise ValueError(f"sentinel.conf has no `sentinel {key}` line")
    return int(match.group(1))


def timing_of(sentinel_conf: str) -> Timing:
    return Timing(sentinel_setting(sentinel_conf, "down-after-milliseconds"),
                  sentinel_setting(sentinel_conf, "failover-timeout"),
                  sentinel_setting(sentinel_conf, "parallel-syncs"))


def stack_timing(overrides: Sequence[str] = (), stack: str = LAB_STACK) -> Timing:
    """The Sentinel timing that `pulumi up -s <stack>` with these overrides deploys: the floor
    gets it without the gateway."""
    gateway = stack_gateway_config(overrides, stack)
    return Timing(gateway.down_after_milliseconds, gateway.failover_timeout_milliseconds, gateway.parallel_syncs)


def stack_gateway_config(overrides: Sequence[str] = (), stack: str = LAB_STACK):
    """The gateway's validated config that `pulumi up -s <stack>` with these overrides deploys."""
    return stack_config_of(overrides, stack).gateway


def stack_config_of(overrides: Sequence[str] = (), stack: str = LAB_STACK):
    """The validated config that `pulumi up -s <stack>` with these overrides deploys, from the
    stack file and the config models."""
    import yaml

    from stack_config import load_stack_config

    document = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text()) or {}
    prefix = f"{names.PROJECT}:"
    raw = {key.removeprefix(prefix): value for key, value in (document.get("config") or {}).items()
           if key.startswith(prefix)}
    for override in overrides:
        key, _, value = override.partition("=")
        node = raw
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = yaml.safe_load(value)
    return load_stack_config(raw, stack)


class Target:
    """One Sentinel StatefulSet on a cluster: `replicas` pods `<statefulset>-<i>`, each with a
    `redis` and a `sentinel` container, names from a headless Service."""

    def __init__(self, cluster: Cluster, *, namespace: str, statefulset: str, headless: str, master_set: str,
                 replicas: int, timing: Timing, targets: Targets, client: ClientSpec,
                 redis_password: Optional[str] = None, sentinel_password: Optional[str] = None,
                 operator_password: Optional[str] = None, cluster_domain: str = CLUSTER_DOMAIN) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.statefulset = statefulset
        self.headless = headless
        self.master_set = master_set
        self.replicas = replicas
        self.timing = timing
        self.cluster_domain = cluster_domain
        self.targets_json = targets.to_json()
        self.master_endpoint = targets.master_endpoint
        self.client = client
        self.redis_password = redis_password
        self.sentinel_password = sentinel_password
        # The ACL user operator's password, when the target has ACL users: the clients' user
        # may not run the CONFIG commands some drills need.
        self.operator_password = operator_password
        self.panel = SentinelPanel(self.pod_ips, SENTINEL_PORT, sentinel_password, master_set, self.pod_of)
        self._pods_lock = threading.Lock()
        self._pods_cache: tuple[float, dict[str, Any]] = (0.0, {})
        # The client pod of the go-redis writer and the writer's path in it, once started.
        self._go_writer: Optional[tuple[ClientSpec, str]] = None

    # ------------------------------------------------------------------ names

    def pod_names(self) -> list[str]:
        return [f"{self.statefulset}-{i}" for i in range(self.replicas)]

    def pod_of(self, host: str) -> str:
        """The pod a host that Sentinel or a replica names is: the stack and the floor announce
        pod FQDNs (`<pod>.<headless>...`)."""
        return pod_of(host)

    def fqdn(self, pod: str) -> str:
        return f"{pod}.{self.headless}.{self.namespace}.svc.{self.cluster_domain}"

    @property
    def sentinel_addresses(self) -> list[str]:
        return [f"{self.fqdn(pod)}:{SENTINEL_PORT}" for pod in self.pod_names()]

    # ------------------------------------------------------------------ pods

    def _pods(self, fresh: bool = False) -> dict[str, Any]:
        with self._pods_lock:
            read_at, pods = self._pods_cache
            if fresh or time.monotonic() - read_at > POD_LIST_CACHE_SECONDS:
                pods = {p.name: p for p in self.cluster.pods(self.namespace)}
                self._pods_cache = (time.monotonic(), pods)
            return pods

    def pod_ips(self) -> dict[str, str]:
        """IP of every pod of the StatefulSet that runs (not terminating, not waiting for a sandbox)."""
        pods = self._pods()
        return {name: pods[name].ip for name in self.pod_names()
                if name in pods and pods[name].phase == "Running" and pods[name].ip and not pods[name].terminating}

    def pod_ip(self, pod: str, fresh: bool = True) -> Optional[str]:
        found = self._pods(fresh).get(pod)
        return found.ip if found and not found.terminating else None

    def all_ready(self) -> bool:
        """Every pod of the StatefulSet is there and Ready, and so is every other pod of the same
        instance (the gateway's HAProxy: app.kubernetes.io/instance=redis-gateway) but a finished
        one (the topology Job's: Succeeded, or Failed when the Job retried; a Job that fails in
        the end fails `pulumi up`); other pods of the namespace (the drills' client, a smoke Job,
        other tools) do not count."""
        pods = self._pods(fresh=True)
        ours = [pods.get(name) for name in self.pod_names()]
        if any(p is None or not p.ready or p.terminating for p in ours):
            return False
        others = [p for p in pods.values() if p.name not in self.pod_names()
                  and p.labels.get(INSTANCE_LABEL) == self.statefulset and p.phase not in FINISHED_PHASES]
        return all(p.ready and not p.terminating for p in others)

    def pod_restarts(self) -> dict[str, dict[str, int]]:
        return {name: dict(pod.restarts) for name, pod in self._pods(fresh=True).items() if name in self.pod_names()}

    # ------------------------------------------------------------------ client pod, invariants, writer

    def start_client(self) -> None:
        self.cluster.start_client(self.client)

    def stop_client(self) -> None:
        self.cluster.stop_client(self.client)
        if self._go_writer is not None:
            self.cluster.stop_client(self._go_writer[0])
            self._go_writer = None

    def wait_healthy(self, timeout: float) -> float:
        """When the smoke invariants held and every pod was Ready (as kubectl shows it)."""
        started = time.monotonic()
        settled_at = wait_settled(self.cluster, self.client, self.targets_json, timeout)
        if self.all_ready():
            return settled_at
        left = max(1.0, timeout - (time.monotonic() - started))
        return wait_until(self.all_ready, left, f"{self.namespace}/{self.statefulset}: every pod Ready")

    def writer(self, prefix: str, rate: float, max_seconds: float, through_endpoint: bool = False) -> WriterProcess:
        """The writer through Sentinel discovery, or `through_endpoint`: through the master-only
        Service, as the Gateway writes."""
        endpoint = None
        if through_endpoint:
            if self.master_endpoint is None:
                raise RuntimeError(f"{self.namespace}/{self.statefulset} has no master-only endpoint")
            endpoint = f"{self.master_endpoint.host}:{self.master_endpoint.port}"
        return WriterProcess(self.cluster, self.client, self.sentinel_addresses, self.master_set, prefix, rate,
                             max_seconds, endpoint=endpoint)

    def failover_client_writer(self, prefix: str, rate: float, max_seconds: float, binary: str) -> WriterProcess:
        """The writer with go-redis v9's Sentinel client (`binary`: go/workload's gateway-workload,
        run as `failover-writer`), which subscribes to +switch-master, beside redis-py's, which asks
        the sentinels again only when a connection fails. It runs in a client pod of its own with
        the drills' client's labels and passwords and a scratch directory for the binary, started
        on first use and stopped with the drills' client."""
        if self._go_writer is None:
            spec = dataclasses.replace(self.client, name=GO_WRITER_CLIENT, packages=(), scratch=True)
            self.cluster.start_client(spec)
            self._go_writer = (spec, self.cluster.client_put(spec, binary, GO_WRITER_PROGRAM))
        spec, path = self._go_writer
        return WriterProcess(self.cluster, spec, self.sentinel_addresses, self.master_set, prefix, rate, max_seconds,
                             program=(path, "failover-writer"))

    def client_exec(self, command: Sequence[str], timeout: float = 300.0):
        return self.cluster.client_exec(self.client, command, timeout=timeout)

    def node_command(self, pod: str, *command: str, timeout: float = 5.0) -> Any:
        """One command to the pod's redis, from the host to its IP (the drills reach the pods
        directly, as the replication watch does), as the ACL user operator when the target has
        ACL users; a RedisError when it does not answer."""
        node = self.node_client(pod, timeout)
        try:
            return node.execute_command(*command)
        finally:
            node.close()

    def node_client(self, pod: str, timeout: float = 5.0) -> redis.Redis:
        """A connection to the pod's redis as node_command makes one, for a drill that needs
        several commands on one connection; the caller closes it."""
        ip = self.pod_ip(pod)
        if ip is None:
            raise redis.ConnectionError(f"{pod} has no IP now")
        user = {"username": OPERATOR_USER, "password": self.operator_password} if self.operator_password \
            else {"password": self.redis_password}
        return redis.Redis(ip, REDIS_PORT, socket_timeout=timeout, socket_connect_timeout=timeout,
                           decode_responses=True, **user)

    def roles(self) -> dict[str, str]:
        """The role each answering pod's redis reports now (a pod that does not answer is absent)."""
        found = {}
        for pod in self.pod_names():
            try:
                info = self.node_command(pod, "INFO", "replication", timeout=1.0)
            except (redis.RedisError, OSError):
                continue
            found[pod] = str(info.get("role")) if isinstance(info, dict) else "unknown"
        return found

    # ------------------------------------------------------------------ faults

    def kill_pod(self, pod: str) -> dict[str, Any]:
        """SIGKILL every process of the pod, sandbox included; the kubelet gives it a new sandbox
        (new IP) and restarts its containers at once."""
        return self.cluster.kill_pod(self.namespace, pod).as_dict()

    def kill_container(self, pod: str, container: str) -> dict[str, Any]:
        return self.cluster.kill_container(self.namespace, pod, container).as_dict()

    def delete_pod(self, pod: str) -> dict[str, Any]:
        return self.cluster.delete_pod(self.namespace, pod).as_dict()

    def cut_pod(self, pod: str, ports: Sequence[int] = (), addresses: Sequence[str] = ()) -> dict[str, Any]:
        return self.cluster.cut_pod(self.namespace, pod, ports, addresses).as_dict()

    def heal_pod(self, pod: str) -> dict[str, Any]:
        fault = self.cluster.heal_pod(self.namespace, pod).as_dict()
        fault["healed_at"] = fault["fault_at"]
        return fault

    def suspend_container(self, pod: str, container: str) -> dict[str, Any]:
        return self.cluster.suspend_container(self.namespace, pod, container).as_dict()

    def resume_container(self, pod: str, container: str) -> dict[str, Any]:
        return self.cluster.resume_container(self.namespace, pod, container).as_dict()

    def data_claim(self, pod: str) -> Optional[dict[str, Any]]:
        """The pod's data PVC (the StatefulSet's claim template `data`): uid, volume, phase."""
        claim = self.cluster.volume_claim(self.namespace, f"{names.DATA_VOLUME_CLAIM}-{pod}")
        return dataclasses.asdict(claim) if claim else None

    def delete_data_claim(self, pod: str) -> dict[str, Any]:
        fault = self.cluster.delete_volume_claim(self.namespace, f"{names.DATA_VOLUME_CLAIM}-{pod}").as_dict()
        return {**fault, "claim": fault["pod"], "pod": pod}

    def scale(self, replicas: int) -> dict[str, Any]:
        """The StatefulSet scaled to `replicas` (highest ordinals removed first, or added back)."""
        return self.cluster.scale(self.namespace, "StatefulSet", self.statefulset, replicas).as_dict()

    def switchover(self, master: str, to: Optional[str]) -> str:
        """The operators' fenced switchover (python -m ops switchover); the new master's pod."""
        return GatewayOps(self.cluster, self.namespace, self.statefulset, self.headless).switchover(to, master=master)

    def exec(self, pod: str, container: str, *command: str):
        return self.cluster.exec(self.namespace, pod, container, command)

    def restart_all(self) -> dict[str, Any]:
        return self.cluster.restart_workload(self.namespace, "StatefulSet", self.statefulset).as_dict()

    def wait_new_ip(self, pod: str, old_ip: Optional[str], timeout: float) -> dict[str, Any]:
        """When the pod (same name) runs with an IP other than `old_ip`; {} if not within `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self._pods(fresh=True).get(pod)
            if found and found.ip and found.ip != old_ip and not found.terminating:
                return {"new_ip": found.ip, "new_ip_at": time.time(), "uid": found.uid}
            time.sleep(0.25)
        return {}

    def wait_gone(self, pod: str, uid: str, timeout: float) -> Optional[float]:
        """When the pod object with `uid` is gone (a deleted pod's termination ended)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.cluster.pod(self.namespace, pod)
            if found is None or found.uid != uid:
                return time.time()
            time.sleep(0.25)
        return None

    def replace_restarted_pods(self, timeout: float) -> list[str]:
        """Replace (graceful delete, the StatefulSet recreates it) every pod with a container that
        restarted, one at a time, each until the invariants hold again; the pods replaced.

        The kubelet keeps a restart back-off per container of a pod (10 s, doubling to 5 min,
        forgotten after 10 min of running), and a kill keeps the pod: without this, the kills
        of earlier trials would hold a later trial's containers down for minutes (a sentinel
        in back-off is a missing vote) and the trials would not be alike. A new pod starts
        without back-off."""
        replaced = []
        for pod in self.pod_names():
            found = self._pods(fresh=True).get(pod)
            if found is None or not any(found.restarts.values()):
                continue
            fault = self.delete_pod(pod)
            if self.wait_gone(pod, fault["uid"], timeout) is None:
                raise TimeoutError(f"{self.namespace}/{pod} was not replaced within {timeout:.0f} s")
            self.wait_healthy(timeout)
            replaced.append(pod)
        return replaced

    def events(self, pod: str, since: float) -> list[dict[str, Any]]:
        return [dataclasses.asdict(e) for e in self.cluster.events(self.namespace, since=since, name=pod)]

    # ------------------------------------------------------------------ logs

    def _container_log_lines(self, pod: str, container: str, since: float) -> list[str]:
        """The container's log lines since `since`: the instance before the last restart (a kill
        restarts it) and the current one. While a container waits out its restart back-off, both
        are the last instance's log: a line seen twice is taken once (Sentinel's lines carry
        milliseconds, so two of its lines never look alike)."""
        previous = self.cluster.logs(self.namespace, pod, container, since=since, previous=True)
        current = self.cluster.logs(self.namespace, pod, container, since=since)
        return list(dict.fromkeys(previous.splitlines() + current.splitlines()))

    def sentinel_log(self, pod: str, since: float) -> str:
        """The pod's sentinel log since `since`, both instances (_container_log_lines)."""
        return "".join(f"{line}\n" for line in self._container_log_lines(pod, "sentinel", since))

    def start_script_lines(self, pod: str, since: float) -> list[str]:
        """What the pod's redis-start.sh logged since `since` (whom it followed, its claim, its
        fence), both instances; nothing for a pod without that script (the floor)."""
        return [line for line in self._container_log_lines(pod, "redis", since) if " redis-start: " in line]


class GatewayTarget(Target):
    """The gateway of the lab stack, from `pulumi stack output --json` of the stack."""

    # `pulumi up` of the lab stack with extra overrides (the drill's own come first), returning
    # its outputs; set by the runner that deployed it (drills.runner.gateway_target).
    deployer: Optional[Callable[[Sequence[str]], Mapping[str, Any]]] = None

    def redeploy(self, overrides: Sequence[str]) -> dict[str, Any]:
        """`pulumi up` of a config change (`gateway.replicas=5`, an image) while the drill runs,
        the target following what it deployed (its pods, endpoint and timing); [] deploys the
        drill's own config again."""
        if self.deployer is None:
            raise RuntimeError("this target was not deployed by the drill: it cannot change its config")
        started = time.time()
        outputs = self.deployer(list(overrides))
        fresh = GatewayTarget.from_outputs(self.cluster, outputs)
        self.replicas, self.timing = fresh.replicas, fresh.timing
        self.targets_json, self.master_endpoint = fresh.targets_json, fresh.master_endpoint
        return {"overrides": list(overrides), "started_at": started, "done_at": time.time()}

    @classmethod
    def from_outputs(cls, cluster: Cluster, outputs: Mapping[str, Any]) -> "GatewayTarget":
        namespace = outputs["namespace"]
        gateway = outputs["gateway"]
        secret = gateway.get("secretName")
        redis_password = cluster.secret_value(namespace, secret, "redis-password") if secret else None
        sentinel_password = cluster.secret_value(namespace, secret, "sentinel-password") if secret else None
        operator_password = cluster.secret_value(namespace, secret, OPERATOR_SECRET_KEY) if secret else None
        conf = cluster.config_map_value(namespace, CONFIG_MAP, SENTINEL_CONF)
        if conf is None:
            raise RuntimeError(f"no ConfigMap {namespace}/{CONFIG_MAP} with {SENTINEL_CONF}: is the stack deployed?")
        targets = dataclasses.replace(from_stack_outputs(outputs), cache_endpoint=None,
                                      redis_auth=redis_password is not None,
                                      sentinel_auth=sentinel_password is not None)
        secret_env = tuple(SecretEnv(variable, secret, key) for variable, key, value in (
            ("REDIS_PASSWORD", "redis-password", redis_password),
            ("SENTINEL_PASSWORD", "sentinel-password", sentinel_password)) if value is not None)
        domain = targets.sentinels[0].host.split(".svc.", 1)[1]
        return cls(cluster, namespace=namespace, statefulset=gateway["statefulSet"],
                   headless=gateway["headlessService"],
                   master_set=gateway["masterSet"], replicas=targets.replicas, timing=timing_of(conf),
                   targets=targets, client=ClientSpec(namespace=namespace, name=CLIENT_NAME, secret_env=secret_env,
                                                     labels=tuple(names.CLIENT_ACCESS_LABELS.items())),
                   redis_password=redis_password, sentinel_password=sentinel_password,
                   operator_password=operator_password, cluster_domain=domain)
