"""Fixtures of the lab tests: the cluster's access for runtime tools, and the lab stack's gateway
as `pulumi up -s lab` deploys it, with the drills' client pod in its namespace."""

from __future__ import annotations

import pytest

from cluster import KubernetesCluster
from drills.targets import GatewayTarget

READY_TIMEOUT_SECONDS = 300.0


@pytest.fixture(scope="module")
def access(lab_cluster) -> KubernetesCluster:
    return KubernetesCluster.lab()


@pytest.fixture(scope="module")
def gateway(lab_cluster, access):
    """The lab stack, applied by the real engine (a second `up` changes nothing), and the drills'
    client pod in its namespace."""
    from lab.stack import LabStack, StackError

    try:
        outputs = LabStack(lab_cluster.kubeconfig).up()
    except StackError as err:
        pytest.fail(str(err), pytrace=False)
    target = GatewayTarget.from_outputs(access, outputs)
    # A drill of a config change (scale) deploys the lab stack with its change, then as it was.
    target.deployer = lambda extra: LabStack(lab_cluster.kubeconfig).up(list(extra))
    target.start_client()
    target.wait_healthy(READY_TIMEOUT_SECONDS)
    yield target
    target.stop_client()
