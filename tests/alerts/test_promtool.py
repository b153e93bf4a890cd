"""The alert rules under promtool (the lab Prometheus' own, built by scripts/build-cluster): the
shipped rules file is what the renderer gives for prod, `promtool check rules` accepts it,
`promtool check config` accepts the shipped scrape jobs with it, and `promtool test rules` runs
alerts_test.yaml against it.

The annotations of the rules are static text; the expected alerts of alerts_test.yaml leave them
out and get them here from the rendered rule, so the cases state labels and timing only.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from labcluster import ClusterError
from labcluster.cluster import find_binaries
from monitoring.rules import ALERTS, alert_rules
from monitoring.scrape import prometheus_config
from stack_config import names
from tools.monitoring_files import files, prod_config

HERE = Path(__file__).resolve().parent
CASES = HERE / "alerts_test.yaml"


def promtool() -> str:
    """The promtool of the lab's Prometheus (the same version runs the rules in tests/lab)."""
    try:
        path = find_binaries() / "promtool"
    except ClusterError as err:
        pytest.fail(f"{err}: promtool is built with them", pytrace=False)
    return str(path)


@pytest.fixture(scope="module")
def rules_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("rules") / "prometheus-rules.yaml"
    (text,) = [text for target, text in files(prod_config()).items() if target.name == path.name]
    path.write_text(text)
    return path


def test_generated_files_are_current():
    for path, text in files(prod_config()).items():
        assert path.read_text() == text, f"{path.name} is stale: run `python -m tools.monitoring_files`"


def test_promtool_check_rules_accepts_the_rendered_file(rules_file):
    result = subprocess.run([promtool(), "check", "rules", str(rules_file)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules(prod_config())) + 1} rules found" in result.stdout


def test_promtool_check_config_accepts_the_scrape_jobs_with_the_rules(tmp_path, rules_file):
    """The prometheus.yml the lab's Prometheus runs: the shipped scrape jobs and the rules file."""
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(prod_config(), [str(rules_file)])))
    result = subprocess.run([promtool(), "check", "config", str(config)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules(prod_config())) + 1} rules found" in result.stdout
    jobs = [job["job_name"] for job in yaml.safe_load(config.read_text())["scrape_configs"]]
    assert jobs == [names.JOB_GATEWAY_REDIS, names.JOB_GATEWAY_SENTINEL, names.JOB_CACHE]


def test_promtool_check_rules_refuses_a_broken_expression(tmp_path, rules_file):
    """The check above is not vacuous."""
    document = yaml.safe_load(rules_file.read_text())
    document["groups"][0]["rules"][1]["expr"] += " +"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(document))
    assert subprocess.run([promtool(), "check", "rules", str(broken)], capture_output=True).returncode != 0


def _with_annotations(cases: dict, rules_file: Path) -> dict:
    annotations = {rule["alert"]: rule["annotations"] for rule in alert_rules(prod_config())}
    cases["rule_files"] = [str(rules_file)]
    for test in cases["tests"]:
        for check in test.get("alert_rule_test", []):
            for alert in check["exp_alerts"]:
                alert["exp_annotations"] = annotations[check["alertname"]]
    return cases


def _cases() -> dict:
    return yaml.safe_load(CASES.read_text())


def test_every_alert_has_a_firing_and_a_silent_case():
    fires, silent = set(), set()
    for test in _cases()["tests"]:
        for check in test.get("alert_rule_test", []):
            (fires if check["exp_alerts"] else silent).add(check["alertname"])
    rendered = {rule["alert"] for rule in alert_rules(prod_config())}
    assert rendered == {alert.name for alert in ALERTS}, "prod renders every alert"
    assert fires == rendered and silent == rendered


def run_promtool_tests(cases: dict, tmp_path: Path) -> subprocess.CompletedProcess:
    path = tmp_path / "alerts_test.yaml"
    path.write_text(yaml.safe_dump(cases, sort_keys=False))
    return subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True)


def test_promtool_unit_tests_of_every_alert(tmp_path, rules_file):
    started = time.monotonic()
    result = run_promtool_tests(_with_annotations(_cases(), rules_file), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout
    assert time.monotonic() - started < 60


def test_promtool_unit_tests_can_fail(tmp_path, rules_file):
    """A case that expects silence where an alert fires makes promtool fail: the cases are checked."""
    cases = _with_annotations(_cases(), rules_file)
    no_master = next(test for test in cases["tests"] if test["name"].startswith("no node reports"))
    for check in no_master["alert_rule_test"]:
        check["exp_alerts"] = []
    result = run_promtool_tests(cases, tmp_path)
    assert result.returncode != 0 and "RedisGatewayNoMaster" in result.stdout + result.stderr


def test_docs_list_every_alert():
    text = (HERE.parents[1] / "docs" / "monitoring.md").read_text()
    for alert in ALERTS:
        assert f"| {alert.name} | {alert.severity}" in text, alert.name
