"""A gateway of "pods" in podman, built by hand the way the StatefulSet builds them.

Per ordinal: a podman pod `krt-redis-gateway-<i>` (hostname `redis-gateway-<i>`, network alias =
the pod FQDN, short resolver timeouts) with two containers, `redis` and `sentinel`, running the
shipped start scripts with the documented env (REDISCLI_AUTH included: the redis container's is
the Redis password, the sentinel container's the Sentinel password; with auth, the ACL users'
passwords as the StatefulSet gives them: all to `redis`, the `sentinel` user's to `sentinel`) and mounts: scripts (0555) and the rendered
templates read-only, a per-ordinal host directory as /data that outlives the pod, tmpfs /tmp,
uid 999, read-only root. Plus one HAProxy container with the rendered haproxy.cfg.

Everything this module creates is named `krt-...` and lives on the network `krt-net`; leftovers
of those names are removed before a cluster starts. Test code talks to the containers by their
bridge IPs from the host (pod names resolve only inside the network), or runs a client
container on the network.
"""

from __future__ import annotations

import datetime

import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, TypeVar

import redis

import redis_files
from labcluster.layout import CLIENT_IMAGE as LAB_CLIENT_IMAGE
from labcluster.layout import LAB_ENGINE_IMAGES, LabEngineImage
from stack_config import StackConfig, engine_binaries, gateway_pod_fqdn, internal_passwords, names, sentinel_id

# KUBERNAUT_POD_RUNTIME_PREFIX lets two checkouts run these tests side by side on one podman.
PREFIX = os.environ.get("KUBERNAUT_POD_RUNTIME_PREFIX", "krt") + "-"
NETWORK = f"{PREFIX}net"
# The writer's image; the pods' comes from the engine (GatewayPods.engine).
CLIENT_IMAGE = LAB_CLIENT_IMAGE
HAPROXY_CONTAINER = f"{PREFIX}haproxy"
# In a pod's own network namespace (GatewayPods.silence_pod).
SILENCE_TABLE = "kubernaut_silence"
UID = names.REDIS_UID
PODMAN_TIMEOUT_SECONDS = 120

T = TypeVar("T")


class PodmanError(RuntimeError):
    pass


def podman(*args: str, check: bool = True, env: Optional[dict[str, str]] = None,
           timeout: float = PODMAN_TIMEOUT_SECONDS) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout,
                            env={**os.environ, **(env or {})})
    if check and result.returncode != 0:
        raise PodmanError(f"podman {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result


def wait_for(what: str, probe: Callable[[], Optional[T]], timeout: float, interval: float = 0.2) -> T:
    """Polls `probe` until it returns something other than None or False (0 is an answer: pod 0);
    AssertionError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    last_error: Optional[BaseException] = None
    while time.monotonic() < deadline:
        try:
            value = probe()
            if value is not None and value is not False:
                return value
        except (redis.RedisError, OSError, PodmanError) as err:
            last_error = err
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                         + (f" (last error: {last_error})" if last_error else ""))


def remove_leftovers() -> None:
    """Removes every pod, container and the network of this module's prefix (a crashed run's)."""
    pods = podman("pod", "ls", "--format", "{{.Name}}", "--filter", f"name=^{PREFIX}").stdout.split()
    for pod in pods:
        podman("pod", "rm", "-f", "-t", "0", pod, check=False)
    containers = podman("ps", "-a", "--format", "{{.Names}}", "--filter", f"name=^{PREFIX}").stdout.split()
    for container in containers:
        podman("rm", "-f", "-t", "0", container, check=False)
    if podman("network", "exists", NETWORK, check=False).returncode == 0:
        podman("network", "rm", "-f", NETWORK, check=False)


@dataclass
class GatewayPods:
    cfg: StackConfig
    workdir: Path
    redis_password: Optional[str]
    sentinel_password: Optional[str]
    # gatewayOperatorPassword; the internal ACL users' passwords derive from it (stack_config.acl).
    operator_password: Optional[str] = None
    replicas: int = 0
    # The image of every container (server, Sentinel and haproxy alike, as in the lab stack) and
    # the engine whose binaries the scripts run.
    engine: LabEngineImage = LAB_ENGINE_IMAGES[0]
    started_pods: set[int] = field(default_factory=set)
    # Pods run as before ACL users (an upgrade's starting point): their templates lack users.acl
    # and their containers the ACL passwords, as the previous release's StatefulSet gave them.
    legacy_pods: set[int] = field(default_factory=set)
    # The logs of removed containers, oldest first: a failure after a pod was recreated is often
    # explained by what its previous containers logged.
    removed_logs: dict[tuple[int, str], list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.replicas = self.replicas or self.cfg.gateway.replicas
        self.scripts_dir = self.workdir / "scripts"
        self.conf_dir = self.workdir / "conf"
        self.haproxy_dir = self.workdir / "haproxy"
        self.legacy_conf_dir = self.workdir / "conf-legacy"
        self.topology_dir = self.workdir / "topology"
        self.acl = self.cfg.gateway.auth.enabled
        self.acl_passwords = (internal_passwords(self.redis_password, self.operator_password)
                              if self.acl and self.redis_password else {})

    # ------------------------------------------------------------------ names

    @staticmethod
    def pod_name(ordinal: int) -> str:
        return f"{PREFIX}{names.GATEWAY}-{ordinal}"

    def container(self, ordinal: int, role: str) -> str:
        return f"{self.pod_name(ordinal)}-{role}"

    def fqdn(self, ordinal: int) -> str:
        # gateway_pod_fqdn checks the ordinal against cfg.gateway.replicas; a scaled set may be larger.
        return gateway_pod_fqdn(self.cfg.model_copy(update={"gateway": self.cfg.gateway.model_copy(
            update={"replicas": max(self.replicas, ordinal + 1)})}), ordinal)

    def ordinal_of(self, fqdn: str) -> int:
        return int(fqdn.split(".", 1)[0].rsplit("-", 1)[1])

    def data_dir(self, ordinal: int) -> Path:
        return self.workdir / f"data-{ordinal}"

    # ------------------------------------------------------------------ files

    def write_files(self, cfg: Optional[StackConfig] = None) -> None:
        cfg = cfg or self.cfg
        for directory in (self.scripts_dir, self.conf_dir, self.haproxy_dir, self.legacy_conf_dir):
            if directory.exists():
                directory.chmod(0o755)
                shutil.rmtree(directory)
            directory.mkdir(parents=True)
        for name, text in redis_files.gateway_scripts().items():
            path = self.scripts_dir / name
            path.write_text(text)
            path.chmod(0o555)
        (self.conf_dir / names.REDIS_CONF).write_text(redis_files.gateway_redis_conf(cfg))
        (self.conf_dir / names.SENTINEL_CONF).write_text(redis_files.gateway_sentinel_conf(cfg))
        if cfg.gateway.auth.enabled:
            (self.conf_dir / names.USERS_ACL).write_text(redis_files.gateway_users_acl(cfg))
        (self.haproxy_dir / names.HAPROXY_CFG).write_text(redis_files.haproxy_cfg(cfg))
        for name in (names.REDIS_CONF, names.SENTINEL_CONF):
            (self.legacy_conf_dir / name).write_text((self.conf_dir / name).read_text())
        for directory in (self.scripts_dir, self.conf_dir, self.haproxy_dir, self.legacy_conf_dir):
            directory.chmod(0o555)
            for path in directory.iterdir():
                path.chmod(0o555 if directory == self.scripts_dir else 0o444)
        self.set_topology(self.replicas)

    def set_topology(self, replicas: int) -> None:
        """The topology ConfigMap as `pulumi up` of gateway.replicas = <replicas> makes it: what the
        containers started from now on get in their environment (pod_env), and the mounted files,
        refreshed under the running containers."""
        self.replicas = replicas
        self.write_topology_files(replicas)

    def topology(self, replicas: int) -> dict[str, str]:
        scaled = self.cfg.model_copy(update={"gateway": self.cfg.gateway.model_copy(update={"replicas": replicas})})
        return redis_files.gateway_topology(scaled)

    def write_topology_files(self, replicas: int) -> None:
        """Only the mounted files, as they are for gateway.replicas = <replicas>: each file renamed
        over, as atomically as the kubelet's swap of a ConfigMap volume. Alone, it stands for
        files the kubelet has not refreshed yet after a change of the ConfigMap."""
        self.topology_dir.mkdir(parents=True, exist_ok=True)
        self.topology_dir.chmod(0o755)
        for name, text in self.topology(replicas).items():
            staged = self.topology_dir / f".{name}.new"
            staged.write_text(text)
            staged.chmod(0o444)
            staged.replace(self.topology_dir / name)
        self.topology_dir.chmod(0o555)

    def wipe_data(self, ordinal: int) -> None:
        path = self.data_dir(ordinal)
        if path.exists():
            shutil.rmtree(path)

    def ensure_data_dir(self, ordinal: int) -> None:
        path = self.data_dir(ordinal)
        path.mkdir(exist_ok=True)
        os.chown(path, UID, UID)
        path.chmod(0o700)

    # ------------------------------------------------------------------ lifecycle

    def secret_env(self) -> dict[str, str]:
        """The clients' view: the clients' (default user's) and Sentinel's passwords."""
        env = {}
        if self.redis_password:
            env["REDIS_PASSWORD"] = self.redis_password
        if self.sentinel_password:
            env["SENTINEL_PASSWORD"] = self.sentinel_password
        return env

    def acl_env(self, *users: str) -> dict[str, str]:
        return {names.acl_password_env(user): self.acl_passwords[user] for user in users if user in self.acl_passwords}

    def container_secret_env(self, role: str, ordinal: int = -1) -> dict[str, str]:
        """The Secret's variables as the StatefulSet gives them to `role`'s container, with
        REDISCLI_AUTH: the password of the server in that container, when it has one."""
        env = self.secret_env()
        if ordinal in self.legacy_pods:
            pass
        elif role == "redis":
            env.update(self.acl_env(*names.ACL_INTERNAL_USERS))
        elif self.acl:
            env.pop("REDIS_PASSWORD", None)
            env.update(self.acl_env(names.ACL_USER_SENTINEL))
        cli_password = self.redis_password if role == "redis" else self.sentinel_password
        if cli_password:
            env["REDISCLI_AUTH"] = cli_password
        return env

    def pod_env(self, ordinal: int) -> dict[str, str]:
        gateway = self.cfg.gateway
        return {
            "POD_NAME": f"{names.GATEWAY}-{ordinal}",
            "POD_NAMESPACE": self.cfg.platform.namespace,
            "STATEFULSET_NAME": names.GATEWAY,
            "HEADLESS_SERVICE": names.GATEWAY_HEADLESS_SERVICE,
            "CLUSTER_DOMAIN": self.cfg.platform.cluster_domain,
            "MASTER_SET": names.MASTER_SET,
            "REDIS_PORT": str(names.REDIS_PORT),
            "SENTINEL_PORT": str(names.SENTINEL_PORT),
            "DNS_WAIT_SECONDS": str(gateway.dns_wait_seconds),
            "BOOT_PEER_WAIT_SECONDS": str(gateway.boot_peer_wait_seconds),
            # The topology ConfigMap's keys, as the kubelet resolves them at a container's start.
            **{names.topology_env(key): value for key, value in self.topology(self.replicas).items()},
            **engine_binaries(self.engine.engine).env(),
        }

    def haproxy_secret_env(self) -> dict[str, str]:
        """HAProxy's: the clients' password for the Redis checks, Sentinel's for its own."""
        return self.secret_env()

    def _env_args(self, literal: dict[str, str], secret: Optional[dict[str, str]] = None) -> list[str]:
        args = []
        for key, value in literal.items():
            args += ["-e", f"{key}={value}"]
        # `-e NAME` copies the value from podman's own environment: no password in any argv.
        for key in self.secret_env() if secret is None else secret:
            args += ["-e", key]
        return args

    def start_network(self) -> None:
        podman("network", "create", NETWORK)

    def create_pod(self, ordinal: int) -> None:
        """Creates and starts pod <ordinal> (both containers); its /data survives earlier pods."""
        self.ensure_data_dir(ordinal)
        pod = self.pod_name(ordinal)
        podman("pod", "rm", "-f", "-t", "0", pod, check=False)
        podman("pod", "create", "--name", pod, "--hostname", f"{names.GATEWAY}-{ordinal}",
               "--network", NETWORK, "--network-alias", self.fqdn(ordinal),
               "--dns-option", "timeout:1", "--dns-option", "attempts:5")
        for role, script in (("redis", names.REDIS_START_SCRIPT), ("sentinel", names.SENTINEL_START_SCRIPT)):
            self.run_container(ordinal, role, script)
        self.started_pods.add(ordinal)

    def run_container(self, ordinal: int, role: str, script: str) -> None:
        secret = self.container_secret_env(role, ordinal)
        conf_dir = self.legacy_conf_dir if ordinal in self.legacy_pods else self.conf_dir
        podman("run", "-d", "--pod", self.pod_name(ordinal), "--name", self.container(ordinal, role),
               "--user", f"{UID}:{UID}", "--read-only", "--tmpfs", "/tmp",
               "-v", f"{self.scripts_dir}:{names.SCRIPTS_DIR}:ro",
               "-v", f"{conf_dir}:{names.CONF_DIR}:ro",
               "-v", f"{self.topology_dir}:{names.TOPOLOGY_DIR}:ro",
               "-v", f"{self.data_dir(ordinal)}:{names.DATA_DIR}",
               *self._env_args(self.pod_env(ordinal), secret),
               self.engine.image, "sh", f"{names.SCRIPTS_DIR}/{script}", env=secret)

    def remove_pod(self, ordinal: int, stop_timeout: int = 0) -> None:
        """Stops and removes the pod; its containers' logs so far are kept for `removed_logs`.
        One `pod rm -t`: with a separate `pod stop` first, the master went on listing a removed
        replica (lag growing, its link never closed), and the scale and rotation tests failed."""
        for role in ("redis", "sentinel"):
            kept = podman("logs", self.container(ordinal, role), check=False)
            if kept.returncode == 0:
                self.removed_logs.setdefault((ordinal, role), []).append(kept.stdout + kept.stderr)
        podman("pod", "rm", "-f", "-t", str(stop_timeout), self.pod_name(ordinal), check=False)
        self.started_pods.discard(ordinal)

    def kill_pod(self, ordinal: int) -> None:
        """SIGKILL to every container of the pod, then removal: a node lost without warning."""
        podman("pod", "kill", "-s", "KILL", self.pod_name(ordinal), check=False)
        self.remove_pod(ordinal)

    def silence_pod(self, ordinal: int) -> None:
        """Drops every packet that reaches pod <ordinal>'s redis or sentinel port from another
        address: the pod runs, its name resolves, and it answers nobody (a slow or partitioned
        peer). Its processes keep running, so its sentinel does not enter TILT as a paused one
        would."""
        pid = podman("inspect", "-f", "{{.State.Pid}}", self.container(ordinal, "redis")).stdout.strip()
        rules = (f"table inet {SILENCE_TABLE} {{\n chain input {{\n  type filter hook input priority 0;\n"
                 f"  ip saddr != 127.0.0.1 tcp dport {{ {names.REDIS_PORT}, {names.SENTINEL_PORT} }} drop\n }}\n}}\n")
        subprocess.run(["nsenter", "-t", pid, "-n", "nft", "-f", "-"], input=rules, text=True, check=True,
                       capture_output=True)

    def unsilence_pod(self, ordinal: int) -> None:
        pid = podman("inspect", "-f", "{{.State.Pid}}", self.container(ordinal, "redis")).stdout.strip()
        subprocess.run(["nsenter", "-t", pid, "-n", "nft", "delete", "table", "inet", SILENCE_TABLE],
                       capture_output=True)

    def start_haproxy(self) -> None:
        podman("rm", "-f", "-t", "0", HAPROXY_CONTAINER, check=False)
        podman("run", "-d", "--name", HAPROXY_CONTAINER, "--network", NETWORK,
               "--dns-option", "timeout:1", "--dns-option", "attempts:5",
               "--user", f"{UID}:{UID}", "--read-only", "--tmpfs", "/tmp",
               "-v", f"{self.haproxy_dir}:{names.HAPROXY_CONF_DIR}:ro",
               *self._env_args({}, self.haproxy_secret_env()),
               self.engine.image, "haproxy", "-W", "-db", "-f", f"{names.HAPROXY_CONF_DIR}/{names.HAPROXY_CFG}",
               env=self.haproxy_secret_env())

    def start(self) -> None:
        remove_leftovers()
        self.write_files()
        self.start_network()
        for ordinal in range(self.replicas):
            self.create_pod(ordinal)
        self.start_haproxy()

    def teardown(self) -> None:
        remove_leftovers()

    def __enter__(self) -> "GatewayPods":
        try:
            self.start()
        except BaseException:
            self.teardown()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.teardown()

    # ------------------------------------------------------------------ exec and addresses

    def exec(self, ordinal: int, role: str, *command: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return podman("exec", self.container(ordinal, role), *command, check=False, timeout=timeout)

    def run_script(self, ordinal: int, role: str, script: str, timeout: float = 90) -> subprocess.CompletedProcess:
        return self.exec(ordinal, role, "sh", f"{names.SCRIPTS_DIR}/{script}", timeout=timeout)

    def ip(self, ordinal: int) -> str:
        infra = podman("pod", "inspect", self.pod_name(ordinal), "--format", "{{.InfraContainerID}}").stdout.strip()
        return self._container_ip(infra)

    @staticmethod
    def _container_ip(container: str) -> str:
        networks = json.loads(podman("inspect", container, "--format", "{{json .NetworkSettings.Networks}}").stdout)
        return networks[NETWORK]["IPAddress"]

    def haproxy_ip(self) -> str:
        return self._container_ip(HAPROXY_CONTAINER)

    def redis(self, ordinal: int, *, authenticated: bool = True, timeout: float = 2.0) -> redis.Redis:
        """A client of pod <ordinal>'s redis as an operator: the ACL user `operator` (every command)
        with ACL users, the password alone without them."""
        if authenticated and self.acl_passwords and ordinal not in self.legacy_pods:
            return self.as_user(ordinal, names.ACL_USER_OPERATOR, timeout=timeout)
        return redis.Redis(host=self.ip(ordinal), port=names.REDIS_PORT,
                           password=self.redis_password if authenticated else None,
                           socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True)

    def as_user(self, ordinal: int, user: str, *, timeout: float = 2.0) -> redis.Redis:
        """A client of pod <ordinal>'s redis authenticated as ACL user <user> (`default`: the
        clients' password alone, as the Gateway sends it)."""
        if user == names.ACL_USER_CLIENTS:
            username, password = None, self.redis_password
        else:
            username, password = user, self.acl_passwords[user]
        return redis.Redis(host=self.ip(ordinal), port=names.REDIS_PORT, username=username, password=password,
                           socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True)

    def sentinel(self, ordinal: int, *, authenticated: bool = True, timeout: float = 2.0) -> redis.Redis:
        return redis.Redis(host=self.ip(ordinal), port=names.SENTINEL_PORT,
                           password=self.sentinel_password if authenticated else None,
                           socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True)

    def through_haproxy(self, port: int = names.REDIS_PORT, password: Optional[str] = None,
                        timeout: float = 2.0) -> redis.Redis:
        return redis.Redis(host=self.haproxy_ip(), port=port, password=password,
                           socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True)

    def logs(self, ordinal: int, role: str, since: Optional[float] = None) -> str:
        """The container's output, stdout then stderr (podman keeps them apart: an offset into this
        text does not mark a moment, `since`, a wall-clock time, does)."""
        since_args = [] if since is None else [
            "--since", datetime.datetime.fromtimestamp(since, datetime.timezone.utc).isoformat()]
        result = podman("logs", *since_args, self.container(ordinal, role), check=False)
        return result.stdout + result.stderr

    # ------------------------------------------------------------------ cluster state

    def roles(self) -> dict[int, str]:
        """role of every running pod's redis ("?" when it does not answer)."""
        roles = {}
        for ordinal in sorted(self.started_pods):
            try:
                with self.redis(ordinal) as client:
                    roles[ordinal] = client.info("replication")["role"]
            except (redis.RedisError, OSError, PodmanError):
                roles[ordinal] = "?"
        return roles

    def links(self) -> dict[int, Optional[int]]:
        """Whom each answering pod replicates from (its master's ordinal), None for a master."""
        links: dict[int, Optional[int]] = {}
        for ordinal in sorted(self.started_pods):
            try:
                with self.redis(ordinal, timeout=1.0) as client:
                    info = client.info("replication")
            except (redis.RedisError, OSError, PodmanError):
                continue
            links[ordinal] = None if info["role"] == "master" else self.ordinal_of(info["master_host"])
        return links

    @staticmethod
    def chains(links: dict[int, Optional[int]]) -> list[str]:
        """Replicas that follow a node that answers as a replica itself (a chain, or a cycle)."""
        return [f"{ordinal} -> {master} -> {links[master]}" for ordinal, master in links.items()
                if master is not None and links.get(master) is not None]

    def sentinel_master(self, ordinal: int) -> Optional[str]:
        with self.sentinel(ordinal) as client:
            reply = client.execute_command("SENTINEL", "get-master-addr-by-name", names.MASTER_SET)
        return reply[0] if reply else None

    def expected_sentinel_id(self, ordinal: int) -> str:
        return sentinel_id(ordinal)

    def invariant_problems(self) -> list[str]:
        """Every broken invariant of docs/ sentinel notes, as text; empty when all hold."""
        problems: list[str] = []
        members = sorted(self.started_pods)
        peers = len(members) - 1
        roles = self.roles()
        masters = [o for o, role in roles.items() if role == "master"]
        if len(masters) != 1:
            return [f"expected exactly one master, roles: {roles}"]
        master_fqdn = self.fqdn(masters[0])
        for ordinal in members:
            problems += self._sentinel_problems(ordinal, master_fqdn, peers)
            if ordinal != masters[0]:
                problems += self._replica_problems(ordinal, master_fqdn)
        return problems

    def _sentinel_problems(self, ordinal: int, master_fqdn: str, peers: int) -> list[str]:
        try:
            with self.sentinel(ordinal) as client:
                named = client.execute_command("SENTINEL", "get-master-addr-by-name", names.MASTER_SET)
                state = reply_pairs(client.execute_command("SENTINEL", "MASTER", names.MASTER_SET))
                ckquorum = client.execute_command("SENTINEL", "CKQUORUM", names.MASTER_SET)
                tilt = client.info("sentinel").get("sentinel_tilt")
        except redis.RedisError as err:
            return [f"sentinel {ordinal}: {err}"]
        problems = []
        if not named or named[0] != master_fqdn:
            problems.append(f"sentinel {ordinal} names {named}, not {master_fqdn}")
        # get-master-addr-by-name already names a promoted replica while the failover still
        # runs; settled means the configuration itself has switched and nothing is pending.
        if state["ip"] != master_fqdn or set(state["flags"].split(",")) != {"master"}:
            problems.append(f"sentinel {ordinal} not settled: ip {state['ip']}, flags {state['flags']}")
        if int(state["num-other-sentinels"]) != peers:
            problems.append(f"sentinel {ordinal}: num-other-sentinels {state['num-other-sentinels']} != {peers}")
        if int(state["num-slaves"]) != peers:
            problems.append(f"sentinel {ordinal}: num-slaves {state['num-slaves']} != {peers}")
        if not str(ckquorum).startswith("OK"):
            problems.append(f"sentinel {ordinal}: CKQUORUM {ckquorum}")
        if tilt not in (0, "0"):
            problems.append(f"sentinel {ordinal} in TILT")
        return problems

    def _replica_problems(self, ordinal: int, master_fqdn: str) -> list[str]:
        try:
            with self.redis(ordinal) as client:
                info = client.info("replication")
        except redis.RedisError as err:
            return [f"redis {ordinal}: {err}"]
        if info.get("master_host") != master_fqdn or info.get("master_link_status") != "up":
            return [f"redis {ordinal}: master_host={info.get('master_host')} "
                    f"link={info.get('master_link_status')}, expected {master_fqdn} up"]
        return []

    def wait_healthy(self, timeout: float) -> int:
        """Waits until every invariant holds; returns the master's ordinal."""
        last: list[str] = []

        def healthy() -> bool:
            nonlocal last
            last = self.invariant_problems()
            return not last

        try:
            wait_for("the cluster invariants", healthy, timeout, interval=0.5)
        except AssertionError as err:
            raise AssertionError(f"{err}: {last}") from None
        return self.master_ordinal()

    def master_ordinal(self) -> int:
        masters = [o for o, role in self.roles().items() if role == "master"]
        assert len(masters) == 1, f"expected one master, roles: {self.roles()}"
        return masters[0]


def reply_pairs(reply) -> dict[str, str]:
    """SENTINEL MASTER as a dict (redis-py parses it already; a flat list otherwise)."""
    if isinstance(reply, dict):
        return reply
    return {str(reply[i]): reply[i + 1] for i in range(0, len(reply) - 1, 2)}


WRITER_CONTAINER = f"{PREFIX}writer"


# The writes recorded after the last fault of a test, before the writer stops.
WRITER_TAIL_SECONDS = 3.0


def start_writer(pods: GatewayPods, out_dir: Path, duration: float) -> None:
    """Runs writer.py in the client image on the test network, for at most `duration` seconds;
    results land in out_dir/result.json."""
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).with_name("writer.py"), out_dir / "writer.py")
    os.chmod(out_dir, 0o777)
    podman("rm", "-f", "-t", "0", WRITER_CONTAINER, check=False)
    literal = {
        "SENTINELS": ",".join(pods.fqdn(o) for o in range(pods.replicas)),
        "MASTER_SET": names.MASTER_SET,
        "DURATION": str(duration),
        "OUT": "/w/result.json",
        "STOP": "/w/stop",
        "PYTHONUNBUFFERED": "1",
    }
    podman("run", "-d", "--name", WRITER_CONTAINER, "--network", NETWORK,
           "--dns-option", "timeout:1", "--dns-option", "attempts:5",
           "-v", f"{out_dir}:/w", *pods._env_args(literal),
           CLIENT_IMAGE, "python3", "/w/writer.py", env=pods.secret_env())


def writer_result(out_dir: Path, timeout: float, tail_seconds: float = WRITER_TAIL_SECONDS) -> dict:
    """The writer's record, once it has written `tail_seconds` more (writes after the last fault
    show that the set serves again) and stopped: it does not run out its whole duration."""
    time.sleep(tail_seconds)
    (out_dir / "stop").touch()
    podman("wait", WRITER_CONTAINER, timeout=timeout)
    result_file = out_dir / "result.json"
    if not result_file.exists():
        logs = podman("logs", WRITER_CONTAINER, check=False)
        raise AssertionError(f"the writer left no result: {logs.stdout}{logs.stderr}")
    podman("rm", "-f", WRITER_CONTAINER, check=False)
    return json.loads(result_file.read_text())
