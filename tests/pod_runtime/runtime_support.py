"""Shared constants and checks of the pod-runtime tests (imported by the tests and conftest.py).

CI installs every tool these tests need, so a missing one is a failure with the fix in the
message, never a skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from stack_config import CONFIG_KEYS, StackConfig, load_stack_config, names

REPO = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod", "lab")
# Distinctive, so that a leak is found by a plain substring search anywhere.
REDIS_PASSWORD = "krt-redis-pw-3b9e71c0d4"
SENTINEL_PASSWORD = "krt-sentinel-pw-c58a2f91e6"
LAB_IMAGES = ("localhost/kubernaut-redis-lab:7.0.15", "localhost/kubernaut-redis-client:7.0.15")


def stack_config(stack: str, gateway_overrides: dict | None = None) -> StackConfig:
    """The validated config of Pulumi.<stack>.yaml, with `gateway_overrides` merged into its
    gateway key (as `pulumi config set --path gateway.<key>` would)."""
    document = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text()) or {}
    values = {key.removeprefix(f"{names.PROJECT}:"): value
              for key, value in (document.get("config") or {}).items()}
    if gateway_overrides:
        values["gateway"] = {**(values.get("gateway") or {}), **gateway_overrides}
    return load_stack_config({key: values.get(key) for key in CONFIG_KEYS}, stack)


def require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing on PATH: {', '.join(missing)}; install them with scripts/setup-host", pytrace=False)


def require_lab_images() -> None:
    require_tools("podman")
    missing = [image for image in LAB_IMAGES
               if subprocess.run(["podman", "image", "exists", image]).returncode != 0]
    if missing:
        pytest.fail(f"missing podman images {', '.join(missing)}; build them with lab/images/build-images",
                    pytrace=False)
