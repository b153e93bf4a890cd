"""Start scripts in single containers: the cache's, and the gateway's refusals (no DNS record
for the pod, a password HAProxy could not send), on every engine of the matrix; and the rendered
haproxy.cfg of every stack checked by each engine image's haproxy (2.6 in Debian 12, 3.0 in
Debian 13). Containers and the network are `krt-solo-*`."""

from __future__ import annotations

import hashlib
import time
import urllib.request
from pathlib import Path

import pytest
import redis

import redis_files
from components.monitoring import exporter_command
from components.single_redis_cache import CacheFiles
from gateway_pods import PREFIX, podman, wait_for
from labcluster.layout import EXPORTER_IMAGE
from runtime_support import (REDIS_PASSWORD, SENTINEL_PASSWORD, STACKS, assert_refused_to_clients, dryrun, is_refused,
                             require_lab_images, stack_config)
from stack_config import CACHE_PASSWORDS, engine_binaries, names
from test_exporter import sample

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


CACHE_OPERATOR_PASSWORD = "krt-cache-operator-pw-5c1e8a27f3"


def cache_secrets(auth: bool, operator: bool) -> dict[str, str]:
    """The redis container's secret variables as the component sets them (the program's derivation)."""
    acl = CACHE_PASSWORDS.internal_passwords(REDIS_PASSWORD if auth else None,
                                             CACHE_OPERATOR_PASSWORD if operator else None)
    clients = {"REDIS_PASSWORD": REDIS_PASSWORD, "REDISCLI_AUTH": REDIS_PASSWORD} if auth else {}
    return {**clients, **{names.acl_password_env(user): password for user, password in acl.items()}}


def start_cache(engine, network: str, tmp_path: Path, auth: bool, operator: bool,
                env: dict[str, str] | None = None) -> str:
    """The cache's container as its pod runs it (ConfigMap files, cache-start.sh, the Secret's
    variables); its IP."""
    cfg = stack_config("dev", cache_overrides={"auth": {"enabled": auth}})
    files = CacheFiles.render(cfg, operator)
    conf = read_only_dir(tmp_path / "conf", files.config, 0o444)
    scripts = read_only_dir(tmp_path / "bin", files.scripts, 0o555)
    data = tmp_path / "data"
    data.mkdir(mode=0o777)
    run_solo(engine, "cache", network, [(conf, names.CONF_DIR + ":ro"), (scripts, names.SCRIPTS_DIR + ":ro"),
                                        (data, names.DATA_DIR)], env or {}, cache_secrets(auth, operator),
             ["sh", f"{names.SCRIPTS_DIR}/{names.CACHE_START_SCRIPT}"])
    return container_ip("cache", network)


def cache_client(ip: str, **auth: str) -> redis.Redis:
    return redis.Redis(host=ip, port=names.REDIS_PORT, socket_timeout=2, decode_responses=True, **auth)


@pytest.mark.parametrize("auth", [False, True], ids=["no-auth", "auth"])
def test_cache_start(lab_engine, solo_network: str, tmp_path: Path, auth: bool):
    cfg = stack_config("dev")
    ip = start_cache(lab_engine, solo_network, tmp_path, auth, operator=False)
    client = cache_client(ip, password=REDIS_PASSWORD) if auth else cache_client(ip)
    wait_for("the cache to answer", client.ping, 20)
    memory = client.info("memory")
    assert int(memory["maxmemory"]) == cfg.context_cache.maxmemory_bytes
    assert memory["maxmemory_policy"] == cfg.context_cache.maxmemory_policy
    assert client.set("context:key", "v", ex=300)
    assert is_refused(client, "FLUSHALL") and is_refused(client, "CONFIG", "GET", "maxmemory")
    if auth:
        with pytest.raises(redis.AuthenticationError):
            cache_client(ip).get("context:key")
    cmdlines = podman("exec", f"{SOLO}-cache", "sh", "-c", "cat /proc/[0-9]*/cmdline | tr '\\0' ' '").stdout
    assert engine_binaries(lab_engine.engine).server in cmdlines and REDIS_PASSWORD not in cmdlines
    mode = podman("exec", f"{SOLO}-cache", "stat", "-c", "%a", "/tmp/redis.conf").stdout.strip()
    assert mode == "600"
    effective = podman("exec", f"{SOLO}-cache", "cat", "/tmp/redis.conf").stdout
    assert REDIS_PASSWORD not in effective, "hashes only"
    assert ("user default on nopass" in effective) == (not auth)
    assert ("#" + hashlib.sha256(REDIS_PASSWORD.encode()).hexdigest() in effective) == auth
    assert "requirepass" not in effective


CACHE_CLIENT_WORK = [("PING",), ("SET", "context:krt", "v", "EX", "300"), ("GET", "context:krt"), ("DEL", "context:krt"),
                     ("INFO", "memory"), ("ROLE",)]
CACHE_EXPORTER_WORK = [("INFO", "all"), ("PING",), ("SLOWLOG", "GET", "10"), ("SLOWLOG", "LEN"), ("LATENCY", "LATEST"),
                       ("LATENCY", "HISTOGRAM")]


@pytest.mark.parametrize("auth", [False, True], ids=["no-auth", "auth"])
def test_cache_users_do_their_jobs_and_nothing_else(lab_engine, solo_network: str, tmp_path: Path, auth: bool):
    """Each of the cache's ACL users on the real server: the Context-API's `default` (as go-redis
    connects: no user name, the password only with auth), the readiness probe, the exporter (the
    real redis_exporter in the pod's network namespace) and `operator`."""
    cfg = stack_config("lab")
    ip = start_cache(lab_engine, solo_network, tmp_path, auth, operator=True)
    passwords = cache_secrets(auth, operator=True)
    operator = cache_client(ip, username="operator", password=CACHE_OPERATOR_PASSWORD)
    wait_for("the cache to answer", operator.ping, 20)
    assert operator.config_get("maxmemory")["maxmemory"] == str(cfg.context_cache.maxmemory_bytes)

    clients = cache_client(ip, password=REDIS_PASSWORD) if auth else cache_client(ip)
    # go-redis' handshake: HELLO (RESP3), SELECT, CLIENT SETNAME; then the Context-API's commands.
    assert clients.execute_command("HELLO", "3")
    clients.execute_command("SELECT", "0")
    assert clients.client_setname("context-api")
    assert clients.set("context:krt:user", "v", ex=300) and clients.get("context:krt:user") == "v"
    assert 0 < operator.ttl("context:krt:user") <= 300, "SET ... EX 300 set the expiry"
    assert clients.delete("context:krt:user") == 1 and clients.ping()
    assert clients.info("server") and clients.execute_command("ROLE")[0] == "master"
    assert_refused_to_clients(clients, operator)
    for command in CACHE_CLIENT_WORK:
        assert dryrun(operator, "default", command) == "OK", command
    # Without auth the probe and the exporter are `default`, which may then read what the exporter
    # reads besides INFO and PING.
    for command in CACHE_EXPORTER_WORK:
        assert (dryrun(operator, "default", command) == "OK") == (command[0] in ("INFO", "PING") or not auth), command

    if auth:
        with pytest.raises(redis.AuthenticationError):
            cache_client(ip).get("k")
        probe = cache_client(ip, username="probe", password=passwords["ACL_PROBE_PASSWORD"])
        exporter = cache_client(ip, username="exporter", password=passwords["ACL_EXPORTER_PASSWORD"])
        assert probe.ping() and exporter.ping()
        for command in [("GET", "k"), ("INFO",), ("FLUSHALL",), ("CONFIG", "SET", "maxmemory", "1mb")]:
            assert is_refused(probe, *command), command
        for command in CACHE_EXPORTER_WORK:
            exporter.execute_command(*command)
        for command in [("GET", "k"), ("SET", "k", "v"), ("CONFIG", "GET", "maxmemory"), ("CLIENT", "LIST"),
                        ("FLUSHALL",), ("SHUTDOWN", "NOSAVE")]:
            assert is_refused(exporter, *command), command

    # The readiness probe as the pod runs it: `probe` with auth, `default` without; a wrong
    # password fails it (NOAUTH/WRONGPASS is an error reply, and -e turns it into an exit code).
    readiness = ["sh", f"{names.SCRIPTS_DIR}/{names.CACHE_READINESS_SCRIPT}", str(names.REDIS_PORT)]
    ready = podman("exec", f"{SOLO}-cache", *readiness, check=False)
    assert ready.returncode == 0 and "PONG" in ready.stdout, ready.stdout + ready.stderr
    if auth:
        wrong = podman("exec", "-e", "ACL_PROBE_PASSWORD=krt-not-the-probe-pw-1234", f"{SOLO}-cache", *readiness,
                       check=False)
        assert wrong.returncode != 0, wrong.stdout + wrong.stderr

    # The exporter as the pod runs it: in the cache's network namespace, with the component's
    # command and environment; redis_up and the SLOWLOG metric show its user may read them.
    exporter_secrets = {"REDIS_USER": "exporter", "REDIS_PASSWORD": passwords["ACL_EXPORTER_PASSWORD"]} if auth else {}
    podman("run", "-d", "--name", f"{SOLO}-exporter", "--network", f"container:{SOLO}-cache", "--user", "999:999",
           "--read-only", *[arg for key in exporter_secrets for arg in ("-e", key)], EXPORTER_IMAGE,
           *exporter_command(cfg, names.REDIS_PORT, names.REDIS_EXPORTER_PORT), env=exporter_secrets)
    text = wait_for("redis_up 1 from the cache's exporter",
                    lambda: (lambda t: t if sample(t, "redis_up") == 1 else None)(exporter_metrics(ip)), 30)
    assert sample(text, "redis_slowlog_length") is not None, "SLOWLOG LEN refused to the exporter"
    assert sample(text, "redis_memory_max_bytes") == cfg.context_cache.maxmemory_bytes

    # Operators may do anything, e.g. empty the cache.
    assert operator.flushall() and operator.acl_whoami() == "operator"


def exporter_metrics(ip: str) -> str:
    try:
        with urllib.request.urlopen(f"http://{ip}:{names.REDIS_EXPORTER_PORT}/metrics", timeout=5) as response:
            return response.read().decode()
    except OSError:
        return ""


def gateway_files(tmp_path: Path) -> list[tuple[Path, str]]:
    cfg = stack_config("prod")
    conf = read_only_dir(tmp_path / "conf", {names.REDIS_CONF: redis_files.gateway_redis_conf(cfg),
                                             names.SENTINEL_CONF: redis_files.gateway_sentinel_conf(cfg)}, 0o444)
    scripts = read_only_dir(tmp_path / "bin", redis_files.gateway_scripts(), 0o555)
    topology = read_only_dir(tmp_path / "topology", redis_files.gateway_topology(cfg), 0o444)
    data = tmp_path / "data"
    data.mkdir(mode=0o777)
    return [(conf, names.CONF_DIR + ":ro"), (scripts, names.SCRIPTS_DIR + ":ro"),
            (topology, names.TOPOLOGY_DIR + ":ro"), (data, names.DATA_DIR)]


def gateway_env(dns_wait: int) -> dict[str, str]:
    return {"POD_NAME": "redis-gateway-0", "POD_NAMESPACE": "kubernaut-system", "STATEFULSET_NAME": names.GATEWAY,
            "HEADLESS_SERVICE": names.GATEWAY_HEADLESS_SERVICE, "CLUSTER_DOMAIN": "cluster.local",
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
    (names.REDIS_START_SCRIPT, "ENGINE_CLI"), (names.REDIS_START_SCRIPT, "ENGINE_CHECK_RDB"),
    ("cache-start.sh", "ENGINE_SERVER"),
])
def test_start_names_a_missing_engine_binary_variable(lab_engine, solo_network: str, tmp_path: Path, script: str,
                                                      variable: str):
    """A pod spec without the engine's binaries (a hand-made manifest, say) stops at once, naming
    the variable, instead of running whatever `redis-server` the image may have."""
    if script == names.CACHE_START_SCRIPT:
        start_cache(lab_engine, solo_network, tmp_path, auth=False, operator=False, env={variable: ""})
        name = "cache"
    else:
        run_solo(lab_engine, "no-engine", solo_network, gateway_files(tmp_path), {**gateway_env(30), variable: ""}, {},
                 ["sh", f"{names.SCRIPTS_DIR}/{script}"])
        name = "no-engine"
    assert exit_code(name, timeout=30) != 0
    logs = podman("logs", f"{SOLO}-{name}").stderr
    assert f"environment variable {variable} is not set" in logs, logs
