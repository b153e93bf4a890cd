#!/bin/sh
# A planned switchover: the master role moves to another pod with the preStop's fencing
# (handover.sh), and this pod stays up as a replica of the new master. Unlike a bare SENTINEL
# FAILOVER, no write is acknowledged by the old master once the new one is promoted.
#
# Run in the MASTER's redis container (python -m ops switchover finds it and runs this):
#   kubectl exec redis-gateway-<m> -c redis -- sh /opt/kubernaut-redis/bin/redis-switchover.sh [<ordinal>]
# <ordinal>: the pod to promote; without it Sentinel picks the best replica. To make Sentinel
# pick the chosen pod, the other online replicas get replica-priority 0 (never promoted) until
# every answering sentinel has seen it (Sentinel reads it from INFO, every 10 s outside a
# failover); their configured priority is set back when the script ends, however it ends. After
# a switchover it waits, as at the start, until every answering sentinel names the new master
# and sees the configured priority again: a sentinel that still saw 0 would refuse the next
# handover (NOGOODSLAVE), and a pod deleted in those seconds (a rollout, a drain) would stop
# without one, failing over only after down-after.
#
# Prints the new master's FQDN and exits 0 once the sentinels name it; otherwise exits 1 with
# why (the role has not moved, except after "no new master named", where it may still move).
set -eu
SCRIPT_NAME=redis-switchover
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
. "$(dirname -- "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR
# shellcheck source=handover.sh
. "$(dirname -- "$0")/handover.sh"
# shellcheck source-path=SCRIPTDIR
# shellcheck source=passwords.sh
. "$(dirname -- "$0")/passwords.sh"

# Sentinel refreshes a replica's INFO every 10 s: two periods and a margin.
PRIORITY_SEEN_SECONDS=25
DEMOTED_REPLICAS=

# "<replica fqdn> <slave-priority>" per replica the sentinel at <host> knows (SENTINEL REPLICAS).
sentinel_replica_priorities() {
    sentinel_cli "$1" SENTINEL REPLICAS "$MASTER_SET" 2>/dev/null | tr -d '\r' | awk '
        NR % 2 == 1 { key = $0; next }
        key == "name" && ip != "" { print ip, priority; ip = ""; priority = "" }
        key == "ip" { ip = $0 }
        key == "slave-priority" { priority = $0 }
        END { if (ip != "") print ip, priority }'
}

# Whether every answering sentinel reports priority <priority> for each replica of <replicas>
# (and, given <master>, names <master>).
sentinels_see_priority() {
    for ordinal in $MY_ORDINAL $(peer_ordinals); do
        priorities=$(sentinel_replica_priorities "$(pod_fqdn "$ordinal")")
        [ -n "$priorities" ] || continue
        [ -z "${3:-}" ] || [ "$(sentinel_named_master_at "$(pod_fqdn "$ordinal")")" = "$3" ] || return 1
        for replica in $2; do
            printf '%s\n' "$priorities" | grep -qx "$replica $1" || return 1
        done
    done
}

# Waits, at most PRIORITY_SEEN_SECONDS, until every answering sentinel reports priority
# <priority> for each replica of <replicas> (and names [<master>]); returns 1 when they do not.
wait_until_sentinels_see_priority() {
    seen_deadline=$(($(now_seconds) + PRIORITY_SEEN_SECONDS))
    until sentinels_see_priority "$1" "$2" "${3:-}"; do
        [ "$(now_seconds)" -lt "$seen_deadline" ] || return 1
        sleep 1
    done
}

configured_priority() {
    redis_setting "$TEMPLATE_DIR/redis.conf" replica-priority 100
}

restore_priorities() {
    configured=$(configured_priority)
    for replica in $DEMOTED_REPLICAS; do
        reply=$(redis_cli "$replica" CONFIG SET replica-priority "$configured" 2>&1) || true
        log "$replica: replica-priority $configured again -> $reply"
    done
    DEMOTED_REPLICAS=
}

# Makes the pod of <ordinal> the only promotable online replica, as every sentinel sees it.
choose() {
    target_fqdn=$(pod_fqdn "$1")
    replicas=$(local_info | online_replicas)
    printf '%s\n' "$replicas" | grep -qx "$target_fqdn" ||
        die "pod $1 ($target_fqdn) is not an online replica of this master; online: $(printf '%s\n' "$replicas" | tr '\n' ' ')"
    trap restore_priorities EXIT
    trap 'exit 1' INT TERM HUP
    for replica in $replicas; do
        [ "$replica" != "$target_fqdn" ] || continue
        reply=$(redis_cli "$replica" CONFIG SET replica-priority 0 2>&1) || true
        [ "$reply" = OK ] || die "$replica: CONFIG SET replica-priority 0 failed ($reply)"
        DEMOTED_REPLICAS="$DEMOTED_REPLICAS $replica"
    done
    wait_until_sentinels_see_priority 0 "$DEMOTED_REPLICAS" ||
        die "after $PRIORITY_SEEN_SECONDS s not every sentinel sees replica-priority 0 of:$DEMOTED_REPLICAS"
    log "every answering sentinel sees replica-priority 0 of:${DEMOTED_REPLICAS:- (no other replica)}"
}

main() {
    load_pod_identity
    if [ $# -gt 0 ]; then
        case $1 in
            '' | *[!0-9]*) die "usage: $0 [<ordinal of the pod to promote>], got '$1'" ;;
        esac
        pods=$(topology_replicas)
        [ "$1" -lt "$pods" ] || die "no pod $1: the ordinals are 0..$((pods - 1))"
        [ "$1" != "$MY_ORDINAL" ] || die "pod $1 is this pod, the master"
        choose "$1"
    fi
    status=0
    new_master=$(handover keep) || status=$?
    case $status in
        0) ;;
        10) die "this pod is not the master: run this in the master's redis container" ;;
        15) die "no new master named in time: writes here stay paused until the pause expires; check SENTINEL MASTER" ;;
        *) die "no switchover (handover status $status); the master is unchanged" ;;
    esac
    if [ $# -gt 0 ] && [ "$new_master" != "$(pod_fqdn "$1")" ]; then
        die "the sentinels promoted $new_master, not pod $1"
    fi
    restored=$DEMOTED_REPLICAS
    restore_priorities
    if [ -n "$restored" ]; then
        priority=$(configured_priority)
        if wait_until_sentinels_see_priority "$priority" "$restored" "$new_master"; then
            log "every answering sentinel names $new_master and sees replica-priority $priority of:$restored"
        else
            log "WARNING: after $PRIORITY_SEEN_SECONDS s not every sentinel names $new_master and sees" \
                "replica-priority $priority of:$restored: a handover may be refused (NOGOODSLAVE) until they do"
        fi
    fi
    log "switchover done: the master is $new_master"
    printf '%s\n' "$new_master"
}

main "$@"
