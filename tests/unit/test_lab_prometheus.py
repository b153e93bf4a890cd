"""The lab's Prometheus objects (lab/prometheus.py): what it may read, how it runs, and that it
runs the shipped scrape jobs and the rules rendered for the stack."""

from __future__ import annotations

import yaml

from lab import prometheus
from monitoring import rules_yaml, scrape_configs
from tools.pulumi_mock_run import stack_config


def _cfg():
    return stack_config("lab")


def _by_kind(objects):
    found = {}
    for item in objects:
        found.setdefault(item["kind"], []).append(item)
    return found


def test_it_reads_only_the_stacks_namespace():
    cfg = _cfg()
    kinds = _by_kind(prometheus.objects(cfg))
    assert "ClusterRole" not in kinds and "ClusterRoleBinding" not in kinds
    (role,) = kinds["Role"]
    (binding,) = kinds["RoleBinding"]
    assert role["metadata"]["namespace"] == binding["metadata"]["namespace"] == cfg.platform.namespace
    assert all(set(rule["verbs"]) == {"get", "list", "watch"} for rule in role["rules"])
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": prometheus.NAME,
                                    "namespace": prometheus.NAMESPACE}]


def test_it_runs_as_the_restricted_pod_security_level_asks():
    kinds = _by_kind(prometheus.objects(_cfg()))
    (namespace,) = kinds["Namespace"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    spec = kinds["Deployment"][0]["spec"]["template"]["spec"]
    assert spec["securityContext"]["runAsNonRoot"] is True
    assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = spec["containers"]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                            "capabilities": {"drop": ["ALL"]}}
    assert container["imagePullPolicy"] == "Never"


def test_it_runs_the_shipped_scrape_jobs_and_the_stacks_rules():
    cfg = _cfg()
    (config_map,) = _by_kind(prometheus.objects(cfg))["ConfigMap"]
    config = yaml.safe_load(config_map["data"][prometheus.CONFIG_FILE])
    assert config["scrape_configs"] == scrape_configs(cfg)
    assert config["rule_files"] == [f"{prometheus.CONFIG_DIR}/{prometheus.RULES_FILE}"]
    assert config["global"]["evaluation_interval"] == f"{cfg.monitoring.scrape_interval_seconds}s"
    assert config_map["data"][prometheus.RULES_FILE] == rules_yaml(cfg)
    # Discovery is limited to the stack's namespace.
    assert {tuple(job["kubernetes_sd_configs"][0]["namespaces"]["names"]) for job in config["scrape_configs"]} \
        == {(cfg.platform.namespace,)}
