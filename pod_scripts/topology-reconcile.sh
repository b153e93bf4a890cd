#!/bin/sh
# The topology Job's command (components/topology_job.py): applies ConfigMap
# redis-gateway-topology to the running sentinels once `pulumi up` has changed the pod count (or
# the quorum), so that a scale rolls no pod:
#  1. the quorum: SENTINEL SET <set> quorum <n> on the sentinel of every pod 0..replicas-1;
#  2. the pods a scale-in removed: a sentinel keeps every sentinel and replica it ever knew, and
#     only SENTINEL RESET forgets them. A ghost is not harmless: a sentinel needs the votes of a
#     majority of the sentinels it knows to fail over, so after 5 -> 3 the 3 live sentinels, each
#     knowing 5, need all 3 votes: one more pod down and no failover. Once every ghost is judged
#     down (s_down), each sentinel that knows one is reset, one at a time, never while a failover
#     runs, and waited for until it knows every remaining pod again (hello messages every 2 s,
#     the replicas from the master's INFO), so that at most one sentinel relearns its peers at
#     any moment.
# Exits 0 once every sentinel has the quorum and exactly the remaining pods as peers and
# replicas; 1 with what is wrong otherwise (the Job fails, and `pulumi up` with it), a sentinel
# that does not answer within ANSWER_WAIT_SECONDS included.
set -eu
SCRIPT_NAME=topology-reconcile
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
. "$(dirname -- "$0")/common.sh"

# How long the sentinels may take to answer the Job, the removed pods to be judged down, and a
# reset sentinel to relearn its peers.
ANSWER_WAIT_SECONDS=120
GHOST_DOWN_WAIT_SECONDS=120
RELEARN_WAIT_SECONDS=60

# "<key> <value>" per line of a flat CLI reply of alternating keys and values (SENTINEL MASTER).
pairs() {
    tr -d '\r' | awk 'NR % 2 == 1 { key = $0; next } { print key " " $0 }'
}

# The value of <key> in the SENTINEL MASTER reply of the sentinel at <host>; nothing if silent.
master_field() {
    sentinel_cli "$1" SENTINEL MASTER "$MASTER_SET" 2>/dev/null | pairs | sed -n "s/^$2 //p"
}

# "<name> <flags>" of every sentinel (SENTINELS) or replica (REPLICAS) the sentinel at <host>
# knows: the value after each `ip` and `flags` key of the flattened list of maps.
known() {
    sentinel_cli "$1" SENTINEL "$2" "$MASTER_SET" 2>/dev/null | tr -d '\r' | awk '
        previous == "ip" { name = $0 }
        previous == "flags" { print name " " $0 }
        { previous = $0 }'
}

# The names a sentinel knows that are not pods of the current topology, one per line, with flags.
ghosts_at() {
    { known "$1" SENTINELS; known "$1" REPLICAS; } | while read -r ghost_name ghost_flags; do
        is_member_fqdn "$ghost_name" || printf '%s %s\n' "$ghost_name" "$ghost_flags"
    done
}

# Whether the sentinel of pod <ordinal> answers PING.
answers() {
    [ "$(sentinel_cli "$(pod_fqdn "$1")" PING 2>/dev/null | tr -d '\r')" = PONG ]
}

# Waits until the sentinel of every pod answers. `pulumi up` starts the Job once every pod is
# Ready, but the Job's own pod may not reach them at once (a network policy enforcer learns a new
# pod's address a few seconds after it starts), and during a staged rollout pods restart.
wait_for_every_sentinel() {
    deadline=$(($(now_seconds) + ANSWER_WAIT_SECONDS))
    for waiting_ordinal in $(pod_ordinals); do
        until answers "$waiting_ordinal"; do
            if [ "$(now_seconds)" -ge "$deadline" ]; then
                log "the sentinel of pod $waiting_ordinal does not answer after $ANSWER_WAIT_SECONDS s"
                return 1
            fi
            sleep 1
        done
    done
}

set_quorum() {
    host=$(pod_fqdn "$1")
    current=$(master_field "$host" quorum)
    [ "$current" != "$QUORUM" ] || return 0
    reply=$(sentinel_cli "$host" SENTINEL SET "$MASTER_SET" quorum "$QUORUM" 2>&1 | tr -d '\r') || true
    log "sentinel of pod $1: quorum ${current:-?} -> $QUORUM: $reply"
    [ "$reply" = OK ]
}

# Waits until every ghost the sentinel of pod <ordinal> knows is flagged s_down (it no longer
# answers): a reset before that would relearn a pod that is still stopping.
wait_for_ghosts_down() {
    host=$(pod_fqdn "$1")
    deadline=$(($(now_seconds) + GHOST_DOWN_WAIT_SECONDS))
    while :; do
        alive=$(ghosts_at "$host" | grep -v s_down || true)
        [ -n "$alive" ] || return 0
        [ "$(now_seconds)" -lt "$deadline" ] || { log "after $GHOST_DOWN_WAIT_SECONDS s still up: $alive"; return 1; }
        sleep 1
    done
}

# Waits until the sentinel at <host> runs no failover and sees the master up.
wait_for_calm() {
    deadline=$(($(now_seconds) + RELEARN_WAIT_SECONDS))
    while [ "$(master_field "$1" flags)" != master ]; do
        [ "$(now_seconds)" -lt "$deadline" ] || return 1
        sleep 1
    done
}

# Whether the sentinel at <host> knows exactly the other pods as sentinels and replicas.
knows_the_pods() {
    expected=$(($(topology_replicas) - 1))
    [ "$(master_field "$1" num-other-sentinels)" = "$expected" ] &&
        [ "$(master_field "$1" num-slaves)" = "$expected" ] &&
        [ -z "$(ghosts_at "$1")" ]
}

forget_ghosts() {
    host=$(pod_fqdn "$1")
    [ -n "$(ghosts_at "$host")" ] || return 0
    wait_for_ghosts_down "$1" || return 1
    wait_for_calm "$host" || { log "sentinel of pod $1: a failover runs or the master is down: not reset"; return 1; }
    log "sentinel of pod $1 forgets: $(ghosts_at "$host" | tr '\n' ';')"
    reply=$(sentinel_cli "$host" SENTINEL RESET "$MASTER_SET" 2>&1 | tr -d '\r') || true
    [ "$reply" = 1 ] || { log "sentinel of pod $1: SENTINEL RESET -> $reply"; return 1; }
    deadline=$(($(now_seconds) + RELEARN_WAIT_SECONDS))
    until knows_the_pods "$host"; do
        [ "$(now_seconds)" -lt "$deadline" ] || {
            log "sentinel of pod $1: after $RELEARN_WAIT_SECONDS s knows $(master_field "$host" num-other-sentinels) sentinel(s), $(master_field "$host" num-slaves) replica(s)"
            return 1
        }
        sleep 1
    done
    log "sentinel of pod $1 knows the $(topology_replicas) pods again"
}

# What is wrong with the sentinel of pod <ordinal>, one line per problem; nothing when right.
problems_of() {
    host=$(pod_fqdn "$1")
    quorum=$(master_field "$host" quorum)
    [ "$quorum" = "$QUORUM" ] || printf 'sentinel of pod %s: quorum %s, not %s\n' "$1" "${quorum:-?}" "$QUORUM"
    knows_the_pods "$host" ||
        printf 'sentinel of pod %s: %s other sentinel(s), %s replica(s), not %s each; unknown: %s\n' "$1" \
            "$(master_field "$host" num-other-sentinels)" "$(master_field "$host" num-slaves)" \
            "$(($(topology_replicas) - 1))" "$(ghosts_at "$host" | tr '\n' ';')"
}

# Waits, at most RELEARN_WAIT_SECONDS in all, until every sentinel knows exactly the pods: pods
# that have just started (a new set, a scale-out) are learned from hello messages (every 2 s)
# and the master's INFO (every 10 s), so a sentinel may not know them yet when the StatefulSet is
# Ready. Returns either way: problems_of reports what is still wrong. Only a sentinel that was not
# reset can wait here (a reset one was waited for already), so this fits the Job's deadline.
wait_until_every_sentinel_knows_the_pods() {
    deadline=$(($(now_seconds) + RELEARN_WAIT_SECONDS))
    for ordinal in $1; do
        until knows_the_pods "$(pod_fqdn "$ordinal")"; do
            [ "$(now_seconds)" -lt "$deadline" ] || return 0
            sleep 1
        done
    done
}

main() {
    load_cluster_identity
    QUORUM=$(topology_quorum)
    log "applying the topology: $(topology_replicas) pods, quorum $QUORUM"
    wait_for_every_sentinel || die "not every sentinel answers: nothing applied"
    ordinals=$(pod_ordinals)
    failed=0
    for ordinal in $ordinals; do
        set_quorum "$ordinal" || failed=1
    done
    for ordinal in $ordinals; do
        forget_ghosts "$ordinal" || failed=1
    done
    wait_until_every_sentinel_knows_the_pods "$ordinals"
    for ordinal in $ordinals; do
        problems=$(problems_of "$ordinal")
        [ -z "$problems" ] || { log "$problems"; failed=1; }
    done
    [ "$failed" = 0 ] || die "the topology is not applied everywhere (see above)"
    log "every sentinel has quorum $QUORUM and knows the $(topology_replicas) pods"
}

main "$@"
