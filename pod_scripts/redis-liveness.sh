#!/bin/sh
# Liveness of the redis container: PING answers PONG, or LOADING while a large dataset loads
# (restarting a loading redis would only start the load again). Asked on the unix socket: the
# TCP port is closed on purpose while a restarted node claims the master role (redis-start.sh),
# and the readiness probe, on TCP, covers the port.
set -eu
SCRIPT_NAME=redis-liveness
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
. "$(dirname -- "$0")/common.sh"

require_env REDIS_PORT
use_redis_user probe
reply=$(redis_cli "$LOCAL_SOCKET" PING 2>&1) || die "redis does not answer: $reply"
case $reply in
    PONG | LOADING*) exit 0 ;;
    *) die "unexpected PING reply: $reply" ;;
esac
