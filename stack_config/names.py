"""Fixed names of the Kubernetes objects, ports, paths and labels (docs/architecture.md).

Every name here is part of a contract: clients of the previous deployment, the lab and the
shipped scripts rely on them, and several of them force a StatefulSet replacement when changed.
"""

PROJECT = "kubernaut-redis"

# Gateway (RedisSentinelCluster)
GATEWAY = "redis-gateway"
GATEWAY_HEADLESS_SERVICE = "redis-gateway-headless"
GATEWAY_HA_SERVICE = "redis-gateway-ha"
GATEWAY_HAPROXY = "redis-gateway-haproxy"
GATEWAY_CONFIG_MAP = "redis-gateway-config"
GATEWAY_SCRIPTS_CONFIG_MAP = "redis-gateway-scripts"
GATEWAY_HAPROXY_CONFIG_MAP = "redis-gateway-haproxy-config"
# The pod count and Sentinel's quorum, mounted into the gateway pods apart from their config: a
# scale changes it without rolling a pod (it is not in the pod template's checksum), the scripts
# read it when they need it, and the topology Job applies it to the running sentinels.
GATEWAY_TOPOLOGY_CONFIG_MAP = "redis-gateway-topology"
TOPOLOGY_REPLICAS_KEY = "replicas"
TOPOLOGY_QUORUM_KEY = "quorum"
TOPOLOGY_KEYS = (TOPOLOGY_REPLICAS_KEY, TOPOLOGY_QUORUM_KEY)


def topology_env(key: str) -> str:
    """The variable that gives the gateway containers topology key <key> as it was at their start
    (pod_scripts/common.sh, topology_value, which derives the same name)."""
    return f"TOPOLOGY_{key.upper()}"


# The Job that applies a topology to the running sentinels (quorum, and SENTINEL RESET of the
# ones that still know pods a scale-in removed); its name ends in a digest of what it applies.
GATEWAY_TOPOLOGY_JOB = "redis-gateway-topology"
GATEWAY_AUTH_SECRET = "redis-gateway-auth"
# Backups (gateway.backup, components/backup.py): the CronJob that copies a replica's RDB to
# S3-compatible storage, and the restore of one into pod 0 of a new stack (an init container).
GATEWAY_BACKUP_CRONJOB = "redis-gateway-backup"
GATEWAY_RESTORE_CONTAINER = "restore-backup"
# The keys of the Secret gateway.backup.s3.credentialsSecret (the AWS CLI's variable names).
BACKUP_ACCESS_KEY_ID = "AWS_ACCESS_KEY_ID"
BACKUP_SECRET_ACCESS_KEY = "AWS_SECRET_ACCESS_KEY"
# Objects are <prefix>/<MASTER_SET>-<UTC time, %Y%m%dT%H%M%SZ><BACKUP_SUFFIX>: sorted by name is
# sorted by time, which retention and `restoreFrom: latest` rely on.
BACKUP_SUFFIX = ".rdb"
RESTORE_LATEST = "latest"
GATEWAY_PDB = "redis-gateway"
GATEWAY_HAPROXY_PDB = "redis-gateway-haproxy"
MASTER_SET = "gateway-master"
DATA_VOLUME_CLAIM = "data"

SECRET_KEY_REDIS_PASSWORD = "redis-password"
SECRET_KEY_SENTINEL_PASSWORD = "sentinel-password"

# Redis ACL users of the gateway (gateway.auth.enabled; redis_files/acl.py gives each its
# rules). The clients' user is `default`: the Gateway sends a password and no user name, so it
# authenticates as `default`, whose password is `redis-password`. Every other user's password is
# the Secret key `acl-<user>-password`, reaching the containers as ACL_<USER>_PASSWORD.
ACL_USER_CLIENTS = "default"
ACL_USER_REPLICATION = "replication"
ACL_USER_SENTINEL = "sentinel"
ACL_USER_POD = "pod"
ACL_USER_PROBE = "probe"
ACL_USER_EXPORTER = "exporter"
ACL_USER_OPERATOR = "operator"
# The backup Job (gateway.backup): a replica's RDB through SYNC, nothing else.
ACL_USER_BACKUP = "backup"
ACL_INTERNAL_USERS = (ACL_USER_REPLICATION, ACL_USER_SENTINEL, ACL_USER_POD, ACL_USER_PROBE, ACL_USER_EXPORTER,
                      ACL_USER_BACKUP, ACL_USER_OPERATOR)
# The template of the users (rules only, no password) in ConfigMap redis-gateway-config;
# redis-start.sh writes the effective file, with password hashes, next to redis.conf.
USERS_ACL = "users.acl"


def acl_secret_key(user: str) -> str:
    """The key of the component's Secret (redis-gateway-auth, redis-auth) holding the password of
    ACL user <user>."""
    return f"acl-{user}-password"


def acl_password_env(user: str) -> str:
    """The variable a container reads the password of ACL user <user> from."""
    return f"ACL_{user.upper()}_PASSWORD"


# A rotation's second password (docs/architecture.md, "Rotation"): while a window is open, each
# Secret key and variable holding a password has a twin, with this suffix, holding the other
# password its user accepts (pod_scripts/passwords.sh). Nothing sends the twin; servers accept it.
def accepted_secret_key(secret_key: str) -> str:
    return f"{secret_key}-accepted"


def accepted_env(variable: str) -> str:
    return f"{variable}_ACCEPTED"


# Context-API cache (SingleRedisCache)
CACHE = "redis"
CACHE_CONFIG_MAP = "redis-config"
CACHE_AUTH_SECRET = "redis-auth"
# Redis ACL users of the cache (redis_files/acl.py, cache_acl_rules). The Context-API is `default`
# (go-redis sends no user name, and no password unless contextCache.auth.enabled). With auth,
# the readiness probe and the exporter have users of their own, with passwords derived as the
# gateway's (stack_config/acl.py); `operator` exists only while contextCacheOperatorPassword is
# set. Their passwords are keys acl-<user>-password of Secret redis-auth.
CACHE_ACL_DERIVED_USERS = (ACL_USER_PROBE, ACL_USER_EXPORTER)

REDIS_PORT = 6379
SENTINEL_PORT = 26379

# Files and mounts inside the pods
REDIS_CONF = "redis.conf"
SENTINEL_CONF = "sentinel.conf"
HAPROXY_CFG = "haproxy.cfg"
CONF_DIR = "/etc/kubernaut-redis/conf"
TOPOLOGY_DIR = "/etc/kubernaut-redis/topology"
SCRIPTS_DIR = "/opt/kubernaut-redis/bin"
DATA_DIR = "/data"
TMP_DIR = "/tmp"
# The redis container's unix socket (pod_scripts/common.sh: LOCAL_SOCKET): open while the TCP
# port is closed during a claim of the master role; probes and tests inside the pod use it.
REDIS_SOCKET = "/tmp/redis.sock"
HAPROXY_CONF_DIR = "/usr/local/etc/haproxy"

REDIS_START_SCRIPT = "redis-start.sh"
SENTINEL_START_SCRIPT = "sentinel-start.sh"
REDIS_READINESS_SCRIPT = "redis-readiness.sh"
REDIS_LIVENESS_SCRIPT = "redis-liveness.sh"
SENTINEL_PROBE_SCRIPT = "sentinel-probe.sh"
REDIS_PRESTOP_SCRIPT = "redis-prestop.sh"
# An operator's fenced switchover (python -m ops switchover runs it in the master's redis container).
REDIS_SWITCHOVER_SCRIPT = "redis-switchover.sh"
# The topology Job's command (components/topology_job.py).
TOPOLOGY_RECONCILE_SCRIPT = "topology-reconcile.sh"
# The backup CronJob's command and the restore init container's (components/backup.py).
BACKUP_SCRIPT = "backup.sh"
RESTORE_SCRIPT = "restore-backup.sh"
# Shared by the gateway's and the cache's start scripts: the password rule and the users file
# written from a users.acl template (password hashes from the environment).
PASSWORDS_SCRIPT = "passwords.sh"
CACHE_START_SCRIPT = "cache-start.sh"
CACHE_READINESS_SCRIPT = "cache-readiness.sh"
# The CLI as the ACL user `operator`, for people's `kubectl exec ... -c redis -- sh <it> ...`.
OPERATOR_CLI_SCRIPT = "operator-cli.sh"

# Labels and annotations
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_COMPONENT = "app.kubernetes.io/component"
LABEL_PART_OF = "app.kubernetes.io/part-of"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_APP = "app"
COMPONENT_SENTINEL_CLUSTER = "sentinel-cluster"
COMPONENT_MASTER_PROXY = "master-proxy"
COMPONENT_CACHE = "cache"
COMPONENT_TOPOLOGY = "topology"
COMPONENT_BACKUP = "backup"
CHECKSUM_ANNOTATION = "kubernaut.io/config-checksum"
# A keyed digest of the passwords a pod uses and accepts (components/checksum.py): a password
# change rolls the pods that hold it, and the annotation tells nothing about the passwords.
PASSWORDS_ANNOTATION = "kubernaut.io/passwords-checksum"
# With network policies on (stack key `networkPolicy`), pods of the stack's namespace carrying
# these labels (value "true") may connect besides the configured clients: the smoke check Job,
# the lab's client pods, a person's debugging pod.
GATEWAY_CLIENT_LABEL = "kubernaut-redis/gateway-client"
CACHE_CLIENT_LABEL = "kubernaut-redis/cache-client"
CLIENT_LABEL_VALUE = "true"
CLIENT_ACCESS_LABELS = {GATEWAY_CLIENT_LABEL: CLIENT_LABEL_VALUE, CACHE_CLIENT_LABEL: CLIENT_LABEL_VALUE}

# The official redis image's user; the lab image gives the same uid a name.
REDIS_UID = 999

# Monitoring (stack key `monitoring`): the exporters' ports, the metrics Services, the job labels
# the alert rules select on (the ServiceMonitors set them; a plain Prometheus sets them with the
# relabelling of docs/monitoring.md), and the objects for the Prometheus Operator and Grafana.
REDIS_EXPORTER_CONTAINER = "redis-exporter"
SENTINEL_EXPORTER_CONTAINER = "sentinel-exporter"
REDIS_EXPORTER_PORT = 9121
SENTINEL_EXPORTER_PORT = 9355
METRICS_PORT_NAME = "metrics"
# Port names are IANA service names: at most 15 characters (the API server refuses longer ones).
SENTINEL_METRICS_PORT_NAME = "sentinel-prom"
GATEWAY_METRICS_SERVICE = "redis-gateway-metrics"
CACHE_METRICS_SERVICE = "redis-metrics"
JOB_GATEWAY_REDIS = "redis-gateway"
JOB_GATEWAY_SENTINEL = "redis-gateway-sentinel"
JOB_CACHE = "redis"
PROMETHEUS_RULE = "kubernaut-redis"
DASHBOARD_CONFIG_MAP = "kubernaut-redis-dashboard"
DASHBOARD_FILE = "kubernaut-redis.json"
GRAFANA_DASHBOARD_LABEL = "grafana_dashboard"
