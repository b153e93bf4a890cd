"""Scaling rolls no pod: the pod count and Sentinel's quorum live in ConfigMap redis-gateway-topology,
outside the gateway pods' template and checksum, and the topology Job applies them to the running
sentinels (pod_scripts/topology-reconcile.sh, run by every `pulumi up` of the lab stack and
checked on the lab cluster by the scale drill, tests/lab/test_drills.py)."""

from __future__ import annotations

import os
import re
import subprocess

from components import topology_job
from redis_files.scripts import POD_SCRIPTS_DIR
from stack_config import names


def _objects(run, kind):
    return [o for o in run.kubernetes_objects() if o["kind"] == kind]


def _topology_job(run):
    (job,) = _objects(run, "Job")
    return job


def test_a_scale_changes_no_pod_template_and_no_file_the_pods_checksum(program):
    three, five = program("prod"), program("prod", {"gateway.replicas": 5})
    sts3, sts5 = three.object("StatefulSet", names.GATEWAY), five.object("StatefulSet", names.GATEWAY)
    assert (sts3["spec"]["replicas"], sts5["spec"]["replicas"]) == (3, 5)
    assert sts3["spec"]["template"] == sts5["spec"]["template"], "a scale would roll every pod"
    for config_map in (names.GATEWAY_CONFIG_MAP, names.GATEWAY_SCRIPTS_CONFIG_MAP):
        assert three.object("ConfigMap", config_map) == five.object("ConfigMap", config_map)
    assert three.object("ConfigMap", names.GATEWAY_TOPOLOGY_CONFIG_MAP)["data"] == {"replicas": "3\n", "quorum": "2\n"}
    assert five.object("ConfigMap", names.GATEWAY_TOPOLOGY_CONFIG_MAP)["data"] == {"replicas": "5\n", "quorum": "3\n"}
    # A new topology is a new Job; the same one is not run again.
    assert _topology_job(three)["metadata"]["name"] != _topology_job(five)["metadata"]["name"]
    assert _topology_job(three)["metadata"]["name"] == _topology_job(program("prod"))["metadata"]["name"]


def test_an_explicit_quorum_reaches_the_topology(program):
    run = program("prod", {"gateway.replicas": 5, "gateway.quorum": 4})
    assert run.object("ConfigMap", names.GATEWAY_TOPOLOGY_CONFIG_MAP)["data"][names.TOPOLOGY_QUORUM_KEY] == "4\n"


def test_the_job_runs_the_reconcile_script_with_the_topology_and_sentinels_password_only(program):
    for stack, overrides, sentinel_auth in (("prod", {}, True), ("dev", {"gateway.auth.sentinel": False}, False)):
        job = _topology_job(program(stack, overrides))
        assert job["metadata"]["name"].startswith(f"{names.GATEWAY_TOPOLOGY_JOB}-")
        spec = job["spec"]
        pod = spec["template"]["spec"]
        assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
        (container,) = pod["containers"]
        assert container["command"] == ["sh", f"{names.SCRIPTS_DIR}/{names.TOPOLOGY_RECONCILE_SCRIPT}"]
        assert (POD_SCRIPTS_DIR / names.TOPOLOGY_RECONCILE_SCRIPT).is_file()
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        assert mounts == {names.SCRIPTS_DIR: "scripts", names.TOPOLOGY_DIR: "topology", names.TMP_DIR: "tmp"}
        volumes = {v["name"]: v.get("configMap", {}).get("name") for v in pod["volumes"]}
        assert volumes == {"scripts": names.GATEWAY_SCRIPTS_CONFIG_MAP, "topology": names.GATEWAY_TOPOLOGY_CONFIG_MAP,
                           "tmp": None}
        assert {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}} in container["env"]
        secrets = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]
                   if "secretKeyRef" in e.get("valueFrom", {})}
        assert secrets == ({"SENTINEL_PASSWORD": {"name": names.GATEWAY_AUTH_SECRET,
                                                  "key": names.SECRET_KEY_SENTINEL_PASSWORD}}
                           if sentinel_auth else {})
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        assert spec["activeDeadlineSeconds"] == 60 + 120 + 120 + 3 * 2 * 60


def test_the_job_waits_for_the_statefulset_and_pulumi_waits_for_the_job(program, resource_options):
    program("prod", {"gateway.replicas": 9})
    options = resource_options[("kubernetes:batch/v1:Job", "redis-gateway-topology-job")]
    deadline = 60 + 120 + 120 + 9 * 2 * 60
    assert options.custom_timeouts.create == f"{deadline + 30}s"
    component = resource_options[(topology_job.TYPE_TOKEN, "redis-gateway-topology")]
    assert [r._name for r in component.depends_on] == ["redis-gateway-statefulset"]


def test_the_scripts_bounds_are_the_jobs_deadline_parts():
    text = (POD_SCRIPTS_DIR / names.TOPOLOGY_RECONCILE_SCRIPT).read_text()
    bounds = dict(re.findall(r"^([A-Z_]+_SECONDS)=(\d+)$", text, flags=re.MULTILINE))
    assert int(bounds["ANSWER_WAIT_SECONDS"]) == topology_job.ANSWER_WAIT_SECONDS
    assert int(bounds["GHOST_DOWN_WAIT_SECONDS"]) == topology_job.GHOST_DOWN_WAIT_SECONDS
    assert int(bounds["RELEARN_WAIT_SECONDS"]) == topology_job.RELEARN_WAIT_SECONDS


def test_the_pods_get_the_topology_only_by_reference_to_its_config_map(program):
    """REPLICAS in the pod template rolled every pod on a scale. The start scripts take the
    topology from variables the kubelet resolves at each container start (configMapKeyRefs: the
    template is the same for every pod count); nothing else reads a pod count from the
    environment."""
    refs = {names.topology_env(key): {"name": names.GATEWAY_TOPOLOGY_CONFIG_MAP, "key": key}
            for key in names.TOPOLOGY_KEYS}
    assert set(refs) == {"TOPOLOGY_REPLICAS", "TOPOLOGY_QUORUM"}
    containers = program("prod").object("StatefulSet", names.GATEWAY)["spec"]["template"]["spec"]["containers"]
    by_name = {c["name"]: {e["name"]: e for e in c.get("env", [])} for c in containers}
    for container in ("redis", "sentinel"):
        env = by_name.pop(container)
        assert {name: env[name]["valueFrom"]["configMapKeyRef"] for name in refs if name in env} == refs, container
        assert all("value" not in env[name] for name in refs)
        assert "REPLICAS" not in env
    for container, env in by_name.items():  # the exporters run no pod script
        assert not set(env) & (set(refs) | {"REPLICAS"}), container
    for script in POD_SCRIPTS_DIR.glob("*.sh"):
        assert not re.search(r"\$\{?(REPLICAS|TOPOLOGY_REPLICAS|TOPOLOGY_QUORUM)\b", script.read_text()), script.name


def _topology_value(tmp_path, source: str, key: str, env: dict[str, str], file_text: str = "5\n"):
    """common.sh's topology_value <key> with TOPOLOGY_SOURCE=<source>, the topology files in
    tmp_path holding <file_text>, and <env>."""
    (tmp_path / key).write_text(file_text)
    script = (f'. "{POD_SCRIPTS_DIR / "common.sh"}"; TOPOLOGY_DIR="{tmp_path}"; '
              f'{"topology_as_at_container_start; " if source == "container-start" else ""}topology_value {key}')
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=30,
                          env={"PATH": os.environ["PATH"], **env})


def test_the_start_scripts_read_the_topology_of_the_containers_start_and_the_rest_the_files(tmp_path):
    fresh = {"TOPOLOGY_REPLICAS": "3\n", "TOPOLOGY_QUORUM": "2\n"}
    started = _topology_value(tmp_path, "container-start", "replicas", fresh)
    assert (started.returncode, started.stdout) == (0, "3\n"), started.stderr
    assert _topology_value(tmp_path, "container-start", "quorum", fresh, "3\n").stdout == "2\n"
    # The fence, the Jobs, ops switchover: the files, which follow a scale under a running container.
    assert _topology_value(tmp_path, "files", "replicas", fresh).stdout == "5\n"
    # A container started without the variables reads the files at its start too.
    assert _topology_value(tmp_path, "container-start", "replicas", {}).stdout == "5\n"


def test_a_bad_topology_value_is_refused_naming_where_it_came_from(tmp_path):
    bad = _topology_value(tmp_path, "container-start", "replicas", {"TOPOLOGY_REPLICAS": "three"})
    assert bad.returncode == 1
    assert "environment variable TOPOLOGY_REPLICAS must hold a whole number above 0, got 'three'" in bad.stderr
    zero = _topology_value(tmp_path, "files", "quorum", {}, "0\n")
    assert zero.returncode == 1 and f"{tmp_path}/quorum must hold a whole number above 0, got '0'" in zero.stderr
