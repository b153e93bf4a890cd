"""Fixtures of the cluster tests: the lab cluster (tests/conftest.py) and the lab stack applied to
it with the real engine (lab.stack), once per module: a second `pulumi up` with nothing changed
is quick."""

from __future__ import annotations

import os

import pytest

from cluster import KubernetesCluster
from lab.stack import LabStack, StackError


@pytest.fixture(scope="module")
def access(lab_cluster) -> KubernetesCluster:
    return KubernetesCluster.lab()


@pytest.fixture(scope="module")
def lab_stack(lab_cluster) -> LabStack:
    return LabStack(lab_cluster.kubeconfig, echo=lambda line: None)


@pytest.fixture(scope="module")
def deployed(lab_stack) -> dict:
    try:
        return lab_stack.up()
    except StackError as err:
        pytest.fail(str(err), pytrace=False)


@pytest.fixture(scope="module")
def operator_env(lab_cluster) -> dict[str, str]:
    """An operator's shell: kubectl on PATH, KUBECONFIG set; no password anywhere."""
    env = {k: v for k, v in os.environ.items() if "PASSWORD" not in k and k != "REDISCLI_AUTH"}
    env["PATH"] = f"{lab_cluster.bin}:{env.get('PATH', '/usr/bin:/bin')}"
    env["KUBECONFIG"] = str(lab_cluster.kubeconfig)
    return env


