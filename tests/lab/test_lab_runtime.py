"""The lab runs pods as Kubernetes would, on the small fixture stack (tests/lab/fixtures/tiny):
ordered start, env and volumes, security context, probes gating readiness and Service membership,
liveness restarts, graceful delete with preStop and the grace period, PodDisruptionBudgets,
hard kill, network cut, rolling restart, and cleanup that leaves nothing behind."""

from __future__ import annotations

import subprocess
import time

import pytest

from lab import DisruptionRefused, Lab, LabError, leftovers
from lab.podman import Podman
from lab_support import TINY, require_lab_prerequisites

# Probe periods in the fixture are 1 s; this much more covers podman exec on a busy machine.
PROBE_SLACK_SECONDS = 10


def app(lab: Lab, pod: str, *command: str) -> str:
    done = lab.exec(pod, "app", list(command))
    assert done["exit_code"] == 0, done
    return done["stdout"]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"not within {timeout} s: {what}")


def events(lab: Lab, kind: str, pod: str, since: float = 0.0) -> list[dict]:
    return lab.ctl.events.since(since, kind=kind, pod=pod)


def toolbox(lab: Lab, *command: str) -> subprocess.CompletedProcess:
    return lab.client_exec(list(command), timeout=30)


def test_ordered_ready_starts_the_next_ordinal_only_after_the_previous_is_ready(tiny_lab):
    ready_0 = events(tiny_lab, "pod-ready", "tiny-0")[0]["t"]
    creating_1 = events(tiny_lab, "pod-creating", "tiny-1")[0]["t"]
    # The fixture's app becomes Ready READY_DELAY (3 s) after it starts.
    assert creating_1 >= ready_0


def test_env_volumes_and_security_context_follow_the_manifest(tiny_lab):
    env = app(tiny_lab, "tiny-1", "sh", "-c", 'echo "$POD_NAME|$GREETING|$TOKEN|$OTHER"').strip()
    assert env == "tiny-1|hello tiny-1|string-data-value|other-value"
    assert app(tiny_lab, "tiny-1", "id", "-u").strip() == "999"
    assert app(tiny_lab, "tiny-1", "stat", "-c", "%a", "/scripts/app.sh").strip() == "555"
    assert app(tiny_lab, "tiny-1", "stat", "-c", "%g", "/data").strip() == "999"
    assert app(tiny_lab, "tiny-1", "cat", "/scripts/peer").strip() == "tiny-0.tiny-headless.lab-fixture.svc.lab.test"
    read_only = tiny_lab.exec("tiny-1", "app", ["touch", "/etc/x"])
    assert read_only["exit_code"] != 0 and "Read-only" in read_only["stderr"]
    caps = app(tiny_lab, "tiny-1", "grep", "CapEff", "/proc/self/status")
    assert caps.split()[1] == "0000000000000000"


def test_secret_values_never_reach_a_podman_command_line(tiny_lab):
    podman = Podman()
    for pod in ("tiny-0", "tiny-1"):
        created = podman.run("inspect", "--format", "{{.Config.CreateCommand}}", f"kr-test-tiny-{pod}-app").stdout
        assert "--env TOKEN " in created
        assert "string-data-value" not in created and "other-value" not in created


def test_pod_and_service_names_resolve_on_the_lab_network(tiny_lab):
    ip = tiny_lab.pod_ip("tiny-1")
    resolved = toolbox(tiny_lab, "getent", "hosts", "tiny-1.tiny-headless")
    assert resolved.stdout.split()[0] == ip
    assert toolbox(tiny_lab, "redis-cli", "-h", "tiny", "-p", "7000", "ping").stdout.strip() == "PONG"


def test_readiness_gates_service_membership(tiny_lab):
    tiny_lab.wait_ready(60)
    ip = tiny_lab.pod_ip("tiny-1")

    def endpoints() -> list[str]:
        return tiny_lab.status()["services"]["tiny"]

    assert f"tiny-1={ip}" in endpoints()
    app(tiny_lab, "tiny-1", "rm", "/tmp/ready")
    wait_for(lambda: f"tiny-1={ip}" not in endpoints(), PROBE_SLACK_SECONDS, "tiny-1 left the endpoints")
    assert not tiny_lab.status()["pods"]["tiny-1"]["ready"]
    app(tiny_lab, "tiny-1", "touch", "/tmp/ready")
    wait_for(lambda: f"tiny-1={ip}" in endpoints(), PROBE_SLACK_SECONDS, "tiny-1 back in the endpoints")


def test_a_failing_liveness_probe_restarts_the_container_and_counts_it(tiny_lab):
    tiny_lab.wait_ready(60)
    before = tiny_lab.status()["pods"]["tiny-0"]["containers"]["app"]["restarts"]
    ip = tiny_lab.pod_ip("tiny-0")
    app(tiny_lab, "tiny-0", "touch", "/tmp/sick")
    wait_for(lambda: tiny_lab.status()["pods"]["tiny-0"]["containers"]["app"]["restarts"] == before + 1,
             PROBE_SLACK_SECONDS + 10, "the app container restarted")
    assert events(tiny_lab, "liveness-failed", "tiny-0")
    assert tiny_lab.pod_ip("tiny-0") == ip  # same pod, same IP: only the container restarted
    tiny_lab.wait_ready(60)


def test_graceful_delete_runs_prestop_then_sigterm_and_recreates_with_a_new_ip_and_the_same_claim(tiny_lab):
    tiny_lab.wait_ready(60)
    result = tiny_lab.delete_pod("tiny-0", timeout=120)
    steps = result["containers"]["app"]
    assert result["requested_at"] <= steps["prestop_started_at"] < steps["prestop_finished_at"]
    assert steps["prestop_exit_code"] == 0
    assert steps["prestop_finished_at"] <= steps["sigterm_at"] <= steps["exited_at"]
    assert "sigkill_at" not in steps  # the app exits on SIGTERM
    assert result["new_ip"] and result["new_ip"] != result["old_ip"]
    assert result["removed_at"] <= result["recreated_at"] <= result["ready_at"]
    log = app(tiny_lab, "tiny-0", "cat", "/data/log").split()
    # The claim outlived the pod: the old pod's start, preStop and SIGTERM, then the new start.
    assert [word for word in log if not word[0].isdigit()][-4:] == ["start", "prestop", "term", "start"]


def test_sigkill_ends_a_container_that_ignores_sigterm_at_the_end_of_the_grace_period(tiny_lab):
    tiny_lab.wait_ready(60)
    pod = next(name for name in tiny_lab.status()["pods"] if name.startswith("single-"))
    result = tiny_lab.delete_pod(pod, timeout=120)
    steps = result["containers"]["server"]
    assert "sigkill_at" in steps
    grace = result["grace_seconds"]
    assert grace - 0.5 <= steps["sigkill_at"] - result["requested_at"] <= grace + 3
    assert result["new_pod"] != pod and result["new_pod"].startswith("single-")


def test_a_graceful_delete_that_would_break_the_disruption_budget_is_refused(tiny_lab):
    tiny_lab.wait_ready(60)
    app(tiny_lab, "tiny-1", "rm", "/tmp/ready")
    wait_for(lambda: not tiny_lab.status()["pods"]["tiny-1"]["ready"], PROBE_SLACK_SECONDS, "tiny-1 unready")
    try:
        with pytest.raises(DisruptionRefused, match="PodDisruptionBudget tiny"):
            tiny_lab.delete_pod("tiny-0")
        assert tiny_lab.status()["pods"]["tiny-0"]["phase"] == "Running"
    finally:
        app(tiny_lab, "tiny-1", "touch", "/tmp/ready")
    tiny_lab.wait_ready(60)


def test_hard_kill_recreates_the_pod_with_a_new_ip(tiny_lab):
    tiny_lab.wait_ready(60)
    result = tiny_lab.kill_pod("tiny-1", timeout=120)
    assert result["requested_at"] <= result["killed_at"] <= result["removed_at"] <= result["recreated_at"]
    assert result["new_ip"] != result["old_ip"]
    assert not events(tiny_lab, "prestop-finished", "tiny-1", since=result["requested_at"])


def test_a_pod_held_down_comes_back_only_when_recreated(tiny_lab):
    tiny_lab.wait_ready(60)
    tiny_lab.kill_pod("tiny-1", recreate=False)
    time.sleep(2)
    assert "tiny-1" not in tiny_lab.status()["pods"]
    result = tiny_lab.recreate_pod("tiny-1", timeout=120)
    assert result["ready_at"] >= result["recreated_at"]


def test_a_cut_pod_keeps_its_ip_and_is_unreachable_until_healed(tiny_lab):
    tiny_lab.wait_ready(60)
    ip = tiny_lab.pod_ip("tiny-1")
    reach = ["sh", "-c", f"timeout 3 redis-cli -h {ip} -p 7000 ping"]
    assert toolbox(tiny_lab, *reach).stdout.strip() == "PONG"
    cut = tiny_lab.cut_pod("tiny-1")
    try:
        assert cut["ip"] == ip
        assert toolbox(tiny_lab, *reach).returncode != 0
        # Inside the pod, loopback still works: exec probes and the pod's own containers go on.
        assert app(tiny_lab, "tiny-1", "redis-cli", "-p", "7000", "ping").strip() == "PONG"
    finally:
        healed = tiny_lab.heal_pod("tiny-1")
    assert healed["healed_at"] > cut["cut_at"]
    assert tiny_lab.pod_ip("tiny-1") == ip
    assert toolbox(tiny_lab, *reach).stdout.strip() == "PONG"


def test_rolling_restart_goes_from_the_highest_ordinal_down_waiting_for_readiness(tiny_lab):
    tiny_lab.wait_ready(60)
    result = tiny_lab.rolling_restart("tiny", timeout=180)
    assert [step["pod"] for step in result["steps"]] == ["tiny-1", "tiny-0"]
    assert result["steps"][0]["ready_at"] <= result["steps"][1]["requested_at"]


def test_a_deployment_rolls_by_surging_one_ready_pod_before_removing_the_old(tiny_lab):
    tiny_lab.wait_ready(60)
    result = tiny_lab.rolling_restart("single", timeout=180)
    step = result["steps"][0]
    assert step["ready_at"] <= step["removed_at"] and step["new_pod"] != step["old_pod"]


def test_restart_all_takes_every_pod_down_at_once(tiny_lab):
    tiny_lab.wait_ready(60)
    result = tiny_lab.restart_all("tiny", timeout=180)
    killed = [timeline["killed_at"] for timeline in result["pods"].values()]
    assert len(killed) == 2 and max(killed) - min(killed) < 5
    assert result["all_ready_at"] > max(killed)


def test_a_lab_removes_leftovers_before_it_starts_and_everything_when_it_ends(tmp_path):
    require_lab_prerequisites()
    podman = Podman()
    name = "kr-test-clean"
    podman.run("run", "-d", "--name", f"{name}-stray", "--label", f"io.kubernaut-redis.lab={name}",
               "--network", "none", "localhost/kubernaut-redis-lab:7.0.15", "sleep", "600")
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    single = [d for d in (TINY / "objects.yaml").read_text().split("\n---\n") if "name: single" in d]
    (manifests / "single.yaml").write_text(single[0])
    with Lab(manifests, name=name, state_root=tmp_path / "state") as lab:
        assert f"container {name}-stray" not in leftovers(podman, name)
        lab.wait_ready(60)
        assert (tmp_path / "state" / name).is_dir()
    assert leftovers(podman, name) == []
    assert not (tmp_path / "state" / name).exists()


def test_a_failed_start_leaves_nothing_behind(tmp_path):
    require_lab_prerequisites()
    podman = Podman()
    name = "kr-test-fail"
    manifests = tmp_path / "manifests"
    manifests.mkdir()
    single = [d for d in (TINY / "objects.yaml").read_text().split("\n---\n") if "name: single" in d][0]
    # A subPath into a volume that has no such entry: podman refuses the container.
    broken = single.replace("          readinessProbe:",
                            "          volumeMounts:\n            - {name: scratch, mountPath: /x, subPath: missing}\n"
                            "          readinessProbe:", 1)
    broken += "      volumes:\n        - {name: scratch, emptyDir: {}}\n"
    (manifests / "broken.yaml").write_text(broken)
    with pytest.raises(LabError, match="could not be created"):
        with Lab(manifests, name=name, state_root=tmp_path / "state") as lab:
            lab.wait_ready(60)
    assert leftovers(podman, name) == []
