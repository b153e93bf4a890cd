"""The gateway's state as its pods report it, and the planned switchover (redis-switchover.sh)."""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

from cluster import Cluster
from smoke.targets import sentinel_settings
from stack_config import names

SWITCHOVER_SCRIPT = f"{names.SCRIPTS_DIR}/{names.REDIS_SWITCHOVER_SCRIPT}"
# redis-switchover.sh: up to 25 s for the sentinels to see the priorities, then the handover's
# budget (down-after + 10 s), then up to 25 s for them to see the priorities set back; a minute
# on top covers slow exec and DNS.
SWITCHOVER_TIMEOUT_MARGIN_SECONDS = 60 + 25 + 10 + 25
EXEC_TIMEOUT_SECONDS = 20.0


class SwitchoverError(RuntimeError):
    pass


@dataclass(frozen=True)
class NodeStatus:
    pod: str
    role: Optional[str]  # master, slave, or None when the node does not answer
    master: Optional[str] = None  # a replica's master (pod name when it is one of ours)
    link: Optional[str] = None  # a replica's master_link_status
    offset: Optional[int] = None  # master_repl_offset (master) or slave_repl_offset (replica)
    error: Optional[str] = None


@dataclass(frozen=True)
class SentinelStatus:
    pod: str
    master: Optional[str]  # the pod its sentinel names as master
    flags: Optional[str] = None
    other_sentinels: Optional[int] = None
    replicas: Optional[int] = None
    quorum: Optional[int] = None  # its configured quorum of the master set
    quorum_ok: Optional[bool] = None  # SENTINEL CKQUORUM
    error: Optional[str] = None


@dataclass(frozen=True)
class GatewayStatus:
    nodes: list[NodeStatus]
    sentinels: list[SentinelStatus]
    problems: list[str] = field(default_factory=list)

    @property
    def master(self) -> Optional[str]:
        """The pod every answering sentinel names and that reports the master role, or None."""
        named = {s.master for s in self.sentinels if s.error is None}
        if len(named) != 1:
            return None
        (pod,) = named
        return pod if any(n.pod == pod and n.role == "master" for n in self.nodes) else None

    def as_dict(self) -> dict[str, Any]:
        return {"master": self.master, "problems": self.problems,
                "nodes": [asdict(n) for n in self.nodes], "sentinels": [asdict(s) for s in self.sentinels]}


def _pairs(text: str) -> dict[str, str]:
    """`key value` pairs of a flat CLI reply (one item per line)."""
    lines = [line.strip() for line in text.replace("\r", "").splitlines()]
    return dict(zip(lines[0::2], lines[1::2]))


def _info(text: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in text.replace("\r", "").splitlines() if ":" in line)


class GatewayOps:
    def __init__(self, cluster: Cluster, namespace: str, statefulset: str = names.GATEWAY,
                 headless: str = names.GATEWAY_HEADLESS_SERVICE) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.statefulset = statefulset
        self.headless = headless

    def pods(self) -> list[str]:
        pods = self.cluster.pods(self.namespace, f"{names.LABEL_APP}={self.statefulset}")
        return sorted((p.name for p in pods if not p.terminating), key=lambda n: int(n.rsplit("-", 1)[1]))

    def pod_of(self, host: str) -> str:
        """A pod's name from the FQDN its peers announce (`<pod>.<headless>....`); else `host`."""
        first, _, rest = host.partition(".")
        return first if rest.startswith(f"{self.headless}.") else host

    def _cli(self, pod: str, container: str, *args: str) -> tuple[Optional[str], Optional[str]]:
        """The engine's CLI in a container of `pod` (its own REDISCLI_AUTH): (output, error)."""
        script = '"$ENGINE_CLI" ' + " ".join(shlex.quote(a) for a in args)
        try:
            done = self.cluster.exec(self.namespace, pod, container, ["sh", "-c", script],
                                     timeout=EXEC_TIMEOUT_SECONDS)
        except Exception as err:  # a timeout or an API error: the node counts as not answering
            return None, str(err)
        error = done.stderr.strip() or done.stdout.strip()
        if done.returncode != 0 or done.stdout.startswith(("ERR", "NOAUTH", "Could not connect")):
            return None, error[-300:] or f"exit {done.returncode}"
        return done.stdout, None

    def node(self, pod: str) -> NodeStatus:
        # The unix socket: it answers while the TCP port is closed during a claim of the role.
        text, error = self._cli(pod, "redis", "-s", names.REDIS_SOCKET, "INFO", "replication")
        if text is None:
            return NodeStatus(pod, None, error=error)
        info = _info(text)
        role = info.get("role")
        if role == "master":
            return NodeStatus(pod, role, offset=int(info.get("master_repl_offset", 0)))
        master = info.get("master_host")
        return NodeStatus(pod, role, master=self.pod_of(master) if master else None,
                          link=info.get("master_link_status"), offset=int(info.get("slave_repl_offset", 0) or 0))

    def sentinel(self, pod: str) -> SentinelStatus:
        port = str(names.SENTINEL_PORT)
        text, error = self._cli(pod, "sentinel", "-p", port, "SENTINEL", "MASTER", names.MASTER_SET)
        if text is None:
            return SentinelStatus(pod, None, error=error)
        fields = _pairs(text)
        quorum, _ = self._cli(pod, "sentinel", "-p", port, "SENTINEL", "CKQUORUM", names.MASTER_SET)
        return SentinelStatus(
            pod, self.pod_of(fields.get("ip", "")) or None, flags=fields.get("flags"),
            other_sentinels=int(fields.get("num-other-sentinels", 0)), replicas=int(fields.get("num-slaves", 0)),
            quorum=int(fields["quorum"]) if fields.get("quorum", "").isdigit() else None,
            quorum_ok=bool(quorum and quorum.startswith("OK")))

    def status(self) -> GatewayStatus:
        pods = self.pods()
        nodes = [self.node(p) for p in pods]
        sentinels = [self.sentinel(p) for p in pods]
        status = GatewayStatus(nodes, sentinels)
        problems = status.problems
        problems += [f"{n.pod}: redis does not answer ({n.error})" for n in nodes if n.role is None]
        problems += [f"{s.pod}: sentinel does not answer ({s.error})" for s in sentinels if s.error]
        masters = [n.pod for n in nodes if n.role == "master"]
        if len(masters) != 1:
            problems.append(f"{len(masters)} nodes report the master role: {masters}")
        named = sorted({s.master or "?" for s in sentinels if not s.error})
        if len(named) > 1:
            problems.append(f"the sentinels disagree about the master: {named}")
        problems += [f"{n.pod}: replicates {n.master} with link {n.link}" for n in nodes
                     if n.role == "slave" and (n.link != "up" or n.master != status.master)]
        problems += [f"{s.pod}: sentinel cannot reach quorum (CKQUORUM)" for s in sentinels
                     if not s.error and not s.quorum_ok]
        problems += [f"{s.pod}: sentinel flags {s.flags}" for s in sentinels
                     if not s.error and s.flags and s.flags != "master"]
        # Each sentinel must know every other pod's sentinel and every replica, and nothing more:
        # more are ghosts of removed pods (a scale-down), fewer are peers it lost.
        peers = len(pods) - 1
        problems += [f"{s.pod}: sentinel knows {s.other_sentinels} other sentinels and {s.replicas} replicas, "
                     f"expected {peers} and {peers}" for s in sentinels
                     if not s.error and (s.other_sentinels, s.replicas) != (peers, peers)]
        return status

    def handover_budget_seconds(self) -> float:
        """redis-prestop.sh's budget: the deployed sentinel.conf's down-after + 10 s."""
        conf = self.cluster.config_map_value(self.namespace, names.GATEWAY_CONFIG_MAP, names.SENTINEL_CONF) or ""
        down_after = sentinel_settings(conf, names.MASTER_SET).get("down-after-milliseconds")
        if down_after is None:
            raise SwitchoverError(f"no down-after-milliseconds in ConfigMap {names.GATEWAY_CONFIG_MAP}")
        return int(down_after) / 1000 + 10

    def switchover(self, to: Optional[str] = None, master: Optional[str] = None) -> str:
        """Move the master role, fenced, to pod `to` (or Sentinel's best replica); returns the new
        master's pod. Runs redis-switchover.sh in the master's redis container. With `master`
        (a caller that knows it: the drills) the status check beforehand is left out; the script
        checks the role itself."""
        if master is None:
            before = self.status()
            master = before.master
            if master is None:
                raise SwitchoverError("no switchover: the gateway has no agreed master now: "
                                      + "; ".join(before.problems))
            replica = next((n for n in before.nodes if n.pod == to), None)
            if to is not None and to != master and (replica is None or replica.role != "slave" or replica.link != "up"):
                raise SwitchoverError(f"{to} is not a linked replica of {master}")
        if to == master:
            raise SwitchoverError(f"{to} is the master already")
        args = [to.rsplit("-", 1)[1]] if to is not None else []
        done = self.cluster.exec(self.namespace, master, "redis", ["sh", SWITCHOVER_SCRIPT, *args],
                                 timeout=self.handover_budget_seconds() + SWITCHOVER_TIMEOUT_MARGIN_SECONDS)
        if done.returncode != 0:
            raise SwitchoverError(f"{master}: {SWITCHOVER_SCRIPT} failed:\n{done.stderr.strip()[-2000:]}")
        return self.pod_of(done.stdout.strip().splitlines()[-1])
