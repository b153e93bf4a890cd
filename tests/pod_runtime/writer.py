"""A client that writes through Sentinel discovery and records every acknowledged write.

Runs inside the client image on the test network (pod names resolve only there), with
python3-redis from Debian. Environment: SENTINELS (comma-separated host names), MASTER_SET,
DURATION (seconds, the longest it writes), OUT (result file), STOP (a file whose appearance ends
it sooner), REDIS_PASSWORD / SENTINEL_PASSWORD (optional).
Each round does `INCR writer:counter` and `SET writer:key:<n> <n>`; only writes whose reply
arrived are recorded, with the time of the reply.
"""

import json
import os
import time

import redis
from redis.sentinel import Sentinel

SENTINEL_PORT = 26379
ROUND_PAUSE_SECONDS = 0.01  # about 100 rounds per second


def master_client():
    timeouts = {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}
    sentinel = Sentinel(
        [(host, SENTINEL_PORT) for host in os.environ["SENTINELS"].split(",")],
        sentinel_kwargs={"password": os.environ.get("SENTINEL_PASSWORD") or None, **timeouts},
        **timeouts,
    )
    return sentinel.master_for(os.environ["MASTER_SET"], password=os.environ.get("REDIS_PASSWORD") or None,
                               **timeouts)


def main():
    master = master_client()
    deadline = time.time() + float(os.environ["DURATION"])
    stop = os.environ["STOP"]
    acked_counter, acked_keys, errors = [], [], []
    round_number = 0
    while time.time() < deadline and not os.path.exists(stop):
        round_number += 1
        try:
            # INCR, as the Gateway sends it (redis-py's incr() sends INCRBY, which its user lacks)
            value = master.execute_command("INCR", "writer:counter")
            acked_counter.append([time.time(), value])
            master.set(f"writer:key:{round_number}", round_number)
            acked_keys.append([time.time(), round_number])
        except redis.RedisError as err:
            errors.append([time.time(), f"{type(err).__name__}: {err}"])
        time.sleep(ROUND_PAUSE_SECONDS)
    with open(os.environ["OUT"], "w") as out:
        json.dump({"counter": acked_counter, "keys": acked_keys, "errors": errors}, out)


if __name__ == "__main__":
    main()
