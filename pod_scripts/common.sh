# shellcheck shell=sh
# Functions shared by the gateway pod scripts; sourced, never run.
#
# Environment (docs/architecture.md, "Inside a gateway pod"): POD_NAME, POD_NAMESPACE,
# STATEFULSET_NAME, HEADLESS_SERVICE, CLUSTER_DOMAIN, MASTER_SET, REDIS_PORT, SENTINEL_PORT,
# DNS_WAIT_SECONDS, BOOT_PEER_WAIT_SECONDS; ENGINE_SERVER, ENGINE_SENTINEL,
# ENGINE_CLI and ENGINE_CHECK_RDB, the binaries of the engine (redis-* or valkey-*, named in
# stack_config/engines.py);
# REDIS_PASSWORD and SENTINEL_PASSWORD only when auth is on; with it, the passwords of the Redis
# ACL users, ACL_<USER>_PASSWORD (the redis container: all of them; the sentinel container:
# ACL_SENTINEL_PASSWORD). Passwords reach the CLI through
# REDISCLI_AUTH (redis-cli and valkey-cli 8 both read it) and files through the printf builtin:
# never through argv, where `ps` would show them. The containers also carry a REDISCLI_AUTH of
# their own (for operators' `kubectl exec ... redis-cli`): every call below sets it, or clears it,
# for the server it talks to.

# shellcheck disable=SC2034 # read by the scripts that source this file
{
    TEMPLATE_DIR=/etc/kubernaut-redis/conf
    # ConfigMap redis-gateway-topology: files `replicas` and `quorum` (topology_replicas,
    # topology_quorum). Read at each use, never kept: a scale changes them in running pods.
    TOPOLOGY_DIR=/etc/kubernaut-redis/topology
    # Where topology_value reads: `files` (the mount above), or `container-start` (the start
    # scripts, topology_as_at_container_start).
    TOPOLOGY_SOURCE=files
    DATA_DIR=/data
    REDIS_DATA_DIR=$DATA_DIR/redis
    REDIS_CONF_DIR=$DATA_DIR/conf
    REDIS_CONF=$REDIS_CONF_DIR/redis.conf
    # The Redis ACL users, with password hashes (redis-start.sh, from the template users.acl).
    ACL_FILE=$REDIS_CONF_DIR/users.acl
    ACL_TEMPLATE=$TEMPLATE_DIR/users.acl
    SENTINEL_DIR=$DATA_DIR/sentinel
    SENTINEL_CONF=$SENTINEL_DIR/sentinel.conf
    LOCAL_HOST=127.0.0.1
    # The redis container's own server also listens on this unix socket (redis-start.sh), which
    # stays open while its TCP port is closed during a claim of the master role.
    LOCAL_SOCKET=/tmp/redis.sock
    # Upper bound of one redis-cli round trip to a peer: a partitioned peer must not stall a boot
    # or a preStop hook for the kernel's TCP connect timeout (minutes).
    PEER_CALL_TIMEOUT_SECONDS=3
}

log() {
    printf '%s %s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${POD_NAME:-?}" "${SCRIPT_NAME:-pod-script}" "$*" >&2
}

die() {
    log "ERROR: $*"
    exit 1
}

now_seconds() {
    date +%s
}

require_env() {
    for required_name in "$@"; do
        eval "required_value=\${$required_name:-}"
        [ -n "$required_value" ] || die "environment variable $required_name is not set"
    done
}

require_number() {
    case $2 in
        '' | *[!0-9]*) die "environment variable $1 must be a whole number, got '$2'" ;;
    esac
}

# ------------------------------------------------------------------ identity

# Checks the environment every gateway script needs, pod or topology Job alike.
load_cluster_identity() {
    require_env POD_NAMESPACE STATEFULSET_NAME HEADLESS_SERVICE CLUSTER_DOMAIN \
        MASTER_SET REDIS_PORT SENTINEL_PORT ENGINE_SERVER ENGINE_SENTINEL ENGINE_CLI ENGINE_CHECK_RDB
    require_number REDIS_PORT "$REDIS_PORT"
    require_number SENTINEL_PORT "$SENTINEL_PORT"
    topology_replicas >/dev/null
    topology_quorum >/dev/null
}

# Sets MY_ORDINAL and MY_FQDN from the environment, after checking it.
load_pod_identity() {
    load_cluster_identity
    require_env POD_NAME DNS_WAIT_SECONDS BOOT_PEER_WAIT_SECONDS
    require_number DNS_WAIT_SECONDS "$DNS_WAIT_SECONDS"
    require_number BOOT_PEER_WAIT_SECONDS "$BOOT_PEER_WAIT_SECONDS"
    MY_ORDINAL=${POD_NAME##*-}
    case $MY_ORDINAL in
        '' | *[!0-9]*) die "POD_NAME '$POD_NAME' does not end in an ordinal" ;;
    esac
    [ "$POD_NAME" = "$STATEFULSET_NAME-$MY_ORDINAL" ] ||
        die "POD_NAME '$POD_NAME' is not a pod of StatefulSet '$STATEFULSET_NAME'"
    MY_FQDN=$(pod_fqdn "$MY_ORDINAL")
    # Each password and its rotation twin (<variable>_ACCEPTED), checked before any file holds one.
    for password_variable in REDIS_PASSWORD SENTINEL_PASSWORD ACL_REPLICATION_PASSWORD ACL_SENTINEL_PASSWORD \
        ACL_POD_PASSWORD ACL_PROBE_PASSWORD ACL_EXPORTER_PASSWORD ACL_BACKUP_PASSWORD ACL_OPERATOR_PASSWORD; do
        for checked_variable in "$password_variable" "${password_variable}_ACCEPTED"; do
            password_value=
            eval "password_value=\${$checked_variable:-}"
            check_password "$checked_variable" "$password_value"
        done
    done
}

# The start scripts' view of the topology: the values the kubelet gave this container when it
# started, TOPOLOGY_REPLICAS and TOPOLOGY_QUORUM (configMapKeyRefs to the same ConfigMap,
# resolved at each container start from the kubelet's watch of it). The mounted files follow a
# change only at the pod's next sync, a minute or more later: a sentinel restarted in that window
# after a scale-in read the old pod count there and wrote known-sentinel lines for the pods just
# removed (their names still resolve from DNS caches), and a sentinel forgets a peer only on a
# reset. What runs long after the start (the fence, ops switchover, the Jobs' loops) reads the
# files, which follow a scale under a running container; without the variables (a container
# started elsewhere than from the StatefulSet), the start scripts read the files too.
topology_as_at_container_start() {
    TOPOLOGY_SOURCE=container-start
}

# A whole number > 0 from topology key <key> (TOPOLOGY_SOURCE says where), or die naming where.
topology_value() {
    topology_number=
    if [ "$TOPOLOGY_SOURCE" = container-start ]; then
        topology_origin=TOPOLOGY_$(printf '%s' "$1" | tr '[:lower:]' '[:upper:]')
        eval "topology_number=\${$topology_origin:-}"
        topology_origin="environment variable $topology_origin"
    fi
    if [ -z "$topology_number" ]; then
        topology_origin=$TOPOLOGY_DIR/$1
        [ -r "$topology_origin" ] || die "cannot read $topology_origin (ConfigMap redis-gateway-topology mounted?)"
        topology_number=$(cat "$topology_origin")
    fi
    topology_number=$(printf '%s' "$topology_number" | tr -d ' \r\n')
    case $topology_number in
        '' | *[!0-9]* | 0) die "$topology_origin must hold a whole number above 0, got '$topology_number'" ;;
    esac
    printf '%s\n' "$topology_number"
}

# The StatefulSet's pod count (gateway.replicas) as the topology ConfigMap gives it now.
topology_replicas() {
    topology_value replicas
}

# The quorum of the master set (gateway.quorum, or the majority of the pods).
topology_quorum() {
    topology_value quorum
}

# The DNS name of pod <ordinal>: the one form of a pod's address that redis, Sentinel and
# HAProxy all use, so that no instance is ever known twice (once by name, once by IP).
pod_fqdn() {
    printf '%s-%s.%s.%s.svc.%s\n' "$STATEFULSET_NAME" "$1" "$HEADLESS_SERVICE" "$POD_NAMESPACE" "$CLUSTER_DOMAIN"
}

# Prints the ordinal of a pod FQDN of this StatefulSet, or fails for any other name (an IP,
# another service, an ordinal beyond the topology's pod count).
fqdn_ordinal() {
    fqdn_suffix=.$HEADLESS_SERVICE.$POD_NAMESPACE.svc.$CLUSTER_DOMAIN
    fqdn_pod=${1%"$fqdn_suffix"}
    [ "$fqdn_pod" != "$1" ] || return 1
    fqdn_number=${fqdn_pod#"$STATEFULSET_NAME"-}
    [ "$fqdn_number" != "$fqdn_pod" ] || return 1
    case $fqdn_number in '' | *[!0-9]*) return 1 ;; esac
    [ "$fqdn_number" -lt "$(topology_replicas)" ] || return 1
    printf '%s\n' "$fqdn_number"
}

# Why peers that dial this pod's name would not reach it, or nothing when the cluster's DNS gives
# that name one of this pod's own addresses. A replaced pod has a new address, and DNS caches
# keep handing out the old one for their TTL (CoreDNS `cache 30`, as many clusters ship it):
# meanwhile a master's handover cannot ask this pod for its offset, and its fence counts this
# pod's sentinel as silent. The trailing dot makes the name absolute, so the lookup skips
# /etc/hosts, where the kubelet lists this pod's own name.
dns_problem() {
    dns_own=$(hostname -I 2>/dev/null) || dns_own=
    dns_answer=$(getent ahosts "$1." 2>/dev/null | awk '{ print $1 }' | sort -u)
    [ -n "$dns_answer" ] || { printf '%s does not resolve yet\n' "$1"; return 0; }
    for dns_address in $dns_answer; do
        case " $dns_own " in
            *" $dns_address "*) ;;
            *) printf '%s resolves to %s, not to this pod (%s): a DNS cache still holds an old address\n' \
                   "$1" "$(printf '%s' "$dns_answer" | tr '\n' ' ')" "$(printf '%s' "$dns_own" | sed 's/ *$//')"
               return 0 ;;
        esac
    done
}

is_member_fqdn() {
    fqdn_ordinal "$1" >/dev/null
}

# Ordinals of every pod of the topology, one per line.
pod_ordinals() {
    pod_i=0
    pod_count=$(topology_replicas)
    while [ "$pod_i" -lt "$pod_count" ]; do
        printf '%s\n' "$pod_i"
        pod_i=$((pod_i + 1))
    done
}

# Ordinals of the other pods, one per line.
peer_ordinals() {
    for peer_i in $(pod_ordinals); do
        [ "$peer_i" = "$MY_ORDINAL" ] || printf '%s\n' "$peer_i"
    done
}

# A fixed `sentinel myid` per pod: a sentinel that restarts must be the same peer to the
# others, or each restart adds a phantom sentinel and the majority drifts out of reach.
# Same value as stack_config.derived.sentinel_id(ordinal).
sentinel_id_of() {
    printf '%s/%s' "$STATEFULSET_NAME" "$1" | sha1sum | cut -c1-40
}

# ------------------------------------------------------------------ DNS

resolves() {
    getent hosts "$1" >/dev/null 2>&1
}

# Blocks until <name> resolves, at most <seconds>; fails with a clear error after that.
wait_until_resolvable() {
    wait_name=$1
    wait_deadline=$(($(now_seconds) + $2))
    until resolves "$wait_name"; do
        [ "$(now_seconds)" -lt "$wait_deadline" ] ||
            die "$wait_name does not resolve after $2 s (headless service with publishNotReadyAddresses? cluster DNS?)"
        sleep 1
    done
}

wait_for_own_dns() {
    wait_until_resolvable "$MY_FQDN" "$DNS_WAIT_SECONDS"
    log "own name $MY_FQDN resolves"
}

# ------------------------------------------------------------------ the engine's binaries
# redis-* or valkey-*: ENGINE_SERVER, ENGINE_SENTINEL and ENGINE_CLI come from the pod spec
# (stack_config/engines.py). Every script runs with `set -u`, so an unset one fails by name.

# Replaces the shell with the engine's server (redis-server or valkey-server): exec_server <conf>
exec_server() {
    exec "$ENGINE_SERVER" "$1"
}

# Replaces the shell with the engine's Sentinel (redis-sentinel or valkey-sentinel):
# exec_sentinel <conf>
exec_sentinel() {
    exec "$ENGINE_SENTINEL" "$1"
}

# ------------------------------------------------------------------ the CLI

# A server without a password gets no REDISCLI_AUTH (unset in a subshell): an inherited one, say
# the redis container's own while it asks a sentinel that has none, makes redis-cli send AUTH
# and print "AUTH failed" on stderr, which spoils every reply read with 2>&1.

# The Redis ACL user redis_cli acts as: `pod` (the start and preStop scripts) unless a script
# says otherwise (the probes: `use_redis_user probe`; `default`: the clients' password alone).
REDIS_CLI_USER=pod

use_redis_user() {
    REDIS_CLI_USER=$1
}

# The engine's CLI against a redis server: redis_cli <host or socket path> <args...>
# As the ACL user REDIS_CLI_USER when its password is in the environment; otherwise (servers
# without ACL users) with REDIS_PASSWORD alone, or without a password when there is none.
redis_cli() {
    case $1 in
        /*) set -- -s "$@" ;;
        *) redis_cli_host=$1; shift; set -- -h "$redis_cli_host" -p "$REDIS_PORT" "$@" ;;
    esac
    case $REDIS_CLI_USER in
        default) redis_cli_password= ;;
        probe) redis_cli_password=${ACL_PROBE_PASSWORD:-} ;;
        *) redis_cli_password=${ACL_POD_PASSWORD:-} ;;
    esac
    if [ -n "$redis_cli_password" ]; then
        REDISCLI_AUTH=$redis_cli_password timeout "$PEER_CALL_TIMEOUT_SECONDS" \
            "$ENGINE_CLI" --no-auth-warning --user "$REDIS_CLI_USER" "$@"
    elif [ -n "${REDIS_PASSWORD:-}" ]; then
        REDISCLI_AUTH=$REDIS_PASSWORD timeout "$PEER_CALL_TIMEOUT_SECONDS" \
            "$ENGINE_CLI" --no-auth-warning "$@"
    else
        (unset REDISCLI_AUTH; timeout "$PEER_CALL_TIMEOUT_SECONDS" "$ENGINE_CLI" "$@")
    fi
}

# The engine's CLI against a sentinel: sentinel_cli <host> <args...>
sentinel_cli() {
    sentinel_cli_host=$1
    shift
    if [ -n "${SENTINEL_PASSWORD:-}" ]; then
        REDISCLI_AUTH=$SENTINEL_PASSWORD timeout "$PEER_CALL_TIMEOUT_SECONDS" \
            "$ENGINE_CLI" --no-auth-warning -h "$sentinel_cli_host" -p "$SENTINEL_PORT" "$@"
    else
        (unset REDISCLI_AUTH; timeout "$PEER_CALL_TIMEOUT_SECONDS" \
            "$ENGINE_CLI" -h "$sentinel_cli_host" -p "$SENTINEL_PORT" "$@")
    fi
}

# The value of <field> in INFO text given on stdin (INFO lines end in CR LF).
info_field() {
    tr -d '\r' | sed -n "s/^$1://p"
}

# ------------------------------------------------------------------ who is master

# The master the sentinel at <host> names now (get-master-addr-by-name: during a failover this
# is already the promoted replica), if it is one of our pods; nothing otherwise.
sentinel_named_master_at() {
    named_reply=$(sentinel_cli "$1" SENTINEL get-master-addr-by-name "$MASTER_SET" 2>/dev/null) || return 0
    named_host=$(printf '%s\n' "$named_reply" | head -n 1 | tr -d '\r')
    is_member_fqdn "$named_host" || return 0
    printf '%s\n' "$named_host"
}

# The sentinels to ask about the set: this pod's own (loopback), then each peer's, one per line.
sentinel_hosts() {
    printf '%s\n' "$LOCAL_HOST"
    for peer in $(peer_ordinals); do
        pod_fqdn "$peer"
    done
}

# The value of <field> in a SENTINEL MASTER reply on stdin (keys and values on alternate lines).
master_reply_field() {
    tr -d '\r' | awk -v want="$1" 'NR % 2 == 1 { key = $0; next } key == want { print; exit }'
}

# What the sentinel at <host> knows of the master set: "<config-epoch> <master fqdn>", or the
# word "failover" while it runs a failover of the set (its answer is about to change), or
# nothing when it does not answer, does not know the set, or names something not ours.
sentinel_view_at() {
    view_reply=$(sentinel_cli "$1" SENTINEL MASTER "$MASTER_SET" 2>/dev/null) || return 0
    case $(printf '%s\n' "$view_reply" | master_reply_field flags) in
        *failover_in_progress*) printf 'failover\n'; return 0 ;;
    esac
    view_epoch=$(printf '%s\n' "$view_reply" | master_reply_field config-epoch)
    case $view_epoch in '' | *[!0-9]*) return 0 ;; esac
    view_master=$(sentinel_named_master_at "$1")
    [ -n "$view_master" ] || return 0
    printf '%s %s\n' "$view_epoch" "$view_master"
}

# Whether the sentinel at <host> doubts the master it names: it flags the set down (s_down,
# o_down) or runs a failover of it. A sentinel that does not answer doubts nothing.
sentinel_doubts_master() {
    doubt_reply=$(sentinel_cli "$1" SENTINEL MASTER "$MASTER_SET" 2>/dev/null) || return 1
    case $(printf '%s\n' "$doubt_reply" | master_reply_field flags) in
        *s_down* | *o_down* | *failover_in_progress*) return 0 ;;
    esac
    return 1
}

sentinel_view_of() {
    sentinel_view_at "$(pod_fqdn "$1")"
}

# The answers of the peer sentinels, one per line (see sentinel_view_at).
peer_sentinel_views() {
    for peer in $(peer_ordinals); do
        sentinel_view_of "$peer"
    done
}

# The newest "<config-epoch> <master fqdn>" among views on stdin (the first wins a tie).
newest_view() {
    grep -v '^failover$' | sort -s -n -r -k1,1 | head -n 1
}

# Asks the peer sentinels once a second, for up to <seconds>, until at least one answers and
# none is in the middle of a failover; prints the newest "<config-epoch> <master fqdn>". At the
# deadline it settles for whatever answers it has (possibly nothing).
wait_for_peer_sentinels_master() {
    peer_wait_deadline=$(($(now_seconds) + $1))
    while :; do
        peer_views=$(peer_sentinel_views)
        if [ -n "$peer_views" ] && ! printf '%s\n' "$peer_views" | grep -qx failover; then
            break
        fi
        [ "$(now_seconds)" -lt "$peer_wait_deadline" ] || break
        sleep 1
    done
    printf '%s\n' "$peer_views" | newest_view
}

# Prints "<config-epoch> <master fqdn>" from the sentinel.conf this pod persisted on its volume
# (the last master its sentinel knew), or nothing.
persisted_master() {
    [ -r "$SENTINEL_CONF" ] || return 0
    persisted_view=$(awk -v set="$MASTER_SET" '
        $1 == "sentinel" && $2 == "monitor" && $3 == set { host = $4 }
        $1 == "sentinel" && $2 == "config-epoch" && $3 == set { epoch = $4 }
        END { if (host != "") print (epoch == "" ? 0 : epoch), host }' "$SENTINEL_CONF")
    [ -n "$persisted_view" ] || return 0
    is_member_fqdn "${persisted_view#* }" || return 0
    printf '%s\n' "$persisted_view"
}

# The newer of two "<config-epoch> <host>" views; the first wins a tie (callers put live
# answers first).
newer_view() {
    if [ -z "$2" ]; then
        printf '%s\n' "$1"
    elif [ -z "$1" ] || [ "${2%% *}" -gt "${1%% *}" ]; then
        printf '%s\n' "$2"
    else
        printf '%s\n' "$1"
    fi
}

# The replication offset a redis server reports, or nothing when it does not answer or is
# still loading its dataset (a loading node reports offset 0, which would make it look empty).
replication_offset_of() {
    offset_info=$(redis_cli "$1" INFO persistence replication 2>/dev/null) || return 0
    [ "$(printf '%s\n' "$offset_info" | info_field loading)" = 0 ] || return 0
    printf '%s\n' "$offset_info" | info_field master_repl_offset
}

# "<offset> <fqdn>" of the reachable peer redis with the highest replication offset, or nothing.
best_peer_by_offset() {
    for peer in $(peer_ordinals); do
        peer_host=$(pod_fqdn "$peer")
        peer_offset=$(replication_offset_of "$peer_host")
        case $peer_offset in
            '' | *[!0-9]*) ;;
            *) printf '%s %s\n' "$peer_offset" "$peer_host" ;;
        esac
    done | sort -n -k1,1 | tail -n 1
}

# ------------------------------------------------------------------ files

# Replaces <file> with stdin atomically (temp file in the same directory, then rename), 0600.
write_file_atomically() {
    atomic_tmp="$1.tmp.$$"
    (umask 077 && cat >"$atomic_tmp") || die "cannot write $atomic_tmp"
    chmod 0600 "$atomic_tmp"
    mv -f "$atomic_tmp" "$1" || die "cannot replace $1"
}

# Value of `<directive> <set> <value>` (sentinel) from a config file, or nothing.
sentinel_setting() {
    awk -v key="$2" -v set="$MASTER_SET" '$1 == "sentinel" && $2 == key && $3 == set { value = $4 }
        END { if (value != "") print value }' "$1"
}

# redis_setting <redis.conf> <key> <default>: the last value of a plain `<key> <value>` line
# (the one Redis uses), or <default> when the file has none.
redis_setting() {
    awk -v key="$2" -v fallback="$3" '$1 == key { value = $2 } END { print (value == "" ? fallback : value) }' "$1"
}
