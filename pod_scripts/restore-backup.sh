#!/bin/sh
# The restore init container of the gateway pods (gateway.backup.restoreFrom, components/backup.py):
# seeds a new stack from a backup. Only pod 0, and only when its data volume holds no dataset
# (no dump.rdb, no appendonlydir): it downloads the backup (RESTORE_FROM: an object name under
# S3_PREFIX, or "latest", the newest backup of the master set), checks its SHA-256 against the one
# the backup recorded and its RDB magic, and puts it where redis-start.sh finds it. pod 0 then
# claims the master role with it (redis-start.sh, "The claim") and the other pods replicate it.
# A pod with data, or any other pod, changes nothing: leaving restoreFrom set never overwrites data.
# Environment: POD_NAME, MASTER_SET, RESTORE_FROM, and s3.sh's S3 settings.
set -eu
SCRIPT_NAME=restore-backup
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
. "$(dirname -- "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR
# shellcheck source=s3.sh
. "$(dirname -- "$0")/s3.sh"

RDB_MAGIC=REDIS

main() {
    require_env POD_NAME MASTER_SET RESTORE_FROM
    ordinal=${POD_NAME##*-}
    if [ "$ordinal" != 0 ]; then
        log "pod $ordinal: only pod 0 restores a backup; the others replicate it"
        return 0
    fi
    if [ -e "$REDIS_DATA_DIR/dump.rdb" ] || [ -e "$REDIS_DATA_DIR/appendonlydir" ]; then
        log "$REDIS_DATA_DIR holds a dataset: nothing restored (restoreFrom seeds empty volumes only)"
        return 0
    fi
    s3_require_env
    started=$(now_seconds)
    if [ "$RESTORE_FROM" = latest ]; then
        key=$(s3_backups | tail -n 1) || die "cannot list the backups under $S3_PREFIX/"
        [ -n "$key" ] || die "no backup of $MASTER_SET under $S3_ENDPOINT/$S3_BUCKET/$S3_PREFIX/"
    else
        key=$S3_PREFIX/$RESTORE_FROM
    fi
    umask 077
    mkdir -p "$REDIS_DATA_DIR" || die "cannot create $REDIS_DATA_DIR (volume writable by uid $(id -u)?)"
    partial=$REDIS_DATA_DIR/dump.rdb.restore
    rm -f "$partial"
    log "downloading $key from $S3_ENDPOINT/$S3_BUCKET"
    s3_get "$key" "$partial" || die "cannot download $key"
    recorded=$(s3_recorded_sha256 "$key") || die "cannot read the metadata of $key"
    sum=$(sha256sum "$partial" | cut -d ' ' -f 1)
    [ -n "$recorded" ] || die "$key has no x-amz-meta-sha256: not a backup of this stack's backup Job"
    [ "$sum" = "$recorded" ] || die "$key: SHA-256 $sum, but the backup recorded $recorded (a damaged download?)"
    [ "$(head -c 5 "$partial")" = "$RDB_MAGIC" ] || die "$key does not start with $RDB_MAGIC: not an RDB"
    bytes=$(wc -c <"$partial" | tr -d ' ')
    mv "$partial" "$REDIS_DATA_DIR/dump.rdb"
    log "restored $key: $bytes bytes, sha256 $sum, in $(($(now_seconds) - started)) s"
}

main "$@"
