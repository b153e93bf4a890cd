"""The podman command line, as the lab uses it.

Secret values never appear in a podman argument list (visible to `ps`): callers pass environment
variables by name (`--env NAME`) and the values through this process's environment (`secret_env`),
from which podman copies them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any, Mapping, Optional, Sequence

from .errors import LabError, PodmanError

LAB_LABEL = "io.kubernaut-redis.lab"
POD_LABEL = "io.kubernaut-redis.lab.pod"
CONTAINER_LABEL = "io.kubernaut-redis.lab.container"
ROLE_LABEL = "io.kubernaut-redis.lab.role"
# How long podman may take for one command on a busy machine before the lab calls it stuck.
DEFAULT_TIMEOUT_SECONDS = 120


def require_podman() -> str:
    binary = shutil.which("podman")
    if not binary:
        raise LabError("podman is not installed: run scripts/setup-host (Debian: apt-get install podman runc)")
    return binary


class Podman:
    def __init__(self) -> None:
        self.binary = require_podman()

    def run(self, *args: str, secret_env: Optional[Mapping[str, str]] = None, check: bool = True,
            timeout: float = DEFAULT_TIMEOUT_SECONDS, stdin: Optional[str] = None) -> subprocess.CompletedProcess:
        env = None
        if secret_env:
            env = dict(os.environ)
            env.update(secret_env)
        try:
            done = subprocess.run([self.binary, *args], capture_output=True, text=True, env=env,
                                  timeout=timeout, input=stdin)
        except subprocess.TimeoutExpired:
            raise PodmanError(f"podman {_shown(args)}: no answer within {timeout:.0f} s") from None
        if check and done.returncode != 0:
            raise PodmanError(f"podman {_shown(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return done

    def json(self, *args: str) -> Any:
        out = self.run(*args).stdout.strip()
        return json.loads(out) if out else []

    def exec(self, container: str, command: Sequence[str], timeout: float,
             env_names: Sequence[str] = (), secret_env: Optional[Mapping[str, str]] = None,
             user: Optional[str] = None) -> subprocess.CompletedProcess:
        """Run `command` in a running container; a timeout is reported as exit code 124."""
        args = ["exec"]
        for name in env_names:
            args += ["--env", name]
        if user:
            args += ["--user", user]
        try:
            return self.run(*args, container, *command, check=False, timeout=timeout, secret_env=secret_env)
        except PodmanError as err:
            return subprocess.CompletedProcess(args, 124, "", str(err))

    def exists(self, what: str, name: str) -> bool:
        return self.run(what, "exists", name, check=False).returncode == 0

    def containers(self, lab: str) -> list[dict[str, Any]]:
        return self.json("ps", "-a", "--format", "json", "--filter", f"label={LAB_LABEL}={lab}")

    def pods(self, lab: str) -> list[dict[str, Any]]:
        return self.json("pod", "ps", "--format", "json", "--filter", f"label={LAB_LABEL}={lab}")

    def pid(self, container: str) -> int:
        return int(self.run("inspect", "--format", "{{.State.Pid}}", container).stdout.strip())

    def ip(self, container: str, network: str) -> str:
        fmt = "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}" % network
        return self.run("inspect", "--format", fmt, container).stdout.strip()

    def logs(self, container: str, tail: Optional[int] = None) -> str:
        args = ["logs"] + (["--tail", str(tail)] if tail else []) + [container]
        done = self.run(*args, check=False)
        return done.stdout + done.stderr


def _shown(args: Sequence[str]) -> str:
    shown = " ".join(args)
    return shown if len(shown) < 400 else shown[:400] + " ..."
