#!/bin/sh
# Readiness and liveness of the sentinel container: the sentinel answers PING.
set -eu
SCRIPT_NAME=sentinel-probe
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
. "$(dirname -- "$0")/common.sh"

require_env SENTINEL_PORT
reply=$(sentinel_cli "$LOCAL_HOST" PING 2>&1) || die "sentinel does not answer: $reply"
[ "$reply" = PONG ] || die "unexpected PING reply: $reply"
