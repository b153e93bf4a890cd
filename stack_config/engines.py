"""The server engines the gateway and the cache run on, and the binaries of each.

This is the one place that names the binaries: the components pass them to the pods as
ENGINE_SERVER, ENGINE_SENTINEL, ENGINE_CLI and ENGINE_CHECK_RDB (pod_scripts/common.sh reads
them), and render the cache's probe with the CLI. Valkey ships valkey-server, valkey-sentinel and valkey-cli; the
redis-named links exist only in some packagings (Debian's valkey-redis-compat, not the images
this project builds or Valkey's own), so nothing relies on them. Everything else the pods use
is the same on both: the config directives of redis_files, the Sentinel commands and events, the
INFO fields HAProxy checks, and REDISCLI_AUTH (valkey-cli 8 reads it as redis-cli does).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Engine = Literal["redis", "valkey"]
ENGINES: tuple[Engine, ...] = ("redis", "valkey")


@dataclass(frozen=True)
class EngineBinaries:
    server: str
    sentinel: str
    cli: str
    # The RDB checker: redis-start.sh asks it whether the engine reads the format of the file
    # on the volume (pod_scripts/rdb-format.sh).
    check_rdb: str

    def env(self) -> dict[str, str]:
        """The variables the pod scripts read (pod_scripts/common.sh)."""
        return {"ENGINE_SERVER": self.server, "ENGINE_SENTINEL": self.sentinel, "ENGINE_CLI": self.cli,
                "ENGINE_CHECK_RDB": self.check_rdb}


def engine_binaries(engine: Engine) -> EngineBinaries:
    return EngineBinaries(server=f"{engine}-server", sentinel=f"{engine}-sentinel", cli=f"{engine}-cli",
                          check_rdb=f"{engine}-check-rdb")


_REPOSITORY_NAME = re.compile(r"(?:.*/)?([^/:@]+)(?:[:@].*)?", re.ASCII | re.DOTALL)


def image_engine(image: str) -> Engine | None:
    """The engine an image reference names in its repository's last path segment
    (`docker.io/library/redis:8.10.2` -> redis, `ghcr.io/x/valkey-bundle:8` -> valkey), or None
    when it names neither or both: then only the image's content can tell, and the config's
    `platform.engine` is taken as given."""
    match = _REPOSITORY_NAME.fullmatch(image)
    if not match:
        return None
    named = [engine for engine in ENGINES if engine in match.group(1).lower()]
    return named[0] if len(named) == 1 else None
