"""The floor's objects, without a cluster: the bare cluster the gateway is compared with must stay
bare, and must keep what any Sentinel cluster on Kubernetes needs (names, fixed ids, the
gateway's timing and resolver options)."""

from __future__ import annotations

import re

from components.pod_spec import DNS_ATTEMPTS, DNS_TIMEOUT_SECONDS
from drills.floor import FloorCluster
from drills.health import Timing

TIMING = Timing(4000, 9000, 2)


def objects():
    floor = FloorCluster(cluster=None, timing=TIMING)
    return floor, {o["kind"]: o for o in floor.objects()}


def test_the_floor_has_names_fixed_sentinel_ids_and_the_gateways_timing():
    floor, by_kind = objects()
    configs = by_kind["ConfigMap"]["data"]
    myids = set()
    for pod in floor.pod_names():
        sentinel = configs[f"{pod}-sentinel.conf"]
        assert f"sentinel announce-ip {floor.fqdn(pod)}" in sentinel
        assert "sentinel resolve-hostnames yes" in sentinel and "sentinel announce-hostnames yes" in sentinel
        assert "sentinel down-after-milliseconds floor-master 4000" in sentinel
        assert "sentinel failover-timeout floor-master 9000" in sentinel
        assert "sentinel parallel-syncs floor-master 2" in sentinel
        myids.add(re.search(r"^sentinel myid (\w{40})$", sentinel, re.M).group(1))
        redis = configs[f"{pod}-redis.conf"]
        assert f"replica-announce-ip {floor.fqdn(pod)}" in redis
        assert 'save ""' in redis and "appendonly no" in redis
    assert len(myids) == 3
    service = by_kind["Service"]["spec"]
    assert service["clusterIP"] == "None" and service["publishNotReadyAddresses"] is True


def test_the_floor_pods_are_bare_with_the_gateway_pods_resolver_options():
    _, by_kind = objects()
    spec = by_kind["StatefulSet"]["spec"]["template"]["spec"]
    assert spec["dnsConfig"] == {"options": [{"name": "timeout", "value": DNS_TIMEOUT_SECONDS},
                                             {"name": "attempts", "value": DNS_ATTEMPTS}]}
    assert [c["name"] for c in spec["containers"]] == ["redis", "sentinel"]
    for container in spec["containers"]:
        assert not {"livenessProbe", "readinessProbe", "startupProbe", "lifecycle", "resources"} & set(container)
    assert "initContainers" not in spec
    assert {v["name"]: next(k for k in v if k != "name") for v in spec["volumes"]} == \
        {"conf": "configMap", "data": "emptyDir"}
