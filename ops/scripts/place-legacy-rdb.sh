#!/bin/sh
# Puts the legacy master's RDB where a gateway pod of this stack loads it (python -m ops
# migrate-from-legacy runs it as root in a one-off pod that mounts the volumes; docs/migration.md).
#
#   sh place-legacy-rdb.sh SOURCE_RDB TARGET_VOLUME UID [CHECK_RDB]
#
# SOURCE_RDB is the dump.rdb the legacy master wrote when it stopped (its volume's /dump.rdb);
# TARGET_VOLUME is the volume of pod 0 of the new StatefulSet, where redis-start.sh looks for
# <volume>/redis/dump.rdb. Nothing is deleted: a dump.rdb already there is kept beside it as
# dump.rdb.before-migration, and the legacy files stay where they were. The copy is checked with
# the engine's checker (CHECK_RDB: redis-check-rdb, or valkey-check-rdb on Valkey images) before it
# takes the name dump.rdb, and the data directory is given to UID, the uid the gateway's
# containers run as.
set -eu

[ "$#" -eq 3 ] || [ "$#" -eq 4 ] || {
    echo "usage: sh place-legacy-rdb.sh SOURCE_RDB TARGET_VOLUME UID [CHECK_RDB]" >&2
    exit 2
}
source_rdb=$1
target_dir=$2/redis
uid=$3
check_rdb=${4:-redis-check-rdb}

if [ ! -s "$source_rdb" ]; then
    echo "place-legacy-rdb: $source_rdb is missing or empty: the legacy master wrote no RDB when it stopped" >&2
    exit 3
fi
mkdir -p "$target_dir"
if [ -e "$target_dir/dump.rdb" ]; then
    mv "$target_dir/dump.rdb" "$target_dir/dump.rdb.before-migration"
fi
cp "$source_rdb" "$target_dir/dump.rdb.migrating"
if ! "$check_rdb" "$target_dir/dump.rdb.migrating" >"$target_dir/check-rdb.log" 2>&1; then
    cat "$target_dir/check-rdb.log" >&2
    echo "place-legacy-rdb: $check_rdb refused the copy of $source_rdb" >&2
    exit 4
fi
mv "$target_dir/dump.rdb.migrating" "$target_dir/dump.rdb"
rm -f "$target_dir/check-rdb.log"
chown -R -h "$uid:$uid" "$target_dir"
chmod 0700 "$target_dir"
echo "place-legacy-rdb: $source_rdb -> $target_dir/dump.rdb ($(wc -c <"$target_dir/dump.rdb") bytes), owner $uid"
