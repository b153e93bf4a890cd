"""The lab's tools built from Go modules beside the cluster (scripts/build-cluster, docs/lab.md):
each a wrapper module pinning one version, built read-only under a cache key of its own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD_CLUSTER = (REPO / "scripts" / "build-cluster").read_text()


@pytest.mark.parametrize("module, requirement, package, binary", [
    ("seaweedfs", "github.com/seaweedfs/seaweedfs v0.0.0-20261109003541-7506e5f91cd6",
     "github.com/seaweedfs/seaweedfs/weed", "weed"),
    ("helm", "helm.sh/helm/v4 v4.3.2", "helm.sh/helm/v4/cmd/helm", "helm"),
])
def test_the_wrapper_module_pins_its_tool_and_build_cluster_builds_it_read_only(module, requirement, package, binary):
    folder = REPO / "go" / module
    go_mod = (folder / "go.mod").read_text()
    assert go_mod.startswith(f"module local.invalid/kubernaut-lab/{module}\n")
    assert re.search(r"^go 1\.26\.\d+$", go_mod, re.M) and "toolchain" not in go_mod
    assert re.search(rf"^require {re.escape(requirement)}$", go_mod, re.M)
    assert f'_ "{package}"' in (folder / "tools.go").read_text()
    assert (folder / "go.sum").stat().st_size > 0
    assert f'{module}) module_current "$2" {module} {binary}' in BUILD_CLUSTER
    assert f"extra_current {module}" in BUILD_CLUSTER
    assert not re.search(r"\bgo\s+(get|mod\s+(tidy|init|edit))\b", BUILD_CLUSTER)


def test_the_workload_driver_module_pins_the_gateways_client_and_is_built_read_only_under_its_own_key():
    folder = REPO / "go" / "workload"
    go_mod = (folder / "go.mod").read_text()
    assert re.search(r"^module local\.invalid/kubernaut-redis/workload$", go_mod, re.M)
    assert re.search(r"^go 1\.26\.\d+$", go_mod, re.M) and "toolchain" not in go_mod
    # The Gateway's own client: go-redis v9 (../shared/notes/kubernaut-clients.md).
    assert re.search(r"^require github\.com/redis/go-redis/v9 v9\.\d+\.\d+$", go_mod, re.M)
    assert '"github.com/redis/go-redis/v9"' in (folder / "main.go").read_text()
    assert (folder / "go.sum").stat().st_size > 0
    assert 'workload) module_current "$2" workload gateway-workload' in BUILD_CLUSTER
    assert "extra_current workload" in BUILD_CLUSTER
    # The cache key covers the driver's source, not only its module files.
    assert '"$repo/go/$1"/*.go' in BUILD_CLUSTER
