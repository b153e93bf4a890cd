#!/bin/sh
# Readiness of the redis container: a master is ready; a replica only when it is linked to its
# master and not syncing. An empty or syncing replica must not count as Ready, or a rolling
# update (PDB maxUnavailable 1) could take the master down while the only replicas are empty.
# Neither is ready while the cluster's DNS still gives the pod's name an old address (a replaced
# pod): the rollout moves on to the next pod, maybe the master's, only once the peers reach this
# one by name (common.sh, dns_problem).
set -eu
SCRIPT_NAME=redis-readiness
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
. "$(dirname -- "$0")/common.sh"

require_env REDIS_PORT POD_NAME STATEFULSET_NAME HEADLESS_SERVICE POD_NAMESPACE CLUSTER_DOMAIN
use_redis_user probe
info=$(redis_cli "$LOCAL_HOST" INFO replication 2>&1) || die "redis does not answer: $info"
role=$(printf '%s\n' "$info" | info_field role)
problem=$(dns_problem "$(pod_fqdn "${POD_NAME##*-}")")
if [ -n "$problem" ]; then
    log "not ready: $problem"
    exit 1
fi
case $role in
    master)
        exit 0 ;;
    slave)
        link=$(printf '%s\n' "$info" | info_field master_link_status)
        syncing=$(printf '%s\n' "$info" | info_field master_sync_in_progress)
        [ "$link" = up ] && [ "$syncing" = 0 ] && exit 0
        log "replica not ready: master_link_status=$link master_sync_in_progress=$syncing"
        exit 1 ;;
    *)
        log "not ready: $(printf '%s\n' "$info" | head -n 1)"
        exit 1 ;;
esac
