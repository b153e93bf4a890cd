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

from labcluster.layout import CLIENT_IMAGE, LAB_ENGINE_IMAGES, LabEngineImage
from stack_config import CONFIG_KEYS, StackConfig, load_stack_config, names

REPO = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod", "lab")
# Distinctive, so that a leak is found by a plain substring search anywhere.
REDIS_PASSWORD = "krt-redis-pw-3b9e71c0d4"
SENTINEL_PASSWORD = "krt-sentinel-pw-c58a2f91e6"
# gatewayOperatorPassword: the ACL user `operator`, and the seed of the other internal users'.
OPERATOR_PASSWORD = "krt-operator-pw-70e4b2d9a1"
# The engine matrix (labcluster/layout.py): Redis 8.0 (Debian 13, the production default's major
# line), Redis 7.0 (Debian 12), Valkey 8.1 (Debian 13). Tests marked `every_engine` run on each;
# the others on the first (conftest.py).
ENGINES = LAB_ENGINE_IMAGES
DEFAULT_ENGINE = LAB_ENGINE_IMAGES[0]


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


def require_lab_images(engine: LabEngineImage = DEFAULT_ENGINE) -> None:
    require_tools("podman")
    missing = [image for image in (engine.image, CLIENT_IMAGE)
               if subprocess.run(["podman", "image", "exists", image]).returncode != 0]
    if missing:
        pytest.fail(f"missing podman images {', '.join(missing)}; build them with lab/images/build-images",
                    pytrace=False)
