"""The README's first command: scripts/lab-up brings the dev stack up for real on the lab
cluster and passes the smoke check run as a Job in the namespace."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_lab_up_deploys_the_dev_stack_and_the_smoke_job_passes(lab_cluster):
    env = {k: v for k, v in os.environ.items() if k != "KUBECONFIG"}
    done = subprocess.run([str(REPO / "scripts" / "lab-up")], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=1800)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    assert re.search(r"^smoke: all \d+ checks passed", output, re.M), output[-4000:]
    assert "lab-up: the dev stack is up on the lab cluster and the smoke Job passed" in output
    # The real apply: the objects carry the provider's last-applied marks, the Job ran in the namespace.
    job = lab_cluster.kubectl("-n", "kubernaut-system", "get", "job", "kubernaut-redis-smoke", "-o",
                              "jsonpath={.status.succeeded}")
    assert job.stdout == "1"
    # No password in what lab-up printed.
    stack_secrets = Path.home() / ".cache" / "kubernaut-redis" / "lab-stack" / "secrets"
    for secret in stack_secrets.iterdir():
        assert secret.read_text() not in output
