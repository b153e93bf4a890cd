#!/bin/sh
# Starts the Context-API cache (command: sh cache-start.sh).
#
# Redis reads its password only from a config file, and a command-line password would show in
# `ps`: the effective config is the ConfigMap template plus `requirepass` from REDIS_PASSWORD
# (when the Secret provides one), written 0600 to /tmp (an emptyDir; the root fs is read-only).
set -eu

TEMPLATE=/etc/kubernaut-redis/conf/redis.conf
EFFECTIVE_CONF=/tmp/redis.conf

die() {
    printf '%s cache-start: ERROR: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
    exit 1
}

[ -n "${ENGINE_SERVER:-}" ] || die "environment variable ENGINE_SERVER is not set"
[ -r "$TEMPLATE" ] || die "cannot read $TEMPLATE"
case ${REDIS_PASSWORD:-} in
    *[[:space:]\"\'\\]* | *[[:cntrl:]]*)
        die "REDIS_PASSWORD must not contain whitespace, quotes, backslashes or control characters" ;;
esac

umask 077
{
    cat "$TEMPLATE"
    if [ -n "${REDIS_PASSWORD:-}" ]; then
        printf '\n# Written by cache-start.sh from the Secret.\nrequirepass "%s"\n' "$REDIS_PASSWORD"
    fi
} >"$EFFECTIVE_CONF.tmp" || die "cannot write $EFFECTIVE_CONF.tmp"
mv -f "$EFFECTIVE_CONF.tmp" "$EFFECTIVE_CONF"
# redis-server or valkey-server (ENGINE_SERVER from the pod spec: stack_config/engines.py).
exec "$ENGINE_SERVER" "$EFFECTIVE_CONF"
