"""monitoring/rules.py: thresholds and `for:` durations follow the stack config; selectors are the stack's."""

from __future__ import annotations

import yaml

from monitoring.rules import IS_MASTER_RECORD, rules_document, rules_yaml
from stack_config import load_stack_config, names
from tools.pulumi_mock_run import set_path, stack_file_config


def _config(stack: str = "prod", overrides: dict | None = None):
    values = stack_file_config(stack)
    for path, value in (overrides or {}).items():
        set_path(values, path, value)
    return load_stack_config(values, stack)


def _alerts(cfg) -> dict[str, dict]:
    (group,) = rules_document(cfg)["groups"]
    return {rule["alert"]: rule for rule in group["rules"] if "alert" in rule}


def test_durations_of_prod():
    alerts = _alerts(_config())
    assert {name: rule.get("for") for name, rule in alerts.items()} == {
        "RedisGatewayNoMaster": "45s", "RedisGatewayMultipleMasters": "45s", "RedisGatewayMasterDown": "45s",
        "RedisGatewaySentinelQuorumLost": "35s", "RedisGatewaySentinelTilt": "60s",
        "RedisGatewaySentinelsDisagree": "45s", "RedisGatewayReplicaNotLinked": "105s",
        "RedisGatewayReplicasMissing": "330s", "RedisGatewayReplicaLagging": "30s",
        "RedisGatewayFailoverFlapping": None, "RedisGatewayMemoryNearMaxmemory": "300s",
        "RedisGatewayEvictions": None, "RedisRejectedConnections": None, "RedisGatewayRdbSaveFailed": None,
        "RedisSettingsDrift": "30s",
        "RedisExporterDown": "45s", "RedisGatewayNodeDown": "270s", "RedisGatewaySentinelDown": "270s",
        "RedisCacheDown": "155s",
    }


def test_slower_sentinel_settings_give_slower_alerts():
    cfg = _config("prod", {"gateway.downAfterMilliseconds": 10_500, "gateway.failoverTimeoutMilliseconds": 60_000,
                           "gateway.terminationGracePeriodSeconds": 60, "monitoring.scrapeIntervalSeconds": 30})
    alerts = _alerts(cfg)
    # ceil(10.5) + 60 + 2 x 30
    assert alerts["RedisGatewayNoMaster"]["for"] == "131s"
    assert alerts["RedisGatewaySentinelQuorumLost"]["for"] == "71s"
    assert alerts["RedisGatewaySentinelTilt"]["for"] == "90s"
    assert rules_document(cfg)["groups"][0]["interval"] == "30s"


def test_thresholds_come_from_the_config():
    cfg = _config("prod", {"gateway.minReplicasMaxLag": 25, "monitoring.flappingFailoversPerHour": 7,
                           "monitoring.memoryWarningPercent": 80, "gateway.replicas": 5})
    alerts = _alerts(cfg)
    assert alerts["RedisGatewayReplicaLagging"]["expr"].endswith("> 25")
    assert alerts["RedisGatewayFailoverFlapping"]["expr"].endswith("> 7")
    assert alerts["RedisGatewayMemoryNearMaxmemory"]["expr"].endswith("> 0.8")
    assert alerts["RedisGatewayReplicasMissing"]["expr"].endswith("< 4")
    assert alerts["RedisGatewayNodeDown"]["expr"].endswith("< 5")
    assert "Quorum is 3 of 5" in alerts["RedisGatewaySentinelQuorumLost"]["annotations"]["runbook"]


def test_rdb_alert_only_with_rdb_snapshots():
    assert "RedisGatewayRdbSaveFailed" in _alerts(_config())
    assert "RedisGatewayRdbSaveFailed" not in _alerts(_config("prod", {"gateway.persistence.rdbSchedule": []}))


def test_every_selector_names_the_stacks_namespace_and_a_known_job():
    cfg = _config("dev", {"platform.namespace": "redis-tier"})
    (group,) = rules_document(cfg)["groups"]
    jobs = (names.JOB_GATEWAY_REDIS, names.JOB_GATEWAY_SENTINEL, names.JOB_CACHE)
    for rule in group["rules"]:
        expr = rule["expr"]
        assert 'namespace="redis-tier"' in expr, expr
        assert "kubernaut-system" not in expr
        assert IS_MASTER_RECORD in expr or any(f'"{job}' in expr or f'|{job}' in expr for job in jobs), expr


def test_every_alert_has_severity_summary_and_runbook():
    for name, rule in _alerts(_config()).items():
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert set(rule["annotations"]) == {"summary", "runbook"}, name
        assert "{{" not in rule["annotations"]["runbook"], "annotations are static text"
    assert _alerts(_config())["RedisCacheDown"]["labels"]["severity"] == "warning"


def test_yaml_is_the_document():
    cfg = _config()
    assert yaml.safe_load(rules_yaml(cfg)) == rules_document(cfg)


def test_drift_alert_compares_with_the_configured_settings():
    expr = _alerts(_config("prod", {"gateway.maxmemory": "128Mi", "gateway.maxmemoryPolicy": "volatile-lru"}))[
        "RedisSettingsDrift"]["expr"]
    assert 'redis_memory_max_bytes{namespace="kubernaut-system", job="redis-gateway"} != 134217728' in expr
    assert 'maxmemory_policy!="volatile-lru"' in expr
    cfg = _config()
    assert f'job="redis"}} != {cfg.context_cache.maxmemory_bytes}' in _alerts(cfg)["RedisSettingsDrift"]["expr"]
