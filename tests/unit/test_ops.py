"""python -m ops against a scripted cluster: what the pods' CLI answers becomes a status with its
problems, and a switchover runs the shipped script in the master's redis container."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

import pytest

from cluster import Pod
from ops import GatewayOps, SwitchoverError
from stack_config import names

NS = "kubernaut-system"
FQDN = "{pod}.redis-gateway-headless.kubernaut-system.svc.cluster.local"


def master_info(offset=100):
    return f"# Replication\r\nrole:master\r\nconnected_slaves:2\r\nmaster_repl_offset:{offset}\r\n"


def replica_info(master, link="up", offset=100):
    return (f"# Replication\r\nrole:slave\r\nmaster_host:{FQDN.format(pod=master)}\r\nmaster_port:6379\r\n"
            f"master_link_status:{link}\r\nslave_repl_offset:{offset}\r\n")


def sentinel_master(master, flags="master", others=2, replicas=2):
    pairs = {"name": "gateway-master", "ip": FQDN.format(pod=master), "port": "6379", "flags": flags,
             "num-slaves": str(replicas), "num-other-sentinels": str(others), "quorum": "2"}
    return "".join(f"{k}\n{v}\n" for k, v in pairs.items())


@dataclass
class ScriptedCluster:
    """pod -> INFO replication text, pod -> SENTINEL MASTER text (None: does not answer)."""

    info: dict
    sentinel: dict
    quorum: dict = field(default_factory=dict)
    execs: list = field(default_factory=list)
    switchover_reply: tuple = (0, FQDN.format(pod="redis-gateway-1") + "\n", "")

    def pods(self, namespace, selector=""):
        assert selector == f"{names.LABEL_APP}={names.GATEWAY}"
        return [Pod(name, namespace, name, "10.0.0.1", "Running", True, False) for name in self.info]

    def config_map_value(self, namespace, name, key):
        assert (name, key) == (names.GATEWAY_CONFIG_MAP, names.SENTINEL_CONF)
        return "sentinel monitor gateway-master x 6379 2\nsentinel down-after-milliseconds gateway-master 5000\n"

    def exec(self, namespace, pod, container, command, timeout=60.0):
        self.execs.append((pod, container, tuple(command)))
        if command[:2] == ["sh", f"{names.SCRIPTS_DIR}/{names.REDIS_SWITCHOVER_SCRIPT}"]:
            code, out, err = self.switchover_reply
            return subprocess.CompletedProcess(command, code, out, err)
        script = command[-1]
        if container == "redis":
            text = self.info[pod]
        elif "CKQUORUM" in script:
            text = self.quorum.get(pod, "OK 3 usable Sentinels. Quorum and failover authorization can be reached")
        else:
            text = self.sentinel[pod]
        if text is None:
            return subprocess.CompletedProcess(command, 1, "", "Could not connect to Redis at 127.0.0.1:26379")
        return subprocess.CompletedProcess(command, 0, text, "")


def healthy():
    pods = ["redis-gateway-0", "redis-gateway-1", "redis-gateway-2"]
    return ScriptedCluster(
        info={pods[0]: master_info(), pods[1]: replica_info(pods[0]), pods[2]: replica_info(pods[0])},
        sentinel={p: sentinel_master(pods[0]) for p in pods})


def test_a_healthy_gateway_has_one_agreed_master_and_no_problem():
    status = GatewayOps(healthy(), NS).status()
    assert status.master == "redis-gateway-0" and status.problems == []
    assert [(n.pod, n.role, n.master, n.link) for n in status.nodes] == [
        ("redis-gateway-0", "master", None, None), ("redis-gateway-1", "slave", "redis-gateway-0", "up"),
        ("redis-gateway-2", "slave", "redis-gateway-0", "up")]
    assert all(s.quorum_ok and s.other_sentinels == 2 for s in status.sentinels)


@pytest.mark.parametrize("break_it, problem", [
    (lambda c: c.info.update({"redis-gateway-1": master_info()}), "2 nodes report the master role"),
    (lambda c: c.sentinel.update({"redis-gateway-2": sentinel_master("redis-gateway-1")}),
     "the sentinels disagree about the master"),
    (lambda c: c.info.update({"redis-gateway-2": replica_info("redis-gateway-0", link="down")}),
     "redis-gateway-2: replicates redis-gateway-0 with link down"),
    (lambda c: c.sentinel.update({"redis-gateway-1": None}), "redis-gateway-1: sentinel does not answer"),
    (lambda c: c.info.update({"redis-gateway-2": None}), "redis-gateway-2: redis does not answer"),
    (lambda c: c.quorum.update({"redis-gateway-0": "NOQUORUM 1 usable Sentinels."}),
     "redis-gateway-0: sentinel cannot reach quorum"),
    (lambda c: c.sentinel.update({"redis-gateway-0": sentinel_master("redis-gateway-0", flags="s_down,master")}),
     "redis-gateway-0: sentinel flags s_down,master"),
    (lambda c: c.sentinel.update({"redis-gateway-1": sentinel_master("redis-gateway-0", others=4, replicas=4)}),
     "redis-gateway-1: sentinel knows 4 other sentinels and 4 replicas, expected 2 and 2"),
])
def test_each_kind_of_trouble_is_a_problem(break_it, problem):
    cluster = healthy()
    break_it(cluster)
    status = GatewayOps(cluster, NS).status()
    assert any(p.startswith(problem) for p in status.problems), status.problems


def test_no_agreed_master_without_a_majority_of_answers_that_agree():
    cluster = healthy()
    cluster.sentinel["redis-gateway-2"] = sentinel_master("redis-gateway-1")
    assert GatewayOps(cluster, NS).status().master is None


def test_switchover_runs_the_script_in_the_masters_redis_container_with_the_chosen_ordinal():
    cluster = healthy()
    assert GatewayOps(cluster, NS).switchover("redis-gateway-1") == "redis-gateway-1"
    pod, container, command = cluster.execs[-1]
    assert (pod, container) == ("redis-gateway-0", "redis")
    assert command == ("sh", f"{names.SCRIPTS_DIR}/{names.REDIS_SWITCHOVER_SCRIPT}", "1")


def test_switchover_refusals_and_a_failed_script_are_errors_with_the_reason():
    with pytest.raises(SwitchoverError, match="is the master already"):
        GatewayOps(healthy(), NS).switchover("redis-gateway-0")
    cluster = healthy()
    cluster.info["redis-gateway-2"] = replica_info("redis-gateway-0", link="down")
    with pytest.raises(SwitchoverError, match="redis-gateway-2 is not a linked replica"):
        GatewayOps(cluster, NS).switchover("redis-gateway-2")
    cluster = healthy()
    cluster.sentinel["redis-gateway-2"] = sentinel_master("redis-gateway-1")
    with pytest.raises(SwitchoverError, match="no agreed master"):
        GatewayOps(cluster, NS).switchover()
    cluster = healthy()
    cluster.switchover_reply = (1, "", "redis-switchover: ERROR: no switchover (handover status 13)")
    with pytest.raises(SwitchoverError, match="handover status 13"):
        GatewayOps(cluster, NS).switchover()
