"""Backup and restore on the lab's real Kubernetes (drills.backup; `python -m drills.backup
--dataset-mb 200` is the measured run): a known dataset, two backups from a replica to the lab's
SeaweedFS with a retention of one, the stack destroyed with its volumes, a new stack seeded from the
latest backup, every key compared. Runs after the modules that use the deployed lab stack
(tests/conftest.py) and leaves the restored stack as it is: each module after it deploys the stack
it needs (the next one destroys it first), so a redeploy as committed would be a rolling restart
for nothing."""

from __future__ import annotations

import pytest

from cluster import KubernetesCluster
from drills.backup import PREFIX, run_drill
from lab import objectstore
from drills.runner import Options
from stack_config import names

pytestmark = pytest.mark.redeploys_lab_stack

DATASET_MB = 8


@pytest.fixture(scope="module")
def drill(lab_cluster):
    try:
        yield run_drill(Options(), DATASET_MB, backups=2, retention=1, redeploy=False)
    finally:
        # The store is the drill's alone: the modules after it run without it.
        objectstore.remove(KubernetesCluster.lab(), namespace_for_credentials=None)


def test_each_backup_comes_from_a_replica_and_retention_keeps_the_newest(drill):
    backups = drill["backups"]
    assert [b["succeeded"] for b in backups] == [True, True], backups
    for backup in backups:
        assert backup["from_master"] is False, backup
        assert backup["key"].startswith(f"{PREFIX}/{names.MASTER_SET}-") and backup["key"].endswith(".rdb")
        # The values are random, so the RDB holds about the megabytes written (0.86 of them
        # measured: small hashes and sorted sets are packed; used_memory_dataset, with its
        # per-key overhead, is larger still and no bound for a small dataset).
        assert backup["bytes"] > DATASET_MB * 2**20 * 0.75, (backup, drill["memory"])
    # Retention 1: the first backup was deleted by the second, whose object is the only one left.
    assert drill["objects_after_backups"] == [backups[-1]["key"]]


def test_backups_from_a_replica_lose_no_acknowledged_write_of_either_writer(drill):
    for name, writer in drill["writers"].items():
        assert writer["verify_error"] is None, (name, writer)
        assert writer["lost"] == 0 and writer["acked"] > 0, (name, writer)
        # Generous: a backup that forked the master would show here as a stall, not as a loss.
        assert writer["largest_gap_s"] is not None and writer["largest_gap_s"] < 5.0, (name, writer)


def test_the_destroy_took_the_volumes_and_the_restore_brought_back_every_key_and_expiry_class(drill):
    assert drill["claims_after_destroy"] == []
    assert drill["restore_download"]["key"] == drill["backups"][-1]["key"]
    assert drill["restore_download"]["sha256"] == drill["backups"][-1]["sha256"]
    comparison = drill["comparison"]
    assert comparison["expected"] == sum(drill["classes"].values()), comparison
    assert (comparison["missing"], comparison["changed"], comparison["extra"]) == (0, 0, 0), comparison
    assert drill["expected_per_class"] == drill["classes"]
    # The restored data is pod 0's: the only pod that restores, which then claims the master role.
    assert drill["restored_master"] == f"{names.GATEWAY}-0"
