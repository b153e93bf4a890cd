"""How a Redis endpoint takes each way of logging in as the clients' user, from a client pod:

    python3 -m drills.logins HOST[:PORT]

A PING without a password; with the clients' password alone (`AUTH <password>`, as redis-cli -a
and redis-py without a user name send it); with the user name `default` and the password
(`AUTH default <password>`, the form go-redis v9's `HELLO 3 AUTH default` takes too). The
password comes from REDIS_PASSWORD in the pod's environment. Prints one JSON object: each way's
reply, "True", or its error.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Optional

import redis

from .writer import endpoint_address

WAYS = {"anonymous": (False, None), "auth_password": (True, None), "auth_default_password": (True, "default")}


def logins(host: str, port: int, password: Optional[str]) -> dict[str, str]:
    replies = {}
    for way, (with_password, user) in WAYS.items():
        try:
            client = redis.Redis(host, port, username=user, password=password if with_password else None,
                                 socket_timeout=3, socket_connect_timeout=3)
            replies[way] = str(client.ping())
        except redis.RedisError as err:
            replies[way] = f"{type(err).__name__}: {err}"
    return replies


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    host, port = endpoint_address(args[0])
    print(json.dumps(logins(host, port, os.environ.get("REDIS_PASSWORD") or None)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
