"""A steady writer through Sentinel discovery that remembers every acknowledged write.

    python3 -m drills.writer --sentinels HOST[:PORT],... --master-set NAME [--rate 100]
                             [--max-seconds 300] [--prefix drill:<id>] [--endpoint HOST[:PORT]]

Runs in a client pod inside the cluster (pod names resolve only there), from the client image,
with nothing but the standard library and redis-py (Debian's 4.3). Passwords come from
REDIS_PASSWORD and SENTINEL_PASSWORD in the environment (the pod's, from Secrets), never from the
command line.

Each attempt is `SET <prefix>:<n> <n>` with a key of its own, through redis-py's Sentinel master
client, as the Gateway's writes would go through a Sentinel-aware client. A write counts as
ACKNOWLEDGED only when its OK arrived; it is recorded with the wall-clock time of that reply and
the address of the node that sent it. With --endpoint the writes go instead to that one address
(the master-only Service `redis-gateway-ha`) over a plain client, as the Gateway's go-redis
client sends them; every reply then comes from that address, and the node behind it is not
known. The writer stops when its stdin closes (the drill decides
when) or after --max-seconds, whichever comes first. It then asks the Sentinels for the final
master and looks every acknowledged key up there: an acknowledged key that is missing is LOST.

Progress goes to stderr as one JSON line per second ({"progress": ...}); the result is one JSON
document on stdout. The drill computes outages from the acknowledgement times.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections import Counter
from typing import Any, Optional

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

DEFAULT_SENTINEL_PORT = 26379
# A healthy round trip on the pod network takes about a millisecond; half a second tells a dead
# or cut-off node from a slow one without stretching the measured outage much.
SOCKET_TIMEOUT_SECONDS = 0.5
# One quick retry on a fresh connection, as production clients do (go-redis retries 3 times with
# 8-512 ms backoff); more would hide the outage inside one attempt.
RETRIES = 1
RETRY_BACKOFF_CAP_SECONDS = 0.05
RETRY_BACKOFF_BASE_SECONDS = 0.01
VERIFY_BATCH = 500
VERIFY_ATTEMPTS = 20
ERROR_SAMPLES_KEPT = 20


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sentinels", required=True, help="comma-separated HOST[:PORT] of the sentinels")
    parser.add_argument("--master-set", required=True)
    parser.add_argument("--rate", type=float, default=100.0, help="write attempts per second")
    parser.add_argument("--max-seconds", type=float, default=300.0, help="hard bound of the run")
    parser.add_argument("--prefix", default=f"drill:{int(time.time())}", help="key prefix of this run")
    parser.add_argument("--socket-timeout", type=float, default=SOCKET_TIMEOUT_SECONDS)
    parser.add_argument("--endpoint", help="HOST[:PORT] to write to with a plain client instead of through the "
                        "sentinels (which still name the master the keys are verified on)")
    parser.add_argument("--reconnect-on-readonly", action="store_true",
                        help="with --endpoint: after a READONLY reply, open a new connection to the endpoint (go-redis "
                        "retries such a write on another connection of its pool); for an endpoint that spans every "
                        "node, as the legacy deployment's Service did")
    parser.add_argument("--verify-through-endpoint", action="store_true",
                        help="with --endpoint: look the acknowledged keys up through the endpoint, not on the master "
                        "the sentinels name (a client without the Sentinel password)")
    args = parser.parse_args(argv)
    if (args.reconnect_on_readonly or args.verify_through_endpoint) and not args.endpoint:
        parser.error("--reconnect-on-readonly and --verify-through-endpoint need --endpoint")
    if not 0 < args.rate <= 1000:
        parser.error("--rate must be in (0, 1000]")
    if not 0 < args.max_seconds <= 3600:
        parser.error("--max-seconds must be in (0, 3600]")
    return args


def sentinel_addresses(text: str) -> list[tuple[str, int]]:
    addresses = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        host, _, port = item.rpartition(":") if item.count(":") == 1 else (item, "", "")
        addresses.append((host, int(port)) if port else (item, DEFAULT_SENTINEL_PORT))
    return addresses


def _retry() -> Retry:
    return Retry(ExponentialBackoff(cap=RETRY_BACKOFF_CAP_SECONDS, base=RETRY_BACKOFF_BASE_SECONDS), RETRIES)


def connect(args: argparse.Namespace, deadline: float) -> tuple[Sentinel, redis.Redis]:
    """A Sentinel and a master client over ONE connection, so that the node behind each reply is
    known. redis-py's Sentinel connection asks the Sentinels for the master on every reconnect and
    drops the connection when the node answers READONLY (it was demoted)."""
    timeouts = {"socket_timeout": args.socket_timeout, "socket_connect_timeout": args.socket_timeout}
    sentinel = Sentinel(
        sentinel_addresses(args.sentinels),
        sentinel_kwargs={"password": os.environ.get("SENTINEL_PASSWORD") or None, **timeouts},
    )
    if args.endpoint:
        host, port = endpoint_address(args.endpoint)
        # A plain client on one address, as the Gateway's: a reconnect goes to the same address.
        return sentinel, redis.Redis(host, port, password=os.environ.get("REDIS_PASSWORD") or None,
                                     retry=_retry(), retry_on_error=[redis.ConnectionError, redis.TimeoutError],
                                     single_connection_client=True, **timeouts)
    pool = SentinelConnectionPool(args.master_set, sentinel, is_master=True, check_connection=False,
                                  password=os.environ.get("REDIS_PASSWORD") or None, retry=_retry(),
                                  retry_on_error=[redis.ConnectionError, redis.TimeoutError], **timeouts)
    while True:
        try:
            return sentinel, redis.Redis(connection_pool=pool, single_connection_client=True)
        except redis.RedisError as err:
            if time.time() >= deadline:
                raise RuntimeError(f"no master of {args.master_set} reachable through the sentinels: {err}") from err
            time.sleep(0.2)


class Recorder:
    """Acknowledged writes and failures, in the compact form the result carries."""

    def __init__(self) -> None:
        self.acks: list[list[Any]] = []  # [sequence, reply time, node index]
        self.nodes: list[str] = []
        self.errors: Counter[str] = Counter()
        self.error_samples: list[list[Any]] = []
        self.first_error_at: Optional[float] = None
        self.last_error_at: Optional[float] = None
        self.attempts = 0
        self.slowest: list[Any] = []  # [sequence, started, seconds, outcome] of the longest attempt

    def timed(self, sequence: int, started: float, outcome: str) -> None:
        seconds = time.time() - started
        if not self.slowest or seconds > self.slowest[2]:
            self.slowest = [sequence, round(started, 4), round(seconds, 4), outcome[:200]]

    def node_index(self, node: str) -> int:
        if node not in self.nodes:
            self.nodes.append(node)
        return self.nodes.index(node)

    def ack(self, sequence: int, at: float, node: str) -> None:
        self.acks.append([sequence, round(at, 4), self.node_index(node)])

    def fail(self, sequence: int, at: float, err: Exception) -> None:
        kind = type(err).__name__
        self.errors[kind] += 1
        self.first_error_at = self.first_error_at or at
        self.last_error_at = at
        if len(self.error_samples) < ERROR_SAMPLES_KEPT:
            self.error_samples.append([sequence, round(at, 4), f"{kind}: {err}"[:200]])


def answering_node(client: redis.Redis) -> str:
    """host:port of the node that sent the last reply."""
    conn = client.connection
    return f"{conn.host}:{conn.port}" if conn is not None else "?"


def write_steadily(client: redis.Redis, args: argparse.Namespace, recorder: Recorder,
                   stop: threading.Event, deadline: float) -> None:
    """One attempt per 1/rate seconds; after a stall the schedule restarts from now instead of
    bursting to catch up, so the rate the nodes see stays steady."""
    interval = 1.0 / args.rate
    next_at = time.time()
    last_progress = next_at
    while not stop.is_set() and time.time() < deadline:
        recorder.attempts += 1
        sequence = recorder.attempts
        started = time.time()
        try:
            client.set(f"{args.prefix}:{sequence}", sequence)
            recorder.ack(sequence, time.time(), answering_node(client))
            recorder.timed(sequence, started, "acknowledged")
        except redis.RedisError as err:
            recorder.fail(sequence, time.time(), err)
            recorder.timed(sequence, started, f"{type(err).__name__}: {err}")
            if args.reconnect_on_readonly and isinstance(err, redis.ReadOnlyError) and client.connection is not None:
                client.connection.disconnect()
        now = time.time()
        if now - last_progress >= 1.0:
            report_progress(recorder, now)
            last_progress = now
        next_at += interval
        if next_at < now - interval:
            next_at = now
        stop.wait(max(0.0, next_at - time.time()))


def report_progress(recorder: Recorder, now: float) -> None:
    line = {"progress": {"at": round(now, 3), "attempts": recorder.attempts, "acked": len(recorder.acks),
                         "last_ack_at": recorder.acks[-1][1] if recorder.acks else None,
                         "errors": sum(recorder.errors.values())}}
    print(json.dumps(line), file=sys.stderr, flush=True)


def stop_on_stdin_eof(stop: threading.Event) -> None:
    """The drill closes the writer's stdin to end the run."""
    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        stop.set()
    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def final_master(sentinel: Sentinel, master_set: str, deadline: float) -> tuple[str, int]:
    last: Exception = RuntimeError("no attempt")
    while time.time() < deadline:
        try:
            return sentinel.discover_master(master_set)
        except redis.RedisError as err:
            last = err
            time.sleep(0.5)
    raise RuntimeError(f"no sentinel names a master of {master_set}: {last}")


def missing_keys(node: redis.Redis, prefix: str, sequences: list[int]) -> list[int]:
    missing = []
    for start in range(0, len(sequences), VERIFY_BATCH):
        batch = sequences[start:start + VERIFY_BATCH]
        values = node.mget([f"{prefix}:{n}" for n in batch])
        missing += [n for n, value in zip(batch, values) if value is None]
    return missing


def endpoint_address(endpoint: str) -> tuple[str, int]:
    host, _, port = endpoint.rpartition(":") if ":" in endpoint else (endpoint, "", "")
    return host, int(port or 6379)


def verify(sentinel: Sentinel, args: argparse.Namespace, recorder: Recorder) -> dict[str, Any]:
    """Look up every acknowledged key on the master the Sentinels name now (retried while that
    master is still settling), or through the endpoint (--verify-through-endpoint), and report the
    missing ones by the node that acknowledged them."""
    deadline = time.time() + 30
    last_error = ""
    for _ in range(VERIFY_ATTEMPTS):
        try:
            if args.verify_through_endpoint:
                host, port = endpoint_address(args.endpoint)
            else:
                host, port = final_master(sentinel, args.master_set, deadline)
            node = redis.Redis(host, port, password=os.environ.get("REDIS_PASSWORD") or None,
                               socket_timeout=2.0, socket_connect_timeout=2.0)
            role = node.execute_command("ROLE")[0]
            role = role.decode() if isinstance(role, bytes) else role
            if role != "master":
                raise redis.RedisError(f"{host}:{port} answers role {role}")
            lost = missing_keys(node, args.prefix, [ack[0] for ack in recorder.acks])
            lost_set = set(lost)
            by_node = Counter(recorder.nodes[ack[2]] for ack in recorder.acks if ack[0] in lost_set)
            return {"final_master": f"{host}:{port}", "lost": lost, "lost_by_node": dict(by_node)}
        except (redis.RedisError, RuntimeError) as err:
            last_error = f"{type(err).__name__}: {err}"
            if time.time() >= deadline:
                break
            time.sleep(1.0)
    return {"final_master": None, "lost": None, "verify_error": last_error}


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    recorder = Recorder()
    stop = threading.Event()
    stop_on_stdin_eof(stop)
    started_at = time.time()
    sentinel, client = connect(args, started_at + args.max_seconds)
    write_steadily(client, args, recorder, stop, started_at + args.max_seconds)
    stopped_at = time.time()
    result = {
        "prefix": args.prefix, "rate": args.rate, "started_at": round(started_at, 4),
        "stopped_at": round(stopped_at, 4), "stopped_by": "stdin" if stop.is_set() else "max-seconds",
        "attempts": recorder.attempts, "acked": len(recorder.acks), "nodes": recorder.nodes,
        "acks": recorder.acks, "errors": dict(recorder.errors), "error_samples": recorder.error_samples,
        "first_error_at": recorder.first_error_at, "last_error_at": recorder.last_error_at,
        "slowest_attempt": recorder.slowest,
    }
    result.update(verify(sentinel, args, recorder))
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0 if result.get("lost") is not None else 2


if __name__ == "__main__":
    sys.exit(main())
