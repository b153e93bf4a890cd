"""`python -m lab up` leaves a controller running in the background that later commands (other
processes) act on; `down` removes everything, controller included."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lab import leftovers
from lab.podman import Podman
from lab.server import LabClient, log_path
from lab_support import TINY, python_module, require_lab_prerequisites

NAME = "kr-test-cli"


@pytest.fixture(scope="module")
def cli_lab(tmp_path_factory):
    require_lab_prerequisites()
    root = tmp_path_factory.mktemp("cli-state")
    base = ("lab", "--name", NAME, "--state-root", str(root))
    up = python_module(*base, "up", str(TINY), "--timeout", "120")
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield base, root, up
    finally:
        python_module(*base, "down")


def test_up_shows_progress_until_every_pod_is_ready(cli_lab):
    _, _, up = cli_lab
    lines = up.stdout.splitlines()
    assert any("tiny-0 0/2" in line for line in lines)
    assert f"lab {NAME}: all pods Ready" in up.stdout


def test_the_lab_directory_is_private_and_holds_the_state(cli_lab):
    _, root, _ = cli_lab
    directory = root / NAME
    assert oct(directory.stat().st_mode & 0o777) == "0o700"
    state = json.loads((directory / "state.json").read_text())
    assert state["all_ready"] and set(state["pods"]) >= {"tiny-0", "tiny-1"}


def test_operations_from_another_process_return_timestamps(cli_lab):
    base, _, _ = cli_lab
    done = python_module(*base, "delete", "tiny-1")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["requested_at"] < result["removed_at"] < result["ready_at"]
    status = python_module(*base, "status", "--json")
    assert json.loads(status.stdout)["pods"]["tiny-1"]["ip"] == result["new_ip"]


def test_a_refused_operation_exits_non_zero_with_the_reason(cli_lab):
    base, _, _ = cli_lab
    done = python_module(*base, "delete", "no-such-pod")
    assert done.returncode == 1 and "no pod 'no-such-pod'" in done.stderr


def test_exec_runs_in_the_toolbox_with_variables_passed_by_name(cli_lab):
    base, _, _ = cli_lab
    env = {**os.environ, "LAB_TEST_VALUE": "by-name-only"}
    done = python_module(*base, "exec", "--env", "LAB_TEST_VALUE", "--", "sh", "-c",
                         'echo "$LAB_TEST_VALUE"; redis-cli -h tiny -p 7000 ping', env=env)
    assert done.stdout.split() == ["by-name-only", "PONG"]


def dns_servers_of(lab_directory: Path) -> list[str]:
    """PIDs of the dnsmasq processes that serve this lab's records (lab/dns.py)."""
    marker = f"--hostsdir={lab_directory / 'dns' / 'records'}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc / "cmdline").read_bytes().split(b"\0"):
                found.append(proc.name)
        except OSError:
            continue
    return found


def test_down_removes_the_controller_and_everything_it_made(tmp_path):
    require_lab_prerequisites()
    name = "kr-test-down"
    base = ("lab", "--name", name, "--state-root", str(tmp_path))
    up = python_module(*base, "up", str(TINY), "--timeout", "120")
    assert up.returncode == 0, up.stdout + up.stderr
    pid = LabClient(name, tmp_path).call("ping")["pid"]
    assert dns_servers_of(tmp_path / name), "the lab's DNS server is not running"
    down = python_module(*base, "down")
    assert down.returncode == 0, down.stderr
    assert leftovers(Podman(), name) == []
    assert dns_servers_of(tmp_path / name) == []
    assert not (tmp_path / name).exists() and not log_path(name, tmp_path).exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
