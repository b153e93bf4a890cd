"""The rendered files of every stack are accepted by the real binaries, and say what the config says.

redis-server and redis-sentinel run on the host, bound to loopback on free ports: the template's
port, bind and dir lines are replaced (Redis applies `dir` while it reads the file).
"""

from __future__ import annotations

import hashlib
import re
import os
import subprocess
import time
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

import redis_files
from runtime_support import REDIS_PASSWORD, SENTINEL_PASSWORD, free_port, require_tools, running, stack_config
from stack_config import StackConfig, gateway_pod_fqdn, gateway_pod_fqdns, internal_passwords, names
from stack_config.models import MAX_GATEWAY_REPLICAS

def localized(text: str, port: int, workdir: Path) -> str:
    """`text` with its port, bind and dir lines pointing at loopback, `port` and `workdir`."""
    local = {"port": f"port {port}", "bind": "bind 127.0.0.1", "dir": f"dir {workdir}"}
    lines = [local.get(line.split(" ", 1)[0], line) for line in text.splitlines()]
    missing = [value for key, value in local.items() if not any(line.startswith(key + " ") for line in lines)]
    return "\n".join(lines + missing) + "\n"


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
        assert f"tcp-check expect min-recv 0 string {gateway_pod_fqdn(cfg, ordinal)}" in text
    # The Redis checks send the user `default` with the clients' password: the two-argument AUTH,
    # which a `nopass` default (gateway.auth.clientsWithoutPassword) takes too.
    assert ('"AUTH default ${REDIS_PASSWORD}"' in text) == cfg.gateway.auth.enabled
    assert ("${SENTINEL_PASSWORD}" in text) == cfg.gateway.auth.sentinel
    # Every server is checked at the configured interval, and there are replicas x (replicas + 2)
    # of them (the cost docs/architecture.md states): the Redis servers, each one's quorum backend
    # of every sentinel, and the sentinels behind port 26379.
    servers = [line.split() for line in text.splitlines() if line.strip().startswith("server ")]
    replicas = cfg.gateway.replicas
    assert len(servers) == replicas * (replicas + 2)
    interval = f"{cfg.gateway.proxy.check_interval_milliseconds}ms"
    assert all(words[words.index("inter") + 1] == interval for words in servers), interval
    # A sentinel's check decides once as many bytes as the expected FQDN have arrived: a reply
    # naming another pod has as many only while every pod's FQDN has the same length.
    assert MAX_GATEWAY_REPLICAS <= 10
    assert len({len(fqdn) for fqdn in gateway_pod_fqdns(cfg.model_copy(
        update={"gateway": cfg.gateway.model_copy(update={"replicas": MAX_GATEWAY_REPLICAS})}))}) == 1


def _backend_checks(cfg_text: str, backend: str) -> list[str]:
    """The check lines (option tcp-check, tcp-check ...) of one backend of a rendered haproxy.cfg."""
    lines, inside = [], False
    for line in cfg_text.splitlines():
        if line.startswith("backend "):
            inside = line == f"backend {backend}"
        elif inside and line.strip().startswith(("option tcp-check", "tcp-check ")):
            lines.append(line.strip())
    assert lines, backend
    return lines


def test_haproxy_checks_fail_at_once_on_a_replica_and_on_a_sentinel_naming_another_master(tmp_path: Path):
    """A tcp-check expect that does not match waits for more data until the connection closes or
    `timeout check` ends (2 s): a sentinel that names another master, or a replica, would be marked
    down only 2 s after each check began, and the endpoint would lag a failover by as much. The
    rendered checks send QUIT with the command whose reply they match, so the server closes and the
    check is decided at once. Real redis-server, redis-sentinel and haproxy on loopback; the checks
    are the dev stack's, with local servers in place of the pods."""
    require_tools("haproxy", "redis-server", "redis-sentinel")
    cfg = stack_config("dev")
    assert cfg.gateway.auth.enabled and cfg.gateway.auth.sentinel
    rendered = redis_files.haproxy_cfg(cfg)
    master_port, replica_port, sentinel_port = free_port(), free_port(), free_port()
    auth = f"requirepass {REDIS_PASSWORD}\nsave \"\"\nappendonly no\n"
    (tmp_path / "master").mkdir()
    (tmp_path / "replica").mkdir()
    master_conf = write_private(tmp_path / "master.conf", f"port {master_port}\nbind 127.0.0.1\ndir {tmp_path / 'master'}\n{auth}")
    replica_conf = write_private(tmp_path / "replica.conf", f"port {replica_port}\nbind 127.0.0.1\ndir {tmp_path / 'replica'}\n{auth}"
                                 f"masterauth {REDIS_PASSWORD}\nreplicaof 127.0.0.1 {master_port}\n")
    sentinel_conf = write_private(tmp_path / "sentinel.conf", (
        f"port {sentinel_port}\nbind 127.0.0.1\ndir {tmp_path}\nrequirepass {SENTINEL_PASSWORD}\n"
        # a master nobody runs: the sentinel names it all the same, with the port the checks expect
        f"sentinel monitor {names.MASTER_SET} 127.0.0.2 {names.REDIS_PORT} 1\n"
        ))
    global_and_defaults = rendered.split("resolvers ", 1)[0]
    quorum_checks, pod_0 = _backend_checks(rendered, "sentinels_name_redis_0"), gateway_pod_fqdn(cfg, 0)
    assert any(pod_0 in line for line in quorum_checks)
    local = "\n".join([
        global_and_defaults,
        "backend master_check_on_the_master", *_backend_checks(rendered, "redis_master"),
        f"server s 127.0.0.1:{master_port} check inter 200ms fall 1 rise 1",
        "backend master_check_on_a_replica", *_backend_checks(rendered, "redis_master"),
        f"server s 127.0.0.1:{replica_port} check inter 200ms fall 1 rise 1",
        # The sentinel names 127.0.0.2. The checks expect pod 0's FQDN; here another name of the
        # same length, as every pod's FQDN has in the stack (HAProxy waits for as many bytes as
        # the expected string has before it decides).
        "backend quorum_check_on_a_sentinel_naming_another",
        *(line.replace(pod_0, "127.0.0.3") for line in quorum_checks),
        f"server s 127.0.0.1:{sentinel_port} check inter 200ms fall 1 rise 1",
        "backend quorum_check_expecting_what_the_sentinel_names",
        *(line.replace(pod_0, "127.0.0.2") for line in quorum_checks),
        f"server s 127.0.0.1:{sentinel_port} check inter 200ms fall 1 rise 1",
        # HAProxy does not start without a listener
        "frontend f", f"bind 127.0.0.1:{free_port()}", "default_backend master_check_on_the_master", ""])
    haproxy_conf = tmp_path / "haproxy.cfg"
    haproxy_conf.write_text(local)
    env = {**os.environ, "REDIS_PASSWORD": REDIS_PASSWORD, "SENTINEL_PASSWORD": SENTINEL_PASSWORD}
    with running("redis-server", master_conf, master_port, REDIS_PASSWORD), \
            running("redis-server", replica_conf, replica_port, REDIS_PASSWORD), \
            running("redis-sentinel", sentinel_conf, sentinel_port, SENTINEL_PASSWORD):
        # well under `timeout check` (2 s): a check that waits for it never reports within this
        try:
            result = subprocess.run(["haproxy", "-db", "-f", str(haproxy_conf)], capture_output=True, text=True,
                                    env=env, timeout=1.5)
            output = result.stdout + result.stderr
        except subprocess.TimeoutExpired as ended:
            output = (ended.stdout or b"").decode() + (ended.stderr or b"").decode()
    down = {line.split("Server ", 1)[1].split("/", 1)[0]: line for line in output.splitlines()
            if line.startswith("Server ") and " is DOWN" in line}
    assert set(down) == {"master_check_on_a_replica", "quorum_check_on_a_sentinel_naming_another"}, output
    for line in down.values():
        assert "Layer7 invalid response" in line, line
        assert int(line.split("check duration: ", 1)[1].split("ms", 1)[0]) < 500, line


def _backend_lines(cfg_text: str, backend: str, prefix: str) -> list[str]:
    lines, inside = [], False
    for line in cfg_text.splitlines():
        if line.startswith("backend "):
            inside = line == f"backend {backend}"
        elif inside and line.strip().startswith(prefix):
            lines.append(line.strip())
    assert lines, (backend, prefix)
    return lines


def test_the_endpoint_drops_a_master_that_closed_its_port_at_the_first_refused_client(tmp_path: Path):
    """A stopping master closes its port at the switch (handover.sh). Until HAProxy's next check
    it still counts as up: the rendered master backend marks it down at the first client
    connection it refuses, and does not retry that connection (HAProxy would wait a second per
    retry to the same server while the client waits). The checks here run every 10 s, so only the
    refused client can have marked the server down. Real redis-server and haproxy on loopback."""
    require_tools("haproxy", "redis-server")
    cfg = stack_config("dev")
    rendered = redis_files.haproxy_cfg(cfg)
    master_port, front_port = free_port(), free_port()
    (tmp_path / "master").mkdir()
    master_conf = write_private(tmp_path / "master.conf", f"port {master_port}\nbind 127.0.0.1\n"
                                f"dir {tmp_path / 'master'}\nrequirepass {REDIS_PASSWORD}\nsave \"\"\n")
    server = _backend_lines(rendered, "redis_master", "server ")[0]
    assert "observe layer4 error-limit 1 on-error mark-down" in server and "retries 0" in rendered
    options = server.split(" check ", 1)[1]
    options = re.sub(r"resolvers \S+ resolve-prefer \S+ init-addr \S+ ?", "", options)
    options = re.sub(r"inter \S+", "inter 10s", options)
    local = "\n".join([
        rendered.split("resolvers ", 1)[0],
        "frontend f", f"bind 127.0.0.1:{front_port}", "default_backend redis_master",
        "backend redis_master", *_backend_checks(rendered, "redis_master"),
        *_backend_lines(rendered, "redis_master", "retries "),
        f"server redis-0 127.0.0.1:{master_port} check {options}", ""])
    haproxy_conf = tmp_path / "haproxy.cfg"
    haproxy_conf.write_text(local)
    env = {**os.environ, "REDIS_PASSWORD": REDIS_PASSWORD}
    with running("redis-server", master_conf, master_port, REDIS_PASSWORD) as master:
        proxy = subprocess.Popen(["haproxy", "-db", "-f", str(haproxy_conf)], stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, env=env)
        try:
            through = redis.Redis(host="127.0.0.1", port=front_port, password=REDIS_PASSWORD, socket_timeout=2,
                                  socket_connect_timeout=2)
            deadline = time.monotonic() + 5
            while True:
                try:
                    assert through.ping()
                    break
                except redis.ConnectionError:
                    assert time.monotonic() < deadline, "haproxy does not pass connections"
                    time.sleep(0.1)
            through.close()
            assert master.config_set("port", 0)  # on the client's open connection: it stays
            started = time.monotonic()
            # One attempt, as the first of a client's: redis-py would retry on its own.
            with pytest.raises(redis.ConnectionError):
                redis.Redis(host="127.0.0.1", port=front_port, password=REDIS_PASSWORD, socket_timeout=3,
                            socket_connect_timeout=3, retry=Retry(NoBackoff(), 0)).ping()
            refused_after = time.monotonic() - started
            time.sleep(0.3)
        finally:
            proxy.terminate()
            output = proxy.communicate(timeout=10)[0]
    assert refused_after < 0.5, f"the client waited {refused_after:.2f} s for a refused connection:\n{output}"
    down = [line for line in output.splitlines() if "redis_master/redis-0 is DOWN" in line]
    assert down, output


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
