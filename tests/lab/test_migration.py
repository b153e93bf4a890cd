"""The migration from the deployment this project replaces, once, on the lab's real Kubernetes
(drills.migration; `python -m drills.migration --trials N` reports it N times): the legacy
manifests applied, a client of that era writing through `redis-gateway-ha:6379` without a password,
the migration, `pulumi up` with the window open, then closed. Runs after the modules that use the
deployed lab stack (tests/conftest.py) and leaves the lab stack deployed as committed."""

from __future__ import annotations

import pytest

from drills.migration import run_trial
from drills.runner import Options

pytestmark = pytest.mark.redeploys_lab_stack


@pytest.fixture(scope="module")
def trial(lab_cluster):
    return run_trial(1, Options(steady_seconds=3.0, tail_seconds=2.0))


def test_the_legacy_masters_data_and_every_acknowledged_write_survive_the_migration(trial):
    assert trial["verify_error"] is None
    assert trial["lost"] == 0, trial
    # Writes were acknowledged on both sides of it, by the legacy master and by the new stack.
    assert trial["last_legacy_ack_s"] is not None and trial["first_new_ack_s"] is not None
    assert trial["first_new_ack_s"] > trial["last_legacy_ack_s"] and trial["outage_s"] > 1.0
    assert trial["keys_after"] >= trial["migration"]["master_keys"] > 0
    assert trial["keys_after_close"] == trial["keys_after"]


def test_the_legacy_objects_whose_names_the_stack_uses_are_gone_and_the_rdb_was_checked(trial):
    deleted = trial["migration"]["deleted"]
    assert {"service/redis-gateway-ha", "service/redis-gateway-headless", "service/redis-gateway-ha-nodeport",
            "configmap/redis-gateway-config", "deployment/redis"} <= set(deleted)
    assert trial["migration"]["placed"].startswith("place-legacy-rdb: /target/dump.rdb -> /target/redis/dump.rdb")


def test_the_window_takes_clients_without_a_password_and_closing_it_refuses_them(trial):
    opened, closed = trial["window_open"], trial["window_closed"]
    assert opened["anonymous"] == "True" and opened["auth_default_password"] == "True", opened
    # Redis refuses the one-argument AUTH while `default` is nopass: such clients wait for the close.
    assert "without any password configured" in opened["auth_password"], opened
    assert "NOAUTH" in closed["anonymous"] or "Authentication required" in closed["anonymous"], closed
    assert closed["auth_password"] == closed["auth_default_password"] == "True", closed
