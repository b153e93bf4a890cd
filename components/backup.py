"""GatewayBackup: the gateway's scheduled backups to S3-compatible storage, and the restore of one
into a new stack (gateway.backup; docs/backup.md).

- The CronJob `redis-gateway-backup` runs pod_scripts/backup.sh: it takes the RDB of a linked
  replica (never the master: the snapshot's fork would stall the Gateway's writes) as the ACL
  user `backup`, uploads it with its SHA-256, then deletes the oldest backups beyond the retention.
  One Job at a time (concurrencyPolicy Forbid); a missed schedule is not made up later than
  STARTING_DEADLINE_SECONDS.
- The restore is an init container of the gateway pods (restore_init_container), added while
  gateway.backup.restoreFrom is set: pod 0 with an empty data volume downloads the backup before
  Redis starts (pod_scripts/restore-backup.sh) and claims the master role with it.

The S3 credentials are the Secret gateway.backup.s3.credentialsSecret: the operator's own (the
program only names it, and the keys never enter the stack), or, when the secret config keys
gatewayBackupAccessKeyId and gatewayBackupSecretAccessKey are set, one the program creates from
them (Pulumi secrets: encrypted in the state, never shown). The restore of a new stack after a
total loss then needs nothing but the stack's config.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional

import pulumi
import pulumi_kubernetes as k8s

from stack_config import BackupConfig, EngineBinaries, StackConfig, engine_binaries, names

from .labels import object_labels
from .pod_spec import (
    SCRIPTS_VOLUME,
    container_security_context,
    gateway_identity_env,
    gateway_script_job_pod,
    literal_env,
    pod_name_env,
    secret_env,
    tmp_mount,
)

TYPE_TOKEN = "kubernaut:redis:GatewayBackup"
WORK_VOLUME = "work"
WORK_DIR = "/backup"
# A schedule missed (controller down, the previous Job still running) for longer than this is
# skipped, not run late in a burst.
STARTING_DEADLINE_SECONDS = 600
JOBS_KEPT = 3
# One retry: a backup that fails twice in a row is for a person to look at (the Job's log says why).
BACKOFF_LIMIT = 1
# The CLI streams the RDB to disk and curl streams it out: neither holds it in memory.
RESOURCES = k8s.core.v1.ResourceRequirementsArgs(
    requests={"cpu": "50m", "memory": "32Mi"}, limits={"cpu": "500m", "memory": "128Mi"})


@dataclass(frozen=True)
class GatewayBackupArgs:
    """The backup's slice of the config: where the gateway's pods are, how to reach them, and the
    backup settings themselves."""

    namespace: str
    cluster_domain: str
    engine: EngineBinaries
    pull_policy: str
    backup: BackupConfig
    # The scratch volume holds one RDB: at most a data volume's worth.
    scratch_size: str
    # Secret keys of redis-gateway-auth (None without auth): the `backup` user's and Sentinel's.
    backup_password_key: Optional[str] = None
    sentinel_password_key: Optional[str] = None
    # Secret key -> value of s3.credentialsSecret when the stack creates it (the secret config
    # keys gatewayBackupAccessKeyId and gatewayBackupSecretAccessKey); None: the operator's Secret.
    credentials: Optional[Mapping[str, pulumi.Input[str]]] = None


def s3_env(backup: BackupConfig) -> list[k8s.core.v1.EnvVarArgs]:
    """pod_scripts/s3.sh's environment: the bucket's address and the credentials' Secret keys."""
    s3 = backup.s3
    return [
        *literal_env({"S3_ENDPOINT": s3.endpoint, "S3_BUCKET": s3.bucket, "S3_PREFIX": s3.prefix,
                      "S3_REGION": s3.region}),
        secret_env(names.BACKUP_ACCESS_KEY_ID, s3.credentials_secret, names.BACKUP_ACCESS_KEY_ID),
        secret_env(names.BACKUP_SECRET_ACCESS_KEY, s3.credentials_secret, names.BACKUP_SECRET_ACCESS_KEY),
    ]


def restore_init_container(cfg: StackConfig) -> Optional[k8s.core.v1.ContainerArgs]:
    """The gateway pods' init container that seeds pod 0's empty volume from a backup, while
    gateway.backup.restoreFrom is set; None otherwise."""
    backup = cfg.gateway.backup
    if backup.restore_from is None:
        return None
    assert backup.image is not None  # stack_config requires it with restoreFrom
    return k8s.core.v1.ContainerArgs(
        name=names.GATEWAY_RESTORE_CONTAINER,
        image=backup.image,
        image_pull_policy=cfg.platform.images.pull_policy,
        command=["sh", f"{names.SCRIPTS_DIR}/{names.RESTORE_SCRIPT}"],
        env=[pod_name_env(), *literal_env({"MASTER_SET": names.MASTER_SET, "RESTORE_FROM": backup.restore_from}),
             *s3_env(backup)],
        resources=RESOURCES,
        security_context=container_security_context(),
        volume_mounts=[
            k8s.core.v1.VolumeMountArgs(name=SCRIPTS_VOLUME, mount_path=names.SCRIPTS_DIR, read_only=True),
            k8s.core.v1.VolumeMountArgs(name=names.DATA_VOLUME_CLAIM, mount_path=names.DATA_DIR),
            tmp_mount(),
        ],
    )


def backup_args(cfg: StackConfig, namespace: str,
                credentials: Optional[Mapping[str, pulumi.Input[str]]] = None) -> GatewayBackupArgs:
    auth = cfg.gateway.auth
    return GatewayBackupArgs(
        namespace=namespace,
        cluster_domain=cfg.platform.cluster_domain,
        engine=engine_binaries(cfg.platform.engine),
        pull_policy=cfg.platform.images.pull_policy,
        backup=cfg.gateway.backup,
        scratch_size=cfg.gateway.persistence.size,
        backup_password_key=names.acl_secret_key(names.ACL_USER_BACKUP) if auth.enabled else None,
        sentinel_password_key=names.SECRET_KEY_SENTINEL_PASSWORD if auth.sentinel else None,
        credentials=credentials,
    )


class GatewayBackup(pulumi.ComponentResource):
    cron_job_name: pulumi.Output[str]

    def __init__(self, name: str, args: GatewayBackupArgs, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        backup = args.backup
        assert backup.image is not None  # stack_config requires it when enabled
        labels = object_labels(names.GATEWAY, names.COMPONENT_BACKUP, names.GATEWAY_BACKUP_CRONJOB)
        env = gateway_identity_env(args.namespace, args.cluster_domain, args.engine)
        env += literal_env({"BACKUP_RETENTION": backup.retention, "WORK_DIR": WORK_DIR})
        env += s3_env(backup)
        if args.backup_password_key:
            env.append(secret_env(names.acl_password_env(names.ACL_USER_BACKUP), names.GATEWAY_AUTH_SECRET,
                                  args.backup_password_key))
        if args.sentinel_password_key:
            env.append(secret_env("SENTINEL_PASSWORD", names.GATEWAY_AUTH_SECRET, args.sentinel_password_key))
        scratch = k8s.core.v1.VolumeArgs(
            name=WORK_VOLUME, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=args.scratch_size))
        pod = gateway_script_job_pod("backup", backup.image, args.pull_policy, names.BACKUP_SCRIPT, env, RESOURCES,
                                     extra_volumes=[(scratch, WORK_DIR)])
        if args.credentials:
            k8s.core.v1.Secret(
                f"{name}-s3-credentials",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=backup.s3.credentials_secret, namespace=args.namespace,
                                                    labels=labels),
                type="Opaque",
                string_data={key: pulumi.Output.secret(value) for key, value in args.credentials.items()},
                opts=pulumi.ResourceOptions(parent=self),
            )
        cron_job = k8s.batch.v1.CronJob(
            f"{name}-cronjob",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=names.GATEWAY_BACKUP_CRONJOB, namespace=args.namespace,
                                                labels=labels),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=backup.schedule,
                time_zone=backup.time_zone,
                concurrency_policy="Forbid",
                starting_deadline_seconds=STARTING_DEADLINE_SECONDS,
                successful_jobs_history_limit=JOBS_KEPT,
                failed_jobs_history_limit=JOBS_KEPT,
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels),
                    spec=k8s.batch.v1.JobSpecArgs(
                        backoff_limit=BACKOFF_LIMIT,
                        active_deadline_seconds=backup.timeout_seconds,
                        template=k8s.core.v1.PodTemplateSpecArgs(
                            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels), spec=pod),
                    ),
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cron_job_name = cron_job.metadata.name
        self.register_outputs({"cronJobName": self.cron_job_name})
