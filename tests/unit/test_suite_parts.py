"""scripts/test runs the suite as two pytest sessions at once, `--part=cluster` and `--part=rest`
(tests/conftest.py): together they must run every test once, the cluster part only modules that
need the lab cluster (in the session's order: the lab-down module last), the other part none."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Modules of each kind: cluster modules (one redeploys the lab stack, one takes the lab down, last)
# and podman, unit and drill modules.
CLUSTER_MODULES = ["tests/lab/test_ops.py", "tests/lab/test_engine_drills.py", "tests/cluster/test_lab_down.py"]
REST_MODULES = ["tests/drills/test_floor.py", "tests/pod_runtime/test_shellcheck.py", "tests/unit/test_test_layout.py"]


def _part_arguments() -> dict[str, str]:
    """The `--part` argument of each pytest line in scripts/test, as written there."""
    found = re.findall(r"-m pytest (--part\S*) ", (REPO / "scripts" / "test").read_text())
    assert found and all("=" in argument for argument in found), \
        f"scripts/test must spell the option --part=VALUE, in one word: {found}"
    return {argument.split("=", 1)[1]: argument for argument in found}


def _collected(*args: str) -> list[str]:
    # The whole suite, as scripts/test runs it: no paths (a path given would load tests/conftest.py
    # however the option is spelled).
    done = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return [line for line in done.stdout.splitlines() if "::" in line]


def _modules(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(test_id.split("::")[0] for test_id in ids))


def test_the_two_parts_run_every_test_once_and_the_cluster_part_only_the_cluster_modules():
    parts = _part_arguments()
    assert set(parts) == {"cluster", "rest"}, parts
    everything = _collected()
    cluster = _collected(parts["cluster"])
    rest = _collected(parts["rest"])
    assert set(CLUSTER_MODULES) <= set(_modules(cluster))
    assert not set(REST_MODULES) & set(_modules(cluster))
    assert set(REST_MODULES) <= set(_modules(rest))
    assert _modules(cluster)[-1] == "tests/cluster/test_lab_down.py"
    assert all(module.startswith(("tests/cluster/", "tests/lab/", "tests/engine/", "tests/alerts/"))
               for module in _modules(cluster)), _modules(cluster)
    assert sorted(cluster + rest) == sorted(everything)
    assert not set(cluster) & set(rest)
