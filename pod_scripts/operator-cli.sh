#!/bin/sh
# The engine's CLI as the Redis ACL user `operator` (every command), for people:
#   kubectl exec -n kubernaut-system redis-gateway-0 -c redis -- sh /opt/kubernaut-redis/bin/operator-cli.sh config get maxmemory
# A bare `redis-cli` in the redis container authenticates as the clients' user (REDISCLI_AUTH
# holds the clients' password), which may read INFO but not change the server. The password
# comes from ACL_OPERATOR_PASSWORD (the Secret's acl-operator-password) through REDISCLI_AUTH,
# never argv. Arguments go to the CLI as they are (-h/-p for another pod; the local server
# otherwise, on its unix socket while its TCP port is closed during a claim).
set -eu
SCRIPT_NAME=operator-cli
# shellcheck source-path=SCRIPTDIR
# shellcheck source=common.sh
. "$(dirname -- "$0")/common.sh"

require_env ENGINE_CLI ACL_OPERATOR_PASSWORD
REDISCLI_AUTH=$ACL_OPERATOR_PASSWORD exec "$ENGINE_CLI" --no-auth-warning --user operator "$@"
