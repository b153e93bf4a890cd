"""The real Pulumi engine (CLI, our Python language host, the Kubernetes provider), driven in
throwaway sandboxes: a private file backend, a random passphrase, throwaway secrets passed on
stdin, and a copy of the project, so no test edits a committed file or the user's ~/.pulumi.

The engine is built by scripts/bootstrap-pulumi (CI runs it first). When it is missing every
test here fails with that instruction; none is skipped.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURE_PROGRAM = Path(__file__).parent / "fixtures" / "statefulset-program"

# Directories a copy of the project leaves out: VCS, caches, local state, the tests.
NOT_PART_OF_THE_PROGRAM = (".git", ".venv", "__pycache__", ".pulumi-state", ".rendered", ".pytest_cache",
                           "tests", "node_modules")

# A kubeconfig for an API server that cannot exist: port 1 on loopback refuses connections, so
# the provider treats the cluster as unreachable and previews from the program's inputs alone.
UNREACHABLE_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
- name: unreachable
  cluster: {server: "https://127.0.0.1:1"}
users:
- name: nobody
  user: {token: not-a-token}
contexts:
- name: unreachable
  context: {cluster: unreachable, user: nobody}
current-context: unreachable
"""

COMMAND_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class Engine:
    bin_dir: Path
    plugins_dir: Path


@dataclass
class EngineSandbox:
    """One throwaway Pulumi world under `root` (mode 0700, outside the repo)."""

    engine: Engine
    root: Path
    env: dict[str, str] = field(default_factory=dict)
    secret_values: list[str] = field(default_factory=list)

    def private_dir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(mode=0o700)
        return path

    def copy_project(self, source: Path = REPO) -> Path:
        dest = self.root / "project"
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns(*NOT_PART_OF_THE_PROGRAM), symlinks=True)
        for stack_file in dest.glob("Pulumi.*.yaml"):
            strip_secrets_provider_lines(stack_file)
        return dest

    def run_pulumi(self, *args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["pulumi", *args, "--non-interactive"], cwd=cwd, env=self.env, input=stdin,
            capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS, check=False)

    def pulumi(self, *args: str, cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run the CLI; fail the test with its output (secrets masked) when it fails."""
        result = self.run_pulumi(*args, cwd=cwd, stdin=stdin)
        if result.returncode != 0:
            pytest.fail(f"`pulumi {' '.join(args)}` exited {result.returncode}:\n"
                        f"{self.mask(result.stdout)}\n{self.mask(result.stderr)}", pytrace=False)
        return result

    def set_secret(self, project: Path, stack: str, key: str, value: str) -> None:
        """Secrets go in on stdin: in argv they would show in process lists."""
        self.secret_values.append(value)
        self.pulumi("config", "set", "--secret", key, "--stack", stack, cwd=project, stdin=value)

    def new_secret(self) -> str:
        value = secrets.token_urlsafe(24)
        self.secret_values.append(value)
        return value

    def mask(self, text: str) -> str:
        for value in self.secret_values:
            text = text.replace(value, "[secret]")
        return text


def strip_secrets_provider_lines(stack_file: Path) -> None:
    """A developer's stack file may carry the salt or key of their own secrets provider."""
    lines = stack_file.read_text().splitlines(keepends=True)
    kept = [line for line in lines if not line.startswith(("encryptionsalt:", "secretsprovider:", "encryptedkey:"))]
    stack_file.write_text("".join(kept))


def engine_cache() -> Path:
    explicit = os.environ.get("KUBERNAUT_ENGINE_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kubernaut-redis" / "engine"


@pytest.fixture(scope="session")
def engine_pins() -> dict[str, str]:
    """The versions scripts/engine-versions pins, read the way the scripts read them (sourced)."""
    names = ("PULUMI_CLI_VERSION", "KUBERNETES_PROVIDER_VERSION", "KUBERNETES_PROVIDER_PSEUDO")
    script = f". {REPO / 'scripts' / 'engine-versions'} && " + " && ".join(f'echo "${name}"' for name in names)
    values = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.split()
    assert len(values) == len(names) and all(values), f"scripts/engine-versions must set {names}"
    return dict(zip(names, values))


@pytest.fixture(scope="session")
def unreachable_kubeconfig() -> str:
    return UNREACHABLE_KUBECONFIG


@pytest.fixture(scope="session")
def engine() -> Engine:
    check = subprocess.run([str(REPO / "scripts" / "bootstrap-pulumi"), "--check"],
                           capture_output=True, text=True, check=False)
    if check.returncode != 0:
        pytest.fail("the Pulumi engine is not built or out of date (pulumi, pulumi-language-python from "
                    "go/pulumi-engine/python-language-host, the Kubernetes provider plugin); run "
                    "scripts/bootstrap-pulumi first (.ci/run does), see docs/engine.md", pytrace=False)
    return Engine(bin_dir=Path(check.stdout.strip()), plugins_dir=engine_cache() / "pulumi-home" / "plugins")


@pytest.fixture
def sandbox(engine: Engine, tmp_path: Path) -> EngineSandbox:
    return make_sandbox(engine, tmp_path / "engine")


@pytest.fixture(scope="module")
def module_sandbox(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> EngineSandbox:
    """One sandbox for a module whose tests only read what its fixtures did once."""
    return make_sandbox(engine, tmp_path_factory.mktemp("module") / "engine")


def make_sandbox(engine: Engine, root: Path) -> EngineSandbox:
    root.mkdir(mode=0o700)
    home = root / "pulumi-home"
    home.mkdir()
    (home / "plugins").symlink_to(engine.plugins_dir)
    (root / "state").mkdir()
    box = EngineSandbox(engine=engine, root=root)
    box.env = sandbox_environment(engine, root, passphrase=box.new_secret())
    return box


def sandbox_environment(engine: Engine, root: Path, passphrase: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items()
           if key not in ("KUBECONFIG", "PULUMI_CONFIG_PASSPHRASE_FILE", "PULUMI_ACCESS_TOKEN", "PULUMI_BACKEND_URL")}
    env.update({
        "PATH": f"{engine.bin_dir}{os.pathsep}{env.get('PATH', '')}",
        "PULUMI_HOME": str(root / "pulumi-home"),
        "PULUMI_BACKEND_URL": f"file://{root / 'state'}",
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_IGNORE_AMBIENT_PLUGINS": "true",
        # The interpreter running the tests runs the program: it has pulumi and the project's deps.
        "PULUMI_PYTHON_CMD": sys.executable,
    })
    return env
