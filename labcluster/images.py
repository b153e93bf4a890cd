"""Images without a registry: the pause, CoreDNS, Prometheus and SeaweedFS images are written here
as one-layer docker archives; the project's images are saved from podman's storage (lab/images/build-images
builds them from Debian's packages). All are imported into containerd's k8s.io namespace, and
pods use them with imagePullPolicy Never or IfNotPresent."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

from .errors import ClusterError
from .layout import (CONTAINERD_NAMESPACE, COREDNS_IMAGE, PAUSE_IMAGE, PROJECT_IMAGES, PROMETHEUS_IMAGE,
                     SEAWEEDFS_IMAGE, Layout)

CATATONIT = Path("/usr/bin/catatonit")


def docker_archive(out: Path, ref: str, files: dict[str, Path], entrypoint: list[str], cmd: list[str]) -> Path:
    """A docker-archive tar with one layer holding `files` (path in image -> file on disk)."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as tar:
        for name, source in sorted(files.items()):
            info = tar.gettarinfo(str(source), arcname=name.lstrip("/"))
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mtime = 0
            with open(source, "rb") as handle:
                tar.addfile(info, handle)
    layer_bytes = layer.getvalue()
    diff_id = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Entrypoint": entrypoint, "Cmd": cmd or None,
                         "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
              "rootfs": {"type": "layers", "diff_ids": [diff_id]}, "history": [{"created_by": "kubernaut-lab"}]}
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [ref], "Layers": ["layer.tar"]}]
    out.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(out, "w") as tar:
        for name, data in (("layer.tar", layer_bytes), (config_name, config_bytes),
                           ("manifest.json", json.dumps(manifest).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out


def ctr(layout: Layout, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(["ctr", "-a", str(layout.containerd_socket), "-n", CONTAINERD_NAMESPACE, *args],
                          capture_output=True, text=True, timeout=timeout)


def imported(layout: Layout) -> set[str]:
    done = ctr(layout, "images", "ls", "-q")
    return set(done.stdout.split()) if done.returncode == 0 else set()


def archives(layout: Layout, bin_dir: Path, cache: Path) -> dict[str, Path]:
    """Every image the lab needs, as an archive in `cache` (reused while its source is unchanged)."""
    if not CATATONIT.exists():
        raise ClusterError("images", f"{CATATONIT} is missing (the pause image is built from it)",
                           check="apt-get install catatonit (scripts/setup-host installs it)")
    result = {
        PAUSE_IMAGE: docker_archive(cache / "pause.tar", PAUSE_IMAGE, {"/catatonit": CATATONIT},
                                    ["/catatonit", "-P"], []),
        COREDNS_IMAGE: docker_archive(cache / "coredns.tar", COREDNS_IMAGE, {"/coredns": bin_dir / "coredns"},
                                      ["/coredns"], []),
        PROMETHEUS_IMAGE: docker_archive(cache / "prometheus.tar", PROMETHEUS_IMAGE,
                                         {"/bin/prometheus": bin_dir / "prometheus"}, ["/bin/prometheus"], []),
        SEAWEEDFS_IMAGE: docker_archive(cache / "seaweedfs.tar", SEAWEEDFS_IMAGE, {"/usr/bin/weed": bin_dir / "weed"},
                                        ["/usr/bin/weed"], []),
    }
    for ref in PROJECT_IMAGES:
        result[ref] = _podman_archive(ref, cache)
    return result


def _podman_archive(ref: str, cache: Path) -> Path:
    if shutil.which("podman") is None:
        raise ClusterError("images", "podman is not installed; it builds the project's images",
                           check="scripts/setup-host")
    inspect = subprocess.run(["podman", "image", "inspect", "--format", "{{.Id}}", ref], capture_output=True, text=True)
    if inspect.returncode != 0:
        raise ClusterError("images", f"image {ref} is not in podman's storage",
                           check="lab/images/build-images builds it (scripts/setup-host runs it)")
    out = cache / f"{ref.rsplit('/', 1)[-1].replace(':', '_')}-{inspect.stdout.strip()[:12]}.tar"
    if not out.exists():
        for old in cache.glob(f"{ref.rsplit('/', 1)[-1].replace(':', '_')}-*.tar"):
            old.unlink()
        cache.mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        done = subprocess.run(["podman", "save", "--format", "docker-archive", "-o", str(partial), ref],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise ClusterError("images", f"podman save {ref} failed: {done.stderr.strip()[-300:]}")
        partial.rename(out)
    return out


def import_all(layout: Layout, bin_dir: Path, cache: Path) -> list[str]:
    have = imported(layout)
    wanted = archives(layout, bin_dir, cache)
    done_refs = []
    for ref, archive in wanted.items():
        if ref in have:
            continue
        done = ctr(layout, "images", "import", str(archive))
        if done.returncode != 0:
            raise ClusterError("images", f"importing {ref} into containerd failed: {done.stderr.strip()[-300:]}")
        done_refs.append(ref)
    missing = set(wanted) - imported(layout)
    if missing:
        raise ClusterError("images", f"not in containerd after the import: {', '.join(sorted(missing))}")
    return done_refs
