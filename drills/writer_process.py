"""The drill's side of drills.writer: start it in the target's client pod, wait until it writes
steadily, stop it by closing its stdin, and read its result.

The writer runs with `kubectl exec -i` (cluster.Cluster.client_popen) in the long-running client
pod, not in a pod of its own: a drill's own client adds no pod start (no sandbox, no DNS record)
to the fault it measures. Its passwords are the client pod's environment, which the cluster fills
from the Secrets (secretKeyRef): they never pass through this process or a command line.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from typing import Any, Optional, Sequence

from cluster import ClientSpec, Cluster

STOP_TIMEOUT_SECONDS = 60.0


class WriterError(RuntimeError):
    pass


class WriterProcess:
    def __init__(self, cluster: Cluster, client: ClientSpec, sentinels: list[str], master_set: str, prefix: str,
                 rate: float, max_seconds: float, endpoint: Optional[str] = None,
                 options: Sequence[str] = (), program: Sequence[str] = ("python3", "-m", "drills.writer")) -> None:
        """`program`: the writer to run, drills.writer or one that takes the same options and
        prints the same lines and result (go/workload's `gateway-workload failover-writer`)."""
        self.cluster = cluster
        self.client = client
        self.command = [*program, "--sentinels", ",".join(sentinels),
                        "--master-set", master_set, "--rate", str(rate), "--max-seconds", str(max_seconds),
                        "--prefix", prefix, *(["--endpoint", endpoint] if endpoint else []), *options]
        self.max_seconds = max_seconds
        self.process: Optional[subprocess.Popen] = None
        self.progress: dict[str, Any] = {}
        self.stderr_lines: list[str] = []
        self.stdout = ""
        self._readers: list[threading.Thread] = []

    def __enter__(self) -> "WriterProcess":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        # The writer ends by itself at --max-seconds when its exec stream is gone.
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def start(self) -> None:
        self.process = self.cluster.client_popen(self.client, self.command, stdin=subprocess.PIPE,
                                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self) -> None:
        self.stdout = self.process.stdout.read()

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            try:
                self.progress = json.loads(line)["progress"]
            except (ValueError, KeyError, TypeError):
                self.stderr_lines.append(line.rstrip())

    def wait_steady(self, seconds: float, timeout: float = 60.0) -> None:
        """Until the writer has had acknowledged writes for `seconds` without an error since."""
        deadline = time.monotonic() + timeout
        first_ok: Optional[float] = None
        errors = 0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise WriterError(f"the writer exited early ({self.process.returncode}): {self._stderr_tail()}")
            progress = self.progress
            if progress.get("acked") and progress.get("errors", 0) == errors:
                first_ok = first_ok or time.monotonic()
                if time.monotonic() - first_ok >= seconds:
                    return
            else:
                errors, first_ok = progress.get("errors", 0), None
            time.sleep(0.1)
        raise WriterError(f"no steady writes within {timeout:.0f} s (progress {self.progress}): {self._stderr_tail()}")

    def stop(self) -> dict[str, Any]:
        """Close stdin (the writer then verifies every acknowledged key) and return its result."""
        self.process.stdin.close()
        try:
            self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise WriterError(f"the writer did not finish within {STOP_TIMEOUT_SECONDS:.0f} s of its stop") from None
        for reader in self._readers:
            reader.join(timeout=10)
        try:
            return json.loads(self.stdout)
        except ValueError:
            raise WriterError(f"the writer printed no result (exit {self.process.returncode}): "
                              f"{self._stderr_tail()}") from None

    def _stderr_tail(self) -> str:
        return " | ".join(self.stderr_lines[-5:]) or "no output"
