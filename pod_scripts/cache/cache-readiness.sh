#!/bin/sh
# Readiness of the Context-API cache: PING answers PONG on port <port> (command:
# sh cache-readiness.sh <port>). `-e` makes the CLI exit non-zero on an error reply (NOAUTH,
# NOPERM), which a bare ping does not.
#
# With contextCache.auth.enabled the probe is the ACL user `probe` (PING only), its password
# from ACL_PROBE_PASSWORD through REDISCLI_AUTH, never argv. Without auth it is the clients'
# `default`, which has no password: the container then has no REDISCLI_AUTH to unset.
set -eu

port=${1:?usage: cache-readiness.sh <port>}
[ -n "${ENGINE_CLI:-}" ] || { echo "environment variable ENGINE_CLI is not set" >&2; exit 1; }
if [ -n "${ACL_PROBE_PASSWORD:-}" ]; then
    REDISCLI_AUTH=$ACL_PROBE_PASSWORD exec "$ENGINE_CLI" --no-auth-warning --user probe -e -p "$port" ping
fi
exec "$ENGINE_CLI" -e -p "$port" ping
