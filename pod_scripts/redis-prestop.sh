#!/bin/sh
# preStop of the redis container: hand the master role over before the pod stops, losing no
# acknowledged write (handover.sh says how).
# The sentinel container has no preStop of its own: the failover is driven by a peer sentinel,
# and the restarted pod learns the outcome from the peers at boot.
#
# A replica, or a master without an online replica, does nothing (exit 0): the pod stops and
# Sentinel fails over after down-after if it was the master. The hook always exits 0: a failed
# hook changes nothing but a warning event, and the pod stops either way.
set -eu
SCRIPT_NAME=redis-prestop
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
. "$(dirname -- "$0")/common.sh"
# shellcheck source-path=SCRIPTDIR
# shellcheck source=handover.sh
. "$(dirname -- "$0")/handover.sh"
# shellcheck source-path=SCRIPTDIR
# shellcheck source=passwords.sh
. "$(dirname -- "$0")/passwords.sh"

# After a handover the pod stays for this long with its ports closed (redis's since the switch,
# the sentinel's since the pod's stop began: the sentinel container has no preStop). A client
# that still uses this pod's sentinel or redis is refused at once and asks another sentinel.
# Once the pod is gone its IP answers nothing, and a client waits out its dial timeout instead
# (go-redis's FailoverClient keeps the sentinel it found first: 5 s per call, twice).
CLOSED_LINGER_SECONDS=2

main() {
    load_pod_identity
    # The pod stops: its port closes at the switch (handover.sh, step 4).
    if handover close >/dev/null; then
        log "handed over: the pod stays ${CLOSED_LINGER_SECONDS} s with its ports closed"
        sleep "$CLOSED_LINGER_SECONDS"
    fi
}

main "$@"
