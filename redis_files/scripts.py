"""The shell scripts shipped in ConfigMaps, read from pod_scripts/ as they are."""

from __future__ import annotations

from pathlib import Path

from stack_config import names

POD_SCRIPTS_DIR = Path(__file__).resolve().parent.parent / "pod_scripts"
CACHE_SCRIPTS_DIR = POD_SCRIPTS_DIR / "cache"


def _read_scripts(directory: Path) -> dict[str, str]:
    scripts = {path.name: path.read_text(encoding="utf-8") for path in sorted(directory.glob("*.sh"))}
    if not scripts:
        raise FileNotFoundError(f"no scripts in {directory}")
    return scripts


def gateway_scripts() -> dict[str, str]:
    """File name -> content of ConfigMap redis-gateway-scripts (mounted at /opt/kubernaut-redis/bin)."""
    return _read_scripts(POD_SCRIPTS_DIR)


def cache_scripts() -> dict[str, str]:
    """File name -> content of the cache's scripts (cache-start.sh, cache-readiness.sh) and of
    passwords.sh, which cache-start.sh shares with the gateway's redis-start.sh."""
    shared = POD_SCRIPTS_DIR / names.PASSWORDS_SCRIPT
    return {**_read_scripts(CACHE_SCRIPTS_DIR), shared.name: shared.read_text(encoding="utf-8")}
