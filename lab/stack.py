"""The lab stack on the lab cluster, with the real engine: `pulumi up -s lab` against the
cluster's API server (a real apply), its outputs, the smoke check as a Job, `pulumi destroy`.

The stack lives in a private directory outside the repo (~/.cache/kubernaut-redis/lab-stack,
0700): a file backend, a passphrase made once, the stack's passwords made once (so a second
`up` changes nothing), and a copy of the project refreshed on every run, so `pulumi config set`
never edits a committed file. Secrets reach pulumi on stdin, never argv.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

import yaml

REPO = Path(__file__).resolve().parents[1]
STACK = "lab"
# contextCacheOperatorPassword: the cache's `operator` user, which the alert drills' CONFIG SET
# maxclients on the cache needs (drills/alerts.py).
SECRET_KEYS = ("gatewayRedisPassword", "gatewaySentinelPassword", "contextCachePassword", "gatewayOperatorPassword",
               "contextCacheOperatorPassword")
KUBECONFIG_KEY = "kubeconfig"
NOT_PART_OF_THE_PROGRAM = (".git", ".venv", "__pycache__", ".pulumi-state", ".rendered", ".pytest_cache", "tests",
                           "docs", "go", "node_modules")
PULUMI_TIMEOUT_SECONDS = 900


class StackError(RuntimeError):
    pass


def default_root() -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(os.environ.get("KUBERNAUT_CACHE") or cache / "kubernaut-redis") / "lab-stack"


def engine_bin() -> Path:
    done = subprocess.run([str(REPO / "scripts" / "bootstrap-pulumi"), "--check"], capture_output=True, text=True)
    if done.returncode != 0:
        raise StackError("the Pulumi engine is not built: run scripts/bootstrap-pulumi (docs/engine.md)")
    return Path(done.stdout.strip())


def engine_plugins() -> Path:
    cache = Path(os.environ.get("KUBERNAUT_ENGINE_CACHE")
                 or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kubernaut-redis" / "engine")
    return cache / "pulumi-home" / "plugins"


def _random_secret() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class LabStack:
    kubeconfig: Path
    root: Path = field(default_factory=default_root)
    echo: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)

    @property
    def project(self) -> Path:
        return self.root / "project"

    # ------------------------------------------------------------------ engine environment

    def env(self) -> dict[str, str]:
        bin_dir = engine_bin()
        home = self.root / "pulumi-home"
        home.mkdir(parents=True, exist_ok=True)
        plugins, target = home / "plugins", engine_plugins()
        if not (plugins.is_symlink() and plugins.resolve() == target.resolve()):
            if plugins.is_symlink() or plugins.is_file():
                plugins.unlink()
            elif plugins.exists():
                shutil.rmtree(plugins)
            plugins.symlink_to(target)
        env = {k: v for k, v in os.environ.items()
               if k not in ("KUBECONFIG", "PULUMI_ACCESS_TOKEN", "PULUMI_CONFIG_PASSPHRASE")}
        env.update({
            "PATH": f"{bin_dir}:{REPO / '.venv' / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "PULUMI_HOME": str(home),
            "PULUMI_BACKEND_URL": f"file://{self.root / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE_FILE": str(self._secret_file("passphrase")),
            "PULUMI_SKIP_UPDATE_CHECK": "true",
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
            "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
        })
        return env

    def _secret_file(self, name: str) -> Path:
        """A secret made once and kept (0600): the same passwords on every run."""
        path = self.root / "secrets" / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.parent.chmod(0o700)
            path.write_text(_random_secret())
            path.chmod(0o600)
        return path

    def pulumi(self, *args: str, stdin: Optional[str] = None, stream: bool = False,
               timeout: float = PULUMI_TIMEOUT_SECONDS) -> subprocess.CompletedProcess:
        command = ["pulumi", *args, "--non-interactive"]
        if stream:  # an operator watches the resources come up
            done = subprocess.run(command, cwd=self.project, env=self.env(), input=stdin, text=True, timeout=timeout,
                                  stdout=sys.stderr, stderr=sys.stderr)
        else:
            done = subprocess.run(command, cwd=self.project, env=self.env(), input=stdin, text=True, timeout=timeout,
                                  capture_output=True)
        if done.returncode != 0:
            detail = "" if stream else (done.stderr or done.stdout).strip()[-2000:]
            raise StackError(f"pulumi {' '.join(args[:2])} -s {STACK} failed (exit {done.returncode}) {detail}".strip())
        return done

    # ------------------------------------------------------------------ project copy and config

    def cluster_id(self) -> str:
        """The cluster the kubeconfig points at, by its CA: a new lab cluster has a new CA."""
        config = yaml.safe_load(self.kubeconfig.read_text()) or {}
        authorities = sorted(str((c.get("cluster") or {}).get("certificate-authority-data", ""))
                             for c in config.get("clusters") or [])
        return hashlib.sha256("\n".join(authorities).encode()).hexdigest()

    def _forget_state_of_another_cluster(self) -> None:
        """The state lists the objects of the cluster it was applied to. When the lab cluster was
        made anew since (a new CA), those objects are gone with it, and the provider could not
        even reach them to delete them: the state is forgotten, the passwords are kept."""
        id_file = self.root / "cluster-id"
        current = self.cluster_id()
        recorded = id_file.read_text().strip() if id_file.exists() else None
        if recorded is not None and recorded != current and (self.root / "state").exists():
            self.echo("lab stack: the lab cluster was made anew since the last run; forgetting the state of the old one")
            shutil.rmtree(self.root / "state")
            (self.root / "encryptionsalt").unlink(missing_ok=True)
        id_file.write_text(current + "\n")

    def prepare(self, overrides: Sequence[str] = (), secret_values: Optional[Mapping[str, str]] = None) -> None:
        """Fresh copy of the program, the stack selected, its secrets and overrides set.
        `secret_values` (key -> value) replace or add to the stack's own for this run only (a
        rotation's step); the next run without them has the stack's own again."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o700)
        self._forget_state_of_another_cluster()
        (self.root / "state").mkdir(exist_ok=True)
        salt_file = self.root / "encryptionsalt"
        if self.project.exists():
            shutil.rmtree(self.project)
        shutil.copytree(REPO, self.project, ignore=shutil.ignore_patterns(*NOT_PART_OF_THE_PROGRAM), symlinks=True)
        stack_file = self.project / f"Pulumi.{STACK}.yaml"
        text = re.sub(r"^(encryptionsalt|secretsprovider|encryptedkey):.*\n", "", stack_file.read_text(), flags=re.M)
        if salt_file.exists():
            text = salt_file.read_text() + text
        stack_file.write_text(text)
        stacks = json.loads(self.pulumi("stack", "ls", "--json").stdout or "[]")
        if not any(s.get("name") == STACK for s in stacks):
            self.pulumi("stack", "init", STACK)
            salt = re.search(r"^encryptionsalt:.*\n", stack_file.read_text(), flags=re.M)
            if salt:
                salt_file.write_text(salt.group(0))
                salt_file.chmod(0o600)
        else:
            self.pulumi("stack", "select", STACK)
        own = {key: self._secret_file(key).read_text() for key in SECRET_KEYS}
        for key, value in {**own, **(secret_values or {})}.items():
            self.pulumi("config", "set", "--secret", key, stdin=value)
        self.pulumi("config", "set", "--secret", KUBECONFIG_KEY, stdin=self.kubeconfig.read_text())
        for override in overrides:
            key, sep, value = override.partition("=")
            if not sep:
                raise StackError(f"override {override!r}: expected KEY=VALUE (a --path key of the stack config)")
            self.pulumi("config", "set", "--path", key, value)

    # ------------------------------------------------------------------ lifecycle

    def up(self, overrides: Sequence[str] = (), secret_values: Optional[Mapping[str, str]] = None) -> dict[str, Any]:
        self.prepare(overrides, secret_values)
        started = time.monotonic()
        self.echo(f"lab stack: pulumi up -s {STACK} against the lab cluster")
        self.pulumi("up", "--yes", "--skip-preview", "--diff=false", stream=True)
        self.echo(f"lab stack: pulumi up done in {time.monotonic() - started:.1f} s")
        return self.outputs()

    def preview(self, overrides: Sequence[str] = (), expect_no_changes: bool = False,
                secret_values: Optional[Mapping[str, str]] = None) -> str:
        self.prepare(overrides, secret_values)
        args = ["preview", "--diff"] + (["--expect-no-changes"] if expect_no_changes else [])
        return self.pulumi(*args).stdout

    def outputs(self) -> dict[str, Any]:
        return json.loads(self.pulumi("stack", "output", "--json").stdout)

    def destroy(self) -> None:
        if not (self.root / "state").exists():
            return
        self.prepare()
        self.pulumi("destroy", "--yes", "--skip-preview", stream=True)

    def forget(self) -> None:
        """Remove the stack's directory (after destroy, or when the cluster is gone anyway)."""
        shutil.rmtree(self.root, ignore_errors=True)

    def passwords(self) -> Mapping[str, str]:
        return {key: self._secret_file(key).read_text() for key in SECRET_KEYS}

    def keep_secret(self, key: str, value: str) -> None:
        """Makes `value` the stack's own secret `key` from now on: after a rotation has closed,
        the next run must deploy the new password, not skip back to the old one."""
        if key not in SECRET_KEYS:
            raise StackError(f"{key} is not a secret key of the lab stack ({', '.join(SECRET_KEYS)})")
        path = self._secret_file(key)
        path.write_text(value)
        path.chmod(0o600)
