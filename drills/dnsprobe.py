"""python3 -m drills.dnsprobe --name NAME [--lookups N]: how long this container's resolver takes
for NAME, N times. Prints JSON: lookups, failed, slow (> 0.5 s), p50, p99, max (seconds).

Sentinel resolves names synchronously in its event loop, and a loop that stalls for 2 s puts it
in TILT, where it does not fail over for 30 s. The name of a pod that is gone is what Sentinel
looks up again and again during a failover: this measures what that costs where it runs (the
drills run it in a client pod with the gateway pods' resolver options).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from typing import Optional

SLOW_SECONDS = 0.5
PAUSE_SECONDS = 0.02


def lookup_seconds(name: str) -> tuple[float, bool]:
    started = time.monotonic()
    try:
        socket.getaddrinfo(name, 6379)
        found = True
    except socket.gaierror:
        found = False
    return time.monotonic() - started, found


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True)
    parser.add_argument("--lookups", type=int, default=200)
    args = parser.parse_args(argv)
    if not 1 <= args.lookups <= 2000:
        parser.error("--lookups must be between 1 and 2000")
    durations, failed = [], 0
    for _ in range(args.lookups):
        seconds, found = lookup_seconds(args.name)
        durations.append(seconds)
        failed += not found
        time.sleep(PAUSE_SECONDS)
    ordered = sorted(durations)
    json.dump({"name": args.name, "lookups": args.lookups, "failed": failed,
               "slow": sum(d > SLOW_SECONDS for d in durations),
               "p50": round(ordered[len(ordered) // 2], 4), "p99": round(ordered[int(len(ordered) * 0.99) - 1], 4),
               "max": round(ordered[-1], 4)}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
