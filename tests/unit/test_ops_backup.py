"""ops.backup: the report parsed from backup.sh's log, and the refusal without a CronJob."""

from __future__ import annotations

import pytest

from cluster import JobRun
from ops.backup import backup_now, parse_backup_log

LOG = ("2026-12-03T12:47:44Z redis-gateway-backup-drill-1-d5hjq backup: taking the RDB of replica r1\n"
       "Transfer finished with success after 6544304 bytes\n"
       "2026-12-03T12:47:46Z redis-gateway-backup-drill-1-d5hjq backup: backup redis-gateway/drill/"
       "gateway-master-20261203T124746Z.rdb: 6544304 bytes from redis-gateway-1.redis-gateway-headless."
       "kubernaut-system.svc.cluster.local, sha256 c1de9be0, RDB in 2 s, upload in 0 s\n")


def test_a_completed_job_reports_its_object():
    report = parse_backup_log(JobRun("j", True, 100.0, 105.2, LOG))
    assert report.succeeded
    assert report.as_dict() == {
        "job": "j", "succeeded": True, "job_seconds": 5.2, "key": "redis-gateway/drill/gateway-master-20261203T124746Z.rdb",
        "bytes": 6544304, "source": "redis-gateway-1.redis-gateway-headless.kubernaut-system.svc.cluster.local",
        "sha256": "c1de9be0", "rdb_s": 2, "upload_s": 0}


def test_a_failed_job_or_one_without_the_line_is_no_backup():
    assert not parse_backup_log(JobRun("j", False, 0.0, 1.0, LOG)).succeeded
    assert not parse_backup_log(JobRun("j", True, 0.0, 1.0, "backup: ERROR: no sentinel listed...")).succeeded
    assert not parse_backup_log(JobRun("j", None, 0.0, 1.0, "")).succeeded


class NoCronJob:
    def object(self, namespace, kind, name):
        assert (namespace, kind, name) == ("kubernaut-system", "cronjob", "redis-gateway-backup")
        return None

    def run_job_from_cron_job(self, *args, **kwargs):
        raise AssertionError("no Job without the CronJob")


def test_without_the_cron_job_nothing_runs_and_the_error_says_why():
    with pytest.raises(LookupError, match="is gateway.backup.enabled on"):
        backup_now(NoCronJob(), "kubernaut-system")
