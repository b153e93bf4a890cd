"""Day-2 operations on the lab's real Kubernetes, each once, through `pulumi up` of a config change
with two writers running, one through Sentinel discovery and one through the master-only endpoint
(python -m drills runs them N times and reports outages): an engine upgrade staged on the
replicas and rolled back before the master's pod was reached, and the same upgrade completed.
(Scaling 3 -> 5 -> 3 runs on the deployed lab stack, tests/lab/test_drills.py: it ends where it
started.)

The upgrade starts from the lab stack on Redis 7.0 (destroyed first: nothing goes back from
Redis 8's data), where the failover drill of engine_checks.py runs first, and ends on the lab
stack's own engine, Redis 8.0. Runs after the modules that use the deployed lab stack
(tests/conftest.py). Bounds come from the stack's config, not from targets.
"""

from __future__ import annotations

import pytest

from drills.runner import Options, gateway_target, run_trial
from drills.scenarios import SCENARIOS
from drills.targets import GatewayTarget
from engine_checks import check_kill_drill, check_pods_run
from labcluster.layout import LAB_ENGINE_IMAGES

pytestmark = pytest.mark.redeploys_lab_stack

OLD = next(engine for engine in LAB_ENGINE_IMAGES if engine.name == "redis-7.0")


def drill(target: GatewayTarget, name: str, options: Options) -> dict:
    """One trial, which must meet its scenario's expectations (drills.scenarios: for these, no
    sentinel saw the master objectively down) and lose no acknowledged write on either path."""
    trial = run_trial(target, SCENARIOS[name], 1, options)
    assert "error" not in trial, trial.get("error")
    assert trial["unmet"] == []
    assert trial["lost"] == 0, trial["lost_by_node"]
    assert trial["endpoint"]["lost"] == 0, trial["endpoint"]
    # Every write acknowledged again after the operation, on both paths.
    assert trial["first_ack_after_fault_s"] is not None and trial["endpoint"]["first_ack_after_fault_s"] is not None
    return trial


@pytest.fixture(scope="module")
def old_engine(lab_cluster):
    """The lab stack on Redis 7.0, deployed anew, and the options that deploy it."""
    options = Options(overrides=OLD.overrides(), steady_seconds=2.0, tail_seconds=1.0)
    with gateway_target(options, fresh=True) as target:
        yield target, options


def test_a_killed_master_fails_over_and_loses_no_acknowledged_write_on_redis_7_0(old_engine):
    target, _ = old_engine
    check_kill_drill(OLD, target)


def test_the_pods_run_redis_7_0(old_engine, access):
    target, _ = old_engine
    check_pods_run(OLD, target, access)


def test_an_upgrade_staged_on_the_replicas_is_rolled_back_without_losing_a_write(old_engine):
    """Redis 8.0 on pods 1 and 2 (updatePartition=1) while pod 0, the master, stays on 7.0; then
    the old config again: the replicas go back to 7.0, setting aside the RDB files of format 12
    that 8.0 wrote (7.0 cannot load them), and resync from the master, which never moved."""
    target, options = old_engine
    trial = drill(target, "rollback-from-redis-8.0", options)
    fault = trial["fault"]
    assert set(fault["rolled_back"]["engines"].values()) == {"redis 7.0.15"}, fault["rolled_back"]
    # The master moved once at most, by the fenced switchover to pod 0 before the rollout.
    assert [pod for _, pod in trial["masters"]][-1] == target.pod_names()[0], trial["masters"]
    assert len(trial["masters"]) <= 2, trial["masters"]


def test_an_engine_upgrade_updates_the_replicas_first_and_the_master_last(old_engine):
    target, options = old_engine
    trial = drill(target, "upgrade-to-redis-8.0", options)
    fault = trial["fault"]
    assert set(fault["completed"]["engines"].values()) == {"redis 8.0.2"}, fault["completed"]
    # The role moved by fenced handovers only: the switchover to pod 0 (when needed) and pod 0's
    # preStop, once its turn came.
    assert len(trial["masters"]) <= 3, trial["masters"]

