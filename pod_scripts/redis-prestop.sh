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

main() {
    load_pod_identity
    # The pod stops: its port closes at the switch (handover.sh, step 4).
    handover close >/dev/null || true
}

main "$@"
