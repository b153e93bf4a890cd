"""No config change may replace the StatefulSet.

The provider replaces a StatefulSet (delete first, since it is explicitly named: every Redis pod
down at once) when one of these fields changes: metadata name/namespace, selector, serviceName,
podManagementPolicy, revisionHistoryLimit, volumeClaimTemplates. Mocks do no diffing, so this
test pins the fields: a change here must be deliberate, with a migration plan.
"""

from __future__ import annotations

import pytest

from components.redis_sentinel_cluster import STATEFULSET_IGNORE_CHANGES
from stack_config import names

SNAPSHOT = {
    "metadata.name": "redis-gateway",
    "metadata.namespace": "kubernaut-system",
    "spec.selector": {"matchLabels": {
        "app.kubernetes.io/name": "redis",
        "app.kubernetes.io/instance": "redis-gateway",
        "app.kubernetes.io/component": "sentinel-cluster",
    }},
    "spec.serviceName": "redis-gateway-headless",
    "spec.podManagementPolicy": "Parallel",
    "spec.revisionHistoryLimit": 10,
}
CLAIM_TEMPLATE_NAME = "data"

# Config changes an operator makes in the normal course of things.
NON_REPLACING_CHANGES = [
    {"gateway.maxmemory": "128Mi"},
    {"gateway.maxmemoryPolicy": "volatile-lru"},
    {"gateway.replicas": 5, "gateway.quorum": 4},
    {"gateway.downAfterMilliseconds": 8000, "gateway.failoverTimeoutMilliseconds": 20000},
    {"gateway.resources.redis.limits.memory": "1Gi", "gateway.resources.redis.requests.cpu": "200m"},
    {"gateway.resources.sentinel.limits.cpu": "500m"},
    {"platform.images.redis": "docker.io/library/redis:7.0.16"},
    {"platform.images.pullPolicy": "Always"},
    {"gateway.replicas": 5},
    {"gateway.auth.enabled": False, "gateway.auth.sentinel": False},
    {"gateway.auth.sentinel": False},
    {"gateway.antiAffinity": "soft"},
    {"gateway.minReplicasToWrite": 0},
    {"gateway.terminationGracePeriodSeconds": 90},
    {"gateway.persistence.appendonly": True},
    {"gateway.persistence.rdbSchedule": []},
    {"gateway.proxy.replicas": 3},
    {"platform.protectData": False},
    {"gateway.persistence.volumePermissions": True},
    {"gateway.dnsWaitSeconds": 120, "gateway.bootPeerWaitSeconds": 40},
]


def _replace_fields(statefulset: dict) -> dict:
    spec = statefulset["spec"]
    return {
        "metadata.name": statefulset["metadata"]["name"],
        "metadata.namespace": statefulset["metadata"]["namespace"],
        "spec.selector": spec["selector"],
        "spec.serviceName": spec["serviceName"],
        "spec.podManagementPolicy": spec["podManagementPolicy"],
        "spec.revisionHistoryLimit": spec["revisionHistoryLimit"],
    }


def _claim_templates(statefulset: dict) -> list:
    return statefulset["spec"]["volumeClaimTemplates"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_snapshot_of_replace_forcing_fields(program, stack):
    statefulset = program(stack).object("StatefulSet", names.GATEWAY)
    assert _replace_fields(statefulset) == SNAPSHOT
    assert [claim["metadata"]["name"] for claim in _claim_templates(statefulset)] == [CLAIM_TEMPLATE_NAME]


def _cases():
    """Every change on the lab stack (dev values, auth on); on prod those that prod allows."""
    for overrides in NON_REPLACING_CHANGES:
        yield pytest.param("lab", overrides, id="lab:" + ",".join(overrides))
        if not any(key.startswith("gateway.auth") for key in overrides):
            yield pytest.param("prod", overrides, id="prod:" + ",".join(overrides))


@pytest.mark.parametrize("stack, overrides", list(_cases()))
def test_config_changes_keep_every_replace_forcing_field(program, stack, overrides):
    base = program(stack).object("StatefulSet", names.GATEWAY)
    changed = program(stack, overrides).object("StatefulSet", names.GATEWAY)
    assert _replace_fields(changed) == _replace_fields(base)
    assert _claim_templates(changed) == _claim_templates(base)


@pytest.mark.parametrize("overrides", [{"gateway.persistence.size": "20Gi"},
                                       {"gateway.persistence.storageClass": "fast-ssd"}])
def test_storage_changes_touch_only_the_ignored_claim_templates(program, resource_options, overrides):
    """Size and class apply when a PVC is created; the program ignores later edits of
    volumeClaimTemplates, so changing them never replaces the StatefulSet."""
    base = program("prod").object("StatefulSet", names.GATEWAY)
    changed = program("prod", overrides).object("StatefulSet", names.GATEWAY)
    assert _replace_fields(changed) == _replace_fields(base)
    assert _claim_templates(changed) != _claim_templates(base)
    options = resource_options[("kubernetes:apps/v1:StatefulSet", "redis-gateway-statefulset")]
    assert options.ignore_changes == STATEFULSET_IGNORE_CHANGES == ["spec.volumeClaimTemplates"]


def test_headless_service_name_is_a_literal(program):
    """serviceName must not come from an Output of a resource that could be replaced."""
    run = program("dev")
    assert run.object("StatefulSet", names.GATEWAY)["spec"]["serviceName"] == \
        run.object("Service", names.GATEWAY_HEADLESS_SERVICE)["metadata"]["name"]
