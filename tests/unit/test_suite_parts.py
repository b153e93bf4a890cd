"""scripts/test runs the suite as two pytest sessions at once, `--part cluster` and `--part rest`
(tests/conftest.py): together they must run every test once, the cluster part only modules that
need the lab cluster (in the session's order: the lab-down module last), the other part none."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# One module of each kind: a cluster module, one that redeploys the lab stack, the lab-down one,
# a podman module and unit/drill modules; given out of the session's order.
MODULES = ["tests/cluster/test_lab_down.py", "tests/drills/test_floor.py", "tests/lab/test_engine_drills.py",
           "tests/pod_runtime/test_shellcheck.py", "tests/lab/test_ops.py", "tests/unit/test_test_layout.py"]
CLUSTER_MODULES = ["tests/lab/test_ops.py", "tests/lab/test_engine_drills.py", "tests/cluster/test_lab_down.py"]


def _collected(*args: str) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
                           *args, *MODULES], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def _modules(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(test_id.split("::")[0] for test_id in ids))


def test_the_two_parts_run_every_test_once_and_the_cluster_part_only_the_cluster_modules():
    everything = _collected()
    cluster = _collected("--part", "cluster")
    rest = _collected("--part", "rest")
    assert _modules(cluster) == CLUSTER_MODULES
    assert set(_modules(rest)) == set(MODULES) - set(CLUSTER_MODULES)
    assert sorted(cluster + rest) == sorted(everything)
    assert not set(cluster) & set(rest)
