"""Start and stop the cluster's processes: one log and one pid file each, in the layout."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

from .errors import ClusterError
from .layout import Layout

STOP_GRACE_SECONDS = 10.0


def pid_of(layout: Layout, component: str) -> Optional[int]:
    try:
        pid = int(layout.pidfile(component).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if alive(pid) else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie of ours is not alive
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def start(layout: Layout, component: str, argv: Sequence[str], env: Optional[Mapping[str, str]] = None) -> int:
    """Start `argv` in its own session (it outlives this process), output to its log."""
    layout.logs.mkdir(parents=True, exist_ok=True)
    layout.pids.mkdir(parents=True, exist_ok=True)
    log = layout.log(component)
    with open(log, "ab") as out:
        out.write(f"\n=== {time.strftime('%Y-%m-%dT%H:%M:%S')} start: {' '.join(argv)}\n".encode())
        out.flush()
        process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True, env={**os.environ, **(env or {})})
    layout.pidfile(component).write_text(f"{process.pid}\n")
    return process.pid


def wait_for(component: str, layout: Layout, ready: Callable[[], bool], timeout: float, what: str,
             check: str = "") -> float:
    """Poll `ready` until true; fail with the component's log when it dies or time runs out."""
    started = time.monotonic()
    while True:
        try:
            if ready():
                return time.monotonic() - started
        except Exception:  # not up yet; the timeout reports it
            pass
        if layout.pidfile(component).exists() and pid_of(layout, component) is None:
            raise ClusterError(component, f"exited before {what}", layout.log(component), check)
        if time.monotonic() - started > timeout:
            raise ClusterError(component, f"not {what} after {timeout:.0f} s", layout.log(component), check)
        time.sleep(0.25)


def stop(layout: Layout, component: str, grace: float = STOP_GRACE_SECONDS) -> Optional[str]:
    """SIGTERM the component's process group, SIGKILL what is left after `grace`."""
    pidfile = layout.pidfile(component)
    pid = pid_of(layout, component)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return None
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while alive(pid) and time.monotonic() < deadline:
        _reap(pid)
        time.sleep(0.1)
    if alive(pid):
        _signal_group(pid, signal.SIGKILL)
        time.sleep(0.2)
    _reap(pid)
    pidfile.unlink(missing_ok=True)
    return f"process {component} ({pid})"


def _signal_group(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def processes_mentioning(text: str) -> list[int]:
    """Pids whose command line contains `text` (the shims containerd leaves running)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            found.append(int(entry.name))
    return found


def kill_all(pids: Sequence[int]) -> list[str]:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return [f"process {pid}" for pid in pids]
