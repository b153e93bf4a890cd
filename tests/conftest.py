"""The lab cluster for the tests that need a real Kubernetes (tests/cluster, tests/lab, the engine
tests against a cluster): brought up on first use (a healthy one is reused, in about a second)
and taken down at the end of the session when the session started it. A cluster that cannot come
up fails those tests with the component, its log and what to check; nothing is skipped."""

from __future__ import annotations

import pytest

from labcluster import ClusterError
from labcluster.cluster import LabCluster

_started_here: list[bool] = []

REDEPLOYS = "redeploys_lab_stack"
TAKES_DOWN = "takes_the_lab_down"


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
    items[:] = [item for module in ranked for item in module]


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
