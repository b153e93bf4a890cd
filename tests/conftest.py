"""The lab cluster for the tests that need a real Kubernetes (tests/cluster, tests/lab, the engine
tests against a cluster): brought up on first use (a healthy one is reused, in about a second)
and taken down at the end of the session when the session started it. A cluster that cannot come
up fails those tests with the component, its log and what to check; nothing is skipped."""

from __future__ import annotations

import time

import pytest

from labcluster import ClusterError
from labcluster.cluster import LabCluster

_started_here: list[bool] = []

REDEPLOYS = "redeploys_lab_stack"
TAKES_DOWN = "takes_the_lab_down"


PARTS = ("cluster", "rest")
# The lines of a failure's report printed as it happens (the whole report is in the summary).
FAILURE_LINES = 40


def pytest_addoption(parser):
    parser.addoption("--part", choices=PARTS, default=None,
                     help="cluster: only the modules that need the lab cluster; rest: only the others "
                          "(scripts/test runs the two at once). In one word, --part=VALUE: a separate "
                          "`cluster` is taken for the folder cluster/ before this option is known")


def pytest_configure(config):
    config.addinivalue_line("markers", f"{REDEPLOYS}: deploys the lab stack anew (another engine); runs after "
                            "the modules that use the deployed one")
    config.addinivalue_line("markers", f"{TAKES_DOWN}: takes the lab cluster down; runs after every module "
                            "that needs the cluster")


def _module_rank(items: list[pytest.Item]) -> int:
    if any(item.get_closest_marker(TAKES_DOWN) for item in items):
        return 2
    if any(item.get_closest_marker(REDEPLOYS) for item in items):
        return 1
    return 0 if any("lab_cluster" in item.fixturenames for item in items) else 3


def pytest_collection_modifyitems(session, config, items):
    """Whole modules move, in a stable order: module-scoped fixtures are set up once each."""
    modules: dict[object, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(item.path, []).append(item)
    ranked = sorted(modules.values(), key=_module_rank)  # sorted() is stable
    part = config.getoption("--part")
    kept = [module for module in ranked if part is None or (part == "cluster") == (_module_rank(module) < 3)]
    deselected = [item for module in ranked if module not in kept for item in module]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = [item for module in kept for item in module]


# Each module's time and the session's, and each failure as it happens: a run cut off by CI's
# time limit still shows where the time went and what failed.
_clock = {"session": time.monotonic(), "module": time.monotonic()}


@pytest.hookimpl(trylast=True)
def pytest_runtest_logfinish(nodeid, location):
    reporter = _reporter()
    if reporter is None or reporter.verbosity != 0:  # the line per module is the default output's
        return
    nextitem = _next_item.get(nodeid)
    if nextitem is None or nextitem.split("::")[0] != nodeid.split("::")[0]:
        now = time.monotonic()
        reporter.write(f" {now - _clock['module']:.0f} s, at {now - _clock['session']:.0f} s")
        _clock["module"] = now


def pytest_runtest_logreport(report):
    reporter = _reporter()
    if reporter is None or not report.failed:
        return
    lines = report.longreprtext.splitlines()[-FAILURE_LINES:]
    reporter.write_line("")
    reporter.write_line(f"FAILED {report.nodeid} ({report.when}), at "
                        f"{time.monotonic() - _clock['session']:.0f} s:", red=True)
    for line in lines:
        reporter.write_line(f"    {line}")


_next_item: dict[str, str | None] = {}
_config_holder: list[pytest.Config] = []


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session):
    _config_holder.append(session.config)
    ids = [item.nodeid for item in session.items]
    _next_item.update(zip(ids, ids[1:] + [None]))
    _clock["session"] = _clock["module"] = time.monotonic()


def _reporter():
    if not _config_holder:
        return None
    return _config_holder[0].pluginmanager.get_plugin("terminalreporter")


def ensure_lab_cluster() -> LabCluster:
    cluster = LabCluster.default()
    try:
        if not _started_here:
            _started_here.append(not cluster.healthy())
        cluster.up()
    except ClusterError as err:
        pytest.fail(str(err), pytrace=False)
    return cluster


@pytest.fixture(scope="module")
def lab_cluster() -> LabCluster:
    return ensure_lab_cluster()


@pytest.fixture(scope="session", autouse=True)
def _take_down_the_cluster_this_session_started():
    yield
    if _started_here and _started_here[0]:
        LabCluster.default().down()
