"""The one error the lab cluster raises: what failed, the tail of its log, what to check."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

LOG_TAIL_LINES = 25


class ClusterError(Exception):
    """A component did not come up, or the host is not fit to run one."""

    def __init__(self, component: str, problem: str, log: Optional[Path] = None, check: str = "") -> None:
        self.component, self.problem, self.log, self.check = component, problem, log, check
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"lab cluster: {self.component}: {self.problem}"]
        if self.check:
            lines.append(f"  check: {self.check}")
        if self.log is not None:
            lines.append(f"  log: {self.log}")
            tail = log_tail(self.log)
            if tail:
                lines.append("  last lines of the log:")
                lines += [f"    | {line}" for line in tail]
        return "\n".join(lines)


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return []
    return text.splitlines()[-lines:]
