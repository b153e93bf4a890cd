"""Generated configs: every one is either refused with key-naming lines, or rendered by the program
into objects that pass the Kubernetes schema (strict) and the pods' own needs.

Deterministic (derandomize): the same examples in every run, so CI does not flake; a new
counter-example found while developing goes into the table of test_bad_configs.py.
"""

from __future__ import annotations

from collections import Counter

import kubernetes_validate
import pulumi
import pytest
from hypothesis import HealthCheck, given, settings

from stack_config import ConfigError

from .config_mutations import (
    Case,
    assert_objects_are_sound,
    assert_refusal_names_keys,
    attempt,
    manifests,
    mutated_configs,
    render,
)
from .support import PASSWORDS
from .test_render_manifests import KUBERNETES_VERSION

EXAMPLES = 200


def check(case: Case) -> str:
    cfg, problems = attempt(case)
    if cfg is None:
        assert_refusal_names_keys(case, problems)
        # The program says the same, before it creates anything.
        with pytest.raises(pulumi.RunError) as caught:
            render(case)
        assert str(caught.value).splitlines()[1:] == problems
        return "refused"
    objects = manifests(render(case))
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    assert_objects_are_sound(cfg, objects)
    return "accepted"


def test_generated_config_is_refused_by_key_or_renders_sound_objects():
    seen = Counter()

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(mutated_configs())
    def run(case):
        seen[check(case)] += 1

    run()
    # Not vacuous: both outcomes were generated, many times.
    assert seen["refused"] >= 20 and seen["accepted"] >= 20, seen


def test_the_checks_catch_what_they_are_for():
    """A refusal without a key, a shown password, or an object with a newline in a name fails."""
    case = Case("dev", {}, dict(PASSWORDS))
    with pytest.raises(AssertionError):
        assert_refusal_names_keys(case, ["something is wrong"])
    with pytest.raises(AssertionError):
        assert_refusal_names_keys(case, [f"gatewayRedisPassword: got {PASSWORDS['gatewayRedisPassword']}; must be"])
    cfg, problems = attempt(Case("dev", {"gateway": {"quorum": 3}}, dict(PASSWORDS)))
    assert cfg is None and problems
    good, _ = attempt(Case("dev", {}, {k: v for k, v in PASSWORDS.items() if k != "kubeconfig"}))
    assert good is not None
    objects = manifests(render(Case("dev", {}, {k: v for k, v in PASSWORDS.items() if k != "kubeconfig"})))
    assert_objects_are_sound(good, objects)
    objects[0]["metadata"]["name"] += "\n"
    with pytest.raises(AssertionError):
        assert_objects_are_sound(good, objects)


def test_attempt_reports_config_errors_as_lines():
    cfg, problems = attempt(Case("dev", {"gateway": {"replicas": 4}}, dict(PASSWORDS)))
    assert cfg is None and problems == ["gateway.replicas: got 4; must be an odd number between 3 and 9"]
    assert issubclass(ConfigError, ValueError)
