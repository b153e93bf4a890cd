"""The shipped scripts and configs running a 3-pod gateway in podman, with the prod stack's config
(auth on, min-replicas-to-write 1): formation, auth, probes, the master-only proxy, failures
and their recovery. Scaling, a lost quorum and a master cut from its peers are drilled on the
lab's real cluster (tests/lab/test_drills.py), not here.

One cluster serves the module; each test starts from a healthy cluster (it waits for every
invariant) and leaves one behind. Bounds derive from the config (down-after, failover-timeout,
boot-peer wait, the preStop budget) plus slack for this shared 2-core machine.
"""

from __future__ import annotations

import errno
import json
import os
import re
import socket
import time
from pathlib import Path

import pytest
import redis

from gateway_pods import (CLIENT_IMAGE, NETWORK, PREFIX, GatewayPods, podman, reply_pairs, start_writer, wait_for,
                          writer_result)
from runtime_support import (DEFAULT_ENGINE, OPERATOR_PASSWORD, REDIS_PASSWORD, SENTINEL_PASSWORD,
                             assert_refused_to_clients, dryrun, is_refused, require_lab_images, stack_config)
from stack_config import engine_binaries, names

CFG = stack_config("prod")
DOWN_AFTER_S = CFG.gateway.down_after_milliseconds / 1000
FAILOVER_TIMEOUT_S = CFG.gateway.failover_timeout_milliseconds / 1000
BOOT_PEER_WAIT_S = CFG.gateway.boot_peer_wait_seconds
# Scheduling noise of a shared 2-core machine: container starts, DNS, the Python clients.
SLACK_S = 15
FIRST_BOOT_BOUND_S = BOOT_PEER_WAIT_S + SLACK_S + 15
RECOVERY_BOUND_S = BOOT_PEER_WAIT_S + DOWN_AFTER_S + SLACK_S
# SDOWN after down-after; ODOWN, election and promotion take seconds; a split vote among the
# surviving sentinels is retried after 2 x failover-timeout.
FAILOVER_BOUND_S = DOWN_AFTER_S + 2 * FAILOVER_TIMEOUT_S + 5
# redis-prestop.sh gives the whole handover down-after + 10 s.
HANDOVER_BUDGET_S = DOWN_AFTER_S + 10
# ... and then stays this long with the pod's ports closed (its CLOSED_LINGER_SECONDS).
CLOSED_LINGER_S = int(re.search(r"^CLOSED_LINGER_SECONDS=(\d+)$", (Path(__file__).resolve().parents[2] / "pod_scripts" /
                                names.REDIS_PRESTOP_SCRIPT).read_text(), re.M).group(1))
IP_HOLDER = f"{PREFIX}ip-holder"
# Every test but scaling runs on each engine of the matrix (conftest.py); scaling (33-91 s per
# engine) exercises the scripts' peer lists, which do not depend on the engine, and runs on the
# default engine only, so that the matrix stays within CI's budget (docs/lab.md).


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, lab_engine) -> GatewayPods:
    """One gateway per engine (conftest.py: `lab_engine`)."""
    require_lab_images(lab_engine)
    with GatewayPods(CFG, tmp_path_factory.mktemp("krt-gateway"), REDIS_PASSWORD, SENTINEL_PASSWORD,
                     OPERATOR_PASSWORD, engine=lab_engine) as pods:
        try:
            yield pods
        finally:
            podman("rm", "-f", "-t", "0", IP_HOLDER, check=False)


@pytest.fixture
def healthy(gateway: GatewayPods, request) -> int:
    """Waits until every invariant holds; the master's ordinal. A pod that an earlier failed test
    left deleted is recreated first, as the StatefulSet would. Shows the pods' logs when the
    test fails."""
    for ordinal in range(gateway.replicas):
        if ordinal not in gateway.started_pods:
            gateway.create_pod(ordinal)
    yield gateway.wait_healthy(RECOVERY_BOUND_S)
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        for ordinal in sorted(gateway.started_pods | {o for o, _ in gateway.removed_logs}):
            for role in ("redis", "sentinel"):
                earlier = gateway.removed_logs.get((ordinal, role), [])[-2:]
                current = [gateway.logs(ordinal, role)] if ordinal in gateway.started_pods else []
                for number, log in enumerate(earlier + current):
                    lines = [line for line in log.splitlines()
                             if "Failed to resolve hostname" not in line]  # repeats once a second
                    tail = "\n".join(lines[-60:])
                    which = "current" if current and number == len(earlier) else "removed"
                    print(f"----- {gateway.container(ordinal, role)} ({which})\n{tail}")


def script_rc(gateway: GatewayPods, ordinal: int, role: str, script: str, *env: str) -> int:
    env_args = [arg for pair in env for arg in ("-e", pair)]
    return podman("exec", *env_args, gateway.container(ordinal, role), "sh",
                  f"{names.SCRIPTS_DIR}/{script}", check=False).returncode


def replicas_of(gateway: GatewayPods, master: int) -> list[int]:
    return [o for o in sorted(gateway.started_pods) if o != master]


def masters_now(gateway: GatewayPods) -> list[int]:
    return [o for o, role in gateway.roles().items() if role == "master"]


# ---------------------------------------------------------------------------- formation


@pytest.mark.every_engine
def test_first_bootstrap_forms_one_cluster(gateway: GatewayPods):
    started = time.monotonic()
    master = gateway.wait_healthy(FIRST_BOOT_BOUND_S)
    print(f"first bootstrap healthy after {time.monotonic() - started:.1f} s")
    assert master == 0, "a genuine first bootstrap makes pod 0 master"
    for ordinal in range(3):
        with gateway.sentinel(ordinal) as sentinel:
            assert sentinel.execute_command("SENTINEL", "MYID") == gateway.expected_sentinel_id(ordinal)
        data = gateway.data_dir(ordinal)
        for private in (data / "conf" / "redis.conf", data / "sentinel" / "sentinel.conf"):
            assert private.stat().st_mode & 0o777 == 0o600, private
        assert f"replica-announce-ip {gateway.fqdn(ordinal)}" in (data / "conf" / "redis.conf").read_text()
        assert "+tilt" not in gateway.logs(ordinal, "sentinel")


@pytest.mark.every_engine
def test_auth_is_enforced(gateway: GatewayPods, healthy: int):
    with gateway.redis(healthy, authenticated=False) as anonymous, pytest.raises(redis.AuthenticationError):
        anonymous.set("anonymous", "1")
    with gateway.sentinel(healthy, authenticated=False) as anonymous, pytest.raises(redis.AuthenticationError):
        anonymous.execute_command("SENTINEL", "MASTERS")
    with gateway.through_haproxy() as anonymous, pytest.raises(redis.AuthenticationError):
        anonymous.set("anonymous", "1")
    for ordinal in range(3):
        with gateway.redis(ordinal) as client:
            assert client.config_get("masterauth")["masterauth"] == gateway.acl_passwords["replication"], \
                "masterauth on every node, so that a demoted master can follow"
            assert client.config_get("masteruser")["masteruser"] == "replication"


# ---------------------------------------------------------------------------- ACL users

# (allowed, refused) per internal user, as ACL DRYRUN checks them; the real work of each is the
# other tests' (failover: sentinel; the links: replication; probes, claim, preStop: probe and pod).
INTERNAL_USERS = {
    "replication": ([("PSYNC", "?", "-1"), ("REPLCONF", "ack", "0"), ("PING",)],
                    [("GET", "k"), ("INFO",), ("FLUSHALL",), ("CONFIG", "SET", "port", "1")]),
    "sentinel": ([("SLAVEOF", "NO", "ONE"), ("REPLICAOF", "NO", "ONE"), ("CONFIG", "REWRITE"),
                  ("CLIENT", "KILL", "TYPE", "normal"), ("PUBLISH", "__sentinel__:hello", "x"),
                  ("SUBSCRIBE", "__sentinel__:hello"), ("MULTI",), ("EXEC",), ("INFO",), ("ROLE",), ("PING",),
                  ("CLIENT", "SETNAME", "sentinel"), ("SCRIPT", "KILL")],
                 [("GET", "k"), ("FLUSHALL",), ("CONFIG", "SET", "maxmemory", "1"), ("PUBLISH", "other", "x"),
                  ("SHUTDOWN",), ("ACL", "LIST")]),
    "pod": ([("CONFIG", "SET", "port", "6379"), ("REPLICAOF", "NO", "ONE"), ("CLIENT", "PAUSE", "10", "WRITE"),
             ("CLIENT", "UNPAUSE"), ("CLIENT", "KILL", "TYPE", "normal"), ("INFO",), ("DBSIZE",), ("PING",)],
            [("GET", "k"), ("SET", "k", "v"), ("FLUSHALL",), ("DEBUG", "SLEEP", "0"), ("SHUTDOWN",), ("ACL", "LIST"),
             ("CONFIG", "GET", "masterauth")]),
    "probe": ([("PING",), ("INFO", "replication")],
              [("GET", "k"), ("ROLE",), ("CONFIG", "SET", "port", "1"), ("REPLICAOF", "NO", "ONE")]),
    "exporter": ([("INFO", "all"), ("PING",), ("SLOWLOG", "GET", "10"), ("SLOWLOG", "LEN"), ("LATENCY", "LATEST")],
                 [("GET", "k"), ("CONFIG", "GET", "masterauth"), ("CLIENT", "LIST"), ("FLUSHALL",)]),
}


@pytest.mark.every_engine
def test_the_clients_user_runs_kubernauts_commands_and_is_refused_the_rest(gateway: GatewayPods, healthy: int):
    """Through the master-only endpoint with the password alone, as the Gateway connects."""
    with gateway.through_haproxy(password=REDIS_PASSWORD) as client:
        client.execute_command("SELECT", "0")
        client.client_setname("gateway")
        fingerprint = "gateway:dedup:fingerprint:krt-acl"
        assert client.set("gateway:dedup:lock:krt-acl", 1, ex=5, nx=True)
        assert client.hset(fingerprint, mapping={"count": 1, "first": "t0"}) == 2
        assert client.hincrby(fingerprint, "count", 1) == 2 and client.hget(fingerprint, "first") == "t0"
        assert client.hgetall(fingerprint)["count"] == "2" and client.expire(fingerprint, 300)
        assert 0 < client.ttl(fingerprint) <= 300 and client.exists(fingerprint) == 1
        # INCR as the Gateway sends it (redis-py's incr() sends INCRBY, which the user does not have)
        assert client.execute_command("INCR", "alert:storm:rate:krt-acl") == 1
        assert client.get("alert:storm:rate:krt-acl") == "1"
        assert client.zadd("alert:pattern:krt-acl", {"a": 1, "b": 2}) == 2
        assert client.zremrangebyscore("alert:pattern:krt-acl", 0, 1) == 1 and client.zcard("alert:pattern:krt-acl") == 1
        assert client.zrange("alert:pattern:krt-acl", 0, -1) == ["b"]
        assert client.rpush("alert:buffer:ns:krt-acl", "x", "y") == 2 and client.llen("alert:buffer:ns:krt-acl") == 2
        assert client.lrange("alert:buffer:ns:krt-acl", 0, -1) == ["x", "y"]
        assert "alert:buffer:ns:krt-acl" in client.scan(0, match="alert:buffer:ns:*", count=1000)[1]
        assert client.mget(["gateway:dedup:lock:krt-acl", "nothing"]) == ["1", None]
        assert client.ping() and client.info("replication")["role"] == "master"
        assert client.execute_command("ROLE")[0] == "master"
        assert client.delete(fingerprint, "alert:storm:rate:krt-acl", "alert:pattern:krt-acl",
                             "alert:buffer:ns:krt-acl", "gateway:dedup:lock:krt-acl") == 5
        with gateway.redis(healthy) as operator:
            assert_refused_to_clients(client, operator)
            assert operator.config_get("maxmemory")["maxmemory"] == str(CFG.gateway.maxmemory_bytes)
    assert gateway.master_ordinal() == healthy


@pytest.mark.every_engine
def test_each_internal_user_can_do_its_job_and_nothing_else(gateway: GatewayPods, healthy: int):
    replica = replicas_of(gateway, healthy)[0]
    with gateway.redis(healthy) as operator:
        assert operator.execute_command("ACL", "WHOAMI") == "operator"
        assert sorted(operator.execute_command("ACL", "USERS")) == sorted(["default", *names.ACL_INTERNAL_USERS])
        for user, (allowed, refused) in INTERNAL_USERS.items():
            for command in allowed:
                assert dryrun(operator, user, command) == "OK", (user, command, dryrun(operator, user, command))
            for command in refused:
                assert "no permissions" in dryrun(operator, user, command), (user, command)
    # Each password authenticates its user; a real call beyond the user's rules is refused.
    for user, (allowed, refused) in INTERNAL_USERS.items():
        with gateway.as_user(replica, user) as client:
            assert client.ping()
            assert is_refused(client, "GET", "k") and is_refused(client, "FLUSHALL"), user
    with gateway.as_user(replica, "probe") as probe:
        assert probe.info("replication")["role"] == "slave"
        assert is_refused(probe, "REPLICAOF", "NO", "ONE")
    with gateway.as_user(replica, "exporter") as exporter:
        assert "used_memory" in exporter.info("memory")
        assert is_refused(exporter, "CONFIG", "GET", "masterauth"), "masterauth is the replication user's password"
    with gateway.as_user(replica, "pod") as pod:
        assert pod.dbsize() >= 0
        assert is_refused(pod, "ACL", "LIST")
    # The replicas' links use the `replication` user, and Sentinel's the `sentinel` user.
    with gateway.redis(healthy) as operator:
        users = {entry["user"] for entry in operator.client_list() if entry.get("user")}
        flags = {entry["user"]: entry["flags"] for entry in operator.client_list()}
    assert {"replication", "sentinel"} <= users, users
    assert "S" in flags["replication"], "the replicas' links authenticate as `replication`"
    assert gateway.roles()[replica] == "slave"


# ---------------------------------------------------------------------------- probes


@pytest.mark.every_engine
def test_probe_scripts_on_master_and_replicas(gateway: GatewayPods, healthy: int):
    for ordinal in range(3):
        assert script_rc(gateway, ordinal, "redis", names.REDIS_READINESS_SCRIPT) == 0
        assert script_rc(gateway, ordinal, "redis", names.REDIS_LIVENESS_SCRIPT) == 0
        assert script_rc(gateway, ordinal, "sentinel", names.SENTINEL_PROBE_SCRIPT) == 0
    # The redis probes act as the ACL user `probe`.
    wrong_redis, wrong_sentinel = "ACL_PROBE_PASSWORD=not-the-password", "SENTINEL_PASSWORD=not-the-password"
    assert script_rc(gateway, healthy, "redis", names.REDIS_READINESS_SCRIPT, wrong_redis) != 0
    assert script_rc(gateway, healthy, "redis", names.REDIS_LIVENESS_SCRIPT, wrong_redis) != 0
    assert script_rc(gateway, healthy, "sentinel", names.SENTINEL_PROBE_SCRIPT, wrong_sentinel) != 0


@pytest.mark.every_engine
def test_replica_with_its_link_down_is_not_ready(gateway: GatewayPods, healthy: int):
    replica = replicas_of(gateway, healthy)[0]
    with gateway.redis(replica) as client:
        client.config_set("masterauth", "not-the-password")
        client.execute_command("CLIENT", "KILL", "TYPE", "master")
        try:
            wait_for("the replica's link to go down",
                     lambda: client.info("replication")["master_link_status"] == "down", 10)
            assert script_rc(gateway, replica, "redis", names.REDIS_READINESS_SCRIPT) == 1
            assert script_rc(gateway, replica, "redis", names.REDIS_LIVENESS_SCRIPT) == 0
        finally:
            client.config_set("masterauth", gateway.acl_passwords["replication"])
    wait_for("the replica to be ready again",
             lambda: script_rc(gateway, replica, "redis", names.REDIS_READINESS_SCRIPT) == 0, 30, interval=0.5)


def test_syncing_replica_is_not_ready(gateway: GatewayPods, healthy: int):
    replica = replicas_of(gateway, healthy)[-1]
    with gateway.redis(healthy) as master, gateway.redis(replica) as client:
        master.mset({f"krt:sync:{i}": i for i in range(100)})
        # Slow the master's snapshot down (Redis' own testing knob, microseconds per key), so
        # the transfer of a full sync lasts seconds.
        master.config_set("rdb-key-save-delay", 50000)
        try:
            # Promoted for a moment, the replica gets a replication id the master does not know:
            # following the master again takes a full sync.
            client.execute_command("REPLICAOF", "NO", "ONE")
            client.execute_command("REPLICAOF", gateway.fqdn(healthy), str(names.REDIS_PORT))
            wait_for("the full sync transfer",
                     lambda: client.info("replication").get("master_sync_in_progress") == 1, 15, interval=0.05)
            assert script_rc(gateway, replica, "redis", names.REDIS_READINESS_SCRIPT) == 1
            assert script_rc(gateway, replica, "redis", names.REDIS_LIVENESS_SCRIPT) == 0
        finally:
            master.config_set("rdb-key-save-delay", 0)
    wait_for("the resynced replica to be ready",
             lambda: script_rc(gateway, replica, "redis", names.REDIS_READINESS_SCRIPT) == 0, 30, interval=0.5)


# Default engine only: the check is the shell's and getent's, the engine plays no part.
def test_pod_whose_name_resolves_elsewhere_is_not_ready(gateway: GatewayPods, healthy: int):
    """What a replaced pod meets while DNS caches still hand out its old address: the readiness
    probe looks its own name up in DNS (not /etc/hosts) and compares the answer with the pod's
    own addresses. Here pod `other`'s name stands in for the stale record: a real name, answered
    by DNS, with an address that is not this pod's."""
    replica = replicas_of(gateway, healthy)[0]
    other = next(o for o in sorted(gateway.started_pods) if o != replica)
    as_other = f"POD_NAME={names.GATEWAY}-{other}"
    probe = podman("exec", "-e", as_other, gateway.container(replica, "redis"), "sh",
                   f"{names.SCRIPTS_DIR}/{names.REDIS_READINESS_SCRIPT}", check=False)
    assert probe.returncode == 1, probe.stderr
    assert f"{gateway.fqdn(other)} resolves to {gateway.ip(other)}, not to this pod" in probe.stderr
    for ordinal in (replica, healthy):  # the master too: its peers must reach it by name
        assert script_rc(gateway, ordinal, "redis", names.REDIS_READINESS_SCRIPT) == 0
    assert script_rc(gateway, healthy, "redis", names.REDIS_READINESS_SCRIPT,
                     f"POD_NAME={names.GATEWAY}-{replica}") == 1


# ---------------------------------------------------------------------------- the master-only proxy


@pytest.mark.every_engine
def test_haproxy_reaches_only_the_master(gateway: GatewayPods, healthy: int):
    with gateway.redis(healthy) as master:
        master_run_id = master.info("server")["run_id"]
    for attempt in range(20):
        # a new connection each time: every one must land on the master
        with gateway.through_haproxy(password=REDIS_PASSWORD) as proxied:
            assert proxied.execute_command("ROLE")[0] == "master"
            assert proxied.info("server")["run_id"] == master_run_id
            assert proxied.set(f"krt:proxy:{attempt}", attempt)
    with gateway.through_haproxy(port=names.SENTINEL_PORT, password=SENTINEL_PASSWORD) as sentinel:
        named = sentinel.execute_command("SENTINEL", "get-master-addr-by-name", names.MASTER_SET)
        assert named[0] == gateway.fqdn(healthy)


# ---------------------------------------------------------------------------- sentinel restarts


def test_restarted_sentinels_keep_their_peers(gateway: GatewayPods, healthy: int):
    restarts = [replicas_of(gateway, healthy)[0]] * 3 + [healthy]
    for ordinal in restarts:
        podman("restart", "-t", "5", gateway.container(ordinal, "sentinel"))
        gateway.wait_healthy(RECOVERY_BOUND_S)  # num-other-sentinels = 2 everywhere, CKQUORUM OK
    with gateway.sentinel(healthy) as sentinel:
        sentinels = sentinel.execute_command("SENTINEL", "SENTINELS", names.MASTER_SET)
    assert sorted(s["runid"] for s in sentinels) == sorted(
        gateway.expected_sentinel_id(o) for o in range(3) if o != healthy)


def replace_template(gateway: GatewayPods, name: str, text: str) -> None:
    path = gateway.conf_dir / name
    gateway.conf_dir.chmod(0o755)
    path.chmod(0o644)
    path.write_text(text)
    path.chmod(0o444)
    gateway.conf_dir.chmod(0o555)


def test_restarted_sentinel_takes_the_template_and_keeps_its_state(gateway: GatewayPods, healthy: int):
    ordinal = replicas_of(gateway, healthy)[0]
    template = (gateway.conf_dir / names.SENTINEL_CONF).read_text()
    changed_down_after = CFG.gateway.down_after_milliseconds + 1000
    with gateway.sentinel(ordinal) as sentinel:
        epoch_before = int(sentinel.execute_command("SENTINEL", "MASTER", names.MASTER_SET)["config-epoch"])
    try:
        replace_template(gateway, names.SENTINEL_CONF, template.replace(
            f"down-after-milliseconds {names.MASTER_SET} {CFG.gateway.down_after_milliseconds}",
            f"down-after-milliseconds {names.MASTER_SET} {changed_down_after}"))
        podman("restart", "-t", "5", gateway.container(ordinal, "sentinel"))
        gateway.wait_healthy(RECOVERY_BOUND_S)
        with gateway.sentinel(ordinal) as sentinel:
            state = sentinel.execute_command("SENTINEL", "MASTER", names.MASTER_SET)
            assert int(state["down-after-milliseconds"]) == changed_down_after
            assert int(state["config-epoch"]) == epoch_before
            assert sentinel.execute_command("SENTINEL", "MYID") == gateway.expected_sentinel_id(ordinal)
    finally:
        replace_template(gateway, names.SENTINEL_CONF, template)
        podman("restart", "-t", "5", gateway.container(ordinal, "sentinel"))
    gateway.wait_healthy(RECOVERY_BOUND_S)
    with gateway.sentinel(ordinal) as sentinel:
        state = sentinel.execute_command("SENTINEL", "MASTER", names.MASTER_SET)
        assert int(state["down-after-milliseconds"]) == CFG.gateway.down_after_milliseconds


GHOSTS = f"{PREFIX}ghosts"


def test_a_sentinel_restarted_before_its_topology_files_follow_a_scale_in_knows_only_the_remaining_pods(
        gateway: GatewayPods, healthy: int):
    """Just after `pulumi up` of gateway.replicas 5 -> 3, a restarted container gets the new
    topology in its environment (the kubelet resolves it at the start), while the files mounted
    in the pod still hold 5 until the kubelet's next sync, and the removed pods' names still
    resolve from DNS caches (here a container holding both names, which answers on no port). A
    sentinel that took the file's count would know the sentinels of pods 3 and 4 for good, and
    need 3 of 5 votes to fail over."""
    ordinal = replicas_of(gateway, healthy)[0]
    removed = [gateway.fqdn(n) for n in (3, 4)]
    podman("rm", "-f", "-t", "0", GHOSTS, check=False)
    podman("run", "-d", "--name", GHOSTS, "--network", NETWORK,
           *(arg for fqdn in removed for arg in ("--network-alias", fqdn)), CLIENT_IMAGE, "sleep", "600")
    started = time.time()
    try:
        gateway.write_topology_files(5)
        for fqdn in removed:
            assert gateway.exec(ordinal, "sentinel", "getent", "hosts", fqdn).returncode == 0, fqdn
        podman("restart", "-t", "5", gateway.container(ordinal, "sentinel"))
        gateway.wait_healthy(RECOVERY_BOUND_S)  # num-other-sentinels = 2 everywhere
        with gateway.sentinel(ordinal) as sentinel:
            peers = sentinel.execute_command("SENTINEL", "SENTINELS", names.MASTER_SET)
            state = reply_pairs(sentinel.execute_command("SENTINEL", "MASTER", names.MASTER_SET))
    finally:
        gateway.write_topology_files(gateway.replicas)
        podman("rm", "-f", "-t", "0", GHOSTS, check=False)
    assert sorted(p["ip"] for p in peers) == sorted(gateway.fqdn(o) for o in range(3) if o != ordinal)
    assert int(state["quorum"]) == CFG.gateway.effective_quorum
    assert f"(ordinal {ordinal} of 3, quorum {CFG.gateway.effective_quorum})" in gateway.logs(ordinal, "sentinel",
                                                                                              since=started)


# ---------------------------------------------------------------------------- failures


def test_restarted_master_with_stale_data_does_not_stay_master(gateway: GatewayPods, healthy: int):
    stale = healthy
    with gateway.redis(stale) as master:
        master.mset({f"krt:stale:old:{i}": i for i in range(100)})
        master.save()  # the RDB on disk stops here
        master.mset({f"krt:stale:new:{i}": i for i in range(100)})
        assert master.wait(2, 5000) == 2
    # The redis process dies without saving and is back within a second: the sentinels still
    # name it master, and its RDB lacks what the replicas have.
    killed = time.monotonic()
    podman("kill", "-s", "KILL", gateway.container(stale, "redis"))
    podman("start", gateway.container(stale, "redis"))
    chains: set[str] = set()
    writable_after: list[float] = []

    def settled() -> bool:
        links = gateway.links()
        chains.update(gateway.chains(links))
        if not writable_after:
            for ordinal in (o for o, master in links.items() if master is None and o != stale):
                try:
                    with gateway.redis(ordinal, timeout=1.0) as client:
                        client.set("krt:stale:probe", "1")
                    writable_after.append(time.monotonic() - killed)
                except redis.RedisError:
                    pass
        return bool(writable_after) and not gateway.invariant_problems()

    wait_for("the cluster to settle", settled, RECOVERY_BOUND_S, interval=0.2)
    new_master = gateway.master_ordinal()
    assert new_master != stale, "a restarted master with older data took the role back"
    with gateway.redis(new_master) as client:
        assert sum(client.exists(f"krt:stale:new:{i}") for i in range(100)) == 100
    # The restarted node keeps its port closed while it claims: it never replicates from a
    # replica, no replica replicates from it, and a writable master is back within a hard kill's
    # bound (down-after, then Sentinel's election and promotion), whatever its failover request got.
    assert not chains, f"replication chains or cycles seen: {sorted(chains)}"
    print(f"writable master after {writable_after[0]:.1f} s")
    assert writable_after[0] <= DOWN_AFTER_S + 2 + SLACK_S
    assert "has newer data" in gateway.logs(stale, "redis")


def _local_replication(gateway: GatewayPods, ordinal: int) -> dict[str, str]:
    """INFO replication of pod <ordinal>'s redis read through its unix socket (inside the pod),
    which answers while the pod's TCP port is silenced or closed."""
    cli = engine_binaries(gateway.engine.engine).cli
    out = gateway.exec(ordinal, "redis", cli, "-s", names.REDIS_SOCKET, "info", "replication", timeout=10).stdout
    return dict(line.split(":", 1) for line in out.replace("\r", "").splitlines() if ":" in line)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def test_a_restarted_master_opens_its_port_only_once_no_replica_names_it(gateway: GatewayPods, healthy: int):
    """The restarted master (older data) follows the promoted replica, while the third pod,
    unreachable during the failover, still names the old master and retries it every second.
    Opening the port then would make that pod replicate through a replica (a chain) until
    Sentinel fixes it. The restarted node keeps its port closed while that pod may still name
    it, hands it over to the new master once it answers, and only then opens the port."""
    stale = healthy
    lagging, promoted = [o for o in sorted(gateway.started_pods) if o != stale][:2]
    with gateway.redis(stale) as master:
        master.mset({f"krt:handover:old:{i}": i for i in range(100)})
        master.save()
        master.mset({f"krt:handover:new:{i}": i for i in range(100)})
        assert master.wait(2, 5000) == 2
    stale_fqdn = gateway.fqdn(stale)
    chain_seen: list[dict[str, str]] = []

    def watch_lagging() -> dict[str, str]:
        info = _local_replication(gateway, lagging)
        if info.get("master_host") == stale_fqdn and info.get("master_link_status") == "up" \
                and _local_replication(gateway, stale).get("role") == "slave":
            chain_seen.append(info)
        return info

    gateway.silence_pod(lagging)
    try:
        # The sentinels must judge the silenced pod down before the failover picks a replica.
        def lagging_down() -> bool:
            with gateway.sentinel(promoted) as sentinel:
                replicas = sentinel.execute_command("SENTINEL", "REPLICAS", names.MASTER_SET)
            return any(reply_pairs(r).get("name", "").startswith(gateway.fqdn(lagging))
                       and "s_down" in reply_pairs(r).get("flags", "") for r in replicas)

        wait_for("the sentinels to judge the silenced pod down", lagging_down, DOWN_AFTER_S + SLACK_S)
        podman("kill", "-s", "KILL", gateway.container(stale, "redis"))
        podman("start", gateway.container(stale, "redis"))
        wait_for("the restarted master to follow the promoted replica",
                 lambda: _local_replication(gateway, stale).get("master_host") == gateway.fqdn(promoted),
                 FAILOVER_BOUND_S + SLACK_S, interval=0.5)
        # While the third pod answers nobody, it may still name the old master: the port stays shut.
        for _ in range(6):
            assert watch_lagging().get("master_host") == stale_fqdn, "the silenced pod was reconfigured"
            assert not _port_open(gateway.ip(stale), names.REDIS_PORT), "port opened while a peer may name it"
            time.sleep(0.5)
    finally:
        gateway.unsilence_pod(lagging)

    def settled() -> bool:
        watch_lagging()
        return _port_open(gateway.ip(stale), names.REDIS_PORT) and not gateway.invariant_problems()

    wait_for("the cluster to settle", settled, FAILOVER_TIMEOUT_S + SLACK_S, interval=0.3)
    assert not chain_seen, f"pod {lagging} replicated through pod {stale}, a replica: {chain_seen[0]}"
    assert gateway.master_ordinal() == promoted
    with gateway.redis(promoted) as client:
        assert sum(client.exists(f"krt:handover:new:{i}") for i in range(100)) == 100
    assert f"pod {lagging} still named this pod as its master: handed over" in gateway.logs(stale, "redis")


def test_an_empty_pod_never_takes_the_master_role_while_its_peers_are_silent(gateway: GatewayPods, healthy: int):
    """Pod 0 loses its volume and comes back while its peers, which hold the data, answer nobody:
    no sentinel state, no data, no peer master is what a first bootstrap looks like too. It
    must not become master (its peers would resync to its empty dataset); it waits, its port
    closed, and joins the cluster once the peers answer."""
    with gateway.redis(healthy) as master:
        master.mset({f"krt:empty:{i}": i for i in range(100)})
        assert master.wait(2, 5000) == 2
    gateway.remove_pod(0)
    gateway.wipe_data(0)
    peers = [o for o in range(gateway.replicas) if o != 0]
    for peer in peers:
        gateway.silence_pod(peer)
    try:
        gateway.create_pod(0)
        # Boot waits BOOT_PEER_WAIT_S for the peer sentinels and asks each silent peer whether
        # it runs as master (the scripts' call timeout, 3 s, each); then it claims.
        wait_for("pod 0 to claim", lambda: "claiming the master role:" in gateway.logs(0, "redis"),
                 BOOT_PEER_WAIT_S + 2 * 3 + SLACK_S)
        # It refuses the role: either because it has no data while peers are silent, or
        # because its own sentinel heard from the peers' sentinels of a newer master (hello
        # messages also travel from sentinel to sentinel) that it cannot reach. One round of the
        # claim asks up to 6 silent questions; watch several rounds.
        watch_until = time.monotonic() + BOOT_PEER_WAIT_S + 2 * 6 * 3
        while time.monotonic() < watch_until:
            with pytest.raises(redis.ConnectionError):
                with gateway.redis(0, timeout=1.0) as client:
                    client.ping()
            time.sleep(2)
        log = gateway.logs(0, "redis")
        assert "taking the master role" not in log
        assert ("an empty node does not take the role" in log
                or "names another master in a newer configuration" in log), log[-2000:]
    finally:
        for peer in peers:
            gateway.unsilence_pod(peer)
    new_master = gateway.wait_healthy(RECOVERY_BOUND_S + FAILOVER_BOUND_S)
    assert new_master != 0 or healthy != 0
    with gateway.redis(new_master) as client:
        assert sum(client.exists(f"krt:empty:{i}") for i in range(100)) == 100


def hold_ip(ip: str) -> None:
    """Occupies `ip` on the test network, so that a recreated pod gets a new address."""
    podman("rm", "-f", "-t", "0", IP_HOLDER, check=False)
    podman("run", "-d", "--name", IP_HOLDER, "--network", NETWORK, "--ip", ip, CLIENT_IMAGE, "sleep", "600")


def test_hard_killed_master_is_replaced_and_returns_as_replica(gateway: GatewayPods, healthy: int):
    old = healthy
    old_ip = gateway.ip(old)
    survivors = replicas_of(gateway, old)
    killed_at = time.monotonic()
    gateway.kill_pod(old)

    def new_master() -> int | None:
        named = {gateway.sentinel_master(o) for o in survivors}
        if len(named) != 1 or gateway.fqdn(old) in named:
            return None
        candidate = gateway.ordinal_of(named.pop())
        return candidate if gateway.roles().get(candidate) == "master" else None

    promoted = wait_for("a new master", new_master, FAILOVER_BOUND_S + 5)
    failover_s = time.monotonic() - killed_at
    print(f"hard kill: new master {promoted} after {failover_s:.1f} s (down-after {DOWN_AFTER_S} s)")
    assert failover_s <= FAILOVER_BOUND_S

    def proxy_writes_to_promoted() -> bool:
        with gateway.through_haproxy(password=REDIS_PASSWORD) as proxied:
            proxied.set("krt:after-hard-kill", "1")
            return proxied.execute_command("ROLE")[0] == "master" and \
                proxied.info("server")["run_id"] == gateway.redis(promoted).info("server")["run_id"]

    wait_for("HAProxy to follow the failover", proxy_writes_to_promoted, 2 * SLACK_S)

    hold_ip(old_ip)
    try:
        gateway.create_pod(old)
        assert gateway.ip(old) != old_ip
        roles_seen = []

        def back_as_replica() -> bool:
            roles_seen.append(gateway.roles().get(old))
            return not gateway.invariant_problems()

        wait_for("the old master to return as a replica", back_as_replica, RECOVERY_BOUND_S, interval=0.2)
    finally:
        podman("rm", "-f", "-t", "0", IP_HOLDER, check=False)
    assert "master" not in roles_seen, f"the recreated old master reported role master: {roles_seen}"
    assert gateway.master_ordinal() == promoted


def _endpoint_refuses_writes(gateway: GatewayPods) -> bool:
    try:
        with gateway.through_haproxy(password=REDIS_PASSWORD, timeout=1.0) as proxied:
            proxied.set("krt:endpoint-probe", "1")
    except redis.RedisError:
        return True
    return False


def _hold_without_master(gateway: GatewayPods, seconds: float) -> None:
    """For <seconds>: no pod reports role master (the pods promote nobody on their own) and the
    master-only endpoint accepts no write."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert not masters_now(gateway), f"a pod became master: {gateway.roles()}"
        assert _endpoint_refuses_writes(gateway), "the master-only endpoint accepted a write without a master"
        time.sleep(1)


def test_with_no_good_replica_nothing_is_promoted_and_the_restarted_master_takes_its_role_back(
        gateway: GatewayPods, healthy: int):
    """Both replicas' redis are down (their sentinels run) when the master's redis dies: the
    sentinels agree it is down but have no replica to promote (`-failover-abort-no-good-slave`).
    The pods promote nobody and the endpoint refuses writes. The master's redis, restarted as
    the kubelet restarts a container, claims: its peers are silent and it has data, so it takes
    the role back after bootPeerWaitSeconds; the replicas, started again, follow it. Every
    acknowledged key is there (prod's min-replicas-to-write 1: a master without replicas
    acknowledges nothing new once min-replicas-max-lag has passed)."""
    master = healthy
    replicas = replicas_of(gateway, master)
    with gateway.redis(master) as client:
        client.mset({f"krt:nogood:{i}": i for i in range(100)})
        assert client.wait(2, 5000) == 2
        client.save()
    for ordinal in replicas:
        podman("stop", "-t", "0", gateway.container(ordinal, "redis"))
    podman("kill", "-s", "KILL", gateway.container(master, "redis"))
    killed = time.monotonic()
    wait_for("Sentinel to give up for lack of a good replica",
             lambda: any("-failover-abort-no-good-slave" in gateway.logs(o, "sentinel") for o in gateway.started_pods),
             FAILOVER_BOUND_S + SLACK_S, interval=1.0)
    _hold_without_master(gateway, 3)
    podman("start", gateway.container(master, "redis"))
    # The role is taken once writes resume: the port opens with writes paused, until the
    # sentinels, which flag the set o_down, have seen it answer.
    wait_for("the restarted master to take its role back",
             lambda: masters_now(gateway) == [master] and "taking the master role" in gateway.logs(master, "redis"),
             BOOT_PEER_WAIT_S + SLACK_S, interval=0.5)
    print(f"no good replica: master back {time.monotonic() - killed:.1f} s after the kill")
    taken = [line for line in gateway.logs(master, "redis").splitlines() if "taking the master role" in line]
    assert "peer(s) silent for" in taken[-1], taken
    for ordinal in replicas:
        podman("start", gateway.container(ordinal, "redis"))
    assert gateway.wait_healthy(RECOVERY_BOUND_S) == master
    for ordinal in replicas:
        with gateway.redis(ordinal) as client:
            assert sum(client.exists(f"krt:nogood:{i}") for i in range(100)) == 100


def assert_port_closed(gateway: GatewayPods, ordinal: int) -> None:
    with socket.socket() as sock:
        sock.settimeout(2)
        assert sock.connect_ex((gateway.ip(ordinal), names.REDIS_PORT)) == errno.ECONNREFUSED, \
            f"pod {ordinal} still accepts connections on {names.REDIS_PORT} after its preStop handover"


def graceful_stop(gateway: GatewayPods, ordinal: int) -> tuple[float, str]:
    """preStop, then stop and recreate the pod, as a rolling update does; (preStop seconds, its log)."""
    started = time.monotonic()
    hook = gateway.run_script(ordinal, "redis", names.REDIS_PRESTOP_SCRIPT, timeout=HANDOVER_BUDGET_S + 30)
    hook_s = time.monotonic() - started
    assert hook.returncode == 0, hook.stderr
    if "handover done" in hook.stderr:
        # A stopping master closes its port at the switch: no new client reaches it as a replica.
        assert f"port {names.REDIS_PORT} closed to new connections -> OK" in hook.stderr, hook.stderr
        # ... and stays a while with it closed, so that clients are refused rather than left to
        # time out on an address that is gone
        assert f"handed over: the pod stays {CLOSED_LINGER_S} s with its ports closed" in hook.stderr, hook.stderr
        assert CLOSED_LINGER_S >= 1 and hook_s >= CLOSED_LINGER_S, (CLOSED_LINGER_S, hook_s)
        assert_port_closed(gateway, ordinal)
    gateway.remove_pod(ordinal, stop_timeout=int(CFG.gateway.termination_grace_period_seconds))
    gateway.create_pod(ordinal)
    return hook_s, hook.stderr


def write_gaps(acked: list[list[float]], start: float, end: float) -> float:
    times = sorted(t for t, _ in acked)
    inside = [b - a for a, b in zip(times, times[1:]) if b >= start and a <= end]
    return max(inside, default=end - start)


@pytest.mark.every_engine
def test_graceful_stops_of_the_master_lose_no_acknowledged_write(gateway: GatewayPods, healthy: int,
                                                                 tmp_path: Path):
    # Twice on the default engine (the second from the new master, with the first one back as a
    # replica), once on the others: the lab's rolling upgrade hands over on Redis 7.0 again.
    rounds = 2 if gateway.engine == DEFAULT_ENGINE else 1
    duration = 8 + rounds * (HANDOVER_BUDGET_S + 15)
    start_writer(gateway, tmp_path / "writer", duration)
    time.sleep(5)
    windows = []
    for _ in range(rounds):
        master = gateway.master_ordinal()
        window_start = time.time()
        hook_s, hook_log = graceful_stop(gateway, master)
        assert "handover done" in hook_log, hook_log
        windows.append((window_start, time.time(), hook_s))
        new_master = gateway.wait_healthy(RECOVERY_BOUND_S)
        assert new_master != master
        # recreated at once, while the sentinels still settle the failover: it must follow
        assert "taking the master role back" not in gateway.logs(master, "redis")
        assert any("+switch-master" in gateway.logs(o, "sentinel") for o in gateway.started_pods if o != master)
    result = writer_result(tmp_path / "writer", timeout=duration + 60)

    with gateway.redis(gateway.master_ordinal()) as client:
        acked_keys = [n for _, n in result["keys"]]
        missing = [n for n in acked_keys if not client.exists(f"writer:key:{n}")]
        final_counter = int(client.get("writer:counter") or 0)
    max_acked_counter = max(v for _, v in result["counter"])
    gaps = [write_gaps(result["counter"], start, end) for start, end, _ in windows]
    print(f"graceful stops: {len(acked_keys)} acknowledged SETs, {len(missing)} lost; counter "
          f"{final_counter} >= {max_acked_counter}; write gaps {[f'{g:.2f}' for g in gaps]} s; "
          f"preStop {[f'{h:.1f}' for _, _, h in windows]} s; {len(result['errors'])} client errors")
    assert not missing, f"acknowledged writes lost: {missing[:20]}"
    assert final_counter >= max_acked_counter, "acknowledged INCRs lost"
    for gap in gaps:
        assert gap <= HANDOVER_BUDGET_S


# Default engine only: the choice is the handover script's, from INFO sentinel's `sentinel_tilt`,
# which the three engines report alike.
def test_a_handover_passes_over_a_sentinel_in_tilt(gateway: GatewayPods, healthy: int):
    """A sentinel in TILT answers SENTINEL FAILOVER with OK and starts the failover only when TILT
    ends (30 s later): the handover would give up in the meantime, the others would fail over on
    their own, and the TILTed one would fail over once more. The handover asks another peer, and
    no second failover follows when TILT ends."""
    tilted = replicas_of(gateway, healthy)[0]  # the first peer the master's handover would ask
    paused_at = time.time()
    podman("pause", gateway.container(tilted, "sentinel"))
    time.sleep(3)  # Sentinel enters TILT when its timer ran more than 2 s late
    podman("unpause", gateway.container(tilted, "sentinel"))

    def in_tilt(ordinal: int) -> bool:
        with gateway.sentinel(ordinal) as sentinel:
            return str(sentinel.info("sentinel").get("sentinel_tilt")) == "1"

    wait_for("the paused sentinel to enter TILT", lambda: in_tilt(tilted), 5, interval=0.2)
    hook = gateway.run_script(healthy, "redis", names.REDIS_PRESTOP_SCRIPT, timeout=HANDOVER_BUDGET_S + 30)
    assert hook.returncode == 0, hook.stderr
    assert f"sentinel of pod {tilted} is in TILT: not asked to fail over" in hook.stderr, hook.stderr
    assert "handover done" in hook.stderr, hook.stderr
    assert in_tilt(tilted), "TILT ended before the handover: the test proved nothing"
    assert_port_closed(gateway, healthy)
    # The pod stops after its preStop, as in a rolling update: it comes back as a replica.
    gateway.remove_pod(healthy, stop_timeout=int(CFG.gateway.termination_grace_period_seconds))
    gateway.create_pod(healthy)
    new_master = gateway.wait_healthy(RECOVERY_BOUND_S)
    assert new_master != healthy
    wait_for("the sentinel to leave TILT", lambda: not in_tilt(tilted), 40, interval=1)
    time.sleep(DOWN_AFTER_S)
    assert gateway.wait_healthy(RECOVERY_BOUND_S) == new_master
    assert masters_now(gateway) == [new_master]
    tilted_log = gateway.logs(tilted, "sentinel", since=paused_at)
    assert "-tilt" in tilted_log, tilted_log
    assert "Executing user requested FAILOVER" not in tilted_log, tilted_log
    assert "+elected-leader" not in tilted_log.split("-tilt")[-1], tilted_log


@pytest.mark.every_engine
def test_restart_of_every_pod_at_once_elects_the_most_advanced_node(gateway: GatewayPods, healthy: int):
    laggard = replicas_of(gateway, healthy)[0]
    with gateway.redis(laggard) as client:
        # this replica stops receiving the stream: its offset falls behind
        client.config_set("masterauth", "not-the-password")
        client.execute_command("CLIENT", "KILL", "TYPE", "master")
    with gateway.redis(healthy) as master:
        for i in range(200):
            master.incr("krt:restart-all")
        time.sleep(1)
    offsets = {}
    for ordinal in sorted(gateway.started_pods):
        with gateway.redis(ordinal) as client:
            offsets[ordinal] = client.info("replication")["master_repl_offset"]
    assert offsets[laggard] < offsets[healthy]
    # The offsets are read one node after the other while the master's replication pings keep
    # advancing them by a few bytes, so an in-sync replica can read ahead of its master: every
    # node but the laggard holds the newest data and may win.
    most_advanced = {o for o, offset in offsets.items() if o != laggard and offset > offsets[laggard]}

    stop_timeout = str(CFG.gateway.termination_grace_period_seconds)
    podman("pod", "stop", "-t", stop_timeout, *(gateway.pod_name(o) for o in sorted(gateway.started_pods)))
    ordinals = sorted(gateway.started_pods)
    for ordinal in ordinals:
        gateway.remove_pod(ordinal)
    started = time.monotonic()
    for ordinal in ordinals:
        gateway.create_pod(ordinal)
    master = gateway.wait_healthy(RECOVERY_BOUND_S)
    print(f"restart of every pod: healthy after {time.monotonic() - started:.1f} s; offsets before {offsets}; "
          f"master {master}")
    assert master in most_advanced
    with gateway.redis(master) as client:
        assert int(client.get("krt:restart-all")) == 200


# ---------------------------------------------------------------------------- operator commands


@pytest.mark.every_engine
def test_operator_redis_cli_commands_work_as_written(gateway: GatewayPods, healthy: int):
    """The previous deployment's documented commands, on pods with auth on: REDISCLI_AUTH in each
    container's environment (the Secret's, in Kubernetes) authenticates them."""
    pod, cli = 0, engine_binaries(gateway.engine.engine).cli
    sentinel = gateway.exec(pod, "sentinel", cli, "-p", str(names.SENTINEL_PORT),
                            "sentinel", "master", names.MASTER_SET)
    assert sentinel.returncode == 0 and "NOAUTH" not in sentinel.stdout, sentinel.stdout + sentinel.stderr
    lines = sentinel.stdout.splitlines()
    assert lines[lines.index("name") + 1] == names.MASTER_SET
    assert lines[lines.index("ip") + 1] == gateway.fqdn(healthy)
    redis_info = gateway.exec(pod, "redis", cli, "info", "replication")
    assert redis_info.returncode == 0 and "NOAUTH" not in redis_info.stdout, redis_info.stdout + redis_info.stderr
    assert f"role:{'master' if pod == healthy else 'slave'}" in redis_info.stdout
    # Changing the server is the ACL user `operator`'s: a bare redis-cli is the clients' user.
    refused = gateway.exec(pod, "redis", cli, "config", "get", "maxmemory")
    assert "NOPERM" in refused.stdout + refused.stderr, refused.stdout + refused.stderr
    operator = gateway.exec(pod, "redis", "sh", f"{names.SCRIPTS_DIR}/{names.OPERATOR_CLI_SCRIPT}",
                            "config", "get", "maxmemory")
    assert operator.returncode == 0 and operator.stdout.split() == ["maxmemory", str(CFG.gateway.maxmemory_bytes)], \
        operator.stdout + operator.stderr
    for result in (sentinel, redis_info, operator):
        assert "AUTH failed" not in result.stderr and "Warning" not in result.stderr


# ---------------------------------------------------------------------------- secrets


def test_no_password_in_process_lists_or_logs(gateway: GatewayPods, healthy: int):
    # a hook running while the command lines are read
    gateway.run_script(replicas_of(gateway, healthy)[0], "redis", names.REDIS_PRESTOP_SCRIPT)
    for ordinal in sorted(gateway.started_pods):
        for role in ("redis", "sentinel"):
            cmdlines = gateway.exec(ordinal, role, "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
            binaries = engine_binaries(gateway.engine.engine)
            assert binaries.server in cmdlines or binaries.sentinel in cmdlines
            for password in (REDIS_PASSWORD, SENTINEL_PASSWORD, *gateway.acl_passwords.values()):
                assert password not in cmdlines
                assert password not in gateway.logs(ordinal, role)
    haproxy_logs = podman("logs", f"{PREFIX}haproxy", check=False)
    passwords = (REDIS_PASSWORD, SENTINEL_PASSWORD, *gateway.acl_passwords.values())
    for password in passwords:
        assert password not in haproxy_logs.stdout + haproxy_logs.stderr
        for path in (gateway.conf_dir, gateway.scripts_dir, gateway.haproxy_dir):
            for file in path.iterdir():
                assert password not in file.read_text(), file
        for ordinal in sorted(gateway.started_pods):
            # The users file on the volume holds hashes only.
            assert password not in (gateway.data_dir(ordinal) / "conf" / names.USERS_ACL).read_text()
    assert json.dumps(sorted(os.listdir(gateway.conf_dir))) == json.dumps(
        [names.REDIS_CONF, names.SENTINEL_CONF, names.USERS_ACL])
