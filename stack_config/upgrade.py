"""The engine's point of no return (README, "Engine upgrade and rollback").

A newer engine reads the RDB files of an older one, not the other way round: Redis 8 writes
format 12, which Redis 7.0 (it reads up to 10) and Valkey 8.1 (up to 11) refuse. A replica that
cannot read its master's format cannot take a full sync from it. So an engine may go back only
while every node that ran the newer engine was a replica, whose data is replaced at its next
sync (pod_scripts/rdb-format.sh sets its unreadable file aside): that is, before a rollout
reached pod 0, which the runbook makes the master, with `gateway.updatePartition` above 0.

The record of the last `pulumi up` that finished (stack output ENGINE_OUTPUT, read back through
a StackReference to the stack itself) holds the BASELINE: the engine every pod ran once a
rollout reached pod 0. `engine_problems` refuses a config whose engine cannot read the
baseline's format, at preview, before anything changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping, Optional

ENGINE_OUTPUT = "gatewayEngine"

# (engine, major, minor) -> the RDB format the line writes, which is also the newest it reads.
# Only lines the project has run: Redis 7.0, 7.2, 7.4 and 8.0 (rdb.h's RDB_VERSION of each), Valkey
# 7.2 to 8.1 (Valkey forked at format 11). The lab's images check three of them against the real
# servers (tests/pod_runtime/test_rdb_format.py).
RDB_FORMATS: dict[tuple[str, int, int], int] = {
    ("redis", 7, 0): 10, ("redis", 7, 2): 11, ("redis", 7, 4): 12, ("redis", 8, 0): 12,
    ("valkey", 7, 2): 11, ("valkey", 8, 0): 11, ("valkey", 8, 1): 11,
}

# <name>:<version>[-<suffix>][@<digest>], the last path segment of an image reference.
_TAG_VERSION = re.compile(r"[^:]+:v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-_][\w.-]*)?(?:@.*)?", re.ASCII | re.DOTALL)


def image_version(image: str) -> Optional[tuple[int, int, int]]:
    """The version an image's tag names (`redis:8.10.2` -> (8, 10, 2), `x:7.0.15-bookworm` ->
    (7, 0, 15)), or None (`redis:latest`, a digest only)."""
    match = _TAG_VERSION.fullmatch(image.rsplit("/", 1)[-1])
    if not match:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


@dataclass(frozen=True)
class EngineImage:
    engine: str
    image: str

    @property
    def version(self) -> Optional[tuple[int, int, int]]:
        return image_version(self.image)

    @property
    def rdb_format(self) -> Optional[int]:
        version = self.version
        return None if version is None else RDB_FORMATS.get((self.engine, version[0], version[1]))

    def describe(self) -> str:
        version = self.version
        return f"{self.engine} {'.'.join(map(str, version))}" if version else f"{self.engine} ({self.image})"

    def as_dict(self) -> dict[str, str]:
        return {"engine": self.engine, "image": self.image}


def engine_record(current: EngineImage, update_partition: int, deployed: Optional[Mapping[str, Any]]) -> dict:
    """The record this `pulumi up` leaves: its engine becomes the baseline once the rollout
    reaches pod 0 (partition 0); a staged rollout keeps the deployed baseline."""
    baseline = (deployed or {}).get("baseline")
    if update_partition == 0 or not baseline:
        baseline = current.as_dict()
    return {"baseline": dict(baseline)}


def engine_problems(deployed: Optional[Mapping[str, Any]], current: EngineImage) -> list[str]:
    """One line when `current` may not follow the deployed baseline: an engine that cannot read
    the baseline's RDB format, or a change that cannot be judged (a version the tag does not
    name, a line the table does not know) other than an upgrade within the same engine."""
    baseline_fields = (deployed or {}).get("baseline")
    if not baseline_fields:
        return []
    baseline = EngineImage(baseline_fields["engine"], baseline_fields["image"])
    if baseline == current:
        return []
    old, new = baseline.version, current.version
    if baseline.engine == current.engine and old is not None and new is not None and new >= old:
        return []
    written, readable = baseline.rdb_format, current.rdb_format
    if written is not None and readable is not None:
        if readable >= written:
            return []
        return [f"platform.images.redis: got {current.describe()}, which cannot read the RDB format {written} of "
                f"{baseline.describe()}, the engine of every gateway pod since an earlier `pulumi up`; going back is "
                "past the point of no return (a rollback is possible only while gateway.updatePartition kept pod 0 "
                "on the old engine): restore a backup into a new stack instead"]
    return [f"platform.images.redis: got {current.describe()} after {baseline.describe()}, the engine of every gateway "
            "pod: cannot tell whether it reads that engine's RDB files (an image tag without a version, or a line "
            "not in stack_config/upgrade.py's table); only an upgrade within the same engine is taken unjudged"]
