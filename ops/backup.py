"""A backup now, outside the schedule: a Job made from the CronJob redis-gateway-backup's own
template (what `kubectl create job --from=cronjob/...` does), waited for, and the line in which
pod_scripts/backup.sh reports what it stored (docs/backup.md)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Optional

from cluster import Cluster, JobRun
from stack_config import names

# backup.sh's last line about the object it stored.
BACKUP_LINE = re.compile(r"backup (\S+): (\d+) bytes from (\S+), sha256 (\w+), RDB in (\d+) s, upload in (\d+) s")
JOB_TIMEOUT_SECONDS = 3600.0


@dataclass(frozen=True)
class BackupReport:
    job: JobRun
    key: Optional[str] = None
    bytes: Optional[int] = None
    source: Optional[str] = None
    sha256: Optional[str] = None
    rdb_seconds: Optional[int] = None
    upload_seconds: Optional[int] = None

    @property
    def succeeded(self) -> bool:
        return bool(self.job.succeeded) and self.key is not None

    def as_dict(self) -> dict[str, Any]:
        return {"job": self.job.name, "succeeded": self.succeeded, "job_seconds": round(self.job.finished_at
                                                                                       - self.job.created_at, 1),
                "key": self.key, "bytes": self.bytes, "source": self.source, "sha256": self.sha256,
                "rdb_s": self.rdb_seconds, "upload_s": self.upload_seconds}


def parse_backup_log(job: JobRun) -> BackupReport:
    match = BACKUP_LINE.search(job.log)
    if not match:
        return BackupReport(job)
    key, size, source, digest, rdb_s, upload_s = match.groups()
    return BackupReport(job, key, int(size), source, digest, int(rdb_s), int(upload_s))


def backup_now(cluster: Cluster, namespace: str, job_name: Optional[str] = None,
               timeout: float = JOB_TIMEOUT_SECONDS) -> BackupReport:
    """One backup Job from the CronJob's template, waited for (gateway.backup.enabled must be on:
    without the CronJob there is no template)."""
    if cluster.object(namespace, "cronjob", names.GATEWAY_BACKUP_CRONJOB) is None:
        raise LookupError(f"no CronJob {namespace}/{names.GATEWAY_BACKUP_CRONJOB}: is gateway.backup.enabled on?")
    name = job_name or f"{names.GATEWAY_BACKUP_CRONJOB}-now-{int(time.time())}"
    return parse_backup_log(cluster.run_job_from_cron_job(namespace, names.GATEWAY_BACKUP_CRONJOB, name, timeout))
