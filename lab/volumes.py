"""Host directories that stand in for a pod's volumes.

configMap/secret: the keys written as files with the item's mode (or defaultMode), owned by
root and the pod's fsGroup, mounted read-only where the manifest says so. emptyDir: a directory
that lives as long as the pod (0777 as in Kubernetes). Claims of a volumeClaimTemplate: one
directory per `<claim>-<statefulset>-<ordinal>`, created once and kept when the pod goes.
fsGroup: group ownership, group rw and setgid directories, as the kubelet applies it.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Optional

from .podspec import PodPlan, VolumePlan

EMPTY_DIR_MODE = 0o777
CLAIM_DIR_MODE = 0o755


def prepare(plan: PodPlan) -> None:
    for volume in plan.volumes:
        if volume.kind in ("configMap", "secret"):
            _write_files(volume, plan.fs_group)
        elif volume.kind == "emptyDir":
            _fresh_dir(volume.host_path, EMPTY_DIR_MODE)
            _apply_fs_group(volume.host_path, plan.fs_group, "Always")
        else:
            if not volume.host_path.exists():
                volume.host_path.mkdir(parents=True, mode=CLAIM_DIR_MODE)
                os.chmod(volume.host_path, CLAIM_DIR_MODE)
            _apply_fs_group(volume.host_path, plan.fs_group, plan.fs_group_policy)


def _fresh_dir(path: Path, mode: int) -> None:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.chmod(path, mode)


def _write_files(volume: VolumePlan, fs_group: Optional[int]) -> None:
    _fresh_dir(volume.host_path, 0o755)
    for relative, (content, mode) in volume.files.items():
        target = volume.host_path / relative
        if not target.resolve().is_relative_to(volume.host_path.resolve()):
            raise ValueError(f"volume {volume.name}: item path {relative!r} leaves the volume")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        os.chmod(target, mode)
        if fs_group is not None:
            os.chown(target, 0, int(fs_group))


def _apply_fs_group(root: Path, fs_group: Optional[int], policy: str) -> None:
    if fs_group is None:
        return
    gid = int(fs_group)
    if policy == "OnRootMismatch" and root.stat().st_gid == gid and root.stat().st_mode & stat.S_ISGID:
        return
    for path in [root, *root.rglob("*")]:
        if path.is_symlink():
            continue
        os.chown(path, -1, gid)
        mode = path.stat().st_mode
        extra = stat.S_IRGRP | stat.S_IWGRP
        if path.is_dir():
            extra |= stat.S_IXGRP | stat.S_ISGID
        os.chmod(path, stat.S_IMODE(mode) | extra)
