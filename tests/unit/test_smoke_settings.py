"""The settings the smoke check compares with the live nodes (drift): read from the rendered
configs, given on the command line, and what a live node's INFO and a sentinel's SENTINEL MASTER
must say. The check itself runs against the lab (tests/cluster/test_smoke.py)."""

from __future__ import annotations

import pytest
import yaml

from redis_files import gateway_redis_conf, gateway_sentinel_conf, gateway_topology
from smoke import __main__ as smoke_cli
from smoke.targets import TargetsError, from_manifest_objects, redis_settings, sentinel_settings
from stack_config import names
from tools.pulumi_mock_run import stack_config
from tools.render_manifests import render

from .test_render_manifests import ENV


def _cfg(stack: str):
    return stack_config(stack)


@pytest.mark.parametrize("stack", ["dev", "prod", "lab"])
def test_expected_settings_are_the_stack_configs(stack):
    cfg = _cfg(stack)
    assert redis_settings(gateway_redis_conf(cfg)) == {
        "maxmemory": str(cfg.gateway.maxmemory_bytes), "maxmemory-policy": cfg.gateway.maxmemory_policy,
        "appendonly": "yes" if cfg.gateway.persistence.appendonly else "no"}
    quorum = gateway_topology(cfg)[names.TOPOLOGY_QUORUM_KEY]
    assert sentinel_settings(gateway_sentinel_conf(cfg), names.MASTER_SET, quorum) == {
        "quorum": str(cfg.gateway.effective_quorum),
        "down-after-milliseconds": str(cfg.gateway.down_after_milliseconds),
        "failover-timeout": str(cfg.gateway.failover_timeout_milliseconds),
        "parallel-syncs": str(cfg.gateway.parallel_syncs)}
    # The monitor line's quorum is a placeholder: never expected from the template alone.
    assert "quorum" not in sentinel_settings(gateway_sentinel_conf(cfg), names.MASTER_SET)
    # Another master set's lines are not this one's.
    assert sentinel_settings(gateway_sentinel_conf(cfg), "other-master", quorum) == {}


def test_rendered_manifests_carry_the_expected_settings(tmp_path):
    files = render("prod", tmp_path / "out", env=ENV)
    objects = [doc for path in files if path.suffix == ".yaml" for doc in yaml.safe_load_all(path.read_text()) if doc]
    targets, _ = from_manifest_objects(objects)
    cfg = _cfg("prod")
    assert targets.redis_settings["maxmemory"] == str(cfg.gateway.maxmemory_bytes)
    assert targets.sentinel_settings["quorum"] == str(cfg.gateway.effective_quorum)
    # They survive the trip to the client pod.
    assert type(targets).from_json(targets.to_json()) == targets


def test_settings_flags_name_the_flag_and_the_keys_allowed():
    assert smoke_cli._settings(["maxmemory=1", "appendonly=no"], ("maxmemory", "appendonly"), "--x") == \
        {"maxmemory": "1", "appendonly": "no"}
    assert smoke_cli._settings([], ("maxmemory",), "--x") is None
    with pytest.raises(TargetsError, match=r"--redis-setting 'maxclients=5': expected KEY=VALUE with KEY one of"):
        smoke_cli._settings(["maxclients=5"], ("maxmemory",), "--redis-setting")
    with pytest.raises(TargetsError, match="expected KEY=VALUE"):
        smoke_cli._settings(["maxmemory"], ("maxmemory",), "--redis-setting")


def test_the_smoke_checks_object_names_are_the_programs():
    """smoke/targets.py runs alone in the client image (standard library only), so it spells the
    names it reads from manifests itself: they must be the program's."""
    from smoke import targets

    assert (targets.GATEWAY_STATEFULSET, targets.GATEWAY_CONFIG_MAP, targets.GATEWAY_HA_SERVICE) == \
        (names.GATEWAY, names.GATEWAY_CONFIG_MAP, names.GATEWAY_HA_SERVICE)
    assert (targets.GATEWAY_TOPOLOGY_CONFIG_MAP, targets.TOPOLOGY_QUORUM) == \
        (names.GATEWAY_TOPOLOGY_CONFIG_MAP, names.TOPOLOGY_QUORUM_KEY)
    assert (targets.CACHE_DEPLOYMENT, targets.CACHE_CONFIG_MAP, targets.REDIS_CONF, targets.SENTINEL_CONF) == \
        (names.CACHE, names.CACHE_CONFIG_MAP, names.REDIS_CONF, names.SENTINEL_CONF)
