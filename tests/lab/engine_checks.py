"""What the lab tests check on a lab stack deployed on an engine other than its own (Redis 8.0,
drilled by test_drills.py): a SIGKILLed master fails over without losing an acknowledged write,
and the pods run the engine they were given. test_engine_drills.py deploys Valkey 8.1 for them;
test_day2_operations.py runs them on the Redis 7.0 stack its upgrade starts from, so that each
engine is deployed once."""

from __future__ import annotations

import json

from cluster import KubernetesCluster
from drills.runner import Options, restore_bound, run_trial
from drills.scenarios import SCENARIOS
from drills.targets import GatewayTarget
from labcluster.layout import LabEngineImage


def check_kill_drill(engine: LabEngineImage, gateway: GatewayTarget) -> None:
    """The master's pod SIGKILLed with its sandbox and restarted at once, a writer accounting for
    every acknowledged write. Bounds come from the stack's Sentinel config."""
    trial = run_trial(gateway, SCENARIOS["master-kill-restart"], 1, Options(steady_seconds=2.0, tail_seconds=1.0))
    assert "error" not in trial, trial.get("error")
    print(f"{engine.name}: outage {trial['outage_s']} s, lost {trial['lost']}, acked {trial.get('acked')}, "
          f"old master {trial['old_master']} -> {trial['new_master']}")
    assert trial["unmet"] == []
    assert trial["lost"] == 0, trial["lost_by_node"]
    assert trial["failover"] and trial["new_master"] != trial["old_master"]
    assert trial["restored_s"] is not None and trial["restored_s"] <= restore_bound(gateway)
    assert trial["first_ack_on_new_master_s"] is not None
    assert trial["first_ack_on_new_master_s"] <= gateway.timing.failover_bound_with_tilt_seconds, \
        trial["sentinel_logs"]
    assert trial["final_master"] == trial["new_master"]


def check_pods_run(engine: LabEngineImage, gateway: GatewayTarget, access: KubernetesCluster) -> None:
    """The pod template names the engine's image for Redis and Sentinel, and the server is the
    engine's own binary."""
    server = f"{engine.engine}-server"
    template = json.loads(access.kubectl("-n", gateway.namespace, "get", "statefulset", gateway.statefulset, "-o",
                                         "json").stdout)["spec"]["template"]["spec"]
    images = {c["name"]: c["image"] for c in template["containers"]}
    assert images["redis"] == images["sentinel"] == engine.image, images
    processes = access.kubectl("-n", gateway.namespace, "exec", f"{gateway.statefulset}-0", "-c", "redis", "--",
                               "sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '").stdout
    assert processes.startswith(server), processes
