"""common.sh's sentinel_doubts_master, which a claim of the master role asks of every sentinel
before it resumes writes (redis-start.sh, take_master_role): a sentinel that flags the set down
or fails it over may promote a replica while the claiming node acknowledges writes.

redis-server and redis-sentinel run on the host, bound to loopback on free ports; the master is
stopped with SIGSTOP (it holds its connections but answers nothing, as a node whose port is
closed looks to Sentinel) and resumed with SIGCONT.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from runtime_support import REPO, free_port, require_tools, running
from stack_config import engine_binaries, names

COMMON_SH = REPO / "pod_scripts" / "common.sh"
DOWN_AFTER_MS = 1000


def doubts(sentinel_port: int) -> bool:
    """Exit status of sentinel_doubts_master on the sentinel at 127.0.0.1:<sentinel_port>."""
    base = {key: value for key, value in os.environ.items() if key not in ("REDISCLI_AUTH", "SENTINEL_PASSWORD")}
    done = subprocess.run(["sh", "-c", f'. "{COMMON_SH}"; sentinel_doubts_master 127.0.0.1'],
                          capture_output=True, text=True, timeout=30,
                          env={**base, "SENTINEL_PORT": str(sentinel_port), "MASTER_SET": names.MASTER_SET,
                               **engine_binaries("redis").env()})
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0


def wait_for(what: str, condition, seconds: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"{what} within {seconds} s"
        time.sleep(0.2)
    return time.monotonic() - started


def test_a_sentinel_doubts_a_master_it_cannot_reach_and_stops_once_it_answers(tmp_path: Path):
    require_tools("redis-server", "redis-sentinel", "redis-cli")
    master_port, sentinel_port = free_port(), free_port()
    master_conf = tmp_path / "redis.conf"
    master_conf.write_text(f"port {master_port}\nbind 127.0.0.1\ndir {tmp_path}\nsave \"\"\n")
    sentinel_dir = tmp_path / "sentinel"
    sentinel_dir.mkdir()
    sentinel_conf = sentinel_dir / "sentinel.conf"
    sentinel_conf.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {sentinel_dir}\n"
        f"sentinel monitor {names.MASTER_SET} 127.0.0.1 {master_port} 1\n"
        f"sentinel down-after-milliseconds {names.MASTER_SET} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {names.MASTER_SET} 10000\n")
    with running("redis-server", master_conf, master_port) as master:
        master_pid = master.info("server")["process_id"]
        with running("redis-sentinel", sentinel_conf, sentinel_port):
            # Up: the sentinel has pinged it (its flags are just "master").
            time.sleep(DOWN_AFTER_MS / 1000 * 1.5)
            assert not doubts(sentinel_port), "a sentinel that reaches the master doubts nothing"
            os.kill(master_pid, signal.SIGSTOP)
            try:
                # s_down after down-after, then o_down (quorum 1) and a failover attempt that
                # finds no replica: each of those counts as doubt.
                wait_for("the sentinel to doubt the stopped master", lambda: doubts(sentinel_port),
                         DOWN_AFTER_MS / 1000 + 4)
            finally:
                os.kill(master_pid, signal.SIGCONT)
            # Its next PING is answered: s_down (and with it o_down) clear within a ping period or two.
            wait_for("the sentinel to stop doubting the master once it answers",
                     lambda: not doubts(sentinel_port), 10)
    # A sentinel that does not answer doubts nothing: the claim cannot wait on one that is gone.
    assert not doubts(free_port())
