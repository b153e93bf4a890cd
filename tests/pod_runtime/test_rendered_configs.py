"""The rendered files of every stack are accepted by the real binaries, and say what the config says.

redis-server and redis-sentinel run on the host, bound to loopback on free ports: the template's
port, bind and dir lines are replaced (Redis applies `dir` while it reads the file).
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest
import redis

import redis_files
from runtime_support import REDIS_PASSWORD, SENTINEL_PASSWORD, require_tools
from stack_config import StackConfig, gateway_pod_fqdn, internal_passwords, names

START_TIMEOUT_SECONDS = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def localized(text: str, port: int, workdir: Path) -> str:
    """`text` with its port, bind and dir lines pointing at loopback, `port` and `workdir`."""
    local = {"port": f"port {port}", "bind": "bind 127.0.0.1", "dir": f"dir {workdir}"}
    lines = [local.get(line.split(" ", 1)[0], line) for line in text.splitlines()]
    missing = [value for key, value in local.items() if not any(line.startswith(key + " ") for line in lines)]
    return "\n".join(lines + missing) + "\n"


@contextmanager
def running(binary: str, conf: Path, port: int, password: str | None = None) -> Iterator[redis.Redis]:
    """Runs `binary conf` until the block ends; yields a client once it answers PING."""
    require_tools(binary)
    log = conf.with_suffix(".log")
    with log.open("w") as log_file:
        # umask 077 as the start scripts set it: files Redis rewrites stay private (0600).
        process = subprocess.Popen([binary, str(conf)], stdout=log_file, stderr=subprocess.STDOUT,
                                   preexec_fn=lambda: os.umask(0o077))
    client = redis.Redis(host="127.0.0.1", port=port, password=password, decode_responses=True, socket_timeout=2)
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"{binary} exited with {process.returncode}:\n{log.read_text()}")
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    pytest.fail(f"{binary} does not answer after {START_TIMEOUT_SECONDS} s:\n{log.read_text()}")
                time.sleep(0.1)
        yield client
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def write_private(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(0o600)
    return path


def per_pod_redis_lines(cfg: StackConfig) -> str:
    """What redis-start.sh appends for a replica with auth on."""
    return (f"\nreplica-announce-ip {gateway_pod_fqdn(cfg, 1)}\n"
            f'requirepass "{REDIS_PASSWORD}"\nmasterauth "{REDIS_PASSWORD}"\n')


def test_gateway_redis_conf_runs_and_is_rewritable(any_stack_config: StackConfig, tmp_path: Path):
    cfg, port = any_stack_config, free_port()
    conf = write_private(tmp_path / "redis.conf", localized(
        redis_files.gateway_redis_conf(cfg) + per_pod_redis_lines(cfg), port, tmp_path))
    with running("redis-server", conf, port, REDIS_PASSWORD) as client:
        assert int(client.config_get("maxmemory")["maxmemory"]) == cfg.gateway.maxmemory_bytes
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == cfg.gateway.maxmemory_policy
        assert int(client.config_get("repl-backlog-size")["repl-backlog-size"]) == cfg.gateway.repl_backlog_bytes
        assert int(client.config_get("min-replicas-to-write")["min-replicas-to-write"]) == \
            cfg.gateway.min_replicas_to_write
        assert int(client.config_get("min-replicas-max-lag")["min-replicas-max-lag"]) == \
            cfg.gateway.min_replicas_max_lag
        expected_save = " ".join(cfg.gateway.persistence.rdb_schedule)
        assert client.config_get("save")["save"] == expected_save
        assert client.config_get("appendonly")["appendonly"] == ("yes" if cfg.gateway.persistence.appendonly else "no")
        assert client.config_get("appendfsync")["appendfsync"] == "everysec"
        assert client.config_get("replica-read-only")["replica-read-only"] == "yes"
        assert client.config_get("repl-diskless-sync")["repl-diskless-sync"] == "yes"
        assert client.config_get("replica-announce-ip")["replica-announce-ip"] == gateway_pod_fqdn(cfg, 1)
        # Sentinel sends CONFIG REWRITE after every role change: the effective file must allow it.
        client.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
        assert client.config_rewrite()
    rewritten = conf.read_text()
    assert "replicaof 127.0.0.1" in rewritten
    assert oct(conf.stat().st_mode & 0o777) == "0o600"


def test_gateway_redis_conf_refuses_clients_without_the_password(tmp_path: Path):
    from runtime_support import stack_config
    cfg, port = stack_config("prod"), free_port()
    conf = write_private(tmp_path / "redis.conf", localized(
        redis_files.gateway_redis_conf(cfg) + per_pod_redis_lines(cfg), port, tmp_path))
    with running("redis-server", conf, port, REDIS_PASSWORD):
        anonymous = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2)
        with pytest.raises(redis.AuthenticationError):
            anonymous.set("k", "v")


def test_users_file_loads_and_survives_config_rewrite(tmp_path: Path):
    """The users file as redis-start.sh writes it (the template plus #<sha256> of each password)
    next to the redis.conf lines it appends: the server starts with it, each password logs its user
    in, and Sentinel's CONFIG REWRITE keeps the users in their file, out of redis.conf."""
    from runtime_support import OPERATOR_PASSWORD, stack_config
    cfg, port = stack_config("prod"), free_port()
    passwords = {"default": REDIS_PASSWORD, **internal_passwords(REDIS_PASSWORD, OPERATOR_PASSWORD)}
    lines = []
    for line in redis_files.gateway_users_acl(cfg).splitlines():
        if line.startswith("user "):
            user = line.split()[1]
            lines.append(f"{line} #{hashlib.sha256(passwords[user].encode()).hexdigest()}")
    acl_file = write_private(tmp_path / "users.acl", "\n".join(lines) + "\n")
    conf = write_private(tmp_path / "redis.conf", localized(
        redis_files.gateway_redis_conf(cfg) + f'\naclfile {acl_file}\nmasteruser replication\n'
        f'masterauth "{passwords["replication"]}"\n', port, tmp_path))
    with running("redis-server", conf, port, REDIS_PASSWORD) as client:
        operator = redis.Redis(host="127.0.0.1", port=port, username="operator", password=OPERATOR_PASSWORD,
                               decode_responses=True, socket_timeout=2)
        assert operator.execute_command("ACL", "WHOAMI") == "operator"
        for user, password in passwords.items():
            if user != "default":
                with redis.Redis(host="127.0.0.1", port=port, username=user, password=password,
                                 socket_timeout=2) as logged_in:
                    assert logged_in.ping()
        with pytest.raises(redis.exceptions.NoPermissionError):
            client.config_set("maxmemory", "1mb")
        operator.execute_command("REPLICAOF", "127.0.0.1", str(free_port()))
        assert operator.config_rewrite()
        assert sorted(operator.execute_command("ACL", "USERS")) == sorted(passwords)
        operator.close()
    rewritten = conf.read_text()
    assert f'aclfile "{acl_file}"' in rewritten and "\nuser " not in rewritten
    assert acl_file.read_text().count("\nuser ") == len(passwords) - 1
    assert not any(password in acl_file.read_text() for password in passwords.values())


def test_gateway_sentinel_conf_runs(any_stack_config: StackConfig, tmp_path: Path):
    cfg = any_stack_config
    redis_port, sentinel_port = free_port(), free_port()
    redis_conf = write_private(tmp_path / "redis.conf", localized("", redis_port, tmp_path))
    # The port, and the quorum that sentinel-start.sh takes from the topology ConfigMap.
    quorum = redis_files.gateway_topology(cfg)[names.TOPOLOGY_QUORUM_KEY].strip()
    template = redis_files.gateway_sentinel_conf(cfg).replace(
        f"{redis_files.MONITOR_PLACEHOLDER_HOST} {names.REDIS_PORT} {redis_files.MONITOR_PLACEHOLDER_QUORUM}",
        f"{redis_files.MONITOR_PLACEHOLDER_HOST} {redis_port} {quorum}")
    sentinel_dir = tmp_path / "sentinel"
    sentinel_dir.mkdir()
    conf = write_private(sentinel_dir / "sentinel.conf", localized(
        template + f'requirepass "{SENTINEL_PASSWORD}"\n', sentinel_port, sentinel_dir))
    with running("redis-server", redis_conf, redis_port), \
            running("redis-sentinel", conf, sentinel_port, SENTINEL_PASSWORD) as sentinel:
        master = sentinel.execute_command("SENTINEL", "MASTER", names.MASTER_SET)
        assert int(master["quorum"]) == cfg.gateway.effective_quorum
        assert int(master["down-after-milliseconds"]) == cfg.gateway.down_after_milliseconds
        assert int(master["failover-timeout"]) == cfg.gateway.failover_timeout_milliseconds
        assert int(master["parallel-syncs"]) == cfg.gateway.parallel_syncs
        assert sentinel.execute_command("SENTINEL", "CONFIG", "GET", "resolve-hostnames")["resolve-hostnames"] == "yes"
        assert sentinel.execute_command("SENTINEL", "CONFIG", "GET", "announce-hostnames")["announce-hostnames"] == "yes"
        # Sentinel persists its state by rewriting the file (through a temp file in its directory).
        assert sentinel.execute_command("SENTINEL", "FLUSHCONFIG")
    assert "sentinel myid" in conf.read_text()


def test_haproxy_cfg_is_valid(any_stack_config: StackConfig, tmp_path: Path):
    require_tools("haproxy")
    cfg = any_stack_config
    path = tmp_path / "haproxy.cfg"
    path.write_text(redis_files.haproxy_cfg(cfg))
    env = {**os.environ, "REDIS_PASSWORD": REDIS_PASSWORD, "SENTINEL_PASSWORD": SENTINEL_PASSWORD}
    result = subprocess.run(["haproxy", "-c", "-f", str(path)], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    text = path.read_text()
    for ordinal in range(cfg.gateway.replicas):
        assert f"nbsrv(sentinels_name_redis_{ordinal}) ge {cfg.gateway.effective_quorum}" in text
        assert f"tcp-check expect string {gateway_pod_fqdn(cfg, ordinal)}" in text
    # The Redis checks send the user `default` with the clients' password: the two-argument AUTH,
    # which a `nopass` default (gateway.auth.clientsWithoutPassword) takes too.
    assert ('"AUTH default ${REDIS_PASSWORD}"' in text) == cfg.gateway.auth.enabled
    assert ("${SENTINEL_PASSWORD}" in text) == cfg.gateway.auth.sentinel


def test_cache_redis_conf_runs(any_stack_config: StackConfig, tmp_path: Path):
    cfg, port = any_stack_config, free_port()
    conf = write_private(tmp_path / "redis.conf", localized(redis_files.cache_redis_conf(cfg), port, tmp_path))
    with running("redis-server", conf, port) as client:
        assert int(client.config_get("maxmemory")["maxmemory"]) == cfg.context_cache.maxmemory_bytes
        assert client.config_get("maxmemory-policy")["maxmemory-policy"] == cfg.context_cache.maxmemory_policy
        assert client.config_get("save")["save"] == ""
        assert client.config_get("appendonly")["appendonly"] == "no"


def test_templates_hold_no_per_pod_value_and_no_secret(any_stack_config: StackConfig):
    cfg = any_stack_config
    rendered = "\n".join([redis_files.gateway_redis_conf(cfg), redis_files.gateway_sentinel_conf(cfg),
                          redis_files.haproxy_cfg(cfg), redis_files.cache_redis_conf(cfg)])
    directives = {" ".join(line.split()[:2]) for line in rendered.splitlines()
                  if line.strip() and not line.lstrip().startswith("#")}
    for forbidden in ("requirepass", "masterauth", "sentinel auth-pass", "replicaof", "replica-announce-ip",
                      "sentinel announce-ip", "sentinel myid", "sentinel known-sentinel"):
        assert not any(d == forbidden or d.startswith(forbidden + " ") for d in directives), forbidden
    redis_conf = redis_files.gateway_redis_conf(cfg)
    assert "\ninclude " not in redis_conf  # CONFIG REWRITE works on one self-contained file


def test_script_bundles_are_the_pod_scripts():
    gateway = redis_files.gateway_scripts()
    for script in (names.REDIS_START_SCRIPT, names.SENTINEL_START_SCRIPT, names.REDIS_READINESS_SCRIPT,
                   names.REDIS_LIVENESS_SCRIPT, names.SENTINEL_PROBE_SCRIPT, names.REDIS_PRESTOP_SCRIPT,
                   "common.sh", names.PASSWORDS_SCRIPT):
        assert script in gateway
    assert set(redis_files.cache_scripts()) == {names.CACHE_START_SCRIPT, names.CACHE_READINESS_SCRIPT,
                                                names.PASSWORDS_SCRIPT}
    assert redis_files.cache_scripts()[names.PASSWORDS_SCRIPT] == gateway[names.PASSWORDS_SCRIPT], "one copy"
