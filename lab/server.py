"""A lab that outlives the command that started it: the controller runs in a background process
(`python -m lab serve`) and answers on a Unix socket in the lab directory (0700), so later CLI
commands and drills in other processes act on the same running lab.

Protocol: one JSON request per connection, {"op": name, "args": {...}}; the answer is
{"ok": true, "result": ...} or {"ok": false, "type": error class, "error": message}.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Optional

from . import errors
from .lab import OPERATIONS, Lab, lab_dir

SOCKET_NAME = "control.sock"
PID_NAME = "controller.pid"
SERVER_OPS = OPERATIONS + ("wait_ready", "client_exec", "events", "shutdown", "ping")


def socket_path(name: str, state_root: Optional[Path] = None) -> Path:
    return lab_dir(name, state_root) / SOCKET_NAME


def log_path(name: str, state_root: Optional[Path] = None) -> Path:
    """Beside the lab directory, so that it survives the sweep at the start of a run."""
    directory = lab_dir(name, state_root)
    return directory.parent / f"{directory.name}.controller.log"


def serve(lab: Lab) -> None:
    """Start the lab, answer requests until `shutdown` or SIGTERM, then remove everything."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        lab.start()
        (lab.dir / PID_NAME).write_text(str(os.getpid()))
        path = lab.dir / SOCKET_NAME
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        os.chmod(path, 0o600)
        listener.listen(16)
        listener.settimeout(0.5)
        print(f"lab {lab.name}: controller {os.getpid()} listening on {path}", flush=True)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            threading.Thread(target=_answer, args=(lab, conn, stop), daemon=True).start()
        listener.close()
    finally:
        lab.stop()
        print(f"lab {lab.name}: stopped and removed", flush=True)


def _answer(lab: Lab, conn: socket.socket, stop: threading.Event) -> None:
    with conn:
        try:
            request = json.loads(_read_all(conn))
            result = _dispatch(lab, request["op"], request.get("args") or {}, stop)
            reply: dict[str, Any] = {"ok": True, "result": result}
        except Exception as err:  # every failure goes back to the caller, typed
            reply = {"ok": False, "type": type(err).__name__, "error": str(err)}
        conn.sendall(json.dumps(reply, default=str).encode())


def _dispatch(lab: Lab, op: str, args: dict[str, Any], stop: threading.Event) -> Any:
    if op not in SERVER_OPS:
        raise errors.LabError(f"unknown lab operation {op!r}")
    if op == "ping":
        return {"lab": lab.name, "pid": os.getpid()}
    if op == "shutdown":
        stop.set()
        return {"stopping": lab.name}
    if op == "events":
        return lab.ctl.events.since(float(args.get("since", 0)), args.get("kind"), args.get("pod"))
    if op == "client_exec":
        done = lab.client_exec(args["command"], args.get("env"), float(args.get("timeout", 300)))
        return {"exit_code": done.returncode, "stdout": done.stdout, "stderr": done.stderr}
    if op == "wait_ready":
        return lab.wait_ready(float(args.get("timeout", 300)))
    return getattr(lab, op)(**args)


def _read_all(conn: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


class LabClient:
    """The operations of a running lab, from any process: `LabClient("kr-dev").delete_pod(name=...)`."""

    def __init__(self, name: str, state_root: Optional[Path] = None) -> None:
        self.name = name
        self.path = socket_path(name, state_root)

    def alive(self) -> bool:
        try:
            self.call("ping", timeout=5)
            return True
        except errors.LabError:
            return False

    def call(self, op: str, timeout: Optional[float] = None, **args: Any) -> Any:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(timeout)
                conn.connect(str(self.path))
                conn.sendall(json.dumps({"op": op, "args": args}).encode())
                conn.shutdown(socket.SHUT_WR)
                reply = json.loads(_read_all(conn) or b"{}")
        except (OSError, ValueError) as err:
            raise errors.LabError(f"lab {self.name} does not answer on {self.path}: {err} "
                                  f"(is it up? `python -m lab up DIR --name {self.name}`)") from None
        if not reply.get("ok"):
            error_class = getattr(errors, reply.get("type", ""), errors.LabError)
            if not (isinstance(error_class, type) and issubclass(error_class, errors.LabError)):
                error_class = errors.LabError
            raise _rebuild(error_class, reply.get("error", "no answer"))
        return reply["result"]

    def __getattr__(self, op: str):
        if op in SERVER_OPS:
            return lambda **args: self.call(op, **args)
        raise AttributeError(op)


def _rebuild(error_class: type, message: str) -> errors.LabError:
    if error_class is errors.UnsupportedField:
        return errors.LabError(message)
    return error_class(message)


def wait_for_socket(client: LabClient, process_alive, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if client.path.exists() and client.alive():
            return
        if not process_alive():
            raise errors.LabError(f"the controller of lab {client.name} exited while starting")
        time.sleep(0.3)
    raise errors.LabTimeout(f"the controller of lab {client.name} did not answer within {timeout:.0f} s")
