"""The failover drills: one fault each, applied to the master (or around it) while the writer runs,
through the target's cluster (cluster.Cluster): real kubelet, real container runtime, real DNS.

Each scenario's `apply` returns the fault's timeline with `fault_at` (wall clock);
`unmet_expectations` says what a finished trial shows that its scenario forbids, beyond the
invariants that every trial waits for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ops import GatewayOps
from stack_config import names

from .targets import SENTINEL_PORT

# How long the master stays cut off after the others elected a new one: long enough for the
# isolated node to stay master alone for a while (as in a real partition), short for the run.
CUT_HOLD_SECONDS = 5.0
# A killed pod's new sandbox (and with it its new IP) takes the kubelet a second or two; the
# drill records when it shows, within this.
NEW_IP_WAIT_SECONDS = 60.0
# How long, past a failover-timeout, the no-good-replica drill keeps the set without a promotable
# replica once the lost master is back: long enough for its boot rule to ask Sentinel for the
# failover and be refused at least once.
NO_GOOD_REPLICA_HOLD_SECONDS = 5.0


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    apply: Callable[[Any, str], dict[str, Any]]
    expects_failover: Optional[bool]  # None: the drill only measures (the bare cluster's restart)
    floor: bool = False  # runs on the bare floor cluster instead of the gateway
    # A second writer through the master-only endpoint (the Gateway's path) beside the one
    # through Sentinel: the day-2 operations are proved on both.
    endpoint_writer: bool = False
    # The master moves only by fenced handovers, never by a failure: no sentinel may judge it
    # objectively down (the day-2 operations).
    fenced_only: bool = False
    # Seconds the writers may run beyond a failover drill's bound: a `pulumi up` takes minutes.
    extra_seconds: float = 0.0


def _killed(target, pod: str) -> dict[str, Any]:
    """kill_pod, and when the pod showed again with a new IP."""
    fault = target.kill_pod(pod)
    fault.update(target.wait_new_ip(pod, fault.get("ip"), NEW_IP_WAIT_SECONDS))
    return fault


def kill_master_and_restart(target, master: str) -> dict[str, Any]:
    """SIGKILL every process of the master's pod, sandbox included: the kubelet gives the pod a
    new sandbox (new IP) and starts its containers again at once, as after a crash on a live node."""
    return _killed(target, master)


def kill_master(target, master: str) -> dict[str, Any]:
    """The master's node is lost, and the pod comes back elsewhere with a new IP once the others
    have elected a new master (Kubernetes does not recreate a lost node's StatefulSet pod for
    minutes). On one node that is: cut the pod off the network (drops, no resets: nobody hears
    from it again, as from a dead node), SIGKILL its redis and sentinel (its data and state in
    memory are gone; the kubelet restarts them in the same, still cut-off, sandbox, where they
    reach no one and no one reaches them), wait until the sentinels agree on another master (at
    most the restore bound), then SIGKILL the whole pod: the new sandbox has a new IP and no cut,
    and the pod must come back as a replica. `fault_at` is the cut."""
    fault = target.cut_pod(master)
    fault["operation"] = "kill-held-down"
    fault["killed"] = [target.kill_container(master, "redis"), target.kill_container(master, "sentinel")]
    fault["failover_seen_at"] = wait_for_new_master(target, master, target.timing.restore_bound_seconds)
    fault["returned"] = _killed(target, master)
    return fault


def wait_for_new_master(target, old_master: str, bound: float, ignoring: Optional[str] = None):
    """When the answering sentinels (but the one of pod `ignoring`) first agree on a master
    other than `old_master` (None if not within `bound` seconds)."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        named = {view.master_pod for view in target.panel.views() if not view.error and view.pod != ignoring}
        if len(named) == 1 and None not in named and old_master not in named:
            return time.time()
        time.sleep(0.2)
    return None


def delete_master(target, master: str) -> dict[str, Any]:
    """Delete the master's pod through the API: the kubelet runs the preStop handover, then stops
    the containers; the StatefulSet creates the pod again. Records when the old pod was gone and
    the kubelet's warnings about it (FailedPreStopHook is a handover that failed)."""
    fault = target.delete_pod(master)
    fault["removed_at"] = target.wait_gone(master, fault["uid"], target.timing.restore_bound_seconds)
    fault["warnings"] = [e for e in target.events(master, fault["fault_at"]) if e["type"] == "Warning"]
    return fault


def lose_master_volume(target, master: str) -> dict[str, Any]:
    """The master's data volume lost, as when its disk fails and an operator replaces it
    (README, "A pod whose volume was lost"): its PVC deleted (it stays, Terminating, while the
    pod uses it), then the pod deleted as in master-delete, so that its preStop hands over first.
    The StatefulSet recreates the pod; the scheduler holds it while the old PVC goes, then the
    controller creates a new PVC and the provisioner a new, empty volume. The pod must boot as a
    replica (an empty node never takes the role) and sync everything from the new master.
    `fault_at` is the PVC's delete (`uid`, `volume`: the old claim's); waits until the rebuilt pod
    is Ready on a new volume."""
    fault = target.delete_data_claim(master)
    deleted = delete_master(target, master)
    fault.update(operation="volume-lost", pod_deleted_at=deleted["fault_at"], removed_at=deleted["removed_at"],
                 warnings=deleted["warnings"])
    fault["new_claim"], new_claim_at = _wait_new_claim(target, master, fault["uid"],
                                                       target.timing.restore_bound_seconds)
    fault["rebuilt_at"] = _wait_replaced(target, {master: deleted["uid"]})
    fault["timings_s"] = _since(fault["fault_at"], {"new PVC bound": new_claim_at, "pod Ready on it": fault["rebuilt_at"]})
    return fault


def _since(start: float, moments: dict[str, Optional[float]]) -> dict[str, Optional[float]]:
    """Seconds from `start` to each named moment (None stays None): what the drill's line prints
    beside the outage."""
    return {name: None if at is None else round(at - start, 1) for name, at in moments.items()}


def _wait_new_claim(target, pod: str, old_uid: str, timeout: float) -> tuple[Optional[dict[str, Any]], Optional[float]]:
    """The pod's data PVC once one other than `old_uid` is Bound, and when (None, None if not
    within `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        claim = target.data_claim(pod)
        if claim and claim["uid"] != old_uid and claim["phase"] == "Bound":
            return claim, time.time()
        time.sleep(0.5)
    return None, None


def kill_replica(target, master: str) -> dict[str, Any]:
    replica = next(pod for pod in target.pod_names() if pod != master)
    return _killed(target, replica)


def cut_master(target, master: str) -> dict[str, Any]:
    """Drop every packet of the master's pod (no resets), wait until the other sentinels have a
    new master, hold the cut a little longer, then heal."""
    fault = target.cut_pod(master)
    fault["failover_seen_at"] = wait_for_new_master(target, master, target.timing.failover_bound_with_tilt_seconds)
    time.sleep(CUT_HOLD_SECONDS)
    fault["heal"] = target.heal_pod(master)
    fault["healed_at"] = fault["heal"]["healed_at"]
    return fault


def cut_master_from_peers(target, master: str) -> dict[str, Any]:
    """The master's pod cut from the other gateway pods only (drops, no resets): its replicas and
    the other sentinels lose it, while clients and the master-only proxy still reach it. The
    others fail over after down-after. Whatever the old master acknowledges meanwhile is lost at
    its demotion; its fencing watch (redis-start.sh) refuses writes and cuts its clients once
    fewer than quorum sentinels have named it for down-after, which bounds that. Healed
    CUT_HOLD_SECONDS after the other sentinels agree on a new master."""
    peers = [ip for pod, ip in target.pod_ips().items() if pod != master and ip]
    fault = target.cut_pod(master, addresses=peers)
    fault["operation"] = "cut-from-peers"
    # The cut master's own sentinel still names it: the others must agree.
    fault["failover_seen_at"] = wait_for_new_master(target, master, target.timing.failover_bound_with_tilt_seconds,
                                                    ignoring=master)
    time.sleep(CUT_HOLD_SECONDS)
    fault["heal"] = target.heal_pod(master)
    fault["healed_at"] = fault["heal"]["healed_at"]
    return fault


def kill_sentinel_then_master(target, master: str) -> dict[str, Any]:
    """SIGKILL the sentinel container of a replica pod (the kubelet restarts it in the same pod),
    then at once the master's whole pod: the majority of sentinels must form again and elect a
    new master."""
    replica = next(pod for pod in target.pod_names() if pod != master)
    sentinel = target.kill_container(replica, "sentinel")
    fault = _killed(target, master)
    fault["sentinel_killed"] = sentinel
    return fault


def rolling_restart(target, master: str) -> dict[str, Any]:
    """`kubectl rollout restart` of the StatefulSet: every pod deleted gracefully and recreated,
    highest ordinal first, each once the others are Ready; the master's preStop hands over when
    its turn comes. Waits until every pod was replaced (at most the restore bound per pod)."""
    before = _pod_uids(target)
    fault = target.restart_all()
    fault["pods_before"] = before
    fault["replaced_at"] = _wait_replaced(target, before)
    return fault


def _pod_uids(target) -> dict[str, str]:
    return {pod: target.cluster.pod(target.namespace, pod).uid for pod in target.pod_names()}


def _wait_replaced(target, before: dict[str, str]) -> Optional[float]:
    """When every pod of `before` (pod -> uid) was replaced by a new one that is Ready; None if
    not within the restore bound per pod."""
    deadline = time.monotonic() + target.timing.restore_bound_seconds * len(before)
    while time.monotonic() < deadline:
        now = {pod: target.cluster.pod(target.namespace, pod) for pod in before}
        if all(p is not None and p.uid != before[name] and p.ready for name, p in now.items()):
            return time.time()
        time.sleep(1.0)
    return None


def _masters_seen(target, exclude: Optional[str], seconds: float) -> list[str]:
    """Pods (but `exclude`) that reported the master role at any poll (twice a second) during
    `seconds`."""
    seen: set[str] = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen.update(pod for pod, role in target.roles().items() if role == "master" and pod != exclude)
        time.sleep(0.5)
    return sorted(seen)


def kill_master_without_quorum(target, master: str) -> dict[str, Any]:
    """A replica pod's sentinel is partitioned (TCP of the sentinel port dropped in that pod: its
    redis goes on replicating), then the master's node is lost as in master-kill. The one
    sentinel left that hears a peer is alone: no quorum, so nobody may be promoted. Held for the
    failover bound while every pod's role is polled; then the partition heals, Sentinel fails
    over within its own bound, and the old master's pod returns in a new sandbox as a replica.
    `fault_at` is the master's cut."""
    partitioned = next(pod for pod in target.pod_names() if pod != master)
    sentinel_cut = target.cut_pod(partitioned, ports=(SENTINEL_PORT,))
    fault = target.cut_pod(master)
    fault["operation"] = "kill-without-quorum"
    fault["sentinel_cut"] = sentinel_cut
    fault["killed"] = [target.kill_container(master, "redis"), target.kill_container(master, "sentinel")]
    fault["promoted_without_quorum"] = _masters_seen(target, master, target.timing.failover_bound_seconds)
    fault["quorum_back_at"] = target.heal_pod(partitioned)["healed_at"]
    fault["failover_seen_at"] = wait_for_new_master(target, master, target.timing.restore_bound_seconds)
    fault["returned"] = _killed(target, master)
    return fault


def kill_master_with_no_good_replica(target, master: str) -> dict[str, Any]:
    """Both replicas are marked unpromotable (replica-priority 0, as an operator marks a node that
    must never be master), then the master's node is lost as in master-kill and held down until
    the sentinels give up for lack of a good replica (-failover-abort-no-good-slave). The pod
    returns in a new sandbox with its last RDB, older than what its replicas hold: it must not
    take the role back (that would lose every write since the save), and no replica may be
    master either, for a failover-timeout and more (the returned node asks Sentinel for the
    failover meanwhile, and is refused). Then the cause goes (the priorities are restored, as a
    restart of the replica pods would do: redis.conf is written anew at every start), and the
    set fails over to the replica with the newest data."""
    replicas = [pod for pod in target.pod_names() if pod != master]
    priorities = {pod: target.node_command(pod, "CONFIG", "GET", "replica-priority") for pod in replicas}
    for pod in replicas:
        target.node_command(pod, "CONFIG", "SET", "replica-priority", "0")
    masters: set[str] = set()

    def watch_roles() -> None:
        masters.update(pod for pod, role in target.roles().items() if role == "master")

    def restore_priorities() -> float:
        for pod, reply in priorities.items():
            value = reply.get("replica-priority") if isinstance(reply, dict) else reply[1]
            target.node_command(pod, "CONFIG", "SET", "replica-priority", value)
        return time.time()

    try:
        fault = target.cut_pod(master)
        fault["operation"] = "kill-with-no-good-replica"
        fault["killed"] = [target.kill_container(master, "redis"), target.kill_container(master, "sentinel")]
        fault["abort_seen_at"] = None
        deadline = time.monotonic() + target.timing.failover_bound_seconds
        while time.monotonic() < deadline and fault["abort_seen_at"] is None:
            watch_roles()
            if any("-failover-abort-no-good-slave" in target.sentinel_log(pod, fault["fault_at"]) for pod in replicas):
                fault["abort_seen_at"] = time.time()
            time.sleep(0.5)
        fault["returned"] = _killed(target, master)
        masters.update(_masters_seen(target, None,
                                     target.timing.failover_timeout_ms / 1000 + NO_GOOD_REPLICA_HOLD_SECONDS))
        fault["masters_without_good_replica"] = sorted(masters)
        fault["priorities_back_at"] = restore_priorities()
    except BaseException:
        restore_priorities()
        raise
    fault["failover_seen_at"] = wait_for_new_master(target, master, target.timing.restore_bound_seconds)
    return fault


def switchover(target, master: str) -> dict[str, Any]:
    """The operators' planned switchover (python -m ops switchover --to <pod>): the role moves to
    the next pod by ordinal, with the preStop's fencing, and the old master stays up as a
    replica. `fault_at` is the command's start; `chosen` the pod asked for."""
    pods = target.pod_names()
    chosen = pods[(pods.index(master) + 1) % len(pods)]
    fault: dict[str, Any] = {"operation": "switchover", "pod": master, "chosen": chosen, "fault_at": time.time()}
    fault["promoted"] = target.switchover(master, chosen)
    fault["done_at"] = time.time()
    return fault


def bare_sentinel_failover(target, master: str) -> dict[str, Any]:
    """SENTINEL FAILOVER sent to a replica pod's sentinel, as the Sentinel documentation has it
    and what operators would otherwise use: nothing stops the old master from acknowledging
    writes until Sentinel converts it, and those writes go when it resyncs from the new master."""
    replica = next(pod for pod in target.pod_names() if pod != master)
    fault: dict[str, Any] = {"operation": "sentinel-failover", "pod": master, "via": replica, "fault_at": time.time()}
    done = target.exec(replica, "sentinel", "sh", "-c",
                       f'"$ENGINE_CLI" -p {SENTINEL_PORT} SENTINEL FAILOVER {target.master_set}')
    fault["reply"] = (done.stdout or done.stderr).strip()
    return fault


def full_restart(target, master: str) -> dict[str, Any]:
    """Every gateway pod deleted through the API at once, as a node drain or `kubectl delete pods
    --all` does: each redis saves its RDB at SIGTERM (after the master's preStop, which finds no
    peer to hand over to), and the StatefulSet recreates all of them together (Parallel). The
    boot rule then picks the node with the newest data while its peers are still loading or not
    there yet: every acknowledged write must be back, with one master and no chain. Waits until
    every pod was replaced and Ready (at most the restore bound per pod)."""
    before = _pod_uids(target)
    deletes = [target.delete_pod(pod) for pod in target.pod_names()]
    fault: dict[str, Any] = {"operation": "full-restart", "pod": master,
                             "fault_at": min(d["fault_at"] for d in deletes), "deletes": deletes,
                             "pods_before": before}
    fault["replaced_at"] = _wait_replaced(target, before)
    return fault


def _gateway_status(target) -> dict[str, Any]:
    """ops status of the gateway as deployed now: problems (ghosts of removed pods included) and
    each sentinel's quorum."""
    status = GatewayOps(target.cluster, target.namespace, target.statefulset, target.headless).status()
    return {"at": time.time(), "pods": len(status.nodes), "problems": status.problems,
            "quorums": sorted({s.quorum for s in status.sentinels if s.error is None}, key=str)}


def _pod_lives(target, pods: list[str]) -> dict[str, str]:
    """Pod -> "<uid> <restarts of each container>": a pod replaced or a container restarted
    changes it."""
    lives = {}
    for pod in pods:
        found = target.cluster.pod(target.namespace, pod)
        lives[pod] = "gone" if found is None else f"{found.uid} {sorted(found.restarts.items())}"
    return lives


def scale_out_and_in(target, master: str) -> dict[str, Any]:
    """`pulumi up` with `gateway.replicas` two higher, then `pulumi up` of the drill's own
    config again (scale back), each waited for until the invariants hold; `ops status` after
    each (every sentinel with the right peer and replica counts, no ghost, the quorum the
    config gives), and whether a pod that stays was replaced or restarted (it must not be: the
    pod count is not in the pod template). `fault_at` is the first `pulumi up`'s start."""
    replicas = target.replicas
    staying = target.pod_names()
    fault: dict[str, Any] = {"operation": "scale", "pod": master, "from": replicas, "to": replicas + 2,
                             "fault_at": time.time(), "staying_before": _pod_lives(target, staying)}
    for step, overrides in (("out", [f"gateway.replicas={replicas + 2}"]), ("in", [])):
        fault[step] = target.redeploy(overrides)
        fault[step]["healthy_at"] = target.wait_healthy(target.timing.restore_bound_seconds * target.replicas)
        fault[step]["status"] = _gateway_status(target)
        fault[step]["staying"] = _pod_lives(target, staying)
    fault["sentinel_restarts"] = _restart_sentinels(target, staying)
    fault["timings_s"] = {f"pulumi up {step}": round(fault[step]["done_at"] - fault[step]["started_at"], 1)
                          for step in ("out", "in")}
    return fault


def _restart_sentinels(target, pods: list[str]) -> dict[str, Any]:
    """Right after a scale-in, each pod's sentinel SIGKILLed in turn (the kubelet restarts it),
    each waited for until the invariants hold: the kubelet refreshes a running pod's mounted
    topology files only at its next sync, a minute or more after the change, and the removed
    pods' names still resolve from DNS caches. A sentinel that took its peers from a stale file
    would know a removed pod's sentinel for good (nothing but a reset forgets one). `files`:
    the pod count each pod's mounted file held just before its sentinel's kill, to show whether
    a run met the window. `status`: ops status after the last one."""
    restarts: dict[str, Any] = {"files": {}, "killed": []}
    for pod in pods:
        read = target.exec(pod, "sentinel", "cat", f"{names.TOPOLOGY_DIR}/{names.TOPOLOGY_REPLICAS_KEY}")
        restarts["files"][pod] = read.stdout.strip() if read.returncode == 0 else f"? {read.stderr.strip()}"
        restarts["killed"].append(target.kill_container(pod, "sentinel"))
        restarts["healthy_at"] = target.wait_healthy(target.timing.restore_bound_seconds)
    restarts["status"] = _gateway_status(target)
    return restarts


def _engines(target) -> dict[str, str]:
    """Pod -> "<engine> <version>" its redis reports (INFO server), or "?" when it does not answer."""
    engines = {}
    for pod in target.pod_names():
        try:
            info = target.node_command(pod, "INFO", "server")
        except Exception as err:  # recorded, judged by the scenario's expectations
            engines[pod] = f"? ({type(err).__name__})"
            continue
        name = info.get("server_name") or "redis"
        engines[pod] = f"{name} {info.get(f'{name}_version') or info.get('redis_version')}"
    return engines


def _engine_label(engine) -> str:
    """How _engines names a lab engine image: "redis 8.0.2", "valkey 8.1.1"."""
    from stack_config.upgrade import image_version

    return f"{engine.engine} {'.'.join(map(str, image_version(engine.image)))}"


def _wait_for_engine(target, pods: list[str], engine, timeout: float) -> Optional[float]:
    """When every pod of `pods` runs `engine` (None if not within `timeout`)."""
    wanted = _engine_label(engine)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = _engines(target)
        if all(running.get(pod) == wanted for pod in pods):
            return time.time()
        time.sleep(2.0)
    return None


def _staged_rollout_to_replicas(target, master: str, engine) -> dict[str, Any]:
    """The runbook's first steps: the master moved to pod 0 (fenced switchover; pod 0 is the
    last a rollout reaches), then `pulumi up` with the new engine and gateway.updatePartition=1:
    every pod but 0 runs the new engine as a replica of the old master."""
    fault: dict[str, Any] = {"operation": "upgrade", "pod": master, "to": engine.name, "fault_at": time.time()}
    first = target.pod_names()[0]
    fault["switchover"] = None if master == first else target.switchover(master, first)
    fault["staged"] = _engine_step(target, [*engine.overrides(), "gateway.updatePartition=1"],
                                   # `pulumi up` does not wait for a partitioned rollout (the
                                   # provider's wait is off for it).
                                   wait_for=(target.pod_names()[1:], engine))
    return fault


def _engine_step(target, overrides: list[str], wait_for=None) -> dict[str, Any]:
    """One `pulumi up` of an upgrade or rollback, waited for until the invariants hold (and, with
    `wait_for` = (pods, engine), until those pods run that engine); then each pod's engine and
    the agreed master."""
    bound = target.timing.restore_bound_seconds * target.replicas
    step = target.redeploy(overrides)
    if wait_for is not None:
        step["updated_at"] = _wait_for_engine(target, *wait_for, bound)
    step["healthy_at"] = target.wait_healthy(bound)
    step["engines"] = _engines(target)
    step["master"] = target.panel.agreed_master()
    return step


def upgrade_engine(engine):
    def upgrade(target, master: str) -> dict[str, Any]:
        """Staged rollout to the replicas, then `pulumi up` with the partition back to 0: pod 0,
        the master, is updated last, and its preStop hands the role over to an upgraded replica."""
        fault = _staged_rollout_to_replicas(target, master, engine)
        fault["completed"] = _engine_step(target, engine.overrides())
        return fault
    return upgrade


def roll_back_engine(engine):
    def roll_back(target, master: str) -> dict[str, Any]:
        """Staged rollout to the replicas, then `pulumi up` of the drill's own config again (the
        old engine, partition 0) before the master's pod was reached: the replicas go back, and
        their RDB files of the newer format are set aside at their start."""
        fault = _staged_rollout_to_replicas(target, master, engine)
        fault["operation"] = "rollback"
        fault["rolled_back"] = _engine_step(target, [])
        return fault
    return roll_back


def _lab_engine(name: str):
    from labcluster.layout import LAB_ENGINE_IMAGES

    return next(engine for engine in LAB_ENGINE_IMAGES if engine.name == name)


SCENARIOS = {s.name: s for s in [
    Scenario("master-kill", "master pod's node lost: cut off and its containers SIGKILLed, held down until a "
             "new master is elected, then back in a new sandbox with a new IP", kill_master, True),
    Scenario("master-kill-restart", "master pod SIGKILLed with its sandbox, restarted at once by the kubelet "
             "with a new IP", kill_master_and_restart, True),
    Scenario("master-cut", "master pod cut off the network (drops, no resets), healed after the failover",
             cut_master, True),
    Scenario("master-cut-from-peers", "master pod cut from the other gateway pods only, still reached by clients "
             "(its fence bounds what it acknowledges and loses), healed after the failover", cut_master_from_peers, True),
    Scenario("master-delete", "master pod deleted gracefully through the API (preStop handover)", delete_master,
             True),
    Scenario("volume-lost", "master's data PVC deleted, then its pod deleted gracefully (preStop handover): "
             "recreated on a new, empty volume, it syncs from the new master", lose_master_volume, True,
             endpoint_writer=True, fenced_only=True),
    Scenario("replica-kill", "a replica pod SIGKILLed with its sandbox, restarted with a new IP", kill_replica,
             False),
    Scenario("sentinel-then-master", "a replica's sentinel container SIGKILLed, then the master pod",
             kill_sentinel_then_master, True),
    Scenario("no-quorum", "a replica's sentinel partitioned, then the master's node lost: nobody promoted until "
             "the partition heals", kill_master_without_quorum, True),
    Scenario("no-good-replica", "both replicas unpromotable (replica-priority 0), the master's node lost until "
             "Sentinel gives up, then back with older data: no master until a replica is promotable again",
             kill_master_with_no_good_replica, True),
    # Measured only (None): each master's turn hands over, and a later turn may hand the role
    # back to the pod that had it first.
    Scenario("rolling-restart", "kubectl rollout restart of the StatefulSet (every pod deleted gracefully in turn)",
             rolling_restart, None),
    Scenario("switchover", "the operators' fenced switchover to the next pod (python -m ops switchover --to)",
             switchover, True),
    # Measured only (None): what the fenced switchover replaces; it may lose acknowledged writes.
    Scenario("sentinel-failover", "a bare SENTINEL FAILOVER to a replica's sentinel, no fencing",
             bare_sentinel_failover, None),
    # Measured only (None): the boot rule may give the role to any node with the newest data.
    Scenario("full-restart", "every gateway pod deleted at once through the API and recreated together",
             full_restart, None),
    # No failover: the pods that stay keep running (the pod count is not in their template), and
    # the master is one of them (pods 3 and 4 exist only between the two steps).
    Scenario("scale", "gateway.replicas raised by two and back by `pulumi up` (3 -> 5 -> 3), writers through "
             "Sentinel and through the master-only endpoint", scale_out_and_in, False, endpoint_writer=True, fenced_only=True,
             extra_seconds=1200.0),
    # Measured only (None): the switchover to pod 0 may or may not be needed; the expectations
    # below judge the engines and the master of each step.
    Scenario("upgrade-to-redis-8.0", "engine upgrade by `pulumi up`, replicas first (updatePartition=1), the master's "
             "pod last through its preStop handover; deploy the old engine with --set first",
             upgrade_engine(_lab_engine("redis-8.0")), None, endpoint_writer=True, fenced_only=True, extra_seconds=1800.0),
    Scenario("upgrade-to-valkey-8.1", "as upgrade-to-redis-8.0, to Valkey 8.1",
             upgrade_engine(_lab_engine("valkey-8.1")), None, endpoint_writer=True, fenced_only=True, extra_seconds=1800.0),
    Scenario("rollback-from-redis-8.0", "staged upgrade to Redis 8.0 on the replicas, rolled back by `pulumi up` of "
             "the old config before the master's pod was reached", roll_back_engine(_lab_engine("redis-8.0")), None,
             endpoint_writer=True, fenced_only=True, extra_seconds=1800.0),
    Scenario("floor-master-kill", "bare hand-made cluster: as master-kill", kill_master, True, floor=True),
    Scenario("floor-master-kill-restart", "bare hand-made cluster: as master-kill-restart",
             kill_master_and_restart, None, floor=True),
]}


def _engine_steps_unmet(fault: dict[str, Any]) -> list[str]:
    """An upgrade or rollback: after the staged step, pod 0 (the master) runs the old engine and
    every other pod the new one; after completing, every pod the new one and the master is not
    pod 0 (it handed over); after rolling back, every pod the old one and pod 0 still master."""
    staged = fault.get("staged")
    if not staged:
        return []
    unmet = []
    engines = staged["engines"]
    pods = sorted(engines, key=lambda pod: int(pod.rsplit("-", 1)[1]))
    old, new = engines[pods[0]], {engines[pod] for pod in pods[1:]}
    if len(new) != 1 or old in new:
        unmet.append(f"staged rollout: engines {engines}, expected pod 0 on the old one and the others on one new one")
    if staged.get("master") != pods[0]:
        unmet.append(f"staged rollout: master {staged.get('master')}, expected {pods[0]}")
    if "completed" in fault:
        done = fault["completed"]
        if set(done["engines"].values()) != new:
            unmet.append(f"upgrade: engines {done['engines']}, expected all {sorted(new)}")
        if done.get("master") in (None, pods[0]):
            unmet.append(f"upgrade: master {done.get('master')}, expected an upgraded pod")
    if "rolled_back" in fault:
        done = fault["rolled_back"]
        if set(done["engines"].values()) != {old}:
            unmet.append(f"rollback: engines {done['engines']}, expected all {old}")
        if done.get("master") != pods[0]:
            unmet.append(f"rollback: master {done.get('master')}, expected {pods[0]} (never moved)")
    return unmet


def _scale_steps_unmet(fault: dict[str, Any]) -> list[str]:
    unmet = []
    for step in ("out", "in"):
        status = (fault.get(step) or {}).get("status")
        if status is None:
            continue
        changed = {pod: life for pod, life in fault[step].get("staying", {}).items()
                   if life != fault["staying_before"].get(pod)}
        if changed:
            unmet.append(f"scaling {step} replaced or restarted pods that stay: {changed}")
        unmet += [f"after scaling {step}: {problem}" for problem in status["problems"]]
        majority = status["pods"] // 2 + 1
        if status["quorums"] != [majority]:
            unmet.append(f"after scaling {step} to {status['pods']} pods: sentinel quorums {status['quorums']}, "
                         f"expected the majority {majority}")
    restarted = (fault.get("sentinel_restarts") or {}).get("status")
    if restarted is not None:
        unmet += [f"after the sentinels' restarts: {problem}" for problem in restarted["problems"]]
        in_status = (fault.get("in") or {}).get("status") or {}
        if restarted["quorums"] != in_status.get("quorums"):
            unmet.append(f"after the sentinels' restarts: sentinel quorums {restarted['quorums']}, "
                         f"expected {in_status.get('quorums')} as after scaling in")
    return unmet


def _volume_unmet(fault: dict[str, Any]) -> list[str]:
    """A lost volume: the pod must come back on a new PVC and a new volume."""
    if fault.get("operation") != "volume-lost":
        return []
    new = fault.get("new_claim")
    if new is None:
        return [f"no new PVC was bound for {fault.get('pod')}"]
    unmet = []
    if new.get("volume") == fault.get("volume"):
        unmet.append(f"the new PVC is bound to the old volume {fault.get('volume')}")
    if fault.get("rebuilt_at") is None:
        unmet.append(f"{fault.get('pod')} was not Ready again on its new volume")
    return unmet


def unmet_expectations(scenario: Scenario, trial: dict[str, Any]) -> list[str]:
    """What a finished trial shows that the scenario must not (the invariants were checked already)."""
    unmet = []
    if trial.get("lost") is None:
        unmet.append(f"acknowledged writes not verified: {trial.get('verify_error')}")
    if "endpoint" in trial and trial["endpoint"].get("lost") is None:
        unmet.append(f"writes through the endpoint not verified: {trial['endpoint'].get('verify_error')}")
    if "failover_client" in trial and trial["failover_client"].get("lost") is None:
        unmet.append(f"writes of the go-redis writer not verified: {trial['failover_client'].get('verify_error')}")
    fault = trial.get("fault") or {}
    unmet += _engine_steps_unmet(fault) + _scale_steps_unmet(fault) + _volume_unmet(fault)
    if scenario.fenced_only and trial.get("odown_samples"):
        # The day-2 operations move the master only by fenced handovers, never by a failure.
        unmet.append(f"a sentinel judged the master objectively down: {trial['odown_samples']}")
    if scenario.expects_failover is None:
        return unmet
    if scenario.expects_failover:
        if not trial.get("failover"):
            unmet.append("no failover happened")
        if trial.get("new_master") == trial.get("old_master"):
            unmet.append(f"{trial.get('old_master')} is master again instead of a replica")
        chosen = fault.get("chosen")
        if chosen and trial.get("new_master") != chosen:
            unmet.append(f"{trial.get('new_master')} was promoted, not the chosen {chosen}")
    elif trial.get("failover"):
        unmet.append("an unexpected failover happened")
    return unmet
