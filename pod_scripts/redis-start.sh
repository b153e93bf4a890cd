#!/bin/sh
# Starts the redis container of a gateway pod (command: sh redis-start.sh).
#
# 1. Waits, bounded by DNS_WAIT_SECONDS, until the pod's own DNS name resolves: replicas and
#    sentinels address this node only by that name.
# 2. Decides whom to follow: the master named by the peer sentinels (the newest config epoch,
#    asked for up to BOOT_PEER_WAIT_SECONDS), else the master the sentinel.conf persisted on this
#    pod's volume names, else a master some peer runs. A pod that would be master itself (the
#    recorded master, restarted; or pod 0 at what looks like a first bootstrap) claims the role.
# 3. Writes /data/conf/redis.conf (the template plus per-pod lines) and, with ACL users, the users
#    file /data/conf/users.acl (password hashes only), and execs the server.
#
# The claim. A restarted recorded master's data may be older than a replica's (an RDB written
# minutes ago, or none); pod 0 with an empty volume may face peers that hold a whole dataset but
# answer slowly. Taking the role blindly would make the replicas resync to the older or empty
# data. So a claiming node starts with its TCP port CLOSED (only the unix socket open): to the
# sentinels and the peers it is down, exactly as after a crash, so Sentinel fails over after
# down-after whatever happens here, and no node can replicate from it (no chain, no cycle). In
# the background it then:
# - follows a peer that runs as master (a failover happened, or is finishing), opening the port
#   once no other replica still names this node as its master;
# - waits while a peer with newer data exists (asking a peer sentinel to fail over, which only
#   speeds up what down-after brings anyway);
# - takes the role (opens the port as master) only when every peer answered and none is newer,
#   or, if some stay silent, after BOOT_PEER_WAIT_SECONDS and only with a dataset of its own:
#   an empty node never becomes master while a peer that may hold data is silent or loading.
set -eu
SCRIPT_NAME=redis-start
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
. "$(dirname -- "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR
# shellcheck source=passwords.sh
. "$(dirname -- "$0")/passwords.sh"
# shellcheck source-path=SCRIPTDIR
# shellcheck source=rdb-format.sh
. "$(dirname -- "$0")/rdb-format.sh"

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

# Sets either FOLLOW (the master to replicate) or CLAIM=yes (this node would be master: the
# recorded one, restarted, or pod 0 at an apparent first bootstrap; see "The claim" above).
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
        log "no data, no sentinel state, no peer master: a first bootstrap unless a peer holds data; claiming the master role"
        CLAIM=yes
    fi
}

write_acl_file() {
    acl_text=$(acl_file_lines "$ACL_TEMPLATE") || die "cannot build $ACL_FILE from $ACL_TEMPLATE"
    printf '%s\n' "$acl_text" | write_file_atomically "$ACL_FILE"
}

write_redis_conf() {
    [ -r "$TEMPLATE_DIR/redis.conf" ] || die "cannot read $TEMPLATE_DIR/redis.conf"
    if [ -r "$ACL_TEMPLATE" ]; then
        require_env REDIS_PASSWORD ACL_REPLICATION_PASSWORD
        write_acl_file
    fi
    {
        cat "$TEMPLATE_DIR/redis.conf"
        printf '\n# Per-pod lines, written by redis-start.sh at boot.\n'
        printf 'replica-announce-ip %s\n' "$MY_FQDN"
        # The announced port, not the listening one: a claiming node follows its new master
        # before it opens its port, and would otherwise be listed (and remembered by every
        # sentinel) as a replica on port 0.
        printf 'replica-announce-port %s\n' "$REDIS_PORT"
        printf 'unixsocket %s\nunixsocketperm 700\n' "$LOCAL_SOCKET"
        # Not promotable until it has linked to a master (priority_watch) when no master runs
        # at its start: it holds its last RDB, older than what the master had, and Sentinel,
        # which sees the master down while every pod starts at once, would otherwise promote it.
        # With a master running, it starts with the template's priority: Sentinel refreshes a
        # replica's INFO every 10 s, and a priority 0 it read at the start would refuse the
        # next handover (NOGOODSLAVE) for that long after the node is linked.
        [ "$START_UNPROMOTABLE" != yes ] || printf 'replica-priority 0\n'
        if [ -r "$ACL_TEMPLATE" ]; then
            # ACL users (the clients are `default`); a file of its own, so that Sentinel's CONFIG
            # REWRITE of this file keeps them. masteruser/masterauth on every node: a master that
            # is later demoted must authenticate too.
            printf 'aclfile %s\n' "$ACL_FILE"
            printf 'masteruser replication\n'
            printf 'masterauth "%s"\n' "$ACL_REPLICATION_PASSWORD"
        elif [ -n "${REDIS_PASSWORD:-}" ]; then
            # masterauth on every node: a master that is later demoted must authenticate too.
            printf 'requirepass "%s"\n' "$REDIS_PASSWORD"
            printf 'masterauth "%s"\n' "$REDIS_PASSWORD"
        fi
        case $1 in
            closed) printf '# Claiming the master role: TCP closed until it is settled.\nport 0\n' ;;
            *) printf 'replicaof %s %s\n' "$1" "$REDIS_PORT" ;;
        esac
    } | write_file_atomically "$REDIS_CONF"
}

# ------------------------------------------------------------------ peers from before ACL users

# A rolling upgrade to ACL users meets peers whose redis has none yet: there the clients'
# password runs every command (ACL WHOAMI answers `default`; a server with users refuses it), their
# replicas authenticate with that password, and their sentinels too. This pod could then not
# replicate from such a master (no `replication` user), its sentinel could not work with such a
# node, and once this pod is master, such replicas and sentinels could not work with it. So each
# such peer that answers is given the users at run time (ACL SETUSER; its own restart writes its
# users file for good), replicates as `replication`, and its sentinel, once every peer redis has
# the users, authenticates as `sentinel`. Passwords and hashes reach the CLI on stdin (-x).

# Prints the ordinals of the peers whose redis has no ACL users, one per line.
legacy_peers() {
    for peer in $(peer_ordinals); do
        whoami=$(use_redis_user default && redis_cli "$(pod_fqdn "$peer")" ACL WHOAMI 2>/dev/null) || continue
        [ "$whoami" != default ] || printf '%s\n' "$peer"
    done
}

# Gives the redis at <host> the internal users of the template (the clients' `default` stays as it is).
give_users() (
    set -f # the rules hold `~*` and `&*`: words, not patterns
    while read -r acl_keyword acl_user acl_rules; do
        [ "$acl_keyword" = user ] || continue
        [ "$acl_user" != default ] || continue
        acl_variable=$(acl_password_variable "$acl_user")
        acl_password=
        eval "acl_password=\${$acl_variable:-}"
        # shellcheck disable=SC2086 # the rules are one word each
        reply=$(printf '#%s' "$(password_hash "$acl_password")" |
            (use_redis_user default && redis_cli "$1" -x ACL SETUSER "$acl_user" reset $acl_rules) 2>&1) || true
        [ "$reply" = OK ] || { log "ACL SETUSER $acl_user on $1: $reply"; return 1; }
    done <"$ACL_TEMPLATE"
)

# Points the sentinel at <host> to the ACL user `sentinel` (SENTINEL SET drops its links, which
# then reconnect and authenticate); sets reply to the two answers.
sentinel_as_sentinel_user() {
    first=$(sentinel_cli "$1" SENTINEL SET "$MASTER_SET" auth-user sentinel 2>&1) || true
    second=$(printf '%s' "$ACL_SENTINEL_PASSWORD" |
        sentinel_cli "$1" -x SENTINEL SET "$MASTER_SET" auth-pass 2>&1) || true
    reply="$first $second"
}

adopt_legacy_peers() {
    legacy=$(legacy_peers)
    [ -n "$legacy" ] || return 0
    log "peers without ACL users (an upgrade to them): $(printf '%s' "$legacy" | tr '\n' ' ')"
    all_given=yes
    for peer in $legacy; do
        give_users "$(pod_fqdn "$peer")" || { all_given=no; continue; }
        reply=$(printf '%s' "$ACL_REPLICATION_PASSWORD" |
            (use_redis_user default && redis_cli "$(pod_fqdn "$peer")" -x CONFIG SET masteruser replication masterauth) 2>&1) || true
        log "pod $peer: ACL users given; replicates as replication ($reply)"
    done
    if [ "$all_given" = yes ]; then
        # This pod's own sentinel too: it may have connected to those peers before they had the
        # user, and a link whose AUTH failed is never authenticated again (its PINGs get replies,
        # errors, so Sentinel keeps it and judges the peer down). SENTINEL SET of auth-user or
        # auth-pass drops the links; they reconnect and authenticate.
        for peer in $legacy; do
            sentinel_as_sentinel_user "$(pod_fqdn "$peer")"
            log "sentinel of pod $peer: authenticates as sentinel ($reply)"
        done
        # This pod's sentinel may still be starting: wait for it (bounded), then reset its links.
        own_deadline=$(($(now_seconds) + DNS_WAIT_SECONDS + BOOT_PEER_WAIT_SECONDS))
        until sentinel_as_sentinel_user "$LOCAL_HOST" && [ "$reply" = "OK OK" ]; do
            [ "$(now_seconds)" -lt "$own_deadline" ] || { log "WARNING: own sentinel: $reply"; return 0; }
            sleep 1
        done
        log "own sentinel: links to the peers reset"
    else
        log "WARNING: not every peer took the ACL users: their sentinels keep the clients' password"
    fi
}

# ------------------------------------------------------------------ the claim of the master role

wait_until_loaded() {
    load_deadline=$(($(now_seconds) + LOAD_WAIT_SECONDS))
    until [ "$(redis_cli "$LOCAL_SOCKET" PING 2>/dev/null)" = PONG ]; do
        [ "$(now_seconds)" -lt "$load_deadline" ] || return 1
        sleep 1
    done
}

# Peer offsets as "<offset> <fqdn>", one per peer that answers and has loaded its data.
peer_offsets() {
    for peer in $(peer_ordinals); do
        peer_host=$(pod_fqdn "$peer")
        peer_offset=$(replication_offset_of "$peer_host")
        case $peer_offset in '' | *[!0-9]*) ;; *) printf '%s %s\n' "$peer_offset" "$peer_host" ;; esac
    done
}

# Peers whose names do not resolve: no pod (with an address) exists for them, so they hold
# nothing that is being served. Printed one per line.
absent_peers() {
    for peer in $(peer_ordinals); do
        resolves "$(pod_fqdn "$peer")" || printf '%s\n' "$peer"
    done
}

open_port() {
    reply=$(redis_cli "$LOCAL_SOCKET" CONFIG SET port "$REDIS_PORT" 2>&1) || true
    [ "$reply" = OK ] || die "cannot open port $REDIS_PORT after the claim: $reply"
}

# How long a claim that takes the role waits, with writes paused and the port open, for every
# sentinel that answers to see this node up; the pause lasts CLAIM_PAUSE_SLACK_SECONDS longer, so
# that it cannot lapse during the last round of checks (silent peers cost a second per call).
CLAIM_SETTLE_SECONDS=5
CLAIM_PAUSE_SLACK_SECONDS=15

# How many sentinels (this pod's and the peers', each bounded by a second) flag the master set
# down (s_down, o_down) or run a failover of it now.
sentinels_doubting() {
    doubting=0
    for sentinel_host in $(sentinel_hosts); do
        if (PEER_CALL_TIMEOUT_SECONDS=1 sentinel_doubts_master "$sentinel_host"); then
            doubting=$((doubting + 1))
        fi
    done
    printf '%s\n' "$doubting"
}

# Takes the master role: the port opens with writes paused, and they resume only once no sentinel
# that answers flags the set down or fails it over, none names another master in a newer
# configuration and no peer runs as master. While the port was closed this node was down to the
# sentinels, so they may be about to fail over: a failover that started as the port opened would
# promote a replica while this node acknowledged writes, all lost at its demotion (a full
# restart can meet that race: the replicas become promotable as they link to this node). Once
# the answering sentinels have cleared s_down, none can start one (o_down needs its own
# s_down). When that does not settle within CLAIM_SETTLE_SECONDS, the port closes again, the
# clients that connected meanwhile are cut before writes resume (nothing was acknowledged), and
# it returns 1: the claim goes on.
take_master_role() {
    reply=$(redis_cli "$LOCAL_SOCKET" CLIENT PAUSE "$(((CLAIM_SETTLE_SECONDS + CLAIM_PAUSE_SLACK_SECONDS) * 1000))" WRITE 2>&1) || true
    [ "$reply" = OK ] || { log "claim: CLIENT PAUSE failed ($reply): role not taken yet"; return 1; }
    open_port
    log "claim: port $REDIS_PORT open with writes paused until the sentinels settle ($1)"
    settle_deadline=$(($(now_seconds) + CLAIM_SETTLE_SECONDS))
    while :; do
        sleep 0.5
        doubting=$(sentinels_doubting)
        elsewhere=$(PEER_CALL_TIMEOUT_SECONDS=1 master_elsewhere)
        if [ "$doubting" = 0 ] && [ -z "$elsewhere" ]; then
            redis_cli "$LOCAL_SOCKET" CLIENT UNPAUSE >/dev/null 2>&1 || true
            log "taking the master role ($1): port $REDIS_PORT open, no sentinel flags the set down or fails it over"
            return 0
        fi
        [ "$(now_seconds)" -lt "$settle_deadline" ] && continue
        reply=$(redis_cli "$LOCAL_SOCKET" CONFIG SET port 0 2>&1) || true
        redis_cli "$LOCAL_SOCKET" CLIENT KILL TYPE normal >/dev/null 2>&1 || true
        redis_cli "$LOCAL_SOCKET" CLIENT UNPAUSE >/dev/null 2>&1 || true
        log "claim: after $CLAIM_SETTLE_SECONDS s with the port open and writes paused, $doubting sentinel(s) flag the set down or fail it over${elsewhere:+ (another master: $elsewhere)}: port closed again ($reply)"
        return 1
    done
}

# Peers that may still replicate from this pod, one per line as "<ordinal> <state>": "follows"
# (its redis names this pod as its master) or "silent" (its name resolves, so its pod exists,
# but its redis does not answer: it may name this pod and reconnect once it answers).
peers_on_me() {
    for peer in $(peer_ordinals); do
        peer_host=$(pod_fqdn "$peer")
        if peer_info=$(redis_cli "$peer_host" INFO replication 2>/dev/null) && [ -n "$peer_info" ]; then
            [ "$(printf '%s\n' "$peer_info" | info_field master_host)" != "$MY_FQDN" ] || printf '%s follows\n' "$peer"
        elif resolves "$peer_host"; then
            printf '%s silent\n' "$peer"
        fi
    done
}

# Follows <master>, then opens the port: a node that reports the replica role never accepts a
# write, so clients and HAProxy may reach it from now on. Not while another replica still names
# this pod as its master, though: it would reconnect the moment the port opens and replicate
# through a replica (a chain) until the failover's leader reconfigures it. Such a peer is handed
# over to <master> here (the REPLICAOF the leader sends it anyway); a silent peer is waited for.
# Bounded by failover-timeout, the time Sentinel gives its own reconfiguration: past it the
# port opens, and Sentinel's fix of a replica with a wrong master takes over.
follow_and_open() {
    reply=$(redis_cli "$LOCAL_SOCKET" REPLICAOF "$1" "$REDIS_PORT" 2>&1) || true
    log "$2: replica of $1 ($reply)"
    leave_deadline=$(($(now_seconds) + failover_timeout_seconds))
    said_on_me=
    while on_me=$(peers_on_me) && [ -n "$on_me" ]; do
        for peer in $(printf '%s\n' "$on_me" | sed -n 's/ follows$//p'); do
            handed=$(redis_cli "$(pod_fqdn "$peer")" REPLICAOF "$1" "$REDIS_PORT" 2>&1) || true
            log "pod $peer still named this pod as its master: handed over to $1 ($handed)"
        done
        if [ "$(now_seconds)" -ge "$leave_deadline" ]; then
            log "WARNING: after $failover_timeout_seconds s, peers may still replicate from this pod ($(printf '%s' "$on_me" | tr '\n' ',')): opening the port anyway"
            break
        fi
        if [ "$on_me" != "$said_on_me" ]; then
            log "port stays closed while peers may replicate from this pod: $(printf '%s' "$on_me" | tr '\n' ',')"
            said_on_me=$on_me
        fi
        sleep 1
    done
    open_port
    log "port $REDIS_PORT open (replica of $1)"
}

# Another node that is master or about to become it, so that this one must not take the role:
# a peer that runs as master; "wait" while a sentinel fails the set over, or names in a newer
# configuration than the claim's another node that does not run as master yet. Nothing when
# all of them still point at this pod. Only a node that runs as master is ever followed, so a
# claim never makes a chain.
master_elsewhere() {
    running=$(peer_running_as_master)
    if [ -n "$running" ]; then
        printf '%s\n' "$running"
        return 0
    fi
    for sentinel_host in $(sentinel_hosts); do
        view=$(sentinel_view_at "$sentinel_host")
        case $view in
            '') ;;
            failover) printf 'wait\n'; return 0 ;;
            *)
                if [ "${view#* }" != "$MY_FQDN" ] && [ "${view%% *}" -gt "$CLAIM_EPOCH" ]; then
                    printf 'wait\n'
                    return 0
                fi ;;
        esac
    done
}

# Asks one peer sentinel to fail the set over (a peer with newer data exists). Sentinel fails
# over on its own after down-after anyway, since this node is down to it; the request only
# starts it sooner, and its refusal changes nothing.
ask_for_failover() {
    for peer in $(peer_ordinals); do
        reply=$(sentinel_cli "$(pod_fqdn "$peer")" SENTINEL FAILOVER "$MASTER_SET" 2>&1) || true
        case $reply in
            OK | *INPROG*) log "sentinel of pod $peer: SENTINEL FAILOVER -> $reply"; return 0 ;;
        esac
    done
    log "no peer sentinel took the failover request (${reply:-no answer}); waiting for Sentinel's own failover"
}

# Runs in the background next to redis-server (port closed) and settles the claim; see the
# header. It ends only by opening the port: until then the node serves nobody, which is safe.
claim_master_role() {
    failover_timeout_ms=$(sentinel_setting "$TEMPLATE_DIR/sentinel.conf" failover-timeout)
    failover_timeout_seconds=$((${failover_timeout_ms:-10000} / 1000))
    if ! wait_until_loaded; then
        log "WARNING: redis did not load its data within $LOAD_WAIT_SECONDS s: port left closed"
        return 0
    fi
    my_offset=$(replication_offset_of "$LOCAL_SOCKET")
    my_offset=${my_offset:-0}
    my_keys=$(redis_cli "$LOCAL_SOCKET" DBSIZE 2>/dev/null) || my_keys=0
    silent_deadline=$(($(now_seconds) + BOOT_PEER_WAIT_SECONDS))
    asked_at=0
    said=
    while :; do
        elsewhere=$(master_elsewhere)
        case $elsewhere in
            wait) note="a sentinel fails the set over, or names another master in a newer configuration: waiting for a master to run" ;;
            ?*) follow_and_open "$elsewhere" "$elsewhere runs as master"; return 0 ;;
            *)
                offsets=$(peer_offsets)
                best=$(printf '%s\n' "$offsets" | sed '/^$/d' | sort -n -k1,1 | tail -n 1)
                answered=$(printf '%s' "$offsets" | grep -c . || true)
                absent=$(absent_peers | grep -c . || true)
                peers=$(($(topology_replicas) - 1))
                if [ -n "$best" ] && [ "$my_offset" -lt "${best%% *}" ]; then
                    note="${best#* } has newer data (offset ${best%% *} > $my_offset): waiting for it to be master"
                    if [ $(($(now_seconds) - asked_at)) -ge "$failover_timeout_seconds" ]; then
                        ask_for_failover
                        asked_at=$(now_seconds)
                    fi
                elif [ $((answered + absent)) -ge "$peers" ]; then
                    take_master_role "offset $my_offset; every peer answered or is absent, none newer (${best:-no data})" && return 0
                    note="the sentinels did not settle with the port open: trying again"
                elif [ "$my_offset" = 0 ] && [ "$my_keys" = 0 ]; then
                    note="no data here, and $((peers - answered - absent)) peer(s) silent or loading: an empty node does not take the role"
                elif [ "$(now_seconds)" -ge "$silent_deadline" ]; then
                    take_master_role "offset $my_offset; $((peers - answered - absent)) peer(s) silent for $BOOT_PEER_WAIT_SECONDS s" && return 0
                    note="the sentinels did not settle with the port open: trying again"
                else
                    note="offset $my_offset; waiting up to $BOOT_PEER_WAIT_SECONDS s for silent peers"
                fi ;;
        esac
        if [ "$note" != "$said" ]; then
            log "claim: $note"
            said=$note
        fi
        sleep 1
    done
}

# ------------------------------------------------------------------ fencing

# How many sentinels (this pod's and the peers') name this node as master now, or "unknown" when
# this pod's own sentinel gives no answer: a pod too starved of CPU to hear its own sentinel
# within a second learns nothing about a cut from its peers' silence either, and a cut leaves
# the own sentinel (same network namespace) answering. The sentinels are asked at once, each
# bounded by a second, so that silent peers cost one second, not three each.
sentinels_naming_me() {
    naming_dir=$(mktemp -d)
    for sentinel_host in $(sentinel_hosts); do
        (
            PEER_CALL_TIMEOUT_SECONDS=1
            sentinel_named_master_at "$sentinel_host" >"$naming_dir/$sentinel_host"
        ) &
    done
    wait
    if [ -s "$naming_dir/$LOCAL_HOST" ]; then
        cat "$naming_dir"/* 2>/dev/null | grep -cx "$MY_FQDN" || true
    else
        printf 'unknown\n'
    fi
    rm -rf "$naming_dir"
}

# More replicas than any gateway can have (the StatefulSet's pod count is far below it).
FENCE_MIN_REPLICAS=1000000

# Fences: every write is refused at once (-NOREPLICAS: more replicas are required than the set
# can have; not the pod count, which a scale-out raises under a running fence), and the normal clients are cut. Not CLIENT PAUSE: a pause would also hold the PUBLISH of
# Sentinel's hello on its command link, and the REPLICAOF queued behind it, so the demotion that
# ends the fence could never arrive.
fence() {
    redis_cli "$LOCAL_SOCKET" CONFIG SET min-replicas-to-write "$FENCE_MIN_REPLICAS" >/dev/null 2>&1 || true
    redis_cli "$LOCAL_SOCKET" CLIENT KILL TYPE normal >/dev/null 2>&1 || true
}

unfence() {
    redis_cli "$LOCAL_SOCKET" CONFIG SET min-replicas-to-write "$(redis_setting "$TEMPLATE_DIR/redis.conf" min-replicas-to-write 0)" >/dev/null 2>&1 || true
}

# Runs in the background next to redis-server for the pod's life. While this node is master and
# fewer than `quorum` sentinels name it for down-after, it is cut off from the sentinels (or they
# failed over to another node): it fences itself, so that clients holding a connection from
# before the cut (directly, or through the master-only endpoint, which admits no new connection
# to it in that state) get no acknowledgement that its demotion would lose. min-replicas-to-write
# alone stops them only after min-replicas-max-lag, and not at all when it is 0. The fence lifts
# when the sentinels name this node again, or when it is a replica (Sentinel demoted it; a
# replica keeps the configured value, in case it is promoted later).
fence_watch() {
    down_after_ms=$(sentinel_setting "$TEMPLATE_DIR/sentinel.conf" down-after-milliseconds)
    down_after_seconds=$(((${down_after_ms:-5000} + 999) / 1000))
    named_at=$(now_seconds)
    fenced=no
    last_role=
    # Read from the files at each poll: a scale changes the quorum under a running pod.
    TOPOLOGY_SOURCE=files
    while :; do
        sleep 1
        quorum=$(topology_quorum) || continue
        role=$(redis_cli "$LOCAL_SOCKET" INFO replication 2>/dev/null | info_field role) || role=
        if [ "$role" = master ]; then
            naming=$(sentinels_naming_me)
        else
            naming=$quorum
        fi
        if [ "$role" = master ] && [ "$last_role" != master ]; then
            # Just promoted: the sentinels name a promoted replica only once they see its new
            # role in its INFO (up to a second later), and by now the last poll as a replica is
            # two to three seconds old (a second of sleep, a second for a dead peer's answer).
            # Down-after counts from here; from that poll, a 2 s down-after fenced new masters.
            named_at=$(now_seconds)
        fi
        last_role=$role
        # A poll without the own sentinel's answer counts neither way: no fence from starvation.
        [ "$naming" = unknown ] && continue
        if [ "$naming" -ge "$quorum" ]; then
            named_at=$(now_seconds)
            if [ "$fenced" = yes ]; then
                unfence
                log "fence lifted: ${role:-the node does not answer}, $naming sentinel(s) name it"
                fenced=no
            fi
        elif [ "$fenced" = no ] && [ $(($(now_seconds) - named_at)) -ge "$down_after_seconds" ]; then
            fence
            log "fenced: master, but only $naming of $quorum sentinels name it for ${down_after_seconds} s: clients cut, writes refused"
            fenced=yes
        fi
    done
}

# ------------------------------------------------------------------ promotability

# Runs in the background from the start: redis starts with replica-priority 0 (write_redis_conf)
# and gets the configured priority back once it is a replica linked to a master and synced (its
# data is the master's now), or the master itself. Bounded: after bootPeerWaitSeconds plus
# failover-timeout without a master to link to, the node is promotable again, so that a set
# whose master is gone for good still fails over to the best of the restarted replicas.
priority_watch() {
    failover_timeout_ms=$(sentinel_setting "$TEMPLATE_DIR/sentinel.conf" failover-timeout)
    priority_deadline=$(($(now_seconds) + BOOT_PEER_WAIT_SECONDS + ${failover_timeout_ms:-10000} / 1000))
    while :; do
        sleep 1
        replication=$(redis_cli "$LOCAL_SOCKET" INFO replication 2>/dev/null) || replication=
        role=$(printf '%s\n' "$replication" | info_field role)
        if [ "$role" = master ]; then
            why="master"
        elif [ "$role" = slave ] && [ "$(printf '%s\n' "$replication" | info_field master_link_status)" = up ] &&
            [ "$(printf '%s\n' "$replication" | info_field master_sync_in_progress)" = 0 ]; then
            why="linked to $(printf '%s\n' "$replication" | info_field master_host)"
        elif [ "$(now_seconds)" -ge "$priority_deadline" ]; then
            why="no master linked within the boot wait and a failover-timeout"
        else
            continue
        fi
        priority=$(redis_setting "$TEMPLATE_DIR/redis.conf" replica-priority 100)
        reply=$(redis_cli "$LOCAL_SOCKET" CONFIG SET replica-priority "$priority" 2>&1) || true
        log "replica-priority $priority ($why): $reply"
        return 0
    done
}

main() {
    # The boot (peer lists, the election's count of peers) uses the topology of the container's
    # start; the fence, which runs as long as the container, goes back to the files.
    topology_as_at_container_start
    load_pod_identity
    log "starting $MY_FQDN (ordinal $MY_ORDINAL of $(topology_replicas))"
    wait_for_own_dns
    prepare_directories
    decide_role
    START_UNPROMOTABLE=no
    if [ "$CLAIM" = yes ] || [ "$(redis_cli "$FOLLOW" INFO replication 2>/dev/null | info_field role)" != master ]; then
        START_UNPROMOTABLE=yes
    fi
    if [ -r "$ACL_TEMPLATE" ]; then
        require_env ACL_SENTINEL_PASSWORD
        adopt_legacy_peers &
    fi
    if [ "$CLAIM" = yes ]; then
        set_aside_unreadable_rdb "$REDIS_DATA_DIR" claim
        log "claiming the master role: starting with port $REDIS_PORT closed until it is settled"
        write_redis_conf closed
        claim_master_role &
    else
        set_aside_unreadable_rdb "$REDIS_DATA_DIR" follow
        log "starting as a replica of $FOLLOW"
        write_redis_conf "$FOLLOW"
    fi
    fence_watch &
    if [ "$START_UNPROMOTABLE" = yes ]; then
        log "no master runs yet: replica-priority 0 until linked to one"
        priority_watch &
    fi
    exec_server "$REDIS_CONF"
}

main "$@"
