"""The exporter containers as the pods run them: a podman pod (one network namespace, as in
Kubernetes) with redis-server, redis-sentinel and the exporters of the lab image, started with
the command the component renders and the password in the environment only. The redis server
runs the gateway's ACL users (redis_files/acl.py), and its exporter authenticates as `exporter`
(REDIS_USER), as the gateway pods' does. Names are `<prefix>-exporter-*` (KUBERNAUT_POD_RUNTIME_PREFIX)."""

from __future__ import annotations

import re
import urllib.request

import pytest

import redis_files
from components.monitoring import exporter_command
from gateway_pods import PREFIX, podman, wait_for
from labcluster.layout import EXPORTER_IMAGE
from runtime_support import DEFAULT_ENGINE, REDIS_PASSWORD, SENTINEL_PASSWORD, require_lab_images, stack_config
from stack_config import names

EXPORTER_PASSWORD = "krt-exporter-pw-2d8c51f0b7"
ACL_SENTINEL_PASSWORD = "krt-sentinel-user-pw-6a0e93c4d2"

POD = f"{PREFIX}exporter"
NETWORK = f"{POD}-net"
# An exporter without the password: redis_up must then be 0 (the checks below can fail).
NO_PASSWORD_PORT = 9122


def remove_leftovers() -> None:
    if podman("pod", "exists", POD, check=False).returncode == 0:
        podman("pod", "rm", "-f", "-t", "0", POD, check=False)
    if podman("network", "exists", NETWORK, check=False).returncode == 0:
        podman("network", "rm", "-f", NETWORK, check=False)


@pytest.fixture
def exporter_pod():
    require_lab_images()
    if podman("image", "exists", EXPORTER_IMAGE, check=False).returncode != 0:
        pytest.fail(f"missing podman image {EXPORTER_IMAGE}; build it with lab/images/build-images", pytrace=False)
    remove_leftovers()
    podman("network", "create", NETWORK)
    podman("pod", "create", "--name", POD, "--network", NETWORK)
    try:
        yield POD
    finally:
        remove_leftovers()


def run_in_pod(name: str, image: str, command: list[str], secret_env: dict[str, str]) -> None:
    args = ["run", "-d", "--pod", POD, "--name", f"{POD}-{name}", "--user", "999:999", "--read-only",
            "--tmpfs", "/tmp", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
    for key in secret_env:
        args += ["-e", key]  # the value comes from podman's environment, never a command line
    podman(*args, image, *command, env=secret_env)


def pod_ip() -> str:
    infra = podman("pod", "inspect", POD, "--format", "{{.InfraContainerID}}").stdout.strip()
    return podman("inspect", infra, "--format",
                  f"{{{{(index .NetworkSettings.Networks \"{NETWORK}\").IPAddress}}}}").stdout.strip()


def metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://{pod_ip()}:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def sample(text: str, pattern: str) -> float | None:
    match = re.search(rf"^{pattern} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else None


def test_exporters_read_redis_and_sentinel_with_the_password_from_the_environment(exporter_pod):
    cfg = stack_config("lab")
    assert cfg.monitoring.exporter_image == EXPORTER_IMAGE
    rules = redis_files.gateway_acl_rules()
    users = (f'printf "port 6379\\nuser default {rules["default"]} >%s\\nuser exporter {rules["exporter"]} >%s\\n'
             f'user sentinel {rules["sentinel"]} >%s\\n" "$REDIS_PASSWORD" "$EXPORTER_PASSWORD" "$ACL_SENTINEL_PASSWORD" '
             '| redis-server -')
    acl_secrets = {"REDIS_PASSWORD": REDIS_PASSWORD, "EXPORTER_PASSWORD": EXPORTER_PASSWORD,
                   "ACL_SENTINEL_PASSWORD": ACL_SENTINEL_PASSWORD}
    run_in_pod("redis", DEFAULT_ENGINE.image, ["sh", "-c", users], acl_secrets)
    sentinel_conf = ('printf "port 26379\\nsentinel monitor %s 127.0.0.1 6379 1\\nsentinel auth-user %s sentinel\\n'
                     'sentinel auth-pass %s %s\\nrequirepass %s\\n" "$MASTER_SET" "$MASTER_SET" "$MASTER_SET" '
                     '"$ACL_SENTINEL_PASSWORD" "$SENTINEL_PASSWORD" > /tmp/sentinel.conf && exec redis-sentinel /tmp/sentinel.conf')
    run_in_pod("sentinel", DEFAULT_ENGINE.image, ["sh", "-c", sentinel_conf.replace("$MASTER_SET", names.MASTER_SET)],
               {"ACL_SENTINEL_PASSWORD": ACL_SENTINEL_PASSWORD, "SENTINEL_PASSWORD": SENTINEL_PASSWORD})
    # REDIS_USER is no secret, but run_in_pod passes it the same way.
    run_in_pod("redis-exporter", EXPORTER_IMAGE,
               exporter_command(cfg, names.REDIS_PORT, names.REDIS_EXPORTER_PORT),
               {"REDIS_USER": "exporter", "REDIS_PASSWORD": EXPORTER_PASSWORD})
    run_in_pod("sentinel-exporter", EXPORTER_IMAGE,
               exporter_command(cfg, names.SENTINEL_PORT, names.SENTINEL_EXPORTER_PORT),
               {"REDIS_PASSWORD": SENTINEL_PASSWORD})
    run_in_pod("no-password", EXPORTER_IMAGE, exporter_command(cfg, names.REDIS_PORT, NO_PASSWORD_PORT), {})

    redis_text = wait_for("redis_up 1 from the redis exporter",
                          lambda: (lambda t: t if sample(t, "redis_up") == 1 else None)(
                              metrics(names.REDIS_EXPORTER_PORT)), 30)
    assert re.search(r'^redis_instance_info\{[^}]*role="master"[^}]*\} 1$', redis_text, re.MULTILINE)
    assert sample(redis_text, "redis_rdb_last_bgsave_status") == 1
    assert sample(redis_text, "redis_memory_max_bytes") is not None and sample(redis_text, "redis_connected_clients")
    assert re.search(r'^redis_commands_total\{cmd="info"\} \d+', redis_text, re.MULTILINE), "INFO commandstats"

    sentinel_text = wait_for("the sentinel's view of the master set",
                             lambda: (lambda t: t if sample(t, "redis_sentinel_master_ckquorum_status"
                                                            rf'\{{master_name="{names.MASTER_SET}",[^}}]*\}}') == 1
                                      else None)(metrics(names.SENTINEL_EXPORTER_PORT)), 30)
    assert sample(sentinel_text, "redis_up") == 1
    assert sample(sentinel_text, "redis_sentinel_tilt") == 0
    assert sample(sentinel_text, rf'redis_sentinel_master_status\{{master_address="127.0.0.1:6379",'
                                 rf'master_name="{names.MASTER_SET}",master_status="ok"\}}') == 1
    assert sample(sentinel_text, rf'redis_sentinel_master_ok_sentinels\{{master_address="127.0.0.1:6379",'
                                 rf'master_name="{names.MASTER_SET}"\}}') == 1

    assert sample(metrics(NO_PASSWORD_PORT), "redis_up") == 0, "without the password the exporter must fail"
    for name in ("redis-exporter", "sentinel-exporter"):
        cmdline = podman("inspect", f"{POD}-{name}", "--format", "{{.Config.Cmd}} {{.Args}}").stdout
        assert REDIS_PASSWORD not in cmdline and SENTINEL_PASSWORD not in cmdline and EXPORTER_PASSWORD not in cmdline
