"""Failover drills on the lab's real Kubernetes, once each (python -m drills runs them N times): a
hard kill and a graceful delete of the gateway's master, on the lab stack as `pulumi up -s lab`
deploys it, with a writer that accounts for every acknowledged write; the writer's own loss
accounting. Bounds come from the stack's Sentinel config, not from performance targets. (The bare
floor cluster the benchmark compares with is drilled by `python -m drills.benchmark`, not here.)

The cluster comes up (or a healthy one is reused) through the `lab_cluster` fixture; a missing
Pulumi engine fails the gateway's tests with the command that builds it, nothing is skipped.
"""

from __future__ import annotations

import time

import redis

from drills.runner import Options, restore_bound, run_trial
from drills.scenarios import SCENARIOS
from drills.targets import stack_gateway_config
from stack_config import names


def drill(target, name: str) -> dict:
    trial = run_trial(target, SCENARIOS[name], 1, Options(steady_seconds=2.0, tail_seconds=1.0))
    assert "error" not in trial, trial.get("error")
    return trial


def test_a_master_killed_with_its_sandbox_fails_over_and_loses_no_acknowledged_write(gateway):
    trial = drill(gateway, "master-kill-restart")
    assert trial["unmet"] == []
    assert trial["lost"] == 0, trial["lost_by_node"]
    assert trial["failover"] and trial["new_master"] != trial["old_master"]
    # The kubelet gave the pod a new sandbox: a new IP, both containers started again.
    fault = trial["fault"]
    assert fault["new_ip"] and fault["new_ip"] != fault["ip"], fault
    old = trial["old_master"]
    assert all(trial["restarts_after"][old][c] > trial["restarts_before"][old][c] for c in ("redis", "sentinel"))
    assert trial["restored_s"] is not None and trial["restored_s"] <= restore_bound(gateway)
    # A bound, not a target: one TILT allowed (drills.health).
    assert trial["first_ack_on_new_master_s"] is not None
    assert trial["first_ack_on_new_master_s"] <= gateway.timing.failover_bound_with_tilt_seconds, \
        trial["sentinel_logs"]
    # The restarted old master took no write (it came back as a replica): the last one it
    # acknowledged was in flight while the kills went out.
    assert trial["last_ack_by_old_master_s"] is not None
    assert trial["last_ack_by_old_master_s"] <= fault["returned_at"] - fault["fault_at"], trial["error_samples"]
    assert trial["final_master"] == trial["new_master"]
    # The restarted node claimed with its port closed: no node replicated from a replica at any
    # poll (every 0.25 s from the host), and none from each other.
    assert trial["chains"] == {} and trial["cycles"] == [], trial["chains"]


def test_with_a_two_second_down_after_the_promoted_replica_is_not_fenced(gateway):
    """A short down-after (gateway.downAfterMilliseconds 2000). The new master's fence watch once
    counted the sentinels' silence from its last poll as a replica, two to three seconds before
    its first poll as master, while the sentinels name a promoted replica only once they see its
    role, up to a second after the promotion: with 2 s it fenced the new master at once, and
    about 200 writes were refused (NOREPLICAS) after the failover in 4 of 5 trials of `python -m
    drills master-kill --set gateway.downAfterMilliseconds=2000`. Down-after counts from the
    promotion now."""
    gateway.redeploy(["gateway.downAfterMilliseconds=2000"])
    try:
        trial = drill(gateway, "master-kill")
        assert trial["unmet"] == []
        assert trial["lost"] == 0, trial["lost_by_node"]
        log = gateway.cluster.logs(gateway.namespace, trial["new_master"], "redis", since=trial["fault"]["fault_at"])
        assert "fenced:" not in log, log
        assert "NOREPLICAS" not in str(trial["error_samples"]), trial["error_samples"]
    finally:
        gateway.redeploy([])
        gateway.wait_healthy(restore_bound(gateway))


def test_a_graceful_delete_of_the_master_hands_over_without_losing_an_acknowledged_write(gateway):
    trial = drill(gateway, "master-delete")
    assert trial["unmet"] == []
    assert trial["lost"] == 0, trial["lost_by_node"]
    assert trial["failover"] and trial["new_master"] != trial["old_master"]
    # The handover exists so that a rollout does not wait for Sentinel's detection.
    assert trial["outage_s"] < gateway.timing.down_after_ms / 1000, trial["sentinel_logs"]
    # The kubelet ran the preStop hook without a failure, and the old pod was gone in time.
    fault = trial["fault"]
    assert not [w for w in fault["warnings"] if w["reason"] == "FailedPreStopHook"], fault["warnings"]
    assert fault["removed_at"] is not None
    assert trial["restored_s"] is not None and trial["restored_s"] <= restore_bound(gateway)


def test_a_planned_switchover_moves_the_master_to_the_chosen_pod_without_losing_a_write(gateway):
    """python -m ops switchover --to <pod>, with the writer running: the chosen pod is promoted,
    the old master stays up as its replica, nothing acknowledged is lost."""
    trial = drill(gateway, "switchover")
    assert trial["unmet"] == []
    assert trial["lost"] == 0, trial["lost_by_node"]
    fault = trial["fault"]
    assert trial["new_master"] == fault["chosen"] == fault["promoted"]
    # The old master was not restarted: same pod, now a replica of the chosen one.
    assert gateway.roles().get(trial["old_master"]) == "slave"
    # Sentinel may wait up to its 10 s INFO period before it sees the priorities; then the handover.
    # Up to 25 s for the sentinels to see the other replicas unpromotable, the handover, then up to
    # 25 s for them to see the priorities set back.
    assert fault["done_at"] - fault["fault_at"] <= 25 + gateway.timing.down_after_ms / 1000 + 10 + 25
    assert trial["restored_s"] is not None and trial["restored_s"] <= restore_bound(gateway)


def _replica_priorities(gateway, pod: str) -> dict[str, str]:
    """Replica pod -> the replica-priority the sentinel of <pod> has for it (SENTINEL REPLICAS)."""
    panel = gateway.panel
    client = redis.Redis(gateway.pod_ip(pod), panel.port, password=panel.password, socket_timeout=5,
                         decode_responses=True)
    try:
        replicas = client.execute_command("SENTINEL", "REPLICAS", panel.master_set)
    finally:
        client.close()
    priorities = {}
    for replica in replicas:
        fields = replica if isinstance(replica, dict) else dict(zip(replica[::2], replica[1::2]))
        priorities[gateway.pod_of(fields["ip"])] = fields["slave-priority"]
    return priorities


def test_when_a_switchover_returns_every_sentinel_sees_the_replicas_promotable_again(gateway):
    """A switchover makes the replicas it did not choose unpromotable (replica-priority 0) while it
    runs. Sentinel reads a replica's priority from its INFO every 10 s, so when the switchover
    returned as soon as it had set the priorities back, a graceful delete of the new master in
    the next seconds found no promotable replica (NOGOODSLAVE), stopped without a handover, and
    the set failed over only after down-after (the volume-lost drill that ran right after the
    switchover drill saw the sentinels judge the master objectively down). The switchover now
    returns once every sentinel sees the configured priority again."""
    master = gateway.panel.wait_agreed_master(restore_bound(gateway))
    others = [pod for pod in gateway.pod_names() if pod != master]
    assert len(others) >= 2, "the drill needs a replica the switchover does not choose"
    chosen = others[-1]
    assert gateway.pod_of(gateway.switchover(master, chosen)) == chosen
    configured = {pod: gateway.node_command(pod, "CONFIG", "GET", "replica-priority")["replica-priority"]
                  for pod in gateway.pod_names() if pod != chosen}
    assert set(configured.values()) != {"0"}, configured
    seen = {pod: _replica_priorities(gateway, pod) for pod in gateway.pod_names()}
    for pod, priorities in seen.items():
        assert priorities == configured, f"the sentinel of {pod} sees {priorities}, the replicas run {configured}"
    gateway.wait_healthy(restore_bound(gateway))


def test_a_master_whose_volume_was_lost_is_rebuilt_as_a_replica_without_losing_a_write(gateway):
    """The master's PVC deleted, then its pod deleted gracefully (README, "A pod whose volume was
    lost"), with writers through Sentinel and through the master-only endpoint: the preStop hands
    over, the StatefulSet recreates the pod on a new, empty volume, and it syncs every key from
    the new master."""
    trial = drill(gateway, "volume-lost")
    assert trial["unmet"] == []
    assert trial["lost"] == 0, trial["lost_by_node"]
    assert trial["endpoint"]["lost"] == 0, trial["endpoint"]
    fault = trial["fault"]
    assert [w for w in fault["warnings"] if w["reason"] == "FailedPreStopHook"] == [], fault["warnings"]
    rebuilt, master = trial["old_master"], trial["final_master"]
    assert gateway.roles().get(rebuilt) == "slave"

    def same_keys() -> bool:
        return gateway.node_command(rebuilt, "DBSIZE") == gateway.node_command(master, "DBSIZE") > 0

    # The writers have stopped: once the replica has caught up, both hold the same keys.
    deadline = time.monotonic() + 30
    while not same_keys() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert same_keys(), (gateway.node_command(rebuilt, "DBSIZE"), gateway.node_command(master, "DBSIZE"))


def test_a_count_set_by_kubectl_scale_does_not_block_the_next_pulumi_up(gateway):
    """`kubectl scale` of the proxy up and back makes kubectl the owner of its spec.replicas, as
    an operator's scale during an incident does, or the alert drill's of the StatefulSet
    (drills/alerts.py). `pulumi up` of another gateway.proxy.replicas then takes the field back
    instead of failing on a server-side apply conflict, and the stack as it was sets the count of
    record again."""
    cluster, namespace, proxy = gateway.cluster, gateway.namespace, names.GATEWAY_HAPROXY
    count = stack_gateway_config().proxy.replicas
    cluster.scale(namespace, "Deployment", proxy, count + 1)
    cluster.scale(namespace, "Deployment", proxy, count)
    assert "kubectl" in cluster.field_managers(namespace, "Deployment", proxy, "spec.replicas")

    gateway.redeploy([f"gateway.proxy.replicas={count + 1}"])
    owners = cluster.field_managers(namespace, "Deployment", proxy, "spec.replicas")
    assert owners and "kubectl" not in owners, owners
    # The provider waited for the Deployment: every proxy pod it asked for runs and is Ready.
    ready = [p for p in cluster.pods(namespace, f"app={proxy}") if p.ready and not p.terminating]
    assert len(ready) == count + 1, ready

    gateway.redeploy([])
    gateway.wait_healthy(restore_bound(gateway))


def test_a_scale_out_and_back_rolls_no_pod_and_loses_no_acknowledged_write(gateway):
    """`pulumi up` of gateway.replicas 5, then of the stack as it was (3), with writers through
    Sentinel and through the master-only endpoint: the pods that stay keep running (the pod
    count is not in their template), no failover, every sentinel ends with the topology's quorum
    and exactly the remaining pods (the topology Job's reset). Only the proxy pods roll (their
    server list follows the pod count): a client of the endpoint reconnects once per step.
    Then each remaining sentinel is restarted in turn while the pods' mounted topology files may
    still hold 5: each comes back knowing the 3 pods only, with their quorum."""
    trial = drill(gateway, "scale")
    assert trial["unmet"] == []
    assert trial["lost"] == 0, trial["lost_by_node"]
    assert trial["endpoint"]["lost"] == 0, trial["endpoint"]
    assert not trial["failover"] and trial["final_master"] == trial["old_master"]
    fault = trial["fault"]
    assert (fault["out"]["status"]["pods"], fault["out"]["status"]["quorums"]) == (5, [3])
    assert (fault["in"]["status"]["pods"], fault["in"]["status"]["quorums"]) == (3, [2])
    restarts = fault["sentinel_restarts"]
    assert len(restarts["killed"]) == 3, restarts
    assert (restarts["status"]["pods"], restarts["status"]["quorums"], restarts["status"]["problems"]) == (3, [2], [])
    # Bounds, not targets: no pod of the set stops, so no write waits for Sentinel.
    down_after_s = gateway.timing.down_after_ms / 1000
    assert trial["outage_s"] < down_after_s, trial["error_samples"]
    assert trial["endpoint"]["outage_s"] < down_after_s, trial["endpoint"]["error_samples"]


def test_the_writer_counts_an_acknowledged_key_that_vanished_as_lost(gateway):
    """The loss accounting can fail: keys deleted behind the writer's back are reported lost."""
    master = gateway.panel.wait_agreed_master(gateway.timing.failover_bound_seconds)
    prefix = f"drill:accounting:{int(time.time() * 1000)}"
    with gateway.writer(prefix, 100.0, 120.0) as writer:
        writer.wait_steady(1.0)
        node = redis.Redis(gateway.pod_ips()[master], 6379, password=gateway.redis_password, socket_timeout=5)
        deleted = node.delete(*[f"{prefix}:{n}" for n in range(1, 11)])
        result = writer.stop()
    assert deleted == 10
    assert sorted(result["lost"]) == list(range(1, 11))
    assert result["acked"] > 100 and result["attempts"] >= result["acked"]


def test_without_a_sentinel_quorum_nobody_is_promoted_until_it_returns(gateway):
    """The boot rule's no-quorum case on the lab: a replica pod's sentinel partitioned, then the
    master's node lost. The sentinel left cannot reach quorum; no pod promotes itself; once the
    partition heals, Sentinel fails over, with every acknowledged write."""
    trial = drill(gateway, "no-quorum")
    assert trial["unmet"] == []
    assert trial["lost"] == 0, trial["lost_by_node"]
    fault = trial["fault"]
    assert fault["promoted_without_quorum"] == [], fault
    assert fault["failover_seen_at"] is not None, trial["sentinel_logs"]
    assert fault["failover_seen_at"] - fault["quorum_back_at"] <= gateway.timing.failover_bound_seconds
    assert trial["chains"] == {} and trial["cycles"] == [], trial["chains"]
    assert trial["restored_s"] is not None and trial["restored_s"] <= restore_bound(gateway)


def test_with_no_good_replica_nobody_serves_stale_data_and_the_set_fails_over_once_one_is_good(gateway):
    """The boot rule's no-good-replica case on the lab: both replicas unpromotable, the master's
    node lost until Sentinel gives up (-failover-abort-no-good-slave), then back in a new
    sandbox with its last RDB. No pod is master meanwhile (the returned one has older data than
    its replicas, and they may not be promoted); once a replica is promotable again, Sentinel
    fails over within its bound, with every acknowledged write, and nothing chains."""
    trial = drill(gateway, "no-good-replica")
    assert trial["unmet"] == []
    assert trial["lost"] == 0, trial["lost_by_node"]
    fault = trial["fault"]
    assert fault["abort_seen_at"] is not None, trial["sentinel_logs"]
    assert fault["masters_without_good_replica"] == [], fault
    assert fault["failover_seen_at"] is not None, trial["sentinel_logs"]
    assert fault["failover_seen_at"] - fault["priorities_back_at"] <= gateway.timing.failover_bound_seconds
    assert trial["chains"] == {} and trial["cycles"] == [], trial["chains"]
    assert trial["restored_s"] is not None and trial["restored_s"] <= restore_bound(gateway)


def test_a_master_cut_from_its_peers_stops_acknowledging_writes_within_down_after(gateway):
    """An asymmetric partition on the lab: the master cut from its peers, still reached by the
    writer (through Sentinel discovery) and the master-only proxy. What it acknowledges after
    the cut is lost at its demotion (no WAIT); its fence bounds that: it acknowledges nothing
    later than down-after plus the fence's poll (about two seconds) after the cut, and every
    write acknowledged after that is kept."""
    trial = drill(gateway, "master-cut-from-peers")
    assert trial["unmet"] == []
    fault = trial["fault"]
    assert fault["failover_seen_at"] is not None, trial["sentinel_logs"]
    bound = gateway.timing.down_after_ms / 1000 + 3
    print(f"cut from peers: {trial['lost']} acknowledged writes lost, last acknowledged by the old master "
          f"{trial['last_ack_by_old_master_s']} s after the cut (bound {bound} s)")
    assert trial["last_ack_by_old_master_s"] is not None
    assert trial["last_ack_by_old_master_s"] <= bound, trial["error_samples"]
    assert trial["restored_s"] is not None and trial["restored_s"] <= restore_bound(gateway)


def test_a_full_restart_brings_back_every_acknowledged_write_with_one_master(gateway):
    """The boot rule on the lab when every pod starts at once: all deleted through the API (each
    saves its RDB at SIGTERM), all recreated together, peers loading or not there yet while the
    claims run. Every acknowledged write is back, one master, no chain or cycle at any poll."""
    trial = drill(gateway, "full-restart")
    assert trial["unmet"] == []
    assert trial["lost"] == 0, (trial["lost_by_node"], trial["masters"], trial["start_logs"], trial["sentinel_logs"])
    assert trial["fault"]["replaced_at"] is not None, trial["fault"]
    assert trial["chains"] == {} and trial["cycles"] == [], trial["chains"]
    print(f"full restart: outage {trial['outage_s']} s, every pod Ready again after "
          f"{trial['fault']['replaced_at'] - trial['fault']['fault_at']:.1f} s")
