#!/bin/sh
# Starts the sentinel container of a gateway pod (command: sh sentinel-start.sh).
#
# Sentinel must rewrite its config file (epochs, peers, a new master), so the effective file
# lives on the pod's volume, /data/sentinel/sentinel.conf (0600; Sentinel replaces it through a
# temporary file in that directory). Each boot rebuilds it from the ConfigMap template, so that
# down-after, failover-timeout and parallel-syncs of the current config and the quorum of the
# topology ConfigMap take effect,
# and reconciles what must survive a restart:
# - `sentinel myid`: fixed per pod (sha1 of "<statefulset>/<ordinal>"): a restarted sentinel is
#   the same peer to the others, never an extra one;
# - the epochs (current, config, leader): they order configurations across the set;
# - the master: the newest config epoch among the peer sentinels' answers and the persisted
#   file; pod 0 only when neither exists (first bootstrap);
# - peers: `known-sentinel` (with their fixed ids) and `known-replica` lines are generated for
#   the ordinals below the topology's pod count whose names resolve, never for this sentinel
#   itself, so that a scale-down leaves no phantom peer and a scale-up is known at once. The pod
#   count and quorum are the ones the kubelet gave the container at its start
#   (topology_as_at_container_start): the mounted files may still hold the count from before a
#   scale-in, and the removed pods' names may still resolve.
set -eu
SCRIPT_NAME=sentinel-start
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
. "$(dirname -- "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR
# shellcheck source=passwords.sh
. "$(dirname -- "$0")/passwords.sh"

# With persisted state the sentinel only asks the peers briefly: after a restart of every pod
# the peers are booting too, and waiting for each other would only delay the whole set.
PERSISTED_STATE_PEER_WAIT_SECONDS=3

prepare_directory() {
    umask 077
    mkdir -p "$SENTINEL_DIR" || die "cannot create $SENTINEL_DIR (volume writable by uid $(id -u)?)"
}

persisted_epoch() {
    [ -r "$SENTINEL_CONF" ] || return 0
    awk -v key="$1" -v set="$MASTER_SET" '
        $1 == "sentinel" && $2 == key && (key == "current-epoch" || $3 == set) { value = $NF }
        END { if (value ~ /^[0-9]+$/) print value }' "$SENTINEL_CONF"
}

max_number() {
    if [ "${1:-0}" -ge "${2:-0}" ]; then printf '%s\n' "${1:-0}"; else printf '%s\n' "${2:-0}"; fi
}

# Sets MASTER and CONFIG_EPOCH.
decide_master() {
    disk_view=$(persisted_master)
    peer_wait=$BOOT_PEER_WAIT_SECONDS
    if [ -n "$disk_view" ] && [ "$PERSISTED_STATE_PEER_WAIT_SECONDS" -lt "$peer_wait" ]; then
        peer_wait=$PERSISTED_STATE_PEER_WAIT_SECONDS
    fi
    live_view=$(wait_for_peer_sentinels_master "$peer_wait")
    view=$(newer_view "$live_view" "$disk_view")
    if [ -n "$view" ]; then
        MASTER=${view#* }
        CONFIG_EPOCH=${view%% *}
        log "master: $MASTER (config epoch $CONFIG_EPOCH; peer sentinels: ${live_view:-no answer}; persisted: ${disk_view:-none})"
    else
        MASTER=$(pod_fqdn 0)
        CONFIG_EPOCH=0
        log "no peer sentinel answers and nothing persisted: first bootstrap, monitoring pod 0"
    fi
}

# The template with the placeholder master and quorum of its `sentinel monitor` line replaced.
template_with_master() {
    awk -v set="$MASTER_SET" -v master="$MASTER" -v quorum="$(topology_quorum)" '
        $1 == "sentinel" && $2 == "monitor" && $3 == set { $4 = master; $6 = quorum; found = 1 }
        { print }
        END { if (!found) exit 3 }' "$TEMPLATE_DIR/sentinel.conf"
}

peer_lines() {
    master_ordinal=$(fqdn_ordinal "$MASTER" || true)
    for ordinal in $(pod_ordinals); do
        host=$(pod_fqdn "$ordinal")
        # Sentinel refuses to load a config naming a host that does not resolve.
        if resolves "$host"; then
            [ "$ordinal" = "$master_ordinal" ] ||
                printf 'sentinel known-replica %s %s %s\n' "$MASTER_SET" "$host" "$REDIS_PORT"
            [ "$ordinal" = "$MY_ORDINAL" ] ||
                printf 'sentinel known-sentinel %s %s %s %s\n' "$MASTER_SET" "$host" "$SENTINEL_PORT" "$(sentinel_id_of "$ordinal")"
        else
            log "$host does not resolve now: left to discovery"
        fi
    done
}

runtime_lines() {
    current_epoch=$(max_number "$(persisted_epoch current-epoch)" "$CONFIG_EPOCH")
    printf '\n# Per-pod lines, written by sentinel-start.sh at boot.\n'
    printf 'sentinel myid %s\n' "$(sentinel_id_of "$MY_ORDINAL")"
    printf 'sentinel announce-ip %s\n' "$MY_FQDN"
    if [ -n "${SENTINEL_PASSWORD:-}" ]; then
        # What `requirepass` would do, with room for a rotation's second password
        # (SENTINEL_PASSWORD_ACCEPTED): the clients' user `default` takes either. The sentinel
        # sends its peers SENTINEL_PASSWORD alone (sentinel-pass), which they all accept.
        sentinel_hashes=$(accepted_hashes SENTINEL_PASSWORD "sentinel") || exit 1
        printf 'user default on %s ~* &* +@all\n' "$sentinel_hashes"
        printf 'sentinel sentinel-pass "%s"\n' "$SENTINEL_PASSWORD"
    fi
    if [ -n "${ACL_SENTINEL_PASSWORD:-}" ]; then
        # The Redis ACL user `sentinel`: what Sentinel sends the servers, nothing more.
        printf 'sentinel auth-user %s sentinel\n' "$MASTER_SET"
        printf 'sentinel auth-pass %s "%s"\n' "$MASTER_SET" "$ACL_SENTINEL_PASSWORD"
    elif [ -n "${REDIS_PASSWORD:-}" ]; then
        printf 'sentinel auth-pass %s "%s"\n' "$MASTER_SET" "$REDIS_PASSWORD"
    fi
    printf 'sentinel current-epoch %s\n' "$current_epoch"
    printf 'sentinel config-epoch %s %s\n' "$MASTER_SET" "$CONFIG_EPOCH"
    leader_epoch=$(persisted_epoch leader-epoch)
    printf 'sentinel leader-epoch %s %s\n' "$MASTER_SET" "${leader_epoch:-0}"
    peer_lines
}

write_sentinel_conf() {
    [ -r "$TEMPLATE_DIR/sentinel.conf" ] || die "cannot read $TEMPLATE_DIR/sentinel.conf"
    template=$(template_with_master) ||
        die "$TEMPLATE_DIR/sentinel.conf has no 'sentinel monitor $MASTER_SET' line"
    { printf '%s\n' "$template"; runtime_lines; } | write_file_atomically "$SENTINEL_CONF"
}

main() {
    topology_as_at_container_start
    load_pod_identity
    log "starting the sentinel of $MY_FQDN (ordinal $MY_ORDINAL of $(topology_replicas), quorum $(topology_quorum))"
    wait_for_own_dns
    prepare_directory
    decide_master
    wait_until_resolvable "$MASTER" "$DNS_WAIT_SECONDS"
    write_sentinel_conf
    exec_sentinel "$SENTINEL_CONF"
}

main "$@"
