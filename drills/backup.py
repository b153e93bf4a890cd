"""The backup and restore drill: known keys written, backed up to the lab's S3-compatible store
(SeaweedFS, lab.objectstore), the whole stack destroyed with its volumes, a new stack seeded from
the backup (gateway.backup.restoreFrom), and every key compared (docs/backup.md).

    python -m drills.backup [--dataset-mb 200] [--backups 1] [--retention 3] [--json FILE]

On the lab cluster:
1. the object store deployed (lab.objectstore) and the lab stack deployed with backups on, the
   store's credentials as the stack's secret config (the stack creates their Secret), and, for a
   large dataset, maxmemory and the redis memory limit raised to hold it;
2. the dataset written to the master: about --dataset-mb of strings without expiry, strings that
   expire in a day and in an hour, hashes with an expiry (the Gateway's dedup records), and sorted
   sets; values are incompressible, so the RDB is as large as the data;
3. once every replica has caught up, --backups Jobs made from the CronJob, one after the other
   (the last one is restored; with --backups above the retention, the oldest are deleted), while
   two writers write through Sentinel discovery and through the master-only endpoint: their
   losses and largest gap between acknowledgements say whether a backup disturbs the master;
4. every key read back (type, value, expiry class) as the expectation;
5. the stack destroyed and its namespace deleted: the volumes go; then `pulumi up` with
   `restoreFrom: latest`, and every key compared with the expectation;
6. the lab stack deployed again as committed.
The times reported: each backup Job (created to complete, and the script's own RDB and upload
times), the destroy, and the restore (`pulumi up` to every pod Ready, and the init container's
download).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from typing import Any, Iterator, Optional

import redis

from cluster import Cluster
from lab import objectstore
from ops.backup import backup_now
from labcluster.layout import BACKUP_IMAGE
from stack_config import GATEWAY_BACKUP_ACCESS_KEY_ID_KEY, GATEWAY_BACKUP_SECRET_ACCESS_KEY_KEY, names

from .analysis import longest_gap
from .health import wait_until
from .report import write_record
from .runner import READY_TIMEOUT_SECONDS, Options, lab_cluster, lab_stack
from .targets import GatewayTarget

RETENTION = 3
PREFIX = "redis-gateway/drill"
VALUE_BYTES = 1000
BATCH = 500
JOB_TIMEOUT_SECONDS = 1800.0
WRITER_MAX_SECONDS = 3600.0
# The key classes: (name, kind, expiry in seconds or None). Strings carry the bulk; the rest are
# the Gateway's shapes.
CLASSES = (("plain", "string", None), ("day", "string", 86400), ("hour", "string", 3600),
           ("dedup", "hash", 86400), ("storm", "zset", None))
SMALL_CLASS_KEYS = 2000
# A dataset above this needs more than the committed maxmemory (256Mi; allkeys-lru would evict).
COMMITTED_DATASET_MB = 150
RESTORE_LINE = re.compile(r"restored (\S+): (\d+) bytes, sha256 (\w+), in (\d+) s")


def backup_overrides(dataset_mb: int, retention: int = RETENTION) -> list[str]:
    """The lab stack's config for the drill: backups on, to the lab's store; room for the dataset."""
    overrides = [
        "gateway.backup.enabled=true",
        f"gateway.backup.image={BACKUP_IMAGE}",
        f"gateway.backup.retention={retention}",
        f"gateway.backup.s3.endpoint={objectstore.ENDPOINT}",
        f"gateway.backup.s3.bucket={objectstore.BUCKET}",
        f"gateway.backup.s3.prefix={PREFIX}",
        f"gateway.backup.s3.region={objectstore.REGION}",
    ]
    if dataset_mb > COMMITTED_DATASET_MB:
        # maxmemory <= 60% of the limit; the volume >= 2 x maxmemory.
        maxmemory_mi = max(512, dataset_mb * 2)
        overrides += [f"gateway.maxmemory={maxmemory_mi}Mi",
                      f"gateway.resources.redis.limits.memory={maxmemory_mi * 2}Mi",
                      f"gateway.persistence.size={maxmemory_mi * 4}Mi"]
    return overrides


def credentials() -> dict[str, str]:
    return {GATEWAY_BACKUP_ACCESS_KEY_ID_KEY: objectstore.ACCESS_KEY,
            GATEWAY_BACKUP_SECRET_ACCESS_KEY_KEY: objectstore.SECRET_KEY}


# ---------------------------------------------------------------------------- the dataset

def _value(name: str, index: int, size: int = VALUE_BYTES) -> str:
    """Deterministic and incompressible (hex of a hash stream): the RDB is as large as the data."""
    return hashlib.shake_128(f"{name}:{index}".encode()).hexdigest(size // 2)


def class_sizes(dataset_mb: int) -> dict[str, int]:
    """Keys per class: the strings without expiry carry the bulk."""
    bulk = max(SMALL_CLASS_KEYS, dataset_mb * 2**20 // VALUE_BYTES - 4 * SMALL_CLASS_KEYS)
    return {name: (bulk if name == "plain" else SMALL_CLASS_KEYS) for name, _, _ in CLASSES}


def _batches(count: int) -> Iterator[range]:
    for start in range(0, count, BATCH):
        yield range(start, min(start + BATCH, count))


def write_dataset(node: redis.Redis, dataset_mb: int) -> dict[str, int]:
    sizes = class_sizes(dataset_mb)
    for name, kind, expiry in CLASSES:
        for batch in _batches(sizes[name]):
            pipe = node.pipeline(transaction=False)
            for i in batch:
                key = f"drill:{name}:{i}"
                if kind == "string":
                    pipe.set(key, _value(name, i), ex=expiry)
                elif kind == "hash":
                    pipe.hset(key, mapping={"fingerprint": _value(name, i, 64), "count": i, "firstSeen": 1764729600})
                else:
                    pipe.zadd(key, {_value(name, i, 16): i, _value(name, i + 1, 16): i + 1})
                if expiry and kind != "string":
                    pipe.expire(key, expiry)
            pipe.execute()
    return sizes


def clear_dataset(node: redis.Redis) -> int:
    """Deletes the drill's keys (an earlier run's, or this one's once compared): the drill owns
    `drill:*`, and the lab stack is left without a large dataset for what runs next."""
    deleted = 0
    batch: list[str] = []
    for key in node.scan_iter(match="drill:*", count=5000):
        batch.append(key)
        if len(batch) >= BATCH:
            deleted += node.unlink(*batch)
            batch = []
    if batch:
        deleted += node.unlink(*batch)
    return deleted


def expiry_class(ttl: int) -> str:
    if ttl == -1:
        return "none"
    if 0 < ttl <= 3600:
        return "<=1h"
    if 3600 < ttl <= 86400:
        return "<=1d"
    return f"other({ttl})"


def read_dataset(node: redis.Redis) -> dict[str, str]:
    """key -> digest of (type, value, expiry class), for every key of the drill."""
    keys = sorted(node.scan_iter(match="drill:*", count=5000))
    found: dict[str, str] = {}
    for start in range(0, len(keys), BATCH):
        batch = keys[start:start + BATCH]
        pipe = node.pipeline(transaction=False)
        for key in batch:
            pipe.type(key)
            pipe.ttl(key)
        meta = pipe.execute()
        pipe = node.pipeline(transaction=False)
        for index, key in enumerate(batch):
            kind = meta[2 * index]
            if kind == "string":
                pipe.get(key)
            elif kind == "hash":
                pipe.hgetall(key)
            elif kind == "zset":
                pipe.zrange(key, 0, -1, withscores=True)
            else:
                pipe.type(key)
        values = pipe.execute()
        for index, key in enumerate(batch):
            kind, ttl, value = meta[2 * index], meta[2 * index + 1], values[index]
            if isinstance(value, dict):
                value = sorted(value.items())
            record = json.dumps([kind, value, expiry_class(ttl)], default=str)
            found[key] = hashlib.sha256(record.encode()).hexdigest()
    return found


def compare(expected: dict[str, str], found: dict[str, str]) -> dict[str, Any]:
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    changed = sorted(key for key in set(expected) & set(found) if expected[key] != found[key])
    return {"expected": len(expected), "found": len(found), "missing": len(missing), "changed": len(changed),
            "extra": len(extra), "examples": (missing + changed + extra)[:10]}


def per_class(keys: dict[str, str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for key in keys:
        name = key.split(":")[1]
        counts[name] = counts.get(name, 0) + 1
    return counts


# ---------------------------------------------------------------------------- the stack

def master_pod(target: GatewayTarget) -> str:
    masters = [pod for pod, role in target.roles().items() if role == "master"]
    if len(masters) != 1:
        raise RuntimeError(f"expected one master, found {masters}")
    return masters[0]


def replicas_caught_up(target: GatewayTarget, master: str) -> bool:
    info = target.node_command(master, "INFO", "replication")
    offset = int(info["master_repl_offset"])
    replicas = [value for key, value in info.items() if re.fullmatch(r"slave\d+", key)]
    return (len(replicas) == target.replicas - 1
            and all(isinstance(r, dict) and r.get("state") == "online" and int(r["offset"]) >= offset
                    for r in replicas))


def memory_mb(target: GatewayTarget, pod: str) -> dict[str, float]:
    info = target.node_command(pod, "INFO", "memory")
    return {"used_memory_mb": round(int(info["used_memory"]) / 2**20, 1),
            "used_memory_dataset_mb": round(int(info["used_memory_dataset"]) / 2**20, 1)}


def run_backup(cluster: Cluster, namespace: str, number: int, master_fqdn: str) -> dict[str, Any]:
    report = backup_now(cluster, namespace, f"{names.GATEWAY_BACKUP_CRONJOB}-drill-{number}", JOB_TIMEOUT_SECONDS)
    result = report.as_dict()
    result["from_master"] = None if report.source is None else report.source == master_fqdn
    if not report.succeeded:
        result["log"] = report.job.log[-2000:]
    return result


def largest_gap(acks: list[list], start: float, end: float) -> Optional[float]:
    """The largest gap between acknowledgements (wall clock) around [start, end]: the last one
    before start to the first one after end included."""
    times = sorted(ack[1] for ack in acks)
    inside = [at for at in times if start <= at <= end]
    before = [at for at in times if at < start][-1:]
    after = [at for at in times if at > end][:1]
    window = before + inside + after
    return round(longest_gap(window)[0], 3) if len(window) > 1 else None


def writer_metrics(result: dict[str, Any], start: float, end: float) -> dict[str, Any]:
    lost = result.get("lost")
    return {"acked": result["acked"], "lost": None if lost is None else len(lost), "errors": result["errors"],
            "verify_error": result.get("verify_error"), "largest_gap_s": largest_gap(result["acks"], start, end)}


def backups_with_writers(target: GatewayTarget, cluster: Cluster, options: Options, backups: int,
                         master: str) -> dict[str, Any]:
    """The backups, one after the other, while two writers write: through Sentinel discovery and
    through the master-only endpoint, as the Gateway does. Their largest gap between acknowledged
    writes during the backups shows whether a backup stalls the master."""
    stamp = int(time.time())
    writers = {"sentinel": target.writer(f"backup-sentinel:{stamp}", options.rate, WRITER_MAX_SECONDS),
               "endpoint": target.writer(f"backup-endpoint:{stamp}", options.rate, WRITER_MAX_SECONDS,
                                         through_endpoint=True)}
    try:
        for writer in writers.values():
            writer.start()
        for writer in writers.values():
            writer.wait_steady(options.steady_seconds)
        start = time.time()
        done = [run_backup(cluster, target.namespace, number, target.fqdn(master)) for number in range(1, backups + 1)]
        end = time.time()
        time.sleep(options.tail_seconds)
        return {"backups": done, "backup_window_s": round(end - start, 1),
                "writers": {name: writer_metrics(writer.stop(), start, end) for name, writer in writers.items()}}
    finally:
        for writer in writers.values():
            writer.__exit__(None, None, None)


def run_drill(options: Options, dataset_mb: int, backups: int, retention: int = RETENTION,
              redeploy: bool = True) -> dict[str, Any]:
    """The drill; `redeploy`: deploy the lab stack as committed at the end (a rolling restart),
    which a caller that destroys the stack next has no use for."""
    cluster = lab_cluster(options)
    stack = lab_stack(options)
    store = objectstore.deploy(cluster, namespace_for_credentials=None, say=options.say)
    store.delete_prefix(cluster, PREFIX + "/")
    overrides = [*options.overrides, *backup_overrides(dataset_mb, retention)]
    result: dict[str, Any] = {"scenario": "backup-restore", "dataset_mb": dataset_mb, "retention": retention,
                              "overrides": overrides, "started_at": time.time()}
    options.say(f"backup drill: the lab stack with backups to {store.endpoint}/{store.bucket}/{PREFIX}")
    outputs = stack.up(overrides, secret_values=credentials())
    target = GatewayTarget.from_outputs(cluster, outputs)
    target.start_client()
    try:
        target.wait_healthy(READY_TIMEOUT_SECONDS)
        master = master_pod(target)
        node = target.node_client(master, timeout=60)
        try:
            result["cleared_before"] = clear_dataset(node)
            started = time.monotonic()
            result["classes"] = write_dataset(node, dataset_mb)
            result["write_s"] = round(time.monotonic() - started, 1)
        finally:
            node.close()
        result["memory"] = memory_mb(target, master)
        options.say(f"backup drill: dataset written in {result['write_s']} s: {result['memory']}")
        wait_until(lambda: replicas_caught_up(target, master), READY_TIMEOUT_SECONDS, "every replica caught up")
        result.update(backups_with_writers(target, cluster, options, backups, master))
        options.say(f"backup drill: backups {result['backups']}; writers {result['writers']}")
        result["objects_after_backups"] = store.list_keys(cluster, PREFIX + "/")
        node = target.node_client(master, timeout=60)
        try:
            expected = read_dataset(node)
        finally:
            node.close()
        result["expected_per_class"] = per_class(expected)
    finally:
        target.stop_client()

    options.say("backup drill: the stack destroyed, its namespace and volumes deleted")
    started = time.monotonic()
    stack.destroy()
    cluster.delete_namespace(target.namespace)
    result["destroy_s"] = round(time.monotonic() - started, 1)
    result["claims_after_destroy"] = [claim for claim in (f"{names.DATA_VOLUME_CLAIM}-{pod}" for pod in target.pod_names())
                                      if cluster.volume_claim(target.namespace, claim) is not None]

    options.say("backup drill: a new stack restored from the latest backup")
    started = time.monotonic()
    outputs = stack.up([*overrides, f"gateway.backup.restoreFrom={names.RESTORE_LATEST}"],
                       secret_values=credentials())
    restored = GatewayTarget.from_outputs(cluster, outputs)
    restored.start_client()
    try:
        restored.wait_healthy(READY_TIMEOUT_SECONDS)
        result["restore_s"] = round(time.monotonic() - started, 1)
        first = restored.pod_names()[0]
        match = RESTORE_LINE.search(cluster.logs(restored.namespace, first, names.GATEWAY_RESTORE_CONTAINER))
        if match:
            key, size, digest, seconds = match.groups()
            result["restore_download"] = {"key": key, "bytes": int(size), "sha256": digest, "seconds": int(seconds)}
        result["restored_master"] = master_pod(restored)
        result["memory_restored"] = memory_mb(restored, result["restored_master"])
        node = restored.node_client(result["restored_master"], timeout=60)
        try:
            result["comparison"] = compare(expected, read_dataset(node))
            clear_dataset(node)
        finally:
            node.close()
    finally:
        restored.stop_client()
    if redeploy:
        options.say("backup drill: the lab stack deployed again as committed")
        stack.up(options.overrides)
    result["finished_at"] = time.time()
    return result


def summary(result: dict[str, Any]) -> str:
    backups = result.get("backups") or [{}]
    last = backups[-1]
    comparison = result.get("comparison", {})
    writers = "; ".join(f"writer via {name}: {w['acked']} acknowledged, {w['lost']} lost, largest gap {w['largest_gap_s']} s"
                        for name, w in (result.get("writers") or {}).items())
    return (f"{writers}; dataset {result.get('memory', {}).get('used_memory_dataset_mb')} MB "
            f"({sum((result.get('classes') or {}).values())} keys); backup {last.get('bytes')} bytes from "
            f"{last.get('source')} in {last.get('job_seconds')} s (RDB {last.get('rdb_s')} s, upload "
            f"{last.get('upload_s')} s); destroy {result.get('destroy_s')} s; restore {result.get('restore_s')} s "
            f"(download {result.get('restore_download', {}).get('seconds')} s); keys missing "
            f"{comparison.get('missing')}, changed {comparison.get('changed')} of {comparison.get('expected')}")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills.backup", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset-mb", type=int, default=200)
    parser.add_argument("--backups", type=int, default=1)
    parser.add_argument("--retention", type=int, default=RETENTION)
    parser.add_argument("--json", help="write the result to this file")
    args = parser.parse_args(argv)
    options = Options(echo=lambda line: print(line, file=sys.stderr, flush=True))
    result = run_drill(options, args.dataset_mb, args.backups, args.retention)
    print(summary(result), flush=True)
    if args.json:
        write_record(args.json, "drills.backup", argv, result=result)
    comparison = result.get("comparison") or {}
    ok = comparison.get("missing") == 0 and comparison.get("changed") == 0 and comparison.get("extra") == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
