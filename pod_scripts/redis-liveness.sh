#!/bin/sh
# Liveness of the redis container: PING answers PONG, or LOADING while a large dataset loads
# (restarting a loading redis would only start the load again).
set -eu
SCRIPT_NAME=redis-liveness
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
. "$(dirname -- "$0")/common.sh"

require_env REDIS_PORT
reply=$(redis_cli "$LOCAL_HOST" PING 2>&1) || die "redis does not answer: $reply"
case $reply in
    PONG | LOADING*) exit 0 ;;
    *) die "unexpected PING reply: $reply" ;;
esac
