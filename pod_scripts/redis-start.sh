#!/bin/sh
# Starts the redis container of a gateway pod (command: sh redis-start.sh).
#
# 1. Waits, bounded by DNS_WAIT_SECONDS, until the pod's own DNS name resolves: replicas and
#    sentinels address this node only by that name.
# 2. Decides whom to follow: the master named by the peer sentinels (the newest config epoch,
#    asked for up to BOOT_PEER_WAIT_SECONDS), else the master the sentinel.conf persisted on this
#    pod's volume names, else a master some peer runs; pod 0 becomes master only on a genuine
#    first bootstrap (no data here, no state, no peer master).
# 3. Writes /data/conf/redis.conf (the template plus per-pod lines) and execs the server.
#
# When the answer names this pod itself, it restarted while still the recorded master, and its
# data may be older than a replica's (an RDB written minutes ago, or none). Taking the master
# role blindly would make the replicas resync to that older data. So it starts as a replica
# (it accepts no write and, with its master link down, serves no sync either) and then follows
# a node that is master or becoming it (a failover may already run), else follows the peer with
# newer data (a higher replication offset) and asks a peer sentinel for a failover, else takes
# the master role back.
set -eu
SCRIPT_NAME=redis-start
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
. "$(dirname -- "$0")/common.sh"

# How long the claim of a restarted master waits for its own dataset to load.
LOAD_WAIT_SECONDS=600

prepare_directories() {
    umask 077
    mkdir -p "$REDIS_DATA_DIR" "$REDIS_CONF_DIR" || die "cannot create directories under $DATA_DIR (volume writable by uid $(id -u)?)"
}

has_local_data() {
    [ -e "$REDIS_DATA_DIR/dump.rdb" ] || [ -e "$REDIS_DATA_DIR/appendonlydir" ]
}

# The FQDN of a peer whose redis reports role:master right now, or nothing.
peer_running_as_master() {
    for peer in $(peer_ordinals); do
        peer_host=$(pod_fqdn "$peer")
        if [ "$(redis_cli "$peer_host" INFO replication 2>/dev/null | info_field role)" = master ]; then
            printf '%s\n' "$peer_host"
            return 0
        fi
    done
}

# Sets FOLLOW (the master to replicate; empty: this node is master) and CLAIM (yes: this node
# was the recorded master and must first show that no peer has newer data).
decide_role() {
    FOLLOW=
    CLAIM=no
    CLAIM_EPOCH=0
    live_view=$(wait_for_peer_sentinels_master "$BOOT_PEER_WAIT_SECONDS")
    disk_view=$(persisted_master)
    view=$(newer_view "$live_view" "$disk_view")
    if [ -n "$view" ]; then
        recorded=${view#* }
        log "recorded master: $recorded (config epoch ${view%% *}; peer sentinels: ${live_view:-no answer}; persisted: ${disk_view:-none})"
        if [ "$recorded" = "$MY_FQDN" ]; then
            CLAIM=yes
            CLAIM_EPOCH=${view%% *}
        else
            FOLLOW=$recorded
        fi
        return 0
    fi
    running=$(peer_running_as_master)
    if [ -n "$running" ]; then
        log "no sentinel state anywhere, but $running runs as master: following it"
        FOLLOW=$running
    elif [ "$MY_ORDINAL" != 0 ]; then
        log "no sentinel state and no master anywhere: following pod 0, which bootstraps the set"
        FOLLOW=$(pod_fqdn 0)
    elif has_local_data; then
        log "no sentinel state anywhere, but this pod has data: claiming the master role against the peers' offsets"
        CLAIM=yes
    else
        log "first bootstrap (no data, no sentinel state, no peer master): starting as master"
    fi
}

# While it claims, the node starts as a replica of the peer most likely to have the newest
# data, so that it accepts no write before the comparison.
placeholder_master() {
    best=$(best_peer_by_offset)
    if [ -n "$best" ]; then
        printf '%s\n' "${best#* }"
    else
        pod_fqdn "$(peer_ordinals | head -n 1)"
    fi
}

write_redis_conf() {
    [ -r "$TEMPLATE_DIR/redis.conf" ] || die "cannot read $TEMPLATE_DIR/redis.conf"
    {
        cat "$TEMPLATE_DIR/redis.conf"
        printf '\n# Per-pod lines, written by redis-start.sh at boot.\n'
        printf 'replica-announce-ip %s\n' "$MY_FQDN"
        if [ -n "${REDIS_PASSWORD:-}" ]; then
            # masterauth on every node: a master that is later demoted must authenticate too.
            printf 'requirepass "%s"\n' "$REDIS_PASSWORD"
            printf 'masterauth "%s"\n' "$REDIS_PASSWORD"
        fi
        if [ -n "$1" ]; then
            printf 'replicaof %s %s\n' "$1" "$REDIS_PORT"
        fi
    } | write_file_atomically "$REDIS_CONF"
}

# ------------------------------------------------------------------ the claim of a restarted master

wait_until_loaded() {
    load_deadline=$(($(now_seconds) + LOAD_WAIT_SECONDS))
    until [ "$(redis_cli "$LOCAL_HOST" PING 2>/dev/null)" = PONG ]; do
        [ "$(now_seconds)" -lt "$load_deadline" ] || return 1
        sleep 1
    done
}

# Peer offsets as "<offset> <fqdn>", waiting up to BOOT_PEER_WAIT_SECONDS for every peer to answer.
collect_peer_offsets() {
    collect_deadline=$(($(now_seconds) + BOOT_PEER_WAIT_SECONDS))
    peers_total=$((REPLICAS - 1))
    while :; do
        offsets=$(for peer in $(peer_ordinals); do
            peer_host=$(pod_fqdn "$peer")
            peer_offset=$(replication_offset_of "$peer_host")
            case $peer_offset in '' | *[!0-9]*) ;; *) printf '%s %s\n' "$peer_offset" "$peer_host" ;; esac
        done)
        answered=$(printf '%s' "$offsets" | grep -c . || true)
        if [ "$answered" -ge "$peers_total" ] || [ "$(now_seconds)" -ge "$collect_deadline" ]; then
            printf '%s\n' "$offsets"
            return 0
        fi
        sleep 1
    done
}

take_master_role() {
    reply=$(redis_cli "$LOCAL_HOST" REPLICAOF NO ONE 2>&1) || true
    log "taking the master role back ($1): REPLICAOF NO ONE -> $reply"
}

follow() {
    reply=$(redis_cli "$LOCAL_HOST" REPLICAOF "$1" "$REDIS_PORT" 2>&1) || true
    log "$2: replica of $1 ($reply)"
}

# Another node that is master or about to become it, so that this one must not take the role:
# a peer that runs as master, a sentinel failing the set over (its new master, or "wait" while it
# has not promoted one yet), or a sentinel naming another master in a newer configuration than
# the one the claim rests on. Nothing when all of them still point at this pod.
master_elsewhere() {
    running=$(peer_running_as_master)
    if [ -n "$running" ]; then
        printf '%s\n' "$running"
        return 0
    fi
    for sentinel_host in "$LOCAL_HOST" $(for peer in $(peer_ordinals); do pod_fqdn "$peer"; done); do
        view=$(sentinel_view_at "$sentinel_host")
        case $view in
            '') ;;
            failover)
                named=$(sentinel_named_master_at "$sentinel_host")
                if [ -n "$named" ] && [ "$named" != "$MY_FQDN" ]; then
                    printf '%s\n' "$named"
                else
                    printf 'wait\n'
                fi
                return 0 ;;
            *)
                if [ "${view#* }" != "$MY_FQDN" ] && [ "${view%% *}" -gt "$CLAIM_EPOCH" ]; then
                    printf '%s\n' "${view#* }"
                    return 0
                fi ;;
        esac
    done
}

# Follows the master elsewhere and returns 0, or returns 1 when there is none (after waiting,
# up to the failover timeout, for a failover in progress to name its master).
follow_master_elsewhere() {
    settle_deadline=$(($(now_seconds) + FAILOVER_TIMEOUT_SECONDS))
    while :; do
        elsewhere=$(master_elsewhere)
        case $elsewhere in
            '') return 1 ;;
            wait)
                if [ "$(now_seconds)" -ge "$settle_deadline" ]; then
                    log "WARNING: a failover is still running after $FAILOVER_TIMEOUT_SECONDS s: role left as replica for Sentinel to settle"
                    return 0
                fi
                sleep 1 ;;
            *)
                follow "$elsewhere" "$elsewhere is master or becoming it"
                return 0 ;;
        esac
    done
}

# Asks peer sentinels to fail over until one of them names another master.
request_failover_away() {
    failover_deadline=$(($(now_seconds) + BOOT_PEER_WAIT_SECONDS + FAILOVER_TIMEOUT_SECONDS))
    while [ "$(now_seconds)" -lt "$failover_deadline" ]; do
        for peer in $(peer_ordinals); do
            named=$(sentinel_named_master_at "$(pod_fqdn "$peer")")
            if [ -n "$named" ] && [ "$named" != "$MY_FQDN" ]; then
                log "sentinel of pod $peer names $named as master: failover done"
                return 0
            fi
        done
        for peer in $(peer_ordinals); do
            reply=$(sentinel_cli "$(pod_fqdn "$peer")" SENTINEL FAILOVER "$MASTER_SET" 2>&1) || true
            case $reply in
                OK | *INPROG*) log "sentinel of pod $peer: SENTINEL FAILOVER -> $reply"; break ;;
            esac
        done
        sleep 1
    done
    log "WARNING: sentinels still name this pod as master; Sentinel fails over on its own once it sees the master report the replica role"
}

# Runs in the background next to redis-server and settles the role of a restarted recorded
# master: follow a node that is (becoming) master; else follow the peer with newer data and
# ask for a failover; else take the master role back. The check for another master runs again
# right before the role is taken: collecting the offsets can take seconds.
claim_master_role() {
    failover_timeout_ms=$(sentinel_setting "$TEMPLATE_DIR/sentinel.conf" failover-timeout)
    FAILOVER_TIMEOUT_SECONDS=$((${failover_timeout_ms:-10000} / 1000))
    if ! wait_until_loaded; then
        log "WARNING: redis did not load its data within $LOAD_WAIT_SECONDS s: role left as replica"
        return 0
    fi
    follow_master_elsewhere && return 0
    my_offset=$(replication_offset_of "$LOCAL_HOST")
    my_offset=${my_offset:-0}
    best=$(collect_peer_offsets | sort -n -k1,1 | tail -n 1)
    if [ -n "$best" ] && [ "$my_offset" -lt "${best%% *}" ]; then
        follow "${best#* }" "data older than ${best#* } (offset $my_offset < ${best%% *}); asking for a failover"
        request_failover_away
        return 0
    fi
    follow_master_elsewhere && return 0
    take_master_role "offset $my_offset, peers: ${best:-no answer}"
}

main() {
    load_pod_identity
    log "starting $MY_FQDN (ordinal $MY_ORDINAL of $REPLICAS)"
    wait_for_own_dns
    prepare_directories
    decide_role
    if [ "$CLAIM" = yes ]; then
        FOLLOW=$(placeholder_master)
        log "recorded master is this pod: starting as a replica of $FOLLOW until the offsets are compared"
        write_redis_conf "$FOLLOW"
        claim_master_role &
    elif [ -n "$FOLLOW" ]; then
        log "starting as a replica of $FOLLOW"
        write_redis_conf "$FOLLOW"
    else
        log "starting as master"
        write_redis_conf ""
    fi
    exec_server "$REDIS_CONF"
}

main "$@"
