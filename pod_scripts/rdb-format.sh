# shellcheck shell=sh
# The RDB file on the volume against the engine about to load it; sourced by redis-start.sh,
# never run. The sourcing script defines die and log.
#
# An engine refuses to start on an RDB file of a newer format than it reads: Redis 8 writes
# format 12, which Redis 7.0 (it reads up to 10) and Valkey 8.1 (up to 11) refuse, and the
# container would crash-loop. Such a file is on a replica's volume after an upgrade was rolled
# back before the master moved (the replica ran the newer engine for a while). A replica's data
# is replaced by its master's at its first sync anyway, so the file is set aside, kept under
# another name, and the node starts empty and syncs. A node that would be master with such a
# file stops instead: its data is the set's, and only an engine that reads it may serve it.

# The format version in the header of <file> (REDIS0012 -> 12), or nothing when it has none.
rdb_format_of() {
    rdb_header=$(head -c 9 "$1" 2>/dev/null) || return 0
    case $rdb_header in
        # 1 prepended, 10000 taken off: "0012" read as a decimal number, not an octal one.
        REDIS[0-9][0-9][0-9][0-9]) printf '%s\n' "$((1${rdb_header#REDIS} - 10000))" ;;
    esac
}

# Whether this engine reads RDB format <version>: its own checker (ENGINE_CHECK_RDB) run on an
# empty file of that format (the header, the EOF opcode and a zero checksum, which means "not
# computed"). The answer comes from the engine, not from a table of versions kept here.
engine_reads_rdb_format() {
    rdb_probe=$(mktemp) || return 0 # unsure: the server decides
    printf 'REDIS%04d\377\0\0\0\0\0\0\0\0' "$1" >"$rdb_probe"
    rdb_status=0
    "$ENGINE_CHECK_RDB" "$rdb_probe" >/dev/null 2>&1 || rdb_status=1
    rm -f "$rdb_probe"
    return "$rdb_status"
}

# set_aside_unreadable_rdb <data dir> <follow|claim>: sets dump.rdb aside when the engine cannot
# read its format and the node starts as a replica (follow); stops when it would be master (claim).
set_aside_unreadable_rdb() {
    rdb_file="$1/dump.rdb"
    [ -f "$rdb_file" ] || return 0
    rdb_format=$(rdb_format_of "$rdb_file")
    [ -n "$rdb_format" ] || return 0
    ! engine_reads_rdb_format "$rdb_format" || return 0
    [ "$2" = follow ] ||
        die "$rdb_file has RDB format $rdb_format, which $ENGINE_SERVER cannot read, and this node would be master: run the engine that wrote it, or restore a backup"
    rdb_aside="$rdb_file.format-$rdb_format.$(date -u +%Y%m%dT%H%M%SZ)"
    mv "$rdb_file" "$rdb_aside" || die "cannot move $rdb_file aside"
    log "WARNING: $rdb_file has RDB format $rdb_format, which $ENGINE_SERVER cannot read (an upgrade rolled back): kept as $rdb_aside; starting empty, the master's data comes with the first sync"
}
