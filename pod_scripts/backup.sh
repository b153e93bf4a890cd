#!/bin/sh
# The backup Job's command (components/backup.py, CronJob redis-gateway-backup):
#  1. asks the sentinels for the replicas of the master set and picks the linked replica with the
#     highest replication offset: never the master, whose fork for the snapshot would stall the
#     Gateway's writes; no linked replica, no backup (the Job fails, and says why);
#  2. takes that replica's RDB with the CLI's --rdb (the replica forks, as for a new replica of
#     its own) as the ACL user `backup`, into the Job's scratch volume, and checks it starts with
#     the RDB magic;
#  3. uploads it as <S3_PREFIX>/<MASTER_SET>-<UTC time>.rdb with its SHA-256 in the object's
#     metadata, which the restore checks;
#  4. deletes the oldest backups of the master set under the prefix beyond BACKUP_RETENTION
#     (only after an upload succeeded: a failing backup never deletes one).
# Environment: common.sh's cluster identity, s3.sh's S3 settings, BACKUP_RETENTION, WORK_DIR;
# SENTINEL_PASSWORD and ACL_BACKUP_PASSWORD when auth is on.
set -eu
SCRIPT_NAME=backup
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
. "$(dirname -- "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR
# shellcheck source=s3.sh
. "$(dirname -- "$0")/s3.sh"

# The RDB's first bytes, whatever its format version.
RDB_MAGIC=REDIS
# How long the sentinels may take to name a linked replica. A new pod's first connections can be
# dropped for a few seconds until the network plugin has admitted its address (measured on the
# lab's kube-router: a Job started right after another one found no sentinel for about 10 s); a
# failover in progress leaves no linked replica for a while either.
ANSWER_WAIT_SECONDS=60
# S3's limit for one PUT; a larger object needs a multipart upload, which curl cannot make.
MAX_OBJECT_BYTES=5368709120

# "<offset> <host> <port>" of every replica a sentinel lists as linked (flags exactly "slave",
# master-link-status ok), one per line.
linked_replicas() {
    sentinel_cli "$1" SENTINEL REPLICAS "$MASTER_SET" 2>/dev/null | tr -d '\r' | awk '
        function flush() { if (name != "" && flags == "slave" && link == "ok") print offset, ip, port }
        NR % 2 == 1 { key = $0; next }
        key == "name" { flush(); name = $0; flags = ""; link = ""; offset = 0 }
        key == "ip" { ip = $0 }
        key == "port" { port = $0 }
        key == "flags" { flags = $0 }
        key == "master-link-status" { link = $0 }
        key == "slave-repl-offset" { offset = $0 }
        END { flush() }'
}

# "<host> <port>" of the linked replica with the highest offset, as the first sentinel that
# answers with one sees it; asked again until ANSWER_WAIT_SECONDS have passed.
pick_replica() {
    pick_deadline=$(($(now_seconds) + ANSWER_WAIT_SECONDS))
    while :; do
        for ordinal in $(pod_ordinals); do
            best=$(linked_replicas "$(pod_fqdn "$ordinal")" | sort -n -r | head -n 1)
            if [ -n "$best" ]; then
                printf '%s\n' "${best#* }"
                return 0
            fi
        done
        [ "$(now_seconds)" -lt "$pick_deadline" ] || return 1
        sleep 2
    done
}

backup_cli() {
    backup_host=$1
    shift
    if [ -n "${ACL_BACKUP_PASSWORD:-}" ]; then
        REDISCLI_AUTH=$ACL_BACKUP_PASSWORD "$ENGINE_CLI" --no-auth-warning --user backup \
            -h "$backup_host" -p "$REDIS_PORT" "$@"
    else
        (unset REDISCLI_AUTH; "$ENGINE_CLI" -h "$backup_host" -p "$REDIS_PORT" "$@")
    fi
}

prune() {
    backups=$(s3_backups) || die "cannot list the backups under $S3_PREFIX/ (nothing was deleted)"
    count=$(printf '%s\n' "$backups" | grep -c . || true)
    excess=$((count - BACKUP_RETENTION))
    [ "$excess" -gt 0 ] || { log "$count backup(s) under $S3_PREFIX/, retention $BACKUP_RETENTION: none deleted"; return 0; }
    printf '%s\n' "$backups" | head -n "$excess" | while read -r old; do
        s3_delete "$old" || die "cannot delete $old"
        log "deleted $old (retention $BACKUP_RETENTION)"
    done
}

main() {
    load_cluster_identity
    s3_require_env
    require_env BACKUP_RETENTION WORK_DIR
    require_number BACKUP_RETENTION "$BACKUP_RETENTION"
    started=$(now_seconds)
    source=$(pick_replica) ||
        die "no sentinel listed a linked replica of $MASTER_SET within $ANSWER_WAIT_SECONDS s: no backup (never from the master)"
    host=${source% *}
    port=${source#* }
    [ "$port" = "$REDIS_PORT" ] || die "replica $host listens on $port, not $REDIS_PORT"
    role=$(backup_cli "$host" INFO replication | info_field role)
    [ "$role" = slave ] || die "$host answers role:${role:-nothing}, not slave: no backup from it"
    file=$WORK_DIR/dump.rdb
    rm -f "$file"
    log "taking the RDB of replica $host"
    backup_cli "$host" --rdb "$file" >&2 || die "the RDB of $host could not be taken"
    [ "$(head -c 5 "$file")" = "$RDB_MAGIC" ] || die "$file does not start with $RDB_MAGIC: not an RDB"
    bytes=$(wc -c <"$file" | tr -d ' ')
    [ "$bytes" -le "$MAX_OBJECT_BYTES" ] ||
        die "the RDB has $bytes bytes, more than one S3 PUT takes ($MAX_OBJECT_BYTES): not uploaded"
    sum=$(sha256sum "$file" | cut -d ' ' -f 1)
    taken=$(now_seconds)
    key=$S3_PREFIX/$MASTER_SET-$(date -u +%Y%m%dT%H%M%SZ).rdb
    s3_put "$file" "$key" "$sum" || die "cannot upload $key to $S3_ENDPOINT/$S3_BUCKET"
    rm -f "$file"
    uploaded=$(now_seconds)
    log "backup $key: $bytes bytes from $host, sha256 $sum, RDB in $((taken - started)) s, upload in $((uploaded - taken)) s"
    prune
}

main "$@"
