"""gateway.backup as the program renders it: the CronJob, the restore init container, the
`backup` ACL user, the network policies and the output (docs/backup.md)."""

from __future__ import annotations

import json

import pytest

from components.network_policies import BACKUP_SELECTOR, GATEWAY_SELECTOR, policy_specs
from redis_files.acl import gateway_acl_rules
from stack_config import NetworkPolicyConfig, names
from stack_config.keys import backup_credential_problems

from .support import PASSWORDS

ENABLED = {
    "gateway.backup.enabled": True,
    "gateway.backup.image": "localhost/kubernaut-redis-backup:7.0.15",
    "gateway.backup.s3.endpoint": "http://s3.lab-objectstore.svc.cluster.local:8333",
    "gateway.backup.retention": 3,
}


def _env(container: dict) -> dict:
    return {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}


def test_no_backup_objects_by_default(program):
    run = program("prod")
    assert not [o for o in run.kubernetes_objects() if o["kind"] == "CronJob"]
    assert run.outputs["gateway"]["backup"] is None
    pod = run.object("StatefulSet", names.GATEWAY)["spec"]["template"]["spec"]
    assert names.GATEWAY_RESTORE_CONTAINER not in [c["name"] for c in pod.get("initContainers") or []]


@pytest.mark.parametrize("stack", ["dev", "prod", "lab"])
def test_the_cron_job_takes_a_replica_as_the_backup_user_with_the_credentials_from_their_secret(program, stack):
    run = program(stack, ENABLED)
    cron = run.object("CronJob", names.GATEWAY_BACKUP_CRONJOB)
    assert cron["spec"]["schedule"] == "17 3 * * *"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    job = cron["spec"]["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] == 3600
    (container,) = job["template"]["spec"]["containers"]
    assert container["command"] == ["sh", f"{names.SCRIPTS_DIR}/{names.BACKUP_SCRIPT}"]
    # The RDB's scratch space: at most a data volume's worth, on disk (not in memory).
    volumes = {v["name"]: v for v in job["template"]["spec"]["volumes"]}
    assert volumes["work"]["emptyDir"] == {"sizeLimit": "2Gi" if stack == "prod" else "1Gi"}  # persistence.size
    assert {"name": "work", "mountPath": "/backup"} in container["volumeMounts"]
    assert container["image"] == "localhost/kubernaut-redis-backup:7.0.15"
    env = _env(container)
    assert env["S3_ENDPOINT"] == "http://s3.lab-objectstore.svc.cluster.local:8333"
    assert env["S3_PREFIX"] == f"redis-gateway/{'prod' if stack == 'prod' else 'dev'}"
    assert env["BACKUP_RETENTION"] == "3"
    for key in (names.BACKUP_ACCESS_KEY_ID, names.BACKUP_SECRET_ACCESS_KEY):
        assert env[key] == {"secretKeyRef": {"name": "redis-gateway-backup-s3", "key": key}}
    assert env["ACL_BACKUP_PASSWORD"] == {"secretKeyRef": {"name": names.GATEWAY_AUTH_SECRET,
                                                           "key": "acl-backup-password"}}
    assert env["SENTINEL_PASSWORD"]["secretKeyRef"]["key"] == names.SECRET_KEY_SENTINEL_PASSWORD
    # Only its own passwords: not the clients', not another user's.
    assert "REDIS_PASSWORD" not in env and "ACL_OPERATOR_PASSWORD" not in env
    assert run.outputs["gateway"]["backup"] == {
        "cronJob": names.GATEWAY_BACKUP_CRONJOB, "schedule": "17 3 * * *",
        "endpoint": "http://s3.lab-objectstore.svc.cluster.local:8333", "bucket": "kubernaut-backups",
        "prefix": env["S3_PREFIX"], "retention": 3, "restoreFrom": None}


def test_the_backup_user_may_only_ping_inspect_and_sync():
    rule = gateway_acl_rules()[names.ACL_USER_BACKUP]
    assert rule == "on resetkeys resetchannels -@all +ping +info +replconf +sync +psync"


def test_a_restore_is_an_init_container_after_the_volume_permissions_and_warns(program):
    run = program("lab", {**ENABLED, "gateway.backup.restoreFrom": "latest"})
    init = run.object("StatefulSet", names.GATEWAY)["spec"]["template"]["spec"]["initContainers"]
    assert [c["name"] for c in init] == ["volume-permissions", names.GATEWAY_RESTORE_CONTAINER]
    restore = init[1]
    assert restore["command"] == ["sh", f"{names.SCRIPTS_DIR}/{names.RESTORE_SCRIPT}"]
    assert _env(restore)["RESTORE_FROM"] == "latest"
    assert {"name": names.DATA_VOLUME_CLAIM, "mountPath": names.DATA_DIR} in restore["volumeMounts"]
    assert [w for w in run.warnings if w.startswith("gateway.backup.restoreFrom is 'latest'")], run.warnings
    assert run.outputs["gateway"]["backup"]["restoreFrom"] == "latest"


def test_policies_open_the_gateway_to_the_backup_job_and_the_storage_port_to_it_alone():
    cfg = NetworkPolicyConfig(enabled=True)
    specs = policy_specs(cfg, monitoring=False, s3_port=8333)
    backup = specs[names.GATEWAY_BACKUP_CRONJOB]
    assert backup["podSelector"]["matchLabels"] == BACKUP_SELECTOR
    assert backup["ingress"] == []
    assert {"ports": [{"protocol": "TCP", "port": 8333}]} in backup["egress"]
    assert {"podSelector": {"matchLabels": BACKUP_SELECTOR}} in specs[names.GATEWAY]["ingress"][0]["from"]
    # The gateway pods reach the storage only while a restore is set.
    assert {"ports": [{"protocol": "TCP", "port": 8333}]} not in specs[names.GATEWAY]["egress"]
    restoring = policy_specs(cfg, monitoring=False, s3_port=8333, restore=True)
    assert {"ports": [{"protocol": "TCP", "port": 8333}]} in restoring[names.GATEWAY]["egress"]
    without = policy_specs(cfg, monitoring=False)
    assert names.GATEWAY_BACKUP_CRONJOB not in without
    assert {"podSelector": {"matchLabels": BACKUP_SELECTOR}} not in without[names.GATEWAY]["ingress"][0]["from"]
    assert GATEWAY_SELECTOR != BACKUP_SELECTOR


def test_the_https_default_port_is_the_policy_port(program):
    run = program("lab", {**ENABLED, "gateway.backup.s3.endpoint": "https://s3.eu-west-1.amazonaws.com"})
    policy = run.object("NetworkPolicy", names.GATEWAY_BACKUP_CRONJOB)
    assert {"ports": [{"protocol": "TCP", "port": 443}]} in policy["spec"]["egress"]


def test_with_both_credential_keys_the_stack_creates_their_secret_before_the_pods(program):
    passwords = {**PASSWORDS, "gatewayBackupAccessKeyId": "AKIALAB0000000000001",
                 "gatewayBackupSecretAccessKey": "lab/secret+key=0123456789abcdef"}
    run = program("lab", ENABLED, passwords=passwords)
    secret = run.object("Secret", "redis-gateway-backup-s3")
    assert secret["stringData"]["value"] == {"AWS_ACCESS_KEY_ID": "AKIALAB0000000000001",
                                             "AWS_SECRET_ACCESS_KEY": "lab/secret+key=0123456789abcdef"}
    assert "lab/secret+key" not in json.dumps(run.outputs)
    # Without them the Secret is the operator's: the stack only names it.
    assert not [o for o in program("lab", ENABLED).kubernetes_objects()
                if o["kind"] == "Secret" and o["metadata"]["name"] == "redis-gateway-backup-s3"]


@pytest.mark.parametrize("values, enabled, expected", [
    ({"gatewayBackupAccessKeyId": "AK"}, True,
     ["gatewayBackupSecretAccessKey: missing; set both gatewayBackupAccessKeyId and gatewayBackupSecretAccessKey, or "
      "neither and create the Secret gateway.backup.s3.credentialsSecret yourself (`pulumi config set --secret "
      "gatewayBackupSecretAccessKey -s dev <file`)"]),
    ({"gatewayBackupAccessKeyId": "AK", "gatewayBackupSecretAccessKey": "has space"}, True,
     ["gatewayBackupSecretAccessKey: got a value that breaks the rule (a secret, not shown); must be 1 to 256 "
      "printable ASCII characters without spaces"]),
    ({"gatewayBackupAccessKeyId": "AK", "gatewayBackupSecretAccessKey": "SK"}, False,
     ["gatewayBackupAccessKeyId: set while gateway.backup.enabled is false (`pulumi config rm gatewayBackupAccessKeyId "
      "-s dev`)",
      "gatewayBackupSecretAccessKey: set while gateway.backup.enabled is false (`pulumi config rm "
      "gatewayBackupSecretAccessKey -s dev`)"]),
    ({"gatewayBackupAccessKeyId": "AK", "gatewayBackupSecretAccessKey": "SK"}, True, []),
])
def test_credential_keys_are_both_or_neither_and_never_shown(values, enabled, expected):
    assert backup_credential_problems(values, enabled, "dev") == expected
