"""Taking the cluster down leaves nothing behind, and neither does a bring-up that fails.

Marked to run after every module that needs the cluster (tests/conftest.py orders the session);
a later test that needs it would bring it up again (about 20 s)."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from labcluster import ClusterError
from labcluster.cluster import LabCluster, leftovers
from lab.stack import default_root
from labcluster.layout import ETCD_CLIENT_PORT, SYSCTLS

pytestmark = pytest.mark.takes_the_lab_down

PROC_SYS = Path("/proc/sys")
REPO = Path(__file__).resolve().parents[2]


def kernel_settings() -> dict[str, str]:
    return {key: (PROC_SYS / key).read_text().strip() for key in SYSCTLS}


def test_lab_down_removes_the_stack_and_everything_of_the_cluster(lab_cluster):
    """scripts/lab-down, as the README gives it: pulumi destroy, then the cluster."""
    saved = json.loads(lab_cluster.layout.saved_sysctls.read_text())
    assert kernel_settings() == SYSCTLS
    done = subprocess.run([str(REPO / "scripts" / "lab-down")], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "removed process kubelet" in done.stderr
    assert leftovers(lab_cluster.layout) == []
    assert kernel_settings() == saved
    assert not default_root().exists()  # the lab stack's state, passphrase and passwords


def test_a_component_that_cannot_start_is_named_with_its_log_and_nothing_is_left():
    cluster = LabCluster.default()
    assert leftovers(cluster.layout) == []
    with socket.socket() as squatter:  # etcd's client port taken: etcd exits at once
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", ETCD_CLIENT_PORT))
        squatter.listen()
        with pytest.raises(ClusterError) as failure:
            cluster.up()
    message = str(failure.value)
    assert message.startswith("lab cluster: etcd: ")
    assert "address already in use" in message  # the tail of etcd's own log
    assert "check:" in message
    assert leftovers(cluster.layout) == []
