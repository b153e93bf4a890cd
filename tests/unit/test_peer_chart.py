"""The peer chart's values and commands (lab/peer_chart.py) without a cluster: what the redis-ha
chart is given over its defaults, rendered as the values file helm reads. The chart itself runs on
the lab cluster (lab.peer_chart.install)."""

from __future__ import annotations

from pathlib import Path

import yaml

from cluster import KubernetesCluster
from lab import peer_chart
from labcluster.layout import LAB_ENGINE_IMAGES


def test_the_lab_images_stand_in_for_redis_sentinel_and_haproxy():
    given = peer_chart.values()
    lab_8 = next(engine.image for engine in LAB_ENGINE_IMAGES if engine.name == "redis-8.0")
    assert lab_8 == "localhost/kubernaut-redis-lab:8.0.2"
    for image in (given["image"], given["haproxy"]["image"]):  # the chart's Redis and Sentinel share image.*
        assert image == {"repository": "localhost/kubernaut-redis-lab", "tag": "8.0.2", "pullPolicy": "IfNotPresent"}


def test_haproxy_auth_sentinel_timings_and_soft_anti_affinity():
    given = peer_chart.values()
    assert given["haproxy"]["enabled"] is True
    assert given["auth"] is True and given["redisPassword"] == peer_chart.PASSWORD
    assert given["sentinel"]["config"] == {"down-after-milliseconds": 5000, "failover-timeout": 10000}
    assert given["hardAntiAffinity"] is False and given["haproxy"]["hardAntiAffinity"] is False


def test_only_what_the_lab_needs_departs_from_the_chart_defaults():
    # Every other value is the chart's: an added key here is a decision to write down.
    assert set(peer_chart.values()) == {"image", "auth", "redisPassword", "hardAntiAffinity", "securityContext",
                                        "containerSecurityContext", "redis", "sentinel", "haproxy"}
    given = peer_chart.values()
    # uid 0 because the hostPath provisioner ignores fsGroup; fsGroup and the dropped capabilities stay the chart's.
    assert given["securityContext"] == {"runAsUser": 0, "runAsNonRoot": False}
    assert given["containerSecurityContext"] == {"runAsUser": 0, "runAsNonRoot": False}
    # The preStop script uses `[[`: bash, since the lab image's sh is dash.
    assert given["redis"] == {"lifecycle": {"preStop": {"exec": {
        "command": ["/bin/bash", "/readonly-config/trigger-failover-if-master.sh"]}}}}


def test_the_values_file_is_the_dict_as_yaml():
    rendered = peer_chart.render_values()
    assert yaml.safe_load(rendered) == peer_chart.values()
    assert "down-after-milliseconds: 5000" in rendered
    assert peer_chart.render_values({"auth": False}) == "auth: false\n"


def test_values_take_another_image_and_password():
    given = peer_chart.values(image="localhost/kubernaut-valkey-lab:8.1.1", password="other")
    assert given["image"]["repository"] == "localhost/kubernaut-valkey-lab" and given["image"]["tag"] == "8.1.1"
    assert given["redisPassword"] == "other"


def test_the_chart_is_read_in_place_and_overridable(monkeypatch, tmp_path):
    monkeypatch.delenv(peer_chart.CHART_ENV, raising=False)
    assert peer_chart.chart_dir() == peer_chart.REPO.parent / "shared" / "peers" / "redis-ha-chart"
    monkeypatch.setenv(peer_chart.CHART_ENV, str(tmp_path))
    assert peer_chart.chart_dir() == tmp_path


def test_install_arguments_and_the_haproxy_patch():
    args = peer_chart.install_args(Path("/charts/redis-ha"), Path("/tmp/v.yaml"))
    assert args == ["upgrade", "--install", "redis-ha", "/charts/redis-ha", "--namespace", "peer-redis-ha",
                    "--create-namespace", "--values", "/tmp/v.yaml"]
    container = peer_chart.haproxy_patch()["spec"]["template"]["spec"]["containers"][0]
    assert container == {"name": "haproxy", "command": ["haproxy", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]}


def test_install_refuses_a_missing_chart(tmp_path):
    tools = peer_chart.Tools(tmp_path / "helm", KubernetesCluster(tmp_path / "kubectl", tmp_path / "kubeconfig"))
    try:
        peer_chart.install(tools, chart=tmp_path)
    except peer_chart.PeerChartError as err:
        assert str(tmp_path) in str(err) and peer_chart.CHART_ENV in str(err)
    else:
        raise AssertionError("install went ahead without a chart")
