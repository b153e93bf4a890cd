"""common.sh's replication_offset_of on a node that is still loading its RDB: such a node reports
offset 0, which in the claim of the master role would make it look empty (and lose the "newest
data wins" comparison). It must count as not answered until it has loaded.

redis-server runs on the host, bound to loopback on a free port, loading slowly on purpose
(`key-load-delay`, with client events served during the load).
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import redis

from runtime_support import REPO, require_tools
from stack_config import engine_binaries
from test_cli_auth import free_port

COMMON_SH = REPO / "pod_scripts" / "common.sh"
KEYS = 20000
# 500 µs a key: the load of KEYS keys takes about 10 s.
KEY_LOAD_DELAY_US = 500


def offset_of(port: int, target: str = "127.0.0.1") -> str:
    base = {key: value for key, value in os.environ.items() if key not in ("REDISCLI_AUTH", "REDIS_PASSWORD")}
    script = f'. "{COMMON_SH}"; replication_offset_of {target}'
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30,
                          env={**base, "REDIS_PORT": str(port), **engine_binaries("redis").env()})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def start(tmp_path: Path, port: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp_path),
                             "--save", "", *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_answering(port: int) -> redis.Redis:
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return client
        except redis.BusyLoadingError:
            return client
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.1)


def test_a_loading_node_has_no_offset_until_it_has_loaded(tmp_path: Path):
    require_tools("redis-server", "redis-cli")
    port = free_port()
    process = start(tmp_path, port)
    try:
        client = wait_answering(port)
        client.eval(f"for i=1,{KEYS} do redis.call('set','k'..i,i) end return 1", 0)
        client.save()
        client.close()
        assert offset_of(port) == "0"  # a loaded node answers, even with offset 0
    finally:
        process.terminate()
        process.wait(timeout=10)

    process = start(tmp_path, port, "--key-load-delay", str(KEY_LOAD_DELAY_US),
                    "--loading-process-events-interval-bytes", "1024")
    try:
        client = wait_answering(port)
        assert client.info("persistence")["loading"] == 1, "the test needs a node that is still loading"
        assert offset_of(port) == "", "a loading node must not report an offset"
        deadline = time.monotonic() + KEYS * KEY_LOAD_DELAY_US / 1e6 + 30
        while client.info("persistence")["loading"] == 1:
            assert time.monotonic() < deadline, "the load did not end"
            time.sleep(0.5)
        assert offset_of(port) == "0"
        assert client.dbsize() == KEYS
        client.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_no_offset_from_a_node_that_does_not_answer():
    assert offset_of(free_port()) == ""
