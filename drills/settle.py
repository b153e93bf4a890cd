"""python3 -m drills.settle --targets-json JSON --timeout S: wait, inside the cluster's network,
until the smoke check's state invariants hold (smoke.wait_until_healthy), and print its last
report as JSON. Passwords come from REDIS_PASSWORD, SENTINEL_PASSWORD and CACHE_PASSWORD.

It runs in the target's client pod because Sentinel hands out in-cluster names that resolve only
there; one `kubectl exec` per wait keeps the polling itself inside the cluster.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional

from smoke import Targets, wait_until_healthy
from smoke.targets import passwords_from

POLL_SECONDS = 0.5


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets-json", required=True)
    parser.add_argument("--timeout", type=float, required=True)
    args = parser.parse_args(argv)
    targets = Targets.from_json(args.targets_json)
    report = wait_until_healthy(targets, passwords_from(os.environ, {}), args.timeout, POLL_SECONDS)
    json.dump(report.as_dict(), sys.stdout, default=str)
    print()
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
