"""Shared constants and checks of the pod-runtime tests (imported by the tests and conftest.py).

CI installs every tool these tests need, so a missing one is a failure with the fix in the
message, never a skip.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import redis
import yaml

from labcluster.layout import CLIENT_IMAGE, LAB_ENGINE_IMAGES, LabEngineImage
from stack_config import CONFIG_KEYS, StackConfig, load_stack_config, names

REPO = Path(__file__).resolve().parents[2]
STACKS = ("dev", "prod", "lab")
# Distinctive, so that a leak is found by a plain substring search anywhere.
REDIS_PASSWORD = "krt-redis-pw-3b9e71c0d4"
SENTINEL_PASSWORD = "krt-sentinel-pw-c58a2f91e6"
# gatewayOperatorPassword: the ACL user `operator`, and the seed of the other internal users'.
OPERATOR_PASSWORD = "krt-operator-pw-70e4b2d9a1"
# The engine matrix (labcluster/layout.py): Redis 8.0 (Debian 13, the production default's major
# line), Redis 7.0 (Debian 12), Valkey 8.1 (Debian 13). Tests marked `every_engine` run on each;
# the others on the first (conftest.py).
ENGINES = LAB_ENGINE_IMAGES
DEFAULT_ENGINE = LAB_ENGINE_IMAGES[0]


def stack_config(stack: str, gateway_overrides: dict | None = None, cache_overrides: dict | None = None) -> StackConfig:
    """The validated config of Pulumi.<stack>.yaml, with `gateway_overrides` merged into its
    gateway key and `cache_overrides` into its contextCache key (as `pulumi config set --path
    gateway.<key>` would)."""
    document = yaml.safe_load((REPO / f"Pulumi.{stack}.yaml").read_text()) or {}
    values = {key.removeprefix(f"{names.PROJECT}:"): value
              for key, value in (document.get("config") or {}).items()}
    for key, overrides in (("gateway", gateway_overrides), ("contextCache", cache_overrides)):
        if overrides:
            values[key] = {**(values.get(key) or {}), **overrides}
    return load_stack_config({key: values.get(key) for key in CONFIG_KEYS}, stack)


def require_tools(*tools: str) -> None:
    missing = [tool for tool in tools if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing on PATH: {', '.join(missing)}; install them with scripts/setup-host", pytrace=False)


def require_lab_images(engine: LabEngineImage = DEFAULT_ENGINE) -> None:
    require_tools("podman")
    missing = [image for image in (engine.image, CLIENT_IMAGE)
               if subprocess.run(["podman", "image", "exists", image]).returncode != 0]
    if missing:
        pytest.fail(f"missing podman images {', '.join(missing)}; build them with lab/images/build-images",
                    pytrace=False)


# ---------------------------------------------------------------------------- ACL users

# Issue 8: what the clients' user (the Gateway, Kubernaut's integration test; the Context-API on
# the cache) must be refused.
# DEBUG and MODULE are refused before the ACL is asked (enable-debug-command and
# enable-module-command are off by default since Redis 7): ACL DRYRUN shows the ACL refuses them too.
NOT_ENABLED = [("DEBUG", "SLEEP", "0"), ("MODULE", "LIST")]
REFUSED_TO_CLIENTS = [("FLUSHALL",), ("FLUSHDB",), ("CONFIG", "SET", "maxmemory", "100mb"), ("CONFIG", "GET", "*"),
                      ("SHUTDOWN", "NOSAVE"), ("REPLICAOF", "NO", "ONE"),
                      ("SLAVEOF", "NO", "ONE"), ("ACL", "LIST"), ("ACL", "SETUSER", "x"),
                      ("CLIENT", "KILL", "TYPE", "normal"), ("CLIENT", "PAUSE", "10"), ("KEYS", "*"),
                      ("EVAL", "return 1", "0"), ("BGSAVE",), ("PUBLISH", "__sentinel__:hello", "x")]


def is_refused(client: redis.Redis, *command: str) -> bool:
    try:
        client.execute_command(*command)
    except redis.exceptions.NoPermissionError:
        return True
    return False


def dryrun(operator: redis.Redis, user: str, command: tuple[str, ...]) -> str:
    try:
        return str(operator.execute_command("ACL", "DRYRUN", user, *command))
    except redis.ResponseError as err:
        return str(err)


def assert_refused_to_clients(client: redis.Redis, operator: redis.Redis) -> None:
    """`client`, a connection of the clients' user `default`, is refused every command of
    REFUSED_TO_CLIENTS with NOPERM and those of NOT_ENABLED by the engine, and keeps its
    connection (SHUTDOWN did not run); ACL DRYRUN, asked by `operator`, shows the ACL refuses them all."""
    refused = [command for command in REFUSED_TO_CLIENTS if is_refused(client, *command)]
    assert refused == REFUSED_TO_CLIENTS, f"not refused with NOPERM: {set(REFUSED_TO_CLIENTS) - set(refused)}"
    for command in NOT_ENABLED:
        with pytest.raises(redis.ResponseError, match="no permissions|not allowed"):
            client.execute_command(*command)
    assert client.ping(), "the refusals closed nothing"
    for command in [*REFUSED_TO_CLIENTS, *NOT_ENABLED]:
        assert "no permissions" in dryrun(operator, "default", command), command


# ---------------------------------------------------------------- servers on loopback

START_TIMEOUT_SECONDS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running(binary: str, conf: Path, port: int, password: str | None = None) -> Iterator[redis.Redis]:
    """Runs `binary conf` until the block ends; yields a client once it answers PING."""
    require_tools(binary)
    log = conf.with_suffix(".log")
    with log.open("w") as log_file:
        # umask 077 as the start scripts set it: files Redis rewrites stay private (0600).
        process = subprocess.Popen([binary, str(conf)], stdout=log_file, stderr=subprocess.STDOUT,
                                   preexec_fn=lambda: os.umask(0o077))
    client = redis.Redis(host="127.0.0.1", port=port, password=password, decode_responses=True, socket_timeout=2)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"{binary} exited with {process.returncode}:\n{log.read_text()}")
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{binary} does not answer after {START_TIMEOUT_SECONDS} s:\n{log.read_text()}")
                time.sleep(0.1)
        yield client
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
