#!/bin/sh
# Starts the Context-API cache (command: sh cache-start.sh).
#
# Redis reads its users only from a config file, and a command-line password would show in
# `ps`: the effective config is the ConfigMap's redis.conf plus the ACL users of its users.acl
# (redis_files/acl.py), each with the SHA-256 hash of its password from the Secret
# (REDIS_PASSWORD for the clients' `default`, ACL_<USER>_PASSWORD for the others; a `nopass`
# `default` when the clients send no password), written 0600 to /tmp (an emptyDir; the root
# fs is read-only). The file holds hashes, never a password.
set -eu

TEMPLATE=/etc/kubernaut-redis/conf/redis.conf
ACL_TEMPLATE=/etc/kubernaut-redis/conf/users.acl
EFFECTIVE_CONF=/tmp/redis.conf

die() {
    printf '%s cache-start: ERROR: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*" >&2
    exit 1
}

# The ConfigMap mounts it beside this script; in the repo it is one folder up.
# shellcheck source-path=SCRIPTDIR
# shellcheck source=../passwords.sh
. "$(dirname -- "$0")/passwords.sh"

[ -n "${ENGINE_SERVER:-}" ] || die "environment variable ENGINE_SERVER is not set"
[ -r "$TEMPLATE" ] || die "cannot read $TEMPLATE"
[ -r "$ACL_TEMPLATE" ] || die "cannot read $ACL_TEMPLATE"
users=$(acl_file_lines "$ACL_TEMPLATE") || die "cannot build the ACL users from $ACL_TEMPLATE"

umask 077
{
    cat "$TEMPLATE"
    printf '\n# ACL users, written by cache-start.sh from %s and the Secret.\n%s\n' "$ACL_TEMPLATE" "$users"
} >"$EFFECTIVE_CONF.tmp" || die "cannot write $EFFECTIVE_CONF.tmp"
mv -f "$EFFECTIVE_CONF.tmp" "$EFFECTIVE_CONF"
# redis-server or valkey-server (ENGINE_SERVER from the pod spec: stack_config/engines.py).
exec "$ENGINE_SERVER" "$EFFECTIVE_CONF"
