"""The lab's event log: what happened to which pod, when (wall-clock seconds since the epoch).

Drills read it to measure (a restart, a readiness change, a preStop that ran); it is also kept as
`events.jsonl` in the lab directory for a person to read after a run.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any, Optional


class EventLog:
    def __init__(self, path: Optional[Path], echo=None) -> None:
        self._path = path
        self._echo = echo
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def add(self, kind: str, pod: str = "", container: str = "", **detail: Any) -> dict[str, Any]:
        event = {"t": time.time(), "kind": kind, "pod": pod, "container": container, **detail}
        with self._lock:
            self._events.append(event)
            if self._path:
                with open(self._path, "a") as out:
                    out.write(json.dumps(event, default=str) + "\n")
        if self._echo:
            self._echo(event)
        return event

    def since(self, t: float = 0.0, kind: Optional[str] = None, pod: Optional[str] = None) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._events
                    if e["t"] >= t and (kind is None or e["kind"] == kind) and (pod is None or e["pod"] == pod)]
