"""The alert rules and the dashboard on a real Prometheus: the lab's (lab/prometheus.py, in the
namespace `monitoring`), scraping the lab stack's exporters through Kubernetes service discovery
with the shipped scrape jobs and evaluating the rules rendered from the lab stack's config.

- every exporter is a target with the labels the rules select on;
- on the healthy stack no alert is active, pending or firing, for the whole check;
- every query of every dashboard panel returns data;
- every alert fires on its fault (drills/alerts.py) within a bound derived from its `for:` and
  the scrape interval, and resolves after the recovery within a bound of its own.

The times are printed (`pytest -s`); docs/monitoring.md has a run's table.
"""

from __future__ import annotations

import time

import pytest

from drills import alerts as faults
from drills.alerts import AlertDrills
from drills.prometheus import Prometheus
from lab import prometheus as lab_prometheus
from monitoring.dashboard import panels
from monitoring.rules import ALERTS, IS_MASTER_RECORD, alert_rules
from stack_config import names
from tools.pulumi_mock_run import stack_config

TARGETS_UP_TIMEOUT_SECONDS = 180.0


@pytest.fixture(scope="module")
def cfg():
    """The lab stack's config, as the gateway fixture deploys it."""
    return stack_config("lab")


@pytest.fixture(scope="module")
def prometheus(access, gateway, cfg) -> Prometheus:
    """A new Prometheus pod (no history), once every exporter is up for it and has been scraped
    twice (the rate() and increase() of the rules need two samples)."""
    prometheus = Prometheus(lab_prometheus.deploy(access, cfg, fresh=True))
    expected = 2 * cfg.gateway.replicas + 1

    def all_up() -> bool:
        targets = prometheus.targets()
        return len(targets) == expected and all(t["health"] == "up" for t in targets)

    assert prometheus.wait(all_up, TARGETS_UP_TIMEOUT_SECONDS) is not None, prometheus.targets()
    time.sleep(2 * cfg.monitoring.scrape_interval_seconds)
    return prometheus


def test_every_exporter_is_a_target_with_the_labels_the_rules_select(prometheus, cfg, gateway):
    targets = prometheus.targets()
    jobs = sorted(t["labels"]["job"] for t in targets)
    assert jobs == sorted([names.JOB_GATEWAY_REDIS] * cfg.gateway.replicas
                          + [names.JOB_GATEWAY_SENTINEL] * cfg.gateway.replicas + [names.JOB_CACHE])
    assert {t["labels"]["namespace"] for t in targets} == {cfg.platform.namespace}
    gateway_pods = {t["labels"]["pod"] for t in targets if t["labels"]["job"] == names.JOB_GATEWAY_REDIS}
    assert gateway_pods == set(gateway.pod_names())
    # The rules Prometheus loaded are the ones rendered for the stack.
    assert prometheus.rule_names() == {rule["alert"] for rule in alert_rules(cfg)} | {IS_MASTER_RECORD}


def test_no_alert_is_active_on_the_healthy_stack(prometheus, cfg):
    """Over several evaluations, and over the whole life of this Prometheus (ALERTS keeps a
    series for every pending or firing alert)."""
    started = time.monotonic()
    seen = set()
    while time.monotonic() - started < 3 * cfg.monitoring.scrape_interval_seconds:
        seen.update(alert.name for alert in prometheus.alerts())
        time.sleep(2)
    assert seen == set()
    assert prometheus.query("count_over_time(ALERTS[1h])") == []


def test_every_dashboard_query_returns_data(prometheus, cfg):
    empty = [(panel.title, expr) for panel in panels(cfg) for expr, _ in panel.targets if not prometheus.query(expr)]
    assert empty == []


def test_each_alert_fires_on_its_fault_and_resolves_after_the_recovery(gateway, prometheus, cfg):
    drills = AlertDrills(cfg, gateway, prometheus, say=lambda line: print(line, flush=True))
    last = gateway.pod_names()[-1]
    # The pod-missing fault removes the highest ordinal: keep the master elsewhere, so that the
    # faults of the same phase know which pods stay.
    if drills.master() == last:
        sentinel = drills.sentinel(last)
        try:
            sentinel.execute_command("SENTINEL", "FAILOVER", names.MASTER_SET)
        finally:
            sentinel.close()
        assert faults.wait_for_new_master(gateway, last, gateway.timing.restore_bound_seconds)
        gateway.wait_healthy(gateway.timing.restore_bound_seconds)
    master = drills.master()
    replica = next(pod for pod in gateway.pod_names()[:-1] if pod != master)

    phases = [
        # The long `for:` durations side by side, on the master and `replica` (the last pod is
        # removed). The master's sentinel starved and the replica cut from the master leave no
        # quorum for a failover, which none of these faults asks for.
        [faults.gateway_pod_missing(), faults.memory_near_maxmemory(replica), faults.evictions(),
         faults.rejected_connections(), faults.sentinel_tilt(master), faults.replica_unlinked(replica),
         # The cache goes once the rejected connections' counter has been scraped.
         faults.cache_down(start_delay=4 * cfg.monitoring.scrape_interval_seconds)],
        [faults.master_cut_from_peers()],
        [faults.master_unreachable_without_good_replica()],
        # The master refuses writes and PING while its save fails, and is fenced without quorum.
        [faults.sentinel_quorum_lost(), faults.rdb_save_failed()],
        [faults.failover_flapping()],
    ]
    results = []
    for phase in phases:
        gateway.wait_healthy(gateway.timing.restore_bound_seconds * 2)
        assert prometheus.wait(lambda: not prometheus.alerts(), 300) is not None, \
            f"alerts still active before {[f.name for f in phase]}: {prometheus.alerts()}"
        results += drills.run_phase(phase)

    print(f"\n{'alert':40} {'fault':26} {'fired after':>12} {'bound':>6} {'resolved after':>15} {'bound':>6}")
    for times in results:
        fired = f"{times.fired_after:.0f} s" if times.fired_after is not None else "never"
        resolved = (f"{times.resolved_after:.0f} s" if times.resolved_after is not None
                    else "not awaited" if times.resolve_bound is None else "never")
        resolve_bound = f"{times.resolve_bound:.0f}" if times.resolve_bound is not None else "-"
        print(f"{times.alert:40} {times.fault:26} {fired:>12} {times.fire_bound:>6.0f} {resolved:>15} "
              f"{resolve_bound:>6}")
    covered = {times.alert for times in results}
    assert covered == {alert.name for alert in ALERTS if alert.applies(cfg)}
    assert [times for times in results if not times.ok] == []
