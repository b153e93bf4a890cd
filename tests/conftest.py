"""The lab cluster for the tests that need a real Kubernetes (tests/cluster, tests/lab, the engine
tests against a cluster): brought up on first use (a healthy one is reused, in about a second)
and taken down at the end of the session when the session started it. A cluster that cannot come
up fails those tests with the component, its log and what to check; nothing is skipped."""

from __future__ import annotations

import pytest

from labcluster import ClusterError
from labcluster.cluster import LabCluster

_started_here: list[bool] = []


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
