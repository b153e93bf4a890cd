# shellcheck shell=sh
# The fenced handover of the master role; sourced after common.sh by redis-prestop.sh (a master
# pod that stops) and redis-switchover.sh (an operator's planned switchover), never run.
#
# A plain SENTINEL FAILOVER is not enough: the demoted master keeps accepting writes until
# Sentinel converts it (seconds), and clients that still talk to it lose those writes. So:
#  1. CLIENT PAUSE WRITE (bounded): no write is accepted here from now on;
#  2. wait until the online replicas have every byte of the replication stream (bounded),
#     asking each replica for its own offset;
#  3. SENTINEL FAILOVER through a PEER sentinel (in a stopping pod this pod's sentinel is
#     stopping too);
#  4. as soon as that sentinel names the new master, REPLICAOF it: the paused writes now fail
#     with READONLY instead of being acknowledged by a node that is no longer master. A pod that
#     stops (`handover close`) first closes its TCP port (the local calls go through the unix
#     socket): a client that the master-only endpoint sends here before its next check finds
#     the node gone and retries, instead of being served by a replica (READONLY);
#  5. CLIENT UNPAUSE and CLIENT KILL TYPE normal, so clients reconnect through Sentinel or the
#     master-only endpoint to the new master.
# The pause also holds the PUBLISHes of the sentinels' hello messages to this node; that does
# not matter: they publish to every replica too, and the failover does not depend on them.

# A preStop hook must end well within terminationGracePeriodSeconds, which the config validates to
# be at least down-after + 15 s. The whole handover gets down-after + HANDOVER_SLACK_SECONDS.
HANDOVER_SLACK_SECONDS=10
REPLICA_CATCH_UP_SECONDS=5

# The announced name (FQDN) of every replica in state online, from INFO replication text on stdin.
online_replicas() {
    tr -d '\r' | awk -F, '/^slave[0-9]+:/ {
        sub(/^slave[0-9]+:/, ""); ip = ""; state = ""
        for (i = 1; i <= NF; i++) {
            split($i, kv, "=")
            if (kv[1] == "ip") ip = kv[2]; else if (kv[1] == "state") state = kv[2]
        }
        if (state == "online") print ip
    }'
}

local_info() {
    redis_cli "$LOCAL_SOCKET" INFO replication 2>/dev/null
}

handover_budget_seconds() {
    down_after_ms=$(sentinel_setting "$TEMPLATE_DIR/sentinel.conf" down-after-milliseconds)
    printf '%s\n' $(((${down_after_ms:-5000} + 999) / 1000 + HANDOVER_SLACK_SECONDS))
}

# The replication offset that replica <host> has processed, as the replica itself reports it
# (the master's INFO shows a replica's offset only as of its last REPLCONF ACK, sent once a
# second: waiting on that costs up to a second of paused writes).
replica_offset() {
    redis_cli "$1" INFO replication 2>/dev/null | info_field slave_repl_offset
}

# How many of the replicas (one FQDN per line on stdin) have processed <offset>.
count_caught_up() {
    count=0
    while read -r replica_host; do
        [ -n "$replica_host" ] || continue
        reached=$(replica_offset "$replica_host")
        case $reached in
            '' | *[!0-9]*) ;;
            *) [ "$reached" -ge "$1" ] && count=$((count + 1)) ;;
        esac
    done
    printf '%s\n' "$count"
}

# Waits until every online replica has reached <offset>; prints how many did (0 = none).
wait_for_replicas_to_catch_up() {
    catch_up_deadline=$(($(now_seconds) + REPLICA_CATCH_UP_SECONDS))
    while :; do
        replicas=$(local_info | online_replicas)
        total=$(printf '%s\n' "$replicas" | grep -c . || true)
        caught_up=$(printf '%s\n' "$replicas" | count_caught_up "$1")
        if [ "$total" -gt 0 ] && [ "$caught_up" -eq "$total" ]; then
            printf '%s\n' "$caught_up"
            return 0
        fi
        if [ "$(now_seconds)" -ge "$catch_up_deadline" ]; then
            log "after ${REPLICA_CATCH_UP_SECONDS} s, $caught_up of $total online replicas have offset $1"
            printf '%s\n' "$caught_up"
            return 0
        fi
        sleep 0.05
    done
}

# Prints the ordinal of the peer sentinel that accepted SENTINEL FAILOVER, or nothing. A sentinel
# in TILT (its timer stalled for 2 s: a starved node, a paused container) is passed over: it
# answers OK but acts late (tests/pod_runtime/test_gateway_pods.py, the TILT test, fails without
# this check: the handover then took 8 s with writes paused, against 1-2 s); should it act after
# the handover's budget, the others will have failed over on their own, and it does again.
request_failover() {
    for peer in $(peer_ordinals); do
        tilt=$(sentinel_cli "$(pod_fqdn "$peer")" INFO sentinel 2>/dev/null | info_field sentinel_tilt) || tilt=
        if [ "$tilt" = 1 ]; then
            log "sentinel of pod $peer is in TILT: not asked to fail over"
            continue
        fi
        reply=$(sentinel_cli "$(pod_fqdn "$peer")" SENTINEL FAILOVER "$MASTER_SET" 2>&1) || true
        log "sentinel of pod $peer: SENTINEL FAILOVER -> $reply"
        case $reply in
            OK | *INPROG*) printf '%s\n' "$peer"; return 0 ;;
        esac
    done
}

# Prints the new master once the sentinel of pod <ordinal> (or any peer) names one, else nothing.
wait_for_new_master() {
    while [ "$(now_seconds)" -lt "$HANDOVER_DEADLINE" ]; do
        for peer in "$1" $(peer_ordinals); do
            named=$(sentinel_named_master_at "$(pod_fqdn "$peer")")
            if [ -n "$named" ] && [ "$named" != "$MY_FQDN" ]; then
                printf '%s\n' "$named"
                return 0
            fi
        done
        sleep 0.1
    done
}

unpause() {
    redis_cli "$LOCAL_SOCKET" CLIENT UNPAUSE >/dev/null 2>&1 || true
}

# `handover close|keep`: the handover, on this pod's redis (it must be the master); `close` when
# the pod stops (its TCP port closes before it follows the new master), `keep` when it stays up
# as a replica (a planned switchover). Prints the new master's FQDN and
# returns 0 once it is named and this node replicates from it; otherwise logs why and returns:
# 10 not the master, 11 no online replica, 12 CLIENT PAUSE refused, 13 no replica caught up,
# 14 no peer sentinel out of TILT accepted the failover (writes resumed in each case: nothing changed), or
# 15 no new master named within the budget (writes stay paused until the pause expires: the
# role may still move, and unpausing could acknowledge writes on a node being replaced).
handover() {
    started=$(now_seconds)
    info=$(local_info) || true
    role=$(printf '%s\n' "$info" | info_field role)
    if [ "$role" != master ]; then
        log "role ${role:-unknown}: nothing to hand over"
        return 10
    fi
    if [ -z "$(printf '%s\n' "$info" | online_replicas)" ]; then
        log "master without an online replica: no handover"
        return 11
    fi

    budget=$(handover_budget_seconds)
    HANDOVER_DEADLINE=$((started + budget))
    reply=$(redis_cli "$LOCAL_SOCKET" CLIENT PAUSE "$((budget * 1000))" WRITE 2>&1) || true
    [ "$reply" = OK ] || { log "CLIENT PAUSE failed ($reply): no handover"; return 12; }
    offset=$(local_info | info_field master_repl_offset)
    log "writes paused for at most $budget s at offset $offset"

    if [ "$(wait_for_replicas_to_catch_up "$offset")" -eq 0 ]; then
        unpause
        log "no replica caught up: writes resumed, no handover"
        return 13
    fi

    leader=$(request_failover)
    if [ -z "$leader" ]; then
        unpause
        log "no peer sentinel accepted the failover: writes resumed, no handover"
        return 14
    fi

    new_master=$(wait_for_new_master "$leader")
    if [ -z "$new_master" ]; then
        log "WARNING: no new master named within $budget s: writes stay paused until the pause expires"
        return 15
    fi

    if [ "$1" = close ]; then
        reply=$(redis_cli "$LOCAL_SOCKET" CONFIG SET port 0 2>&1) || true
        log "port $REDIS_PORT closed to new connections -> $reply"
    fi
    reply=$(redis_cli "$LOCAL_SOCKET" REPLICAOF "$new_master" "$REDIS_PORT" 2>&1) || true
    log "sentinels name $new_master: REPLICAOF it -> $reply"
    unpause
    killed=$(redis_cli "$LOCAL_SOCKET" CLIENT KILL TYPE normal 2>&1) || true
    log "handover done in $(($(now_seconds) - started)) s; clients disconnected: $killed"
    printf '%s\n' "$new_master"
}
