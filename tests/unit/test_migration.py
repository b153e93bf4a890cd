"""The migration from the legacy deployment (ops.migration) against a scripted cluster: which
node's data it keeps, what it refuses, what it deletes and in which order, and the one-off pod that
copies the RDB; the legacy manifests as the lab applies them (lab.legacy); the drill's figures
(drills.migration). The migration itself runs on the lab cluster: tests/lab/test_migration.py."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field

import pytest

from cluster import Pod
from drills.migration import migration_metrics
from lab.legacy import FILES, LAB_IMAGE, MANIFESTS, NAMESPACE, legacy_objects
from ops.migration import HELPER_POD, LEGACY_OBJECTS, PLACE_SCRIPT, LegacyMigration, MigrationError
from smoke.targets import clients_without_password, from_stack_outputs
from stack_config import names

PODS = ["redis-gateway-0", "redis-gateway-1", "redis-gateway-2"]


def legacy_statefulset(containers=("redis", "sentinel"), init=("init-redis",)):
    return {"spec": {"template": {"spec": {"containers": [{"name": c} for c in containers],
                                           "initContainers": [{"name": c} for c in init]}}}}


@dataclass
class LegacyCluster:
    roles: dict  # pod -> (role, offset, keys)
    statefulset: object = field(default_factory=legacy_statefulset)
    calls: list = field(default_factory=list)
    helper_phase: str = "Succeeded"
    existing: set = field(default_factory=lambda: {kind_name for kind_name in LEGACY_OBJECTS})

    def object(self, namespace, kind, name):
        return self.statefulset if (kind, name) == ("statefulset", names.GATEWAY) else None

    def pods(self, namespace, selector=""):
        return [Pod(p, namespace, p, "10.0.0.1", "Running", True, False) for p in self.roles
                if ("delete_pod", p) not in self.calls]

    def pod(self, namespace, name):
        if name == HELPER_POD:
            return Pod(name, namespace, name, None, self.helper_phase, False, False)
        return None if ("delete_pod", name) in self.calls else Pod(name, namespace, name, None, "Running", True, False)

    def exec(self, namespace, pod, container, command, timeout=60.0):
        self.calls.append(("exec", pod, tuple(command)))
        if container == "sentinel":
            return subprocess.CompletedProcess(command, 0, "OK\n", "")
        role, offset, keys = self.roles[pod]
        if command[1:] == ["INFO", "replication"]:
            field_name = "master_repl_offset" if role == "master" else "slave_repl_offset"
            out = f"# Replication\r\nrole:{role}\r\n{field_name}:{offset}\r\n"
        elif command[1:] == ["DBSIZE"]:
            out = f"{keys}\n"
        else:
            out = "OK\n"
        return subprocess.CompletedProcess(command, 0, out, "")

    def delete_object(self, namespace, kind, name, orphan=False, timeout=120.0):
        self.calls.append(("delete", kind, name, orphan))
        return (kind, name) in self.existing or kind in ("statefulset", "pod")

    def delete_pod(self, namespace, name):
        self.calls.append(("delete_pod", name))

    def apply(self, objects):
        self.calls.append(("apply", objects[0]["metadata"]["name"], objects[0]))

    def logs(self, namespace, pod, container, since=None, previous=False):
        return "place-legacy-rdb: /target/dump.rdb -> /target/redis/dump.rdb (10 bytes), owner 999\n"


def healthy_legacy():
    return LegacyCluster({PODS[0]: ("master", 500, 40), PODS[1]: ("slave", 500, 40), PODS[2]: ("slave", 480, 39)})


def test_the_master_stops_last_after_a_save_point_and_its_rdb_goes_to_pod_0():
    cluster = healthy_legacy()
    report = LegacyMigration(cluster, NAMESPACE).migrate("img:1")
    assert (report.master, report.master_keys) == (PODS[0], 40)
    calls = cluster.calls
    save = calls.index(("exec", PODS[0], ("redis-cli", "CONFIG", "SET", "save", "3600 1")))
    orphan = calls.index(("delete", "statefulset", names.GATEWAY, True))
    deletes = [c[1] for c in calls if c[0] == "delete_pod"]
    assert save < orphan < calls.index(("delete_pod", PODS[0]))
    assert deletes == [PODS[1], PODS[2], PODS[0]], "the replicas go with the master, the master last"
    # Then each legacy sentinel is told to stop: under `sh -c` it would wait out the grace period.
    stops = [i for i, c in enumerate(calls) if c[0] == "exec" and c[2] == ("redis-cli", "-p", "26379", "SHUTDOWN")]
    assert [calls[i][1] for i in stops] == PODS and min(stops) > calls.index(("delete_pod", PODS[0]))
    deleted = [(c[1], c[2]) for c in calls if c[0] == "delete" and c[1] not in ("statefulset", "pod")]
    assert deleted == list(LEGACY_OBJECTS)
    assert calls.index(("delete_pod", PODS[0])) < calls.index(("delete", "service", names.GATEWAY_HA_SERVICE, False))
    helper = next(c[2] for c in calls if c[0] == "apply")
    container = helper["spec"]["containers"][0]
    assert container["command"][:2] == ["sh", "-c"] and container["command"][2] == PLACE_SCRIPT.read_text()
    assert container["command"][4:] == ["/target/dump.rdb", "/target", str(names.REDIS_UID), "redis-check-rdb"]
    assert [v["persistentVolumeClaim"]["claimName"] for v in helper["spec"]["volumes"]] == ["data-redis-gateway-0"]
    assert report.placed.startswith("place-legacy-rdb: ")


def test_a_master_that_moved_is_copied_from_its_own_volume_read_only():
    cluster = LegacyCluster({PODS[0]: ("slave", 500, 40), PODS[1]: ("master", 520, 41), PODS[2]: ("slave", 510, 40)})
    LegacyMigration(cluster, NAMESPACE).migrate("img:1")
    helper = next(c[2] for c in cluster.calls if c[0] == "apply")
    volumes = {v["name"]: v["persistentVolumeClaim"] for v in helper["spec"]["volumes"]}
    assert volumes == {"target": {"claimName": "data-redis-gateway-0"},
                       "source": {"claimName": "data-redis-gateway-1", "readOnly": True}}
    assert helper["spec"]["containers"][0]["command"][4] == "/source/dump.rdb"


def test_two_masters_are_refused_unless_the_operator_names_one():
    roles = {PODS[0]: ("master", 500, 40), PODS[1]: ("master", 90, 3), PODS[2]: ("slave", 500, 40)}
    refused = LegacyCluster(dict(roles))
    with pytest.raises(MigrationError, match="2 legacy pods report role:master.*--master POD"):
        LegacyMigration(refused, NAMESPACE).migrate("img:1")
    assert refused.calls and all(c[0] == "exec" and "SET" not in c[2] for c in refused.calls), \
        "nothing changed before the refusal"
    cluster = LegacyCluster(dict(roles))
    assert LegacyMigration(cluster, NAMESPACE).migrate("img:1", master=PODS[1]).master == PODS[1]
    with pytest.raises(MigrationError, match="--master redis-gateway-7: no such legacy pod"):
        LegacyMigration(LegacyCluster(dict(roles)), NAMESPACE).migrate("img:1", master="redis-gateway-7")


def test_no_legacy_statefulset_or_this_stacks_own_is_refused_before_anything_changes():
    cluster = healthy_legacy()
    cluster.statefulset = None
    with pytest.raises(MigrationError, match="no StatefulSet kubernaut-system/redis-gateway: nothing to migrate"):
        LegacyMigration(cluster, NAMESPACE).migrate("img:1")
    cluster = healthy_legacy()
    cluster.statefulset = legacy_statefulset(containers=("redis", "sentinel", "exporter"), init=("volume-permissions",))
    with pytest.raises(MigrationError, match="is not the legacy one"):
        LegacyMigration(cluster, NAMESPACE).migrate("img:1")
    assert cluster.calls == []


def test_a_failed_copy_is_an_error_that_keeps_the_helper_for_its_log():
    cluster = healthy_legacy()
    cluster.helper_phase = "Failed"
    with pytest.raises(MigrationError, match="failed; the legacy RDB stays where it was"):
        LegacyMigration(cluster, NAMESPACE).migrate("img:1")


def test_the_lab_applies_the_files_that_ran_with_its_image_and_the_official_workdir():
    objects = legacy_objects()
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert kinds == sorted([
        ("Service", "redis-gateway-headless"), ("Service", "redis-gateway-ha"), ("StatefulSet", "redis-gateway"),
        ("ConfigMap", "redis-gateway-config"), ("ConfigMap", "redis-gateway-sentinel-config"),
        ("Service", "redis-gateway-ha-nodeport"), ("ConfigMap", "redis-config"), ("Deployment", "redis"),
        ("Service", "redis")])
    assert "redis-statefulset.yaml" not in FILES and (MANIFESTS / "redis-statefulset.yaml").is_file()
    for item in objects:
        pod = (item.get("spec") or {}).get("template", {}).get("spec")
        for container in (pod or {}).get("containers", []) + (pod or {}).get("initContainers", []):
            assert (container["image"], container["workingDir"]) == (LAB_IMAGE, "/data")
    # Every legacy object this stack's names collide with is one the migration deletes.
    ours = {("service", names.GATEWAY_HA_SERVICE), ("service", names.GATEWAY_HEADLESS_SERVICE),
            ("configmap", names.GATEWAY_CONFIG_MAP), ("deployment", names.CACHE), ("service", names.CACHE),
            ("configmap", names.CACHE_CONFIG_MAP)}
    legacy = {(o["kind"].lower(), o["metadata"]["name"]) for o in objects if o["kind"] != "StatefulSet"}
    assert ours <= legacy and legacy == set(LEGACY_OBJECTS)


def test_the_drill_measures_the_gap_across_the_migration():
    writer = {"acked": 4, "attempts": 6, "lost": [], "errors": {"ReadOnlyError": 2},
              "acks": [[1, 99.0, 0], [2, 99.5, 0], [3, 100.2, 0], [5, 131.0, 0], [6, 131.01, 0]]}
    # The legacy master acknowledges until its own pod is deleted, after the replicas'.
    metrics = migration_metrics(writer, legacy_delete_at=100.0)
    assert metrics["outage_s"] == 30.8 and metrics["lost"] == 0
    assert (metrics["last_legacy_ack_s"], metrics["first_new_ack_s"]) == (0.2, 31.0)
    assert migration_metrics({**writer, "acks": writer["acks"][:2] + writer["acks"][3:]}, 100.0)["outage_s"] == 31.5
    assert migration_metrics({**writer, "lost": None, "verify_error": "x"}, 100.0)["lost"] is None


def test_the_smoke_check_knows_an_open_window_from_the_stack_outputs_or_the_users_template():
    outputs = {"gateway": {"sentinelAddresses": ["redis-gateway-0.h.ns.svc.cluster.local:26379"],
                           "masterSet": "gateway-master", "clientsWithoutPassword": True}}
    assert from_stack_outputs(outputs).clients_without_password is True
    outputs["gateway"]["clientsWithoutPassword"] = False
    assert from_stack_outputs(outputs).clients_without_password is False
    assert clients_without_password("# header\nuser default on nopass ~* resetchannels -@all\nuser pod on -@all\n")
    assert not clients_without_password("user default on ~* resetchannels -@all\nuser pod on nopass\n")
    assert not clients_without_password(None)
