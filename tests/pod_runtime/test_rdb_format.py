"""pod_scripts/rdb-format.sh on every engine of the matrix, against RDB files the real servers
wrote: Redis 8.0 (format 12) and Redis 7.0 (format 10). For each file and engine, what the
script decides must match what the engine's own server does with the file: it keeps a file the
server loads, and sets aside (renames, never deletes) one the server refuses, after which the
server starts empty; a node that would be master with such a file stops, naming the format.
Containers are `krt-rdb-*`, removed at the end."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gateway_pods import PREFIX, podman
from labcluster.layout import LAB_ENGINE_IMAGES
from runtime_support import require_lab_images
from stack_config import engine_binaries
from stack_config.upgrade import EngineImage

pytestmark = pytest.mark.every_engine

SCRIPTS = Path(__file__).resolve().parents[2] / "pod_scripts"
WRITERS = {engine.name: engine for engine in LAB_ENGINE_IMAGES if engine.name in ("redis-8.0", "redis-7.0")}
KEY, VALUE = "kubernaut:rdb-format", "value-saved-by-the-writer"
# The server, on a unix socket only, in the foreground of a `sh -c`: start, wait for the socket.
START_SERVER = ('"$ENGINE_SERVER" --port 0 --unixsocket /tmp/redis.sock --dir /data --dbfilename dump.rdb '
                '--save "" --daemonize yes --logfile /data/server.log; '
                'for i in $(seq 50); do [ -S /tmp/redis.sock ] && break; sleep 0.1; done; ')


def run(engine, data: Path, script: str, check: bool = False):
    env = [f"--env={name}={value}" for name, value in engine_binaries(engine.engine).env().items()]
    return podman("run", "--rm", f"--name={PREFIX}rdb-{engine.name}", "--network=none", "--user=0",
                  f"--volume={SCRIPTS}:/scripts:ro", f"--volume={data}:/data", *env, "--entrypoint=sh",
                  engine.image, "-c", script, check=check)


@pytest.fixture(scope="module")
def rdb_files(tmp_path_factory) -> dict[str, Path]:
    """writer name -> a dump.rdb with KEY that the writer's server saved."""
    files = {}
    for name, engine in WRITERS.items():
        require_lab_images(engine)
        data = tmp_path_factory.mktemp(f"rdb-{name}")
        done = run(engine, data, START_SERVER + f'"$ENGINE_CLI" -s /tmp/redis.sock SET {KEY} {VALUE} && '
                   '"$ENGINE_CLI" -s /tmp/redis.sock SAVE && "$ENGINE_CLI" -s /tmp/redis.sock SHUTDOWN NOSAVE; true')
        assert (data / "dump.rdb").is_file(), f"{name} wrote no RDB: {done.stdout} {done.stderr}"
        files[name] = data / "dump.rdb"
    return files


def server_loads(engine, rdb: Path, tmp_path: Path) -> bool:
    """Whether the engine's server, started on the file as it is, serves KEY from it."""
    data = tmp_path / "as-is"
    data.mkdir()
    shutil.copy(rdb, data / "dump.rdb")
    done = run(engine, data, START_SERVER + f'"$ENGINE_CLI" -s /tmp/redis.sock GET {KEY}')
    return done.stdout.strip().endswith(VALUE)


@pytest.mark.parametrize("writer", sorted(WRITERS))
def test_set_aside_matches_what_the_server_loads(lab_engine, writer, rdb_files, tmp_path):
    require_lab_images(lab_engine)
    readable = server_loads(lab_engine, rdb_files[writer], tmp_path)
    if lab_engine.name == writer:
        assert readable, f"{lab_engine.name} does not load its own RDB"
    if (lab_engine.name, writer) == ("redis-7.0", "redis-8.0"):
        assert not readable, "Redis 7.0 loaded an RDB of Redis 8.0: the case this script exists for is gone"
    # The point-of-no-return guard's table (stack_config/upgrade.py) says the same as the server.
    reader, written = EngineImage(lab_engine.engine, lab_engine.image), EngineImage(WRITERS[writer].engine,
                                                                                      WRITERS[writer].image)
    assert (reader.rdb_format >= written.rdb_format) is readable, (reader, written)

    data = tmp_path / "follow"
    data.mkdir()
    shutil.copy(rdb_files[writer], data / "dump.rdb")
    done = run(lab_engine, data, 'die() { echo "DIE: $*"; exit 3; }; log() { echo "LOG: $*"; }; '
               '. /scripts/rdb-format.sh; set_aside_unreadable_rdb /data follow; ' + START_SERVER +
               f'"$ENGINE_CLI" -s /tmp/redis.sock GET {KEY}; "$ENGINE_CLI" -s /tmp/redis.sock PING')
    files = sorted(path.name for path in data.iterdir())
    assert done.stdout.strip().endswith("PONG"), f"the server did not start after the check: {done.stdout} {done.stderr}"
    if readable:
        assert "dump.rdb" in files and not [f for f in files if f.startswith("dump.rdb.format-")], files
        assert VALUE in done.stdout.split(), done.stdout
    else:
        aside = [f for f in files if f.startswith("dump.rdb.format-12.")]
        assert aside, f"the unreadable RDB was not kept aside: {files}"
        assert (data / aside[0]).read_bytes() == rdb_files[writer].read_bytes(), "the kept file is not the original"
        assert VALUE not in done.stdout.split(), "the server served data it cannot have loaded"
        assert "WARNING" in done.stdout and "format 12" in done.stdout, done.stdout


def test_a_node_that_would_be_master_stops_on_an_unreadable_rdb(rdb_files, tmp_path):
    engine = WRITERS["redis-7.0"]
    require_lab_images(engine)
    data = tmp_path / "claim"
    data.mkdir()
    shutil.copy(rdb_files["redis-8.0"], data / "dump.rdb")
    done = run(engine, data, 'die() { echo "DIE: $*"; exit 3; }; log() { echo "LOG: $*"; }; '
               '. /scripts/rdb-format.sh; set_aside_unreadable_rdb /data claim; echo CONTINUED')
    assert done.returncode == 3 and "CONTINUED" not in done.stdout, done.stdout
    assert "RDB format 12" in done.stdout and "would be master" in done.stdout, done.stdout
    assert sorted(p.name for p in data.iterdir()) == ["dump.rdb"], "a master's data must stay where it is"
