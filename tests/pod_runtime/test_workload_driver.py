"""The Gateway's workload driver (go/workload, built by scripts/build-cluster) against a real
redis-server on loopback: what it sends is what the report says it sends (14 round trips per
alert, the Gateway's keys and TTLs), its counts add up, its cleanup deletes its own keys only, and
bad input fails with a message."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from labcluster.cluster import find_binaries
from runtime_support import free_port, running

PASSWORD = "workload-test-password"


@pytest.fixture(scope="module")
def driver() -> Path:
    path = find_binaries() / "gateway-workload"
    if not path.is_file():
        pytest.fail(f"no {path}: scripts/build-cluster builds it", pytrace=False)
    return path


@pytest.fixture
def server(tmp_path: Path):
    port = free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text(f"port {port}\nbind 127.0.0.1\nsave \"\"\nappendonly no\nrequirepass {PASSWORD}\n"
                    f"dir {tmp_path}\n")
    with running("redis-server", conf, port, PASSWORD) as client:
        yield port, client


def drive(driver: Path, port: int, *args: str, password: str = PASSWORD) -> subprocess.CompletedProcess:
    env = {**os.environ, "WORKLOAD_PASSWORD": password}
    return subprocess.run([str(driver), "-addr", f"127.0.0.1:{port}", "-password-env", "WORKLOAD_PASSWORD", *args],
                          capture_output=True, text=True, timeout=60, env=env)


def test_an_open_loop_run_sends_each_alert_as_the_gateway_does_and_counts_it(driver, server):
    port, client = server
    done = drive(driver, port, "-rate", "200", "-seconds", "2", "-warmup", "0", "-prefix", "t1:")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["mode"] == "open" and result["alerts"] == 400 and result["failed_alerts"] == 0
    assert result["errors"] == 0
    assert result["alert"]["count"] == 400
    assert result["round_trip"]["count"] == 14 * 400 == result["round_trips_per_alert"] * 400
    assert sum(result["alert"]["buckets_us"].values()) == 400
    assert 0 < result["alert"]["p50_ms"] <= result["alert"]["p95_ms"] <= result["alert"]["p99_ms"] <= \
        result["alert"]["max_ms"]
    stats = client.info("commandstats")
    for command, per_alert in (("exists", 1), ("set", 1), ("incr", 1), ("expire", 3), ("zadd", 1),
                               ("zremrangebyscore", 1), ("zcard", 1), ("zrange", 1), ("hset", 1),
                               ("hincrby", 1), ("ttl", 1), ("hgetall", 1), ("del", 1)):
        assert stats[f"cmdstat_{command}"]["calls"] == per_alert * 400, command
    fingerprints = list(client.scan_iter("t1:gateway:dedup:fingerprint:*", count=1000))
    assert len(fingerprints) == 400
    sample = fingerprints[0]
    assert len(client.hgetall(sample)) == 8 and client.hget(sample, "count") == "2"
    assert 290 <= client.ttl(sample) <= 300
    assert not list(client.scan_iter("t1:gateway:dedup:lock:*"))  # each alert releases its lock
    rate_keys = list(client.scan_iter("t1:alert:storm:rate:*"))
    assert len(rate_keys) == 50 and sum(int(client.get(k)) for k in rate_keys) == 400
    assert 0 < client.ttl(rate_keys[0]) <= 60


def test_a_closed_loop_run_keeps_the_pool_busy_and_reports_throughput(driver, server):
    port, _client = server
    done = drive(driver, port, "-rate", "0", "-seconds", "1", "-warmup", "0", "-prefix", "t2:")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["mode"] == "closed" and result["pool"] == 10
    assert result["alerts"] > 50 and result["failed_alerts"] == 0
    assert result["alerts_per_s"] == pytest.approx(result["alerts"] / result["seconds"], rel=1e-6)


def test_cleanup_deletes_the_keys_under_its_prefix_and_nothing_else(driver, server):
    port, client = server
    assert drive(driver, port, "-rate", "100", "-seconds", "1", "-warmup", "0", "-prefix", "t3:").returncode == 0
    client.set("kept:key", "1")
    before = client.dbsize()
    done = drive(driver, port, "-cleanup", "-prefix", "t3:")
    assert done.returncode == 0, done.stderr
    deleted = int(done.stdout.split()[1])
    assert deleted == before - 1 > 100
    assert client.dbsize() == 1 and client.get("kept:key") == "1"


def test_bad_input_fails_with_a_message(driver, server):
    port, _client = server
    wrong = drive(driver, port, "-seconds", "1", password="not-the-password")
    assert wrong.returncode == 1 and "WRONGPASS" in wrong.stderr
    missing = subprocess.run([str(driver), "-seconds", "1"], capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2 and "-addr is required" in missing.stderr
    unguarded = subprocess.run([str(driver), "-addr", f"127.0.0.1:{port}", "-cleanup", "-prefix", ""],
                               capture_output=True, text=True, timeout=30)
    assert unguarded.returncode == 2 and "-cleanup needs a -prefix" in unguarded.stderr
