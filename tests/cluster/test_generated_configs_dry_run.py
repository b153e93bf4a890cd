"""Generated configs against a real API server: every config that stack_config accepts renders
objects that the lab cluster's API server accepts (`kubectl apply --dry-run=server`, strict field
validation, admission included); every one it refuses is refused with key-naming lines.

The objects go into a namespace of this test's own, created here and deleted afterwards; one
kubectl call per example, all objects in one List. Deterministic (derandomize) and bounded
(EXAMPLES), so CI time stays small.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings

from tests.unit.config_mutations import (
    Case,
    as_list,
    assert_refusal_names_keys,
    attempt,
    manifests,
    mutated_configs,
    plausible_value,
    render,
)
from tests.unit.support import PASSWORDS

NAMESPACE = "kubernaut-validation-test"
EXAMPLES = 40


@pytest.fixture(scope="module")
def kubectl(lab_cluster):
    def run(*args: str, **kwargs):
        return lab_cluster.kubectl(*args, **kwargs)
    return run


@pytest.fixture(scope="module")
def dry_run_namespace(kubectl):
    kubectl("create", "namespace", NAMESPACE, check=False)
    kubectl("get", "namespace", NAMESPACE)
    yield NAMESPACE
    kubectl("delete", "namespace", NAMESPACE, "--wait=false", check=False)


def server_dry_run(kubectl, objects: list[dict], namespace: str):
    return kubectl("apply", "--dry-run=server", "--validate=strict", "-o", "json", "-f", "-",
                   input=as_list(objects, namespace), check=False, timeout=120)


def test_generated_configs_are_refused_by_key_or_accepted_by_the_api_server(kubectl, dry_run_namespace):
    seen = Counter()

    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(mutated_configs(max_mutations=4, values_for=plausible_value))
    def run(case: Case):
        cfg, problems = attempt(case)
        if cfg is None:
            assert_refusal_names_keys(case, problems)
            seen["refused"] += 1
            return
        objects = manifests(render(case))
        done = server_dry_run(kubectl, objects, dry_run_namespace)
        assert done.returncode == 0, f"the API server refused what stack_config accepted:\n{done.stderr[-2000:]}"
        applied = json.loads(done.stdout)
        assert len(applied["items"]) == len(objects)
        seen["accepted"] += 1

    run()
    # Most mutations are refused at preview (each mutated key has more bad values than good ones);
    # enough must be accepted for the API server to judge.
    assert seen["accepted"] >= EXAMPLES // 4, seen


def test_the_dry_run_refuses_a_broken_object(kubectl, dry_run_namespace):
    """The check above is not vacuous: the same call refuses an object a renderer got wrong."""
    objects = manifests(render(Case("dev", {}, {k: v for k, v in PASSWORDS.items() if k != "kubeconfig"})))
    assert server_dry_run(kubectl, objects, dry_run_namespace).returncode == 0
    stateful_set = next(obj for obj in objects if obj["kind"] == "StatefulSet")
    stateful_set["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "2GB"
    refused = server_dry_run(kubectl, objects, dry_run_namespace)
    assert refused.returncode != 0
    assert "quantities must match the regular expression" in refused.stderr
