"""A writer through the master-only endpoint that can change its password while it runs: the
client side of a password rotation (docs/architecture.md, "Rotation").

    python3 -m drills.rotation_writer --host redis-gateway-ha [--port 6379] [--rate 20]
                                      [--max-seconds 1800] [--prefix rotation:<id>]

Runs in the drills' client pod. It connects as the Gateway does (go-redis: a password, no user
name). Passwords come on stdin, never on a command line: a line `password <value>` sets the one
it sends from the next connection on (the first such line starts the writes). Stdin's end stops
it, and so does --stop-file once it exists; the result is one JSON document on stdout. A progress line a second goes to stderr: it also
keeps the `kubectl exec` stream that carries the writer busy, which an idle one was not (its
websocket pings timed out during the rolling restarts).

Each write is `SET <prefix>:<n> <n>`, retried on fresh connections until acknowledged or
--give-up-seconds passed: a rolling restart's handover breaks connections and pauses writes for
a few seconds, which is no failure. A refused password (WRONGPASS, NOAUTH) fails the write at
once. FAILED writes are those never acknowledged, each with its time (time.time()).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from typing import Any, Optional

import redis

SOCKET_TIMEOUT_SECONDS = 1.0
RETRY_PAUSE_SECONDS = 0.1
ERROR_SAMPLES_KEPT = 20


class Passwords:
    """The password to send, set from stdin; `ended` once stdin closes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: Optional[str] = None
        self.changed_at: list[float] = []
        self.ready = threading.Event()
        self.ended = threading.Event()

    def read(self, stream) -> None:
        for line in stream:
            word, _, value = line.strip().partition(" ")
            if word == "password" and value:
                with self.lock:
                    self.current = value
                    self.changed_at.append(time.time())
                self.ready.set()
        self.ended.set()
        self.ready.set()

    def get(self) -> Optional[str]:
        with self.lock:
            return self.current


def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, default=6379)
    parser.add_argument("--rate", type=float, default=20.0, help="writes per second")
    parser.add_argument("--max-seconds", type=float, default=1800.0, help="hard bound of the run")
    parser.add_argument("--give-up-seconds", type=float, default=30.0, help="retries of one write")
    parser.add_argument("--prefix", default=f"rotation:{int(time.time())}")
    parser.add_argument("--stop-file", help="stop once this file exists (besides at stdin's end)")
    return parser.parse_args(argv)


def is_auth_error(err: Exception) -> bool:
    text = str(err)
    return isinstance(err, redis.AuthenticationError) or text.startswith(("WRONGPASS", "NOAUTH"))


class Writer:
    def __init__(self, args: argparse.Namespace, passwords: Passwords) -> None:
        self.args = args
        self.passwords = passwords
        self.client: Optional[redis.Redis] = None
        self.client_password: Optional[str] = None
        self.acked = 0
        self.failed: list[dict[str, Any]] = []
        self.retried = 0

    def connection(self) -> redis.Redis:
        password = self.passwords.get()
        if self.client is None or password != self.client_password:
            self.drop()
            self.client = redis.Redis(host=self.args.host, port=self.args.port, password=password,
                                      socket_timeout=SOCKET_TIMEOUT_SECONDS,
                                      socket_connect_timeout=SOCKET_TIMEOUT_SECONDS)
            self.client_password = password
        return self.client

    def drop(self) -> None:
        if self.client is not None:
            self.client.close()
        self.client = None

    def write(self, sequence: int) -> None:
        give_up = time.monotonic() + self.args.give_up_seconds
        while True:
            try:
                self.connection().set(f"{self.args.prefix}:{sequence}", sequence)
                self.acked += 1
                return
            except redis.RedisError as err:
                self.drop()
                if is_auth_error(err) or time.monotonic() >= give_up:
                    self.failed.append({"sequence": sequence, "at": time.time(), "auth": is_auth_error(err),
                                        "error": f"{type(err).__name__}: {err}"[:200]})
                    return
                self.retried += 1
                time.sleep(RETRY_PAUSE_SECONDS)

    def run(self) -> None:
        deadline = time.monotonic() + self.args.max_seconds
        interval = 1.0 / self.args.rate
        sequence = 0
        next_at = time.monotonic()
        last_progress = next_at
        while not self.passwords.ended.is_set() and time.monotonic() < deadline and not self.stop_requested():
            self.write(sequence)
            sequence += 1
            if time.monotonic() - last_progress >= 1.0:
                last_progress = time.monotonic()
                print(json.dumps({"progress": {"acked": self.acked, "failed": len(self.failed)}}),
                      file=sys.stderr, flush=True)
            next_at += interval
            time.sleep(max(0.0, next_at - time.monotonic()))
        self.drop()

    def stop_requested(self) -> bool:
        """--stop-file exists: a stop that needs no stdin (an exec stream's stdin may stall)."""
        return bool(self.args.stop_file) and os.path.exists(self.args.stop_file)

    def result(self) -> dict[str, Any]:
        return {"acked": self.acked, "failed": len(self.failed), "retried": self.retried,
                "failures": self.failed[:ERROR_SAMPLES_KEPT],
                "first_failure_at": self.failed[0]["at"] if self.failed else None,
                "last_failure_at": self.failed[-1]["at"] if self.failed else None,
                "auth_failures": sum(1 for failure in self.failed if failure["auth"]),
                "password_changes": self.passwords.changed_at}


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    passwords = Passwords()
    threading.Thread(target=passwords.read, args=(sys.stdin,), daemon=True).start()
    passwords.ready.wait()
    writer = Writer(args, passwords)
    if passwords.get() is not None:
        writer.run()
    json.dump(writer.result(), sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
