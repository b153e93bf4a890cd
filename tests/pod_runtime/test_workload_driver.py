"""The Gateway's workload driver (go/workload, built by scripts/build-cluster) against a real
redis-server on loopback: what it sends is what the report says it sends (14 round trips per
alert, the Gateway's keys and TTLs), its counts add up, its cleanup deletes its own keys only, and
bad input fails with a message."""

from __future__ import annotations

import json
import os
import subprocess
import time
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


# ------------------------------------------------------------------ failover-writer

SENTINEL_PASSWORD = "workload-test-sentinel-password"


@pytest.fixture
def sentinel_set(tmp_path: Path):
    """A master, its replica and one sentinel (quorum 1) on loopback, with passwords: the
    smallest set a `SENTINEL FAILOVER` can switch."""
    master_port, replica_port, sentinel_port = free_port(), free_port(), free_port()
    common = f"bind 127.0.0.1\nsave \"\"\nappendonly no\nrequirepass {PASSWORD}\nmasterauth {PASSWORD}\n"
    (tmp_path / "m").mkdir()
    (tmp_path / "r").mkdir()
    (tmp_path / "s").mkdir()
    master_conf, replica_conf, sentinel_conf = tmp_path / "m/redis.conf", tmp_path / "r/redis.conf", tmp_path / "s/s.conf"
    master_conf.write_text(f"port {master_port}\ndir {tmp_path / 'm'}\n{common}")
    replica_conf.write_text(f"port {replica_port}\ndir {tmp_path / 'r'}\n{common}replicaof 127.0.0.1 {master_port}\n")
    sentinel_conf.write_text(
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path / 's'}\nrequirepass {SENTINEL_PASSWORD}\n"
        f"sentinel monitor set1 127.0.0.1 {master_port} 1\nsentinel auth-pass set1 {PASSWORD}\n"
        "sentinel down-after-milliseconds set1 1000\nsentinel failover-timeout set1 10000\n")
    with running("redis-server", master_conf, master_port, PASSWORD) as master, \
            running("redis-server", replica_conf, replica_port, PASSWORD) as replica, \
            running("redis-sentinel", sentinel_conf, sentinel_port, SENTINEL_PASSWORD) as sentinel:
        deadline = time.monotonic() + 30
        while replica.info("replication").get("master_link_status") != "up" or \
                not sentinel.execute_command("SENTINEL", "REPLICAS", "set1"):
            assert time.monotonic() < deadline, "the replica did not link, or the sentinel did not see it"
            time.sleep(0.2)
        yield {"master": (master_port, master), "replica": (replica_port, replica), "sentinel": (sentinel_port, sentinel)}


def start_writer(driver: Path, sentinel_port: int, *args: str, password: str = PASSWORD) -> subprocess.Popen:
    env = {**os.environ, "REDIS_PASSWORD": password, "SENTINEL_PASSWORD": SENTINEL_PASSWORD}
    return subprocess.Popen([str(driver), "failover-writer", "--sentinels", f"127.0.0.1:{sentinel_port}",
                             "--master-set", "set1", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def progress_lines(stderr: str) -> list[dict]:
    return [json.loads(line)["progress"] for line in stderr.splitlines() if line.startswith('{"progress"')]


def test_the_failover_writer_follows_a_switch_and_verifies_every_acknowledged_write_on_the_new_master(driver,
                                                                                                       sentinel_set):
    """The drills' writer protocol with go-redis's Sentinel client: it writes through the master
    the sentinel names, follows a `SENTINEL FAILOVER` to the replica, stops when stdin closes,
    and looks every acknowledged key up on the final master. The old master is fenced first as
    the gateway's switchover fences it (writes refused): a bare SENTINEL FAILOVER lets it
    acknowledge writes until its demotion, about a second of them here, which the new master
    never gets; the writer reports those as lost."""
    sentinel_port, sentinel = sentinel_set["sentinel"]
    replica_port, replica = sentinel_set["replica"]
    _master_port, master = sentinel_set["master"]
    writer = start_writer(driver, sentinel_port, "--rate", "100", "--max-seconds", "60", "--prefix", "fw1")
    time.sleep(1.5)
    master.config_set("min-replicas-to-write", 1000000)
    assert sentinel.execute_command("SENTINEL", "FAILOVER", "set1") in ("OK", True)
    deadline = time.monotonic() + 30
    while replica.info("replication")["role"] != "master":
        assert time.monotonic() < deadline, "the failover did not promote the replica"
        time.sleep(0.1)
    time.sleep(2.0)  # writes on the new master
    out, err = writer.communicate(input="", timeout=60)
    assert writer.returncode == 0, err
    result = json.loads(out)
    assert result["stopped_by"] == "stdin" and result["nodes"] == ["failover-client"]
    assert result["final_master"] == f"127.0.0.1:{replica_port}"
    assert result["lost"] == [] and result["lost_by_node"] == {}
    assert result["acked"] == len(result["acks"]) > 250
    assert result["attempts"] >= result["acked"]
    sequences = [ack[0] for ack in result["acks"]]
    assert sequences == sorted(sequences) and all(isinstance(n, int) and ack[2] == 0
                                                 for n, ack in zip(sequences, result["acks"]))
    assert replica.get(f"fw1:{sequences[-1]}") == str(sequences[-1])  # written after the switch
    assert sum(result["errors"].values()) == result["attempts"] - result["acked"]
    assert result["errors"].get("ResponseError:NOREPLICAS", 0) > 0, result["errors"]  # the fenced old master
    # go-redis's own log: it picked the sentinel, then followed its +switch-master to the replica
    logged = [line for _at, line in result["client_log"]]
    assert any(f"sentinel: selected addr=127.0.0.1:{sentinel_port}" in line for line in logged), logged
    assert any(f'new master="set1" addr="127.0.0.1:{replica_port}"' in line for line in logged), logged
    assert progress_lines(err) and progress_lines(err)[-1]["acked"] <= result["acked"]


def test_the_failover_writer_reports_lost_writes_and_refuses_bad_input(driver, sentinel_set):
    """An acknowledged key missing on the final master is reported as lost (the writer cannot
    call a run clean that lost writes); missing options fail with a message."""
    sentinel_port, _sentinel = sentinel_set["sentinel"]
    _master_port, master = sentinel_set["master"]
    writer = start_writer(driver, sentinel_port, "--rate", "50", "--prefix", "fw2")
    time.sleep(1.0)
    master.delete("fw2:1", "fw2:2")
    out, err = writer.communicate(input="", timeout=60)
    assert writer.returncode == 0, err
    result = json.loads(out)
    assert result["lost"] == [1, 2] and result["lost_by_node"] == {"failover-client": 2}
    bad = subprocess.run([str(driver), "failover-writer", "--rate", "5"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "-sentinels and -master-set are required" in bad.stderr
