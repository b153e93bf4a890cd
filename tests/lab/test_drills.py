"""Failover drills on the rendered dev stack in the lab, once each (python -m drills runs them N
times): a hard kill and a graceful delete of the master, with a writer that accounts for every
acknowledged write. Bounds come from the stack's Sentinel config, not from performance targets."""

from __future__ import annotations

import time

import pytest
import redis

from drills.runner import Options, restore_bound, run_trial
from drills.scenarios import SCENARIOS
from drills.targets import LabTarget
from drills.writer_process import WriterProcess

@pytest.fixture(scope="module")
def target(stack_lab):
    target = LabTarget(stack_lab)
    target.wait_healthy(restore_bound(target))
    return target


def drill(target, name: str) -> dict:
    trial = run_trial(target, SCENARIOS[name], 1, Options(steady_seconds=2.0, tail_seconds=1.0))
    assert "error" not in trial, trial.get("error")
    return trial


def test_hard_kill_of_the_master_fails_over_and_the_old_master_returns_as_a_replica(target):
    trial = drill(target, "master-kill")
    assert trial["unmet"] == []
    assert trial["failover"] and trial["new_master"] != trial["old_master"]
    assert trial["restored_s"] is not None and trial["restored_s"] <= restore_bound(target)
    assert trial["first_ack_on_new_master_s"] is not None
    # A bound, not a target: one TILT allowed (drills.health).
    assert trial["first_ack_on_new_master_s"] <= target.timing.failover_bound_with_tilt_seconds, \
        trial["sentinel_logs"]
    assert trial["lost"] is not None, trial["verify_error"]
    # Nothing is acknowledged by the dead node, and the writer kept writing to the new master.
    assert trial["acked_by_old_master_after_fault"] == 0
    assert trial["final_master"] == trial["new_master"]


def test_graceful_delete_of_the_master_hands_over_without_losing_an_acknowledged_write(target):
    trial = drill(target, "master-delete")
    assert trial["unmet"] == []
    assert trial["lost"] == 0, trial["lost_by_node"]
    assert trial["failover"] and trial["new_master"] != trial["old_master"]
    # The handover exists so that a rollout does not wait for Sentinel's detection.
    assert trial["outage_s"] < target.timing.down_after_ms / 1000, trial["sentinel_logs"]
    assert trial["fault"]["containers"]["redis"]["prestop_exit_code"] == 0
    assert "sigkill_at" not in trial["fault"]["containers"]["redis"]
    assert trial["restored_s"] is not None and trial["restored_s"] <= restore_bound(target)


def test_the_writer_counts_an_acknowledged_key_that_vanished_as_lost(target):
    """The loss accounting can fail: keys deleted behind the writer's back are reported lost."""
    master = target.panel.wait_agreed_master(target.timing.failover_bound_seconds)
    prefix = f"drill:accounting:{int(time.time() * 1000)}"
    with WriterProcess(target.toolbox, target.sentinel_addresses, target.master_set, target.writer_env(),
                       prefix, 100.0, 120.0) as writer:
        writer.wait_steady(1.0)
        node = redis.Redis(target.pod_ips()[master], 6379, password=target.redis_password, socket_timeout=5)
        deleted = node.delete(*[f"{prefix}:{n}" for n in range(1, 11)])
        result = writer.stop()
    assert deleted == 10
    assert sorted(result["lost"]) == list(range(1, 11))
    assert result["acked"] > 100 and result["attempts"] >= result["acked"]
