"""A rotation of the gateway's three passwords at once (the clients', Sentinel's and the
operator's, the seed of the internal users') on the lab stack, step by step as
docs/architecture.md ("Rotation") tells an operator, each step a real `pulumi up -s lab` (a
rolling restart, highest ordinal first, HAProxy's Deployment rolled beside it): two writers through
the master-only endpoint (the Gateway's path), one that stays on the old clients' password and
one that switches to the new one inside the window.

Shown: a preview that skips the window is refused and changes nothing; after each step every
pod's redis (the clients' and the operator's user) and sentinel take the old and the new
passwords while the window is open, and only the new ones once it closed; the writer on the old
password keeps working until the window closes and fails only after; the writer that switched
inside the window loses no write (handovers of the rolling restarts make it retry, never fail).
Afterwards the lab stack keeps the new passwords as its own.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
import time
from typing import Any, Optional

import pytest
import redis

from cluster import ClientSpec, KubernetesCluster
from drills.targets import GatewayTarget
from stack_config import names

KEY = "gatewayRedisPassword"
ROTATED = (KEY, "gatewaySentinelPassword", "gatewayOperatorPassword")
READY_TIMEOUT_SECONDS = 300.0
WRITER_STOP_TIMEOUT_SECONDS = 120.0
# The writers' own pod: the drills' client pod is restarted between steps (it takes the
# passwords from the Secret when it starts), which must not end the writers.
WRITERS = "kubernaut-rotation-writers"


class RotationWriter:
    """drills.rotation_writer in the writers' pod; passwords reach it on stdin."""

    def __init__(self, cluster: KubernetesCluster, pod: ClientSpec, host: str, prefix: str, password: str) -> None:
        self.cluster, self.pod = cluster, pod
        # The stop: stdin's end would be enough, but the stdin of a long `kubectl exec -i` stalled
        # in the lab during the rolling restarts (websocket pings timed out); a file, touched by
        # a short exec of its own, does not depend on that stream (/dev/shm: the root is read-only).
        self.stop_file = f"/dev/shm/{prefix.replace(':', '-')}.stop"
        command = ["python3", "-m", "drills.rotation_writer", "--host", host, "--prefix", prefix,
                   "--stop-file", self.stop_file]
        self.process = cluster.client_popen(pod, command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE, text=True)
        self.stderr: list[str] = []
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()
        self.use(password)

    def _read_stderr(self) -> None:
        """Drains the progress lines as they come (kept: the last ones tell a failure)."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr = [*self.stderr[-20:], line.rstrip()]

    def use(self, password: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(f"password {password}\n")
        self.process.stdin.flush()

    def result(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        touched = self.cluster.client_exec(self.pod, ["touch", self.stop_file], timeout=60)
        assert touched.returncode == 0, touched.stderr
        out = self.process.stdout.read()
        self.process.wait(timeout=WRITER_STOP_TIMEOUT_SECONDS)
        self.reader.join(timeout=10)
        assert self.process.returncode == 0, "\n".join(self.stderr)[-2000:]
        return json.loads(out)


def _up(stack, secret_values: dict[str, str]) -> tuple[float, dict[str, Any]]:
    started = time.time()
    return started, stack.up(secret_values=secret_values)


def _authenticates(ip: str, port: int, password: str, username: Optional[str] = None) -> bool:
    client = redis.Redis(ip, port, username=username, password=password, socket_timeout=5, socket_connect_timeout=5)
    try:
        return client.ping() is True
    except redis.exceptions.AuthenticationError:
        return False
    finally:
        client.close()


def _accepted(target: GatewayTarget, passwords: dict[str, str]) -> dict[str, dict[str, bool]]:
    """pod -> which of `passwords`' users its redis and sentinel take (from the host, as the
    drills reach the pods)."""
    found = {}
    for pod in target.pod_names():
        ip = target.pod_ip(pod)
        assert ip is not None, f"{pod} has no IP"
        found[pod] = {
            "clients": _authenticates(ip, names.REDIS_PORT, passwords[KEY]),
            "operator": _authenticates(ip, names.REDIS_PORT, passwords["gatewayOperatorPassword"],
                                       names.ACL_USER_OPERATOR),
            "sentinel": _authenticates(ip, names.SENTINEL_PORT, passwords["gatewaySentinelPassword"])}
    return found


def _healthy(access: KubernetesCluster, outputs: dict[str, Any], takes: dict[str, dict[str, str]]) -> None:
    """The smoke invariants from a client pod started now, with the Secret's current passwords;
    then, for each name in `takes`, whether every pod takes that set of passwords (True for every
    user) or refuses it (False for every user), as the name's prefix says: "takes" or "refuses"."""
    target = GatewayTarget.from_outputs(access, outputs)
    target.start_client()
    try:
        target.wait_healthy(READY_TIMEOUT_SECONDS)
    finally:
        target.stop_client()
    for name, passwords in takes.items():
        expected = name.startswith("takes")
        found = _accepted(target, passwords)
        assert all(value == expected for users in found.values() for value in users.values()), (name, found)


def test_a_rotation_keeps_old_clients_until_the_window_closes_and_switchers_lose_nothing(lab_cluster):
    from lab.stack import LabStack, StackError

    access = KubernetesCluster.lab()
    stack = LabStack(lab_cluster.kubeconfig)
    olds = {key: stack.passwords()[key] for key in ROTATED}
    news = {key: secrets.token_urlsafe(24) for key in ROTATED}
    old, new = olds[KEY], news[KEY]
    outputs = stack.up()
    _healthy(access, outputs, {"takes the old": olds, "refuses the new": news})

    with pytest.raises(StackError) as refused:
        stack.preview(secret_values=news)
    for key in ROTATED:
        assert f"{key}: the deployed pods do not accept the new value yet" in str(refused.value)
    assert not any(value in str(refused.value) for value in [*olds.values(), *news.values()])

    namespace = outputs["namespace"]
    host = outputs["gateway"]["masterEndpoint"].rsplit(":", 1)[0]
    writers_pod = ClientSpec(namespace=namespace, name=WRITERS, labels=tuple(names.CLIENT_ACCESS_LABELS.items()))
    access.start_client(writers_pod)
    try:
        stays = RotationWriter(access, writers_pod, host, f"rotation:{int(time.time())}:stays", old)
        switches = RotationWriter(access, writers_pod, host, f"rotation:{int(time.time())}:switches", old)
        time.sleep(5)

        # 1: the window opens
        _, outputs = _up(stack, {f"{key}Accepted": news[key] for key in ROTATED})
        _healthy(access, outputs, {"takes the old": olds, "takes the new": news})
        switches.use(new)                                              # a client moves inside it
        time.sleep(5)
        # 2: everything sends the new passwords
        _, outputs = _up(stack, {**news, **{f"{key}Accepted": olds[key] for key in ROTATED}})
        # From here the stack's own passwords are the new ones: a run after a failure in step 3
        # then closes the window instead of being refused for going back.
        for key in ROTATED:
            stack.keep_secret(key, news[key])
        _healthy(access, outputs, {"takes the old": olds, "takes the new": news})
        time.sleep(5)
        closed_at, outputs = _up(stack, news)                          # 3: the window closes
        _healthy(access, outputs, {"refuses the old": olds, "takes the new": news})
        time.sleep(5)

        stayed, switched = stays.result(), switches.result()
    finally:
        access.stop_client(writers_pod)
    print(f"stays on the old password: {stayed}\nswitches inside the window: {switched}")

    assert switched["acked"] > 0 and switched["failed"] == 0, switched["failures"]
    assert stayed["acked"] > 0
    assert stayed["auth_failures"] > 0, "the old password still works after the window closed"
    assert stayed["first_failure_at"] >= closed_at, f"old password failed before the window closed: {stayed}"
