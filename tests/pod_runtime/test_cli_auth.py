"""common.sh's redis_cli and sentinel_cli in a container that has a REDISCLI_AUTH of its own
(operators' `kubectl exec ... redis-cli` reads it): each call authenticates with the password
of the server it talks to, and with none where that server has none.

The case that matters: the redis container (REDISCLI_AUTH = the Redis password) asking a
sentinel without a password (gateway.auth.sentinel off). An inherited REDISCLI_AUTH would make
redis-cli send AUTH and print "AUTH failed" on stderr, spoiling replies the scripts read with
2>&1 (the preStop's SENTINEL FAILOVER, the probes).

redis-server runs on the host, bound to loopback on free ports.
"""

from __future__ import annotations

import os
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import pytest

from runtime_support import REDIS_PASSWORD, REPO, SENTINEL_PASSWORD, free_port, require_tools, running
from stack_config import engine_binaries

COMMON_SH = REPO / "pod_scripts" / "common.sh"
@contextmanager
def server(tmp_path: Path, password: Optional[str]) -> Iterator[int]:
    """A redis-server on loopback (standing in for a redis or a sentinel), with `password` or none."""
    require_tools("redis-server", "redis-cli")
    port = free_port()
    conf = tmp_path / f"server-{port}.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\nsave \"\"\ndir {tmp_path}\n"
                    + (f'requirepass "{password}"\n' if password else ""))
    with running("redis-server", conf, port, password):
        yield port


def call(function: str, port: int, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`<function> 127.0.0.1 PING 2>&1`, as the scripts read replies, in a container-like env."""
    base = {key: value for key, value in os.environ.items()
            if key not in ("REDISCLI_AUTH", "REDIS_PASSWORD", "SENTINEL_PASSWORD")}
    script = f'. "{COMMON_SH}"; reply=$({function} 127.0.0.1 PING 2>&1); printf "%s" "$reply"'
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30,
                          env={**base, "REDIS_PORT": str(port), "SENTINEL_PORT": str(port),
                               **engine_binaries("redis").env(), **env})


def test_sentinel_without_password_from_the_redis_container(tmp_path: Path):
    with server(tmp_path, None) as port:
        done = call("sentinel_cli", port, {"REDISCLI_AUTH": REDIS_PASSWORD, "REDIS_PASSWORD": REDIS_PASSWORD})
    assert done.stdout == "PONG", done.stdout + done.stderr


def test_redis_without_password_with_an_inherited_cli_password(tmp_path: Path):
    with server(tmp_path, None) as port:
        done = call("redis_cli", port, {"REDISCLI_AUTH": SENTINEL_PASSWORD})
    assert done.stdout == "PONG", done.stdout + done.stderr


@pytest.mark.parametrize("function, password_variable, password, inherited", [
    ("redis_cli", "REDIS_PASSWORD", REDIS_PASSWORD, SENTINEL_PASSWORD),
    ("sentinel_cli", "SENTINEL_PASSWORD", SENTINEL_PASSWORD, REDIS_PASSWORD),
], ids=["redis-from-the-sentinel-container", "sentinel-from-the-redis-container"])
def test_each_server_gets_its_own_password_whatever_is_inherited(tmp_path: Path, function, password_variable,
                                                                 password, inherited):
    with server(tmp_path, password) as port:
        done = call(function, port, {"REDISCLI_AUTH": inherited, password_variable: password})
    assert done.stdout == "PONG", done.stdout + done.stderr


def test_a_bare_redis_cli_uses_the_containers_own_password(tmp_path: Path):
    """What the operators' commands rely on: REDISCLI_AUTH alone authenticates, no -a."""
    with server(tmp_path, REDIS_PASSWORD) as port:
        base = {key: value for key, value in os.environ.items() if key != "REDISCLI_AUTH"}
        anonymous = subprocess.run(["redis-cli", "-p", str(port), "info", "replication"],
                                   capture_output=True, text=True, env=base)
        authenticated = subprocess.run(["redis-cli", "-p", str(port), "info", "replication"],
                                       capture_output=True, text=True, env={**base, "REDISCLI_AUTH": REDIS_PASSWORD})
    assert "NOAUTH" in anonymous.stdout + anonymous.stderr
    assert "role:master" in authenticated.stdout, authenticated.stdout + authenticated.stderr
