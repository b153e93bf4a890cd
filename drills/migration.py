"""The migration drill: from the deployment this project replaces to the lab stack, with a client of
that era writing through `redis-gateway-ha:6379` the whole time (docs/migration.md).

    python -m drills.migration [--trials N] [--rate 100] [--json FILE]

Each trial, on the lab cluster:
1. the lab stack destroyed and its namespace deleted (the volumes go), the legacy manifests applied
   (lab.legacy: the seed's files with the lab's Redis 7.0 image);
2. a writer as the Gateway of that era writes: no password, a plain client on the Service
   `redis-gateway-ha:6379`, a new connection after a READONLY reply (the legacy Service spans every
   pod; go-redis retries such a write on another connection of its pool);
3. the migration (ops.migration.LegacyMigration) and `pulumi up -s lab` with the window
   `gateway.auth.clientsWithoutPassword=true`: the writer goes on, unchanged, against the new
   Service of the same name;
4. the writer stopped; every acknowledged key is looked up through the endpoint;
5. the window closed (`pulumi up -s lab` as committed): a client without a password is refused
   (NOAUTH), one with it is served, and every key is still there.
The outage is the largest gap in acknowledged writes from the legacy pods' delete on: from the
last write the legacy master acknowledged to the first the new stack did. The trial leaves the lab
stack deployed as committed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any, Optional

from cluster import ClientSpec
from lab.legacy import NAMESPACE, apply_legacy
from ops.migration import LegacyMigration
from stack_config import gateway_pod_fqdns, names

from .health import wait_until
from .report import write_record
from .runner import READY_TIMEOUT_SECONDS, Options, lab_cluster, lab_stack
from .targets import GatewayTarget, stack_config_of
from .writer_process import WriterProcess

WINDOW_OPEN = "gateway.auth.clientsWithoutPassword=true"
LEGACY_CLIENT = "kubernaut-legacy-client"
WRITER_MAX_SECONDS = 1200.0


def _largest_gap(acks: list[list], since: float) -> tuple[Optional[float], Optional[float]]:
    """The two acknowledgements around the largest gap from `since` on (wall clock): the last the
    legacy master gave before it stopped and the first the new stack gave."""
    times = sorted(ack[1] for ack in acks)
    start = next((i for i, at in enumerate(times) if at >= since), len(times))
    start = max(start - 1, 0)  # the last ack before `since` opens the first gap
    pairs = list(zip(times[start:], times[start + 1:]))
    if not pairs:
        return None, None
    return max(pairs, key=lambda pair: pair[1] - pair[0])


def migration_metrics(writer: dict[str, Any], legacy_delete_at: float) -> dict[str, Any]:
    """What a trial reports from the writer's result: acknowledged, lost, the outage across the
    migration (the largest gap in acknowledgements from the legacy pods' delete on), and the
    failures by kind (the legacy Service's READONLY replies among them)."""
    last, first = _largest_gap(writer["acks"], legacy_delete_at)
    lost = writer.get("lost")
    return {
        "acked": writer["acked"],
        "attempts": writer["attempts"],
        "lost": None if lost is None else len(lost),
        "verify_error": writer.get("verify_error"),
        "errors": writer["errors"],
        "last_legacy_ack_s": None if last is None else round(last - legacy_delete_at, 3),
        "first_new_ack_s": None if first is None else round(first - legacy_delete_at, 3),
        "outage_s": None if last is None or first is None else round(first - last, 2),
    }


def _client_logins(endpoint: str, target: GatewayTarget) -> dict[str, Any]:
    """drills.logins from the drills' client pod, which holds the clients' password."""
    done = target.client_exec(["python3", "-m", "drills.logins", endpoint], timeout=30)
    return json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr.strip()[-300:]}


def _master_keys(target: GatewayTarget) -> int:
    master = next(pod for pod, role in target.roles().items() if role == "master")
    return int(target.node_command(master, "DBSIZE"))


def run_trial(number: int, options: Options) -> dict[str, Any]:
    cluster = lab_cluster(options)
    stack = lab_stack(options)
    cfg = stack_config_of(options.overrides)
    trial: dict[str, Any] = {"scenario": "migrate-from-legacy", "trial": number, "started_at": time.time()}
    options.say(f"migration trial {number}: the lab stack destroyed, the legacy deployment applied")
    stack.destroy()
    cluster.delete_namespace(NAMESPACE)  # a legacy deployment an earlier trial left, with its volumes
    apply_legacy(cluster, options.say)
    client = ClientSpec(namespace=NAMESPACE, name=LEGACY_CLIENT, labels=tuple(names.CLIENT_ACCESS_LABELS.items()))
    cluster.start_client(client)
    try:
        # The legacy pods have this stack's names; the writer only needs them to start.
        sentinels = [f"{fqdn}:{names.SENTINEL_PORT}" for fqdn in gateway_pod_fqdns(cfg)]
        writer = WriterProcess(cluster, client, sentinels, names.MASTER_SET, f"migration:{int(time.time())}",
                               options.rate, WRITER_MAX_SECONDS,
                               endpoint=f"{names.GATEWAY_HA_SERVICE}:{names.REDIS_PORT}",
                               options=("--reconnect-on-readonly", "--verify-through-endpoint"))
        with writer:
            writer.wait_steady(options.steady_seconds)
            report = LegacyMigration(cluster, NAMESPACE, options.say).migrate(cfg.platform.images.redis)
            trial["migration"] = report.as_dict()
            outputs = stack.up([*options.overrides, WINDOW_OPEN])
            up_done = time.time()
            trial["pulumi_up_done_s"] = round(up_done - report.legacy_delete_at, 2)
            target = GatewayTarget.from_outputs(cluster, outputs)
            target.start_client()
            try:
                target.wait_healthy(READY_TIMEOUT_SECONDS)
                wait_until(lambda: (writer.progress.get("last_ack_at") or 0) > up_done, READY_TIMEOUT_SECONDS,
                           "a write acknowledged by the new stack")
                time.sleep(options.tail_seconds)
                result = writer.stop()
                trial.update(migration_metrics(result, report.legacy_delete_at))
                trial["keys_after"] = _master_keys(target)
                endpoint = str(target.master_endpoint)
                trial["window_open"] = _client_logins(endpoint, target)
                options.say("migration: closing the window (pulumi up as committed)")
                target.deployer = lambda extra: stack.up([*options.overrides, *extra])
                target.redeploy([])
                target.wait_healthy(READY_TIMEOUT_SECONDS)
                trial["window_closed"] = _client_logins(endpoint, target)
                trial["keys_after_close"] = _master_keys(target)
            finally:
                target.stop_client()
    finally:
        cluster.stop_client(client)
    trial["finished_at"] = time.time()
    return trial


def trial_line(trial: dict[str, Any]) -> str:
    return (f"trial {trial['trial']}: outage {trial.get('outage_s')} s (last legacy ack "
            f"{trial.get('last_legacy_ack_s')} s, first new ack {trial.get('first_new_ack_s')} s after the legacy "
            f"pods' delete; pulumi up done at {trial.get('pulumi_up_done_s')} s); lost {trial.get('lost')} of "
            f"{trial.get('acked')} acknowledged; keys {trial.get('migration', {}).get('master_keys')} on the legacy "
            f"master -> {trial.get('keys_after')} -> {trial.get('keys_after_close')} after the window closed")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills.migration", description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=1)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--json", help="write the trials to this file")
    args = parser.parse_args(argv)
    options = Options(rate=args.rate, echo=lambda line: print(line, file=sys.stderr, flush=True))
    trials = []
    for number in range(1, args.trials + 1):
        trials.append(run_trial(number, options))
        print(trial_line(trials[-1]), flush=True)
        if args.json:
            write_record(args.json, "drills.migration", argv, trials=trials)
    return 0 if all(t.get("lost") == 0 for t in trials) else 1


if __name__ == "__main__":
    sys.exit(main())
