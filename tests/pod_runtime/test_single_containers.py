"""Start scripts in single containers: the cache's, and the gateway's refusals (no DNS record
for the pod, a password HAProxy could not send), on every engine of the matrix; and the rendered
haproxy.cfg of every stack checked by each engine image's haproxy (2.6 in Debian 12, 3.0 in
Debian 13). Containers and the network are `krt-solo-*`."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import redis

import redis_files
from gateway_pods import PREFIX, podman, wait_for
from runtime_support import REDIS_PASSWORD, SENTINEL_PASSWORD, STACKS, require_lab_images, stack_config
from stack_config import engine_binaries, names

pytestmark = pytest.mark.every_engine

SOLO = f"{PREFIX}solo"
SOLO_NETWORK = f"{SOLO}-net"


def remove_solo_leftovers() -> None:
    names_found = podman("ps", "-a", "--format", "{{.Names}}", "--filter", f"name=^{SOLO}-").stdout.split()
    for container in names_found:
        podman("rm", "-f", "-t", "0", container, check=False)
    if podman("network", "exists", SOLO_NETWORK, check=False).returncode == 0:
        podman("network", "rm", "-f", SOLO_NETWORK, check=False)


@pytest.fixture
def solo_network(lab_engine):
    require_lab_images(lab_engine)
    remove_solo_leftovers()
    podman("network", "create", SOLO_NETWORK)
    try:
        yield SOLO_NETWORK
    finally:
        remove_solo_leftovers()


def read_only_dir(path: Path, files: dict[str, str], mode: int) -> Path:
    path.mkdir()
    for name, text in files.items():
        (path / name).write_text(text)
        (path / name).chmod(mode)
    path.chmod(0o555)
    return path


def run_solo(engine, name: str, network: str, mounts: list[tuple[Path, str]], env: dict[str, str],
             secret_env: dict[str, str], command: list[str]) -> None:
    """Runs `command` in `engine`'s image with the engine's binaries in ENGINE_*, as the pod spec
    gives them."""
    env = {**engine_binaries(engine.engine).env(), **env}
    args = ["run", "-d", "--name", f"{SOLO}-{name}", "--network", network, "--user", "999:999",
            "--read-only", "--tmpfs", "/tmp"]
    for host, target in mounts:
        args += ["-v", f"{host}:{target}"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    for key in secret_env:
        args += ["-e", key]  # value from podman's environment, never on a command line
    podman(*args, engine.image, *command, env=secret_env)


def container_ip(name: str, network: str) -> str:
    return podman("inspect", f"{SOLO}-{name}", "--format",
                  f"{{{{(index .NetworkSettings.Networks \"{network}\").IPAddress}}}}").stdout.strip()


def exit_code(name: str, timeout: float) -> int:
    return int(podman("wait", f"{SOLO}-{name}", timeout=timeout).stdout.strip())


@pytest.mark.parametrize("auth", [False, True], ids=["no-auth", "auth"])
def test_cache_start(lab_engine, solo_network: str, tmp_path: Path, auth: bool):
    cfg = stack_config("dev")
    conf = read_only_dir(tmp_path / "conf", {names.REDIS_CONF: redis_files.cache_redis_conf(cfg)}, 0o444)
    scripts = read_only_dir(tmp_path / "bin", redis_files.cache_scripts(), 0o555)
    data = tmp_path / "data"
    data.mkdir(mode=0o777)
    secrets = {"REDIS_PASSWORD": REDIS_PASSWORD} if auth else {}
    run_solo(lab_engine, "cache", solo_network, [(conf, names.CONF_DIR + ":ro"), (scripts, names.SCRIPTS_DIR + ":ro"),
                                     (data, names.DATA_DIR)], {}, secrets,
             ["sh", f"{names.SCRIPTS_DIR}/cache-start.sh"])
    client = redis.Redis(host=container_ip("cache", solo_network), port=names.REDIS_PORT,
                         password=REDIS_PASSWORD if auth else None, socket_timeout=2, decode_responses=True)
    wait_for("the cache to answer", client.ping, 20)
    assert int(client.config_get("maxmemory")["maxmemory"]) == cfg.context_cache.maxmemory_bytes
    assert client.set("context:key", "v", ex=300)
    if auth:
        anonymous = redis.Redis(host=container_ip("cache", solo_network), port=names.REDIS_PORT, socket_timeout=2)
        with pytest.raises(redis.AuthenticationError):
            anonymous.get("context:key")
    cmdlines = podman("exec", f"{SOLO}-cache", "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
    assert engine_binaries(lab_engine.engine).server in cmdlines and REDIS_PASSWORD not in cmdlines
    mode = podman("exec", f"{SOLO}-cache", "stat", "-c", "%a", "/tmp/redis.conf").stdout.strip()
    assert mode == "600"


def gateway_files(tmp_path: Path) -> list[tuple[Path, str]]:
    cfg = stack_config("prod")
    conf = read_only_dir(tmp_path / "conf", {names.REDIS_CONF: redis_files.gateway_redis_conf(cfg),
                                             names.SENTINEL_CONF: redis_files.gateway_sentinel_conf(cfg)}, 0o444)
    scripts = read_only_dir(tmp_path / "bin", redis_files.gateway_scripts(), 0o555)
    data = tmp_path / "data"
    data.mkdir(mode=0o777)
    return [(conf, names.CONF_DIR + ":ro"), (scripts, names.SCRIPTS_DIR + ":ro"), (data, names.DATA_DIR)]


def gateway_env(dns_wait: int) -> dict[str, str]:
    return {"POD_NAME": "redis-gateway-0", "POD_NAMESPACE": "kubernaut-system", "STATEFULSET_NAME": names.GATEWAY,
            "HEADLESS_SERVICE": names.GATEWAY_HEADLESS_SERVICE, "CLUSTER_DOMAIN": "cluster.local", "REPLICAS": "3",
            "MASTER_SET": names.MASTER_SET, "REDIS_PORT": str(names.REDIS_PORT),
            "SENTINEL_PORT": str(names.SENTINEL_PORT), "DNS_WAIT_SECONDS": str(dns_wait),
            "BOOT_PEER_WAIT_SECONDS": "2"}


@pytest.mark.parametrize("script", [names.REDIS_START_SCRIPT, names.SENTINEL_START_SCRIPT])
def test_start_fails_clearly_when_the_pod_name_never_resolves(lab_engine, solo_network: str, tmp_path: Path,
                                                              script: str):
    dns_wait = 3
    started = time.monotonic()
    # no network alias: the pod's FQDN has no record
    run_solo(lab_engine, "no-dns", solo_network, gateway_files(tmp_path), gateway_env(dns_wait), {},
             ["sh", f"{names.SCRIPTS_DIR}/{script}"])
    assert exit_code("no-dns", timeout=dns_wait + 30) != 0
    elapsed = time.monotonic() - started
    logs = podman("logs", f"{SOLO}-no-dns").stderr
    assert "does not resolve after 3 s" in logs, logs
    assert elapsed < dns_wait + 20


@pytest.mark.parametrize("password", ["with space", 'with"quote', "with\\backslash"])
def test_start_refuses_passwords_haproxy_cannot_send(lab_engine, solo_network: str, tmp_path: Path, password: str):
    run_solo(lab_engine, "bad-password", solo_network, gateway_files(tmp_path), gateway_env(30),
             {"REDIS_PASSWORD": password}, ["sh", f"{names.SCRIPTS_DIR}/{names.REDIS_START_SCRIPT}"])
    assert exit_code("bad-password", timeout=30) != 0
    logs = podman("logs", f"{SOLO}-bad-password").stderr
    assert "REDIS_PASSWORD must not contain whitespace" in logs, logs
    assert password not in logs


@pytest.mark.parametrize("stack", STACKS)
def test_haproxy_of_the_engine_image_accepts_the_rendered_config(lab_engine, tmp_path: Path, stack: str):
    require_lab_images(lab_engine)
    conf = read_only_dir(tmp_path / "haproxy", {names.HAPROXY_CFG: redis_files.haproxy_cfg(stack_config(stack))}, 0o444)
    secrets = {"REDIS_PASSWORD": REDIS_PASSWORD, "SENTINEL_PASSWORD": SENTINEL_PASSWORD}
    done = podman("run", "--rm", "--user", "999:999", "--read-only", "-v", f"{conf}:{names.HAPROXY_CONF_DIR}:ro",
                  "-e", "REDIS_PASSWORD", "-e", "SENTINEL_PASSWORD", lab_engine.image,
                  "haproxy", "-c", "-f", f"{names.HAPROXY_CONF_DIR}/{names.HAPROXY_CFG}", env=secrets, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    # haproxy names a deprecated or ignored keyword in a warning, and -c still passes
    assert "WARNING" not in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.mark.parametrize("script, variable", [
    (names.REDIS_START_SCRIPT, "ENGINE_SERVER"), (names.SENTINEL_START_SCRIPT, "ENGINE_SENTINEL"),
    (names.REDIS_START_SCRIPT, "ENGINE_CLI"), ("cache-start.sh", "ENGINE_SERVER"),
])
def test_start_names_a_missing_engine_binary_variable(lab_engine, solo_network: str, tmp_path: Path, script: str,
                                                      variable: str):
    """A pod spec without the engine's binaries (a hand-made manifest, say) stops at once, naming
    the variable, instead of running whatever `redis-server` the image may have."""
    if script == "cache-start.sh":
        cfg = stack_config("dev")
        conf = read_only_dir(tmp_path / "conf", {names.REDIS_CONF: redis_files.cache_redis_conf(cfg)}, 0o444)
        scripts = read_only_dir(tmp_path / "bin", redis_files.cache_scripts(), 0o555)
        mounts, env = [(conf, names.CONF_DIR + ":ro"), (scripts, names.SCRIPTS_DIR + ":ro")], {}
    else:
        mounts, env = gateway_files(tmp_path), gateway_env(30)
    run_solo(lab_engine, "no-engine", solo_network, mounts, {**env, variable: ""}, {},
             ["sh", f"{names.SCRIPTS_DIR}/{script}"])
    assert exit_code("no-engine", timeout=30) != 0
    logs = podman("logs", f"{SOLO}-no-engine").stderr
    assert f"environment variable {variable} is not set" in logs, logs
