"""What the cluster tests share besides fixtures: the stack's namespace and a shell as an operator
runs one. A module of its own: every folder has a conftest.py, so `from conftest import ...`
takes whichever folder's conftest was imported first."""

from __future__ import annotations

import subprocess

from stack_config.models import PlatformConfig

# The namespace the dev and lab stacks deploy to: the stack config's default.
NAMESPACE = PlatformConfig.model_fields["namespace"].default


def shell(command: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True, timeout=timeout)
