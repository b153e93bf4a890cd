"""The engine's point of no return (stack_config/upgrade.py): the record each `pulumi up` leaves,
and the changes refused against it."""

from __future__ import annotations

import json
from typing import Optional

import pulumi
import pytest

from stack_config.upgrade import ENGINE_OUTPUT, EngineImage, engine_problems, engine_record, image_version
from tools.pulumi_mock_run import run_program

from .conftest import stack_config_values
from .support import PASSWORDS, record_registered_types

REDIS_7 = EngineImage("redis", "localhost/kubernaut-redis-lab:7.0.15")
REDIS_8 = EngineImage("redis", "localhost/kubernaut-redis-lab:8.0.2")
VALKEY_8 = EngineImage("valkey", "localhost/kubernaut-valkey-lab:8.1.1")


@pytest.mark.parametrize("image, version", [
    ("docker.io/library/redis:8.10.2", (8, 10, 2)), ("localhost/kubernaut-redis-lab:7.0.15", (7, 0, 15)),
    ("redis:7.2-bookworm", (7, 2, 0)), ("valkey/valkey:v8.1.1@sha256:" + "a" * 64, (8, 1, 1)),
    ("registry:5000/redis:8.0.2", (8, 0, 2)), ("redis:latest", None), ("redis@sha256:" + "b" * 64, None),
])
def test_the_version_comes_from_the_tag(image, version):
    assert image_version(image) == version


def test_the_baseline_moves_only_when_a_rollout_reaches_pod_0():
    first = engine_record(REDIS_7, 0, None)
    assert first == {"baseline": REDIS_7.as_dict()}
    staged = engine_record(REDIS_8, 1, first)
    assert staged == first, "pod 0 still runs 7.0"
    assert engine_record(REDIS_8, 0, staged) == {"baseline": REDIS_8.as_dict()}
    assert engine_record(REDIS_8, 1, None) == {"baseline": REDIS_8.as_dict()}, "a new stack starts from its engine"


def test_a_rollback_before_pod_0_took_the_new_engine_is_allowed_and_after_it_refused():
    staged = engine_record(REDIS_8, 1, engine_record(REDIS_7, 0, None))
    assert engine_problems(staged, REDIS_7) == []
    completed = engine_record(REDIS_8, 0, staged)
    (problem,) = engine_problems(completed, REDIS_7)
    assert problem.startswith("platform.images.redis: got redis 7.0.15, which cannot read the RDB format 12 of "
                              "redis 8.0.2"), problem
    assert "gateway.updatePartition" in problem


@pytest.mark.parametrize("baseline, current, refused", [
    (REDIS_7, REDIS_8, False),  # an upgrade
    (REDIS_7, VALKEY_8, False),  # Valkey 8.1 reads format 10
    (VALKEY_8, REDIS_8, False),  # Redis 8.0 reads Valkey's format 11
    (REDIS_8, VALKEY_8, True),  # Valkey 8.1 refuses format 12
    (VALKEY_8, REDIS_7, True),
    (EngineImage("redis", "redis:8.10.2"), EngineImage("redis", "redis:8.10.3"), False),  # same engine, newer
    (EngineImage("redis", "redis:8.10.2"), REDIS_8, True),  # 8.10's format is not in the table
    (EngineImage("redis", "redis:latest"), REDIS_8, True),  # no version to compare
    (EngineImage("redis", "redis:latest"), EngineImage("redis", "redis:latest"), False),  # nothing changes
])
def test_engine_changes_against_the_baseline(baseline, current, refused):
    assert bool(engine_problems(engine_record(baseline, 0, None), current)) is refused


def test_nothing_is_refused_before_the_first_up():
    assert engine_problems(None, REDIS_7) == [] and engine_problems({}, REDIS_7) == []


# ---------------------------------------------------------------------------- the program

def _run(overrides: dict, deployed: Optional[dict] = None):
    return run_program("lab", stack_config_values("lab", overrides), PASSWORDS,
                       deployed_outputs={ENGINE_OUTPUT: deployed} if deployed is not None else None)


def _engine(image: EngineImage, partition: int = 0) -> dict:
    return {"platform.engine": image.engine, "platform.images.redis": image.image, "platform.images.haproxy": image.image,
            "gateway.updatePartition": partition}


def test_the_program_carries_the_baseline_through_a_staged_rollout_and_refuses_going_back_after_it(monkeypatch):
    first = _run(_engine(REDIS_7)).outputs[ENGINE_OUTPUT]
    staged = _run(_engine(REDIS_8, partition=1), deployed=first).outputs[ENGINE_OUTPUT]
    assert staged == first == {"baseline": REDIS_7.as_dict()}
    assert _run(_engine(REDIS_7), deployed=staged).outputs[ENGINE_OUTPUT] == first, "the rollback"
    completed = _run(_engine(REDIS_8), deployed=staged).outputs[ENGINE_OUTPUT]
    assert completed == {"baseline": REDIS_8.as_dict()}

    registered = record_registered_types(monkeypatch)
    with pytest.raises(pulumi.RunError) as caught:
        _run(_engine(REDIS_7), deployed=completed)
    assert registered and not [typ for typ in registered if typ.startswith(("kubernetes:", "pulumi:providers:"))]
    lines = str(caught.value).splitlines()
    assert lines[0] == "engine change of stack 'lab' refused, nothing changed:"
    assert lines[1].startswith("platform.images.redis: got redis 7.0.15, which cannot read the RDB format 12")


def test_a_staged_rollout_is_not_awaited_by_the_provider_and_a_full_one_is():
    staged = _run(_engine(REDIS_8, partition=1)).object("StatefulSet", "redis-gateway")
    assert staged["spec"]["updateStrategy"]["rollingUpdate"] == {"partition": 1}
    assert staged["metadata"]["annotations"] == {"pulumi.com/patchForce": "true", "pulumi.com/skipAwait": "true"}
    full = _run(_engine(REDIS_8)).object("StatefulSet", "redis-gateway")
    assert full["metadata"]["annotations"] == {"pulumi.com/patchForce": "true", "pulumi.com/waitFor": json.dumps(
        ["jsonpath={.status.updatedReplicas}=3", "jsonpath={.status.readyReplicas}=3"])}, \
        "a full rollout is waited for, from the generation the controller has observed on"
