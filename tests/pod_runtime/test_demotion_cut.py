"""A master cut off from its peers (sentinels and replicas) but still reached by clients, over a
connection opened before the cut and through the master-only endpoint: what it acknowledges
after the cut, and what of that survives its demotion. Without WAIT, what it acknowledges
before anyone can know of the cut is lost; the fencing watch of redis-start.sh bounds that to
about down-after (min-replicas-to-write alone bounds it by min-replicas-max-lag, and not at all
when it is 0)."""

from __future__ import annotations

import subprocess
import time

import pytest
import redis

from gateway_pods import GatewayPods, podman, wait_for
from runtime_support import REDIS_PASSWORD, SENTINEL_PASSWORD, require_lab_images, stack_config
from test_gateway_pods import DOWN_AFTER_S, FAILOVER_BOUND_S, RECOVERY_BOUND_S, SLACK_S

CFG = stack_config("prod")
CUT_TABLE = "kubernaut_cut"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory, lab_engine) -> GatewayPods:
    require_lab_images(lab_engine)
    with GatewayPods(CFG, tmp_path_factory.mktemp("krt-demote"), REDIS_PASSWORD, SENTINEL_PASSWORD,
                     engine=lab_engine) as pods:
        yield pods


def _nft(gateway: GatewayPods, ordinal: int, *args: str, stdin: str | None = None) -> None:
    pid = podman("inspect", "-f", "{{.State.Pid}}", gateway.container(ordinal, "redis")).stdout.strip()
    subprocess.run(["nsenter", "-t", pid, "-n", "nft", *args], input=stdin, text=True, check=True,
                   capture_output=True)


def cut_from_peers(gateway: GatewayPods, ordinal: int) -> None:
    peers = ", ".join(gateway.ip(o) for o in sorted(gateway.started_pods) if o != ordinal)
    rules = (f"table inet {CUT_TABLE} {{\n"
             f" chain input {{ type filter hook input priority 0; ip saddr {{ {peers} }} drop\n }}\n"
             f" chain output {{ type filter hook output priority 0; ip daddr {{ {peers} }} drop\n }}\n}}\n")
    _nft(gateway, ordinal, "-f", "-", stdin=rules)


def heal(gateway: GatewayPods, ordinal: int) -> None:
    _nft(gateway, ordinal, "delete", "table", "inet", CUT_TABLE)


def test_a_master_cut_from_its_peers_stops_acknowledging_writes(gateway: GatewayPods):
    master = gateway.wait_healthy(RECOVERY_BOUND_S)
    direct = gateway.redis(master, timeout=1.0)
    proxied = gateway.through_haproxy(password=REDIS_PASSWORD, timeout=1.0)
    assert direct.set("krt:cut:probe", "1") and proxied.set("krt:cut:probe", "1")
    cut_at = time.monotonic()
    cut_from_peers(gateway, master)
    acked: dict[str, list[tuple[float, str]]] = {"direct": [], "proxied": []}
    n = 0
    try:
        deadline = cut_at + DOWN_AFTER_S + 2 * CFG.gateway.min_replicas_max_lag + SLACK_S
        while time.monotonic() < deadline:
            for name, client in (("direct", direct), ("proxied", proxied)):
                n += 1
                key = f"krt:cut:{name}:{n}"
                try:
                    client.set(key, n)
                    acked[name].append((time.monotonic() - cut_at, key))
                except redis.RedisError:
                    pass
            time.sleep(0.1)
    finally:
        heal(gateway, master)
    new_master = wait_for("a master other than the cut one",
                          lambda: next((o for o, r in gateway.roles().items() if r == "master" and o != master), None),
                          FAILOVER_BOUND_S + SLACK_S)
    wait_for("the cut node to be demoted", lambda: gateway.roles().get(master) == "slave", FAILOVER_BOUND_S + SLACK_S)
    with gateway.redis(new_master) as client:
        report = {}
        for name, writes in acked.items():
            lost = [(t, k) for t, k in writes if not client.exists(k)]
            report[name] = (len(writes), len(lost), max((t for t, _ in lost), default=0.0))
    print(f"acknowledged after the cut / lost / last lost at (s after the cut): {report}")
    for name, (_, lost, last) in report.items():
        assert last <= DOWN_AFTER_S + 2, f"{name}: writes acknowledged and lost until {last:.1f} s after the cut"


def test_a_master_whose_sentinels_all_stall_keeps_acknowledging_writes(gateway: GatewayPods):
    """Sentinels that do not answer (a node starved of CPU, here frozen) say nothing about a cut:
    the fencing watch must not refuse writes on their silence alone, as long as this pod's own
    sentinel cannot answer either."""
    master = gateway.wait_healthy(RECOVERY_BOUND_S)
    client = gateway.redis(master, timeout=1.0)
    sentinels = [gateway.container(o, "sentinel") for o in sorted(gateway.started_pods)]
    refused: list[str] = []
    acked = 0
    podman("pause", *sentinels)
    try:
        deadline = time.monotonic() + DOWN_AFTER_S + 5
        while time.monotonic() < deadline:
            try:
                client.set(f"krt:stall:{acked}", acked)
                acked += 1
            except redis.RedisError as error:
                refused.append(str(error))
            time.sleep(0.1)
    finally:
        podman("unpause", *sentinels)
    # Frozen sentinels find the clock jumped and enter TILT for 30 s: wait it out for the next test.
    wait_for("every sentinel out of TILT",
             lambda: all(gateway.sentinel(o).info("sentinel").get("sentinel_tilt") == 0
                         for o in sorted(gateway.started_pods)) or None,
             60 + SLACK_S, interval=1)
    assert not refused, f"{len(refused)} writes refused while the sentinels stalled, first: {refused[0]}"
    assert acked > 0
    assert "fenced" not in gateway.logs(master, "redis")
