"""python -m lab up|down|smoke: the dev stack (as the lab stack) on the lab's real
Kubernetes, what scripts/lab-up and scripts/lab-down run.

    up      the cluster (labcluster: started, or a healthy one reused), `pulumi up -s lab` against
            it, the rollout shown, then the smoke check as a Job in the namespace
    smoke   only the smoke Job, against what is deployed
    prometheus
            the lab's Prometheus (namespace monitoring) with the lab stack's rules, and its URL
    objectstore up|down
            the lab's S3 object store (SeaweedFS, namespace lab-objectstore, bucket
            kubernaut-backups) and the backups' credentials Secret in the stack's namespace; or
            both removed (lab/objectstore.py)
    peer-chart up|down
            the peer the stack is benchmarked against: the redis-ha Helm chart, release redis-ha
            in namespace peer-redis-ha, with the lab's images (lab/peer_chart.py); or removed
    down    `pulumi destroy -s lab` when the cluster still runs, then the cluster taken down
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from typing import Any, Mapping, Optional

from cluster import KubernetesCluster
from labcluster import ClusterError
from labcluster.cluster import LabCluster
from labcluster.layout import CLIENT_IMAGE
from smoke.job import JOB_NAME, smoke_job
from smoke.targets import redis_settings, sentinel_settings
from stack_config import names

from .stack import STACK, LabStack, StackError

ROLLOUT_TIMEOUT_SECONDS = 300
SMOKE_TIMEOUT_SECONDS = 300


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _conf_value(conf: str, key: str) -> Optional[str]:
    found = re.findall(rf"^\s*{re.escape(key)}\s+(\S+)", conf or "", flags=re.M)
    return found[-1] if found else None


def secret_env(access: KubernetesCluster, outputs: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Which passwords the smoke check gets: those the stack's Secrets hold."""
    namespace = outputs["namespace"]
    env = []
    gateway_secret = outputs["gateway"].get("secretName")
    if gateway_secret:
        for variable, key in (("REDIS_PASSWORD", names.SECRET_KEY_REDIS_PASSWORD),
                              ("SENTINEL_PASSWORD", names.SECRET_KEY_SENTINEL_PASSWORD)):
            if access.secret_value(namespace, gateway_secret, key) is not None:
                env.append((variable, gateway_secret, key))
    if access.secret_value(namespace, names.CACHE_AUTH_SECRET, names.SECRET_KEY_REDIS_PASSWORD) is not None:
        env.append(("CACHE_PASSWORD", names.CACHE_AUTH_SECRET, names.SECRET_KEY_REDIS_PASSWORD))
    return env


def gateway_settings(access: KubernetesCluster, namespace: str,
                     master_set: str) -> tuple[Optional[dict[str, str]], Optional[dict[str, str]]]:
    """What every gateway Redis and Sentinel must run, from the deployed ConfigMap (the smoke
    check's `settings`); None where the ConfigMap lacks the file."""
    redis_conf = access.config_map_value(namespace, names.GATEWAY_CONFIG_MAP, names.REDIS_CONF)
    sentinel_conf = access.config_map_value(namespace, names.GATEWAY_CONFIG_MAP, names.SENTINEL_CONF)
    quorum = access.config_map_value(namespace, names.GATEWAY_TOPOLOGY_CONFIG_MAP, names.TOPOLOGY_QUORUM_KEY)
    return (redis_settings(redis_conf) if redis_conf else None,
            sentinel_settings(sentinel_conf, master_set, quorum) or None if sentinel_conf else None)


def run_smoke_job(access: KubernetesCluster, outputs: Mapping[str, Any]) -> bool:
    namespace = outputs["namespace"]
    conf = access.config_map_value(namespace, names.CACHE_CONFIG_MAP, names.REDIS_CONF) or ""
    expected_redis, expected_sentinel = gateway_settings(access, namespace, outputs["gateway"]["masterSet"])
    objects = smoke_job(namespace, CLIENT_IMAGE, outputs, _conf_value(conf, "maxmemory-policy"),
                        _conf_value(conf, "maxmemory"), secret_env(access, outputs),
                        redis_settings=expected_redis, sentinel_settings=expected_sentinel,
                        pod_labels=names.CLIENT_ACCESS_LABELS)
    access.kubectl("-n", namespace, "delete", "job", JOB_NAME, "--ignore-not-found", "--wait=true", timeout=120)
    access.apply(objects)
    say(f"smoke: Job {namespace}/{JOB_NAME} started")
    deadline = time.monotonic() + SMOKE_TIMEOUT_SECONDS
    state = None
    while time.monotonic() < deadline:
        status = json.loads(access.kubectl("-n", namespace, "get", "job", JOB_NAME, "-o", "json").stdout)["status"]
        conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
        if conditions.get("Complete") == "True":
            state = True
            break
        if conditions.get("Failed") == "True":
            state = False
            break
        time.sleep(1)
    logs = access.kubectl("-n", namespace, "logs", f"job/{JOB_NAME}", check=False, timeout=60)
    print(logs.stdout, end="", flush=True)
    print(logs.stderr, end="", file=sys.stderr, flush=True)
    if state is None:
        say(f"smoke: the Job did not finish within {SMOKE_TIMEOUT_SECONDS} s")
        return False
    return state


def show_rollout(access: KubernetesCluster, namespace: str) -> None:
    for kind_name in (f"statefulset/{names.GATEWAY}", f"deployment/{names.GATEWAY_HAPROXY}", f"deployment/{names.CACHE}"):
        done = access.kubectl("-n", namespace, "rollout", "status", kind_name, f"--timeout={ROLLOUT_TIMEOUT_SECONDS}s",
                              check=False, timeout=ROLLOUT_TIMEOUT_SECONDS + 10)
        say(f"rollout {kind_name}: {(done.stdout or done.stderr).strip().splitlines()[-1:] or ['?']}")
    say(access.kubectl("-n", namespace, "get", "pods", "-o", "wide").stdout.rstrip())


def up(overrides: list[str]) -> int:
    lab = LabCluster.default()
    lab.up(say)
    access = KubernetesCluster.lab()
    outputs = LabStack(lab.kubeconfig).up(overrides)
    show_rollout(access, outputs["namespace"])
    return 0 if run_smoke_job(access, outputs) else 1


def smoke() -> int:
    lab = LabCluster.default()
    outputs = LabStack(lab.kubeconfig).outputs()
    return 0 if run_smoke_job(KubernetesCluster.lab(), outputs) else 1


def prometheus() -> int:
    from tools.pulumi_mock_run import stack_config

    from . import prometheus as lab_prometheus

    LabCluster.default().up(say)
    cfg = stack_config(STACK)
    access = KubernetesCluster.lab()
    if access.kubectl("get", "namespace", cfg.platform.namespace, check=False).returncode != 0:
        say(f"prometheus: the namespace {cfg.platform.namespace} is not there (it may read only that one): "
            "bring the lab stack up first (scripts/lab-up)")
        return 1
    url = lab_prometheus.deploy(access, cfg)
    say(f"prometheus: {url} (API: {url}/api/v1/alerts)")
    return 0


def objectstore(action: str) -> int:
    from . import objectstore as lab_objectstore

    lab = LabCluster.default()
    if action == "down":
        if not lab.healthy():
            say("objectstore: the lab cluster is not up: nothing to remove")
            return 0
        lab_objectstore.remove(KubernetesCluster.lab())
        say(f"objectstore: namespace {lab_objectstore.NAMESPACE} and Secret "
            f"{lab_objectstore.CREDENTIALS_NAMESPACE}/{lab_objectstore.CREDENTIALS_SECRET} removed")
        return 0
    lab.up(say)
    try:
        found = lab_objectstore.deploy(KubernetesCluster.lab(), say=say)
    except lab_objectstore.ObjectStoreError as err:
        say(f"objectstore: {err}")
        return 1
    say(f"objectstore: endpoint {found.endpoint}, bucket {found.bucket}, region {found.region}, "
        f"credentials Secret {found.credentials_namespace}/{found.credentials_secret}")
    return 0


def peer_chart(action: str) -> int:
    from . import peer_chart as lab_peer_chart

    lab = LabCluster.default()
    if action == "down":
        if not lab.healthy():
            say("peer chart: the lab cluster is not up: nothing to remove")
            return 0
        lab_peer_chart.remove(say=say)
        return 0
    lab.up(say)
    try:
        lab_peer_chart.install(say=say)
    except lab_peer_chart.PeerChartError as err:
        say(f"peer chart: {err}")
        return 1
    return 0


def down() -> int:
    lab = LabCluster.default()
    stack = LabStack(lab.kubeconfig)
    if lab.healthy():
        try:
            stack.destroy()
        except StackError as err:
            say(f"lab-down: pulumi destroy failed ({err}); the cluster goes anyway")
    stack.forget()
    removed = lab.down(say)
    say(f"lab-down: cluster down ({len(removed)} things removed)")
    return 0


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("up", "down", "smoke", "prometheus", "objectstore", "peer-chart"))
    parser.add_argument("action", nargs="?", choices=("up", "down"),
                        help="objectstore and peer-chart only: up (the default) or down")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="a stack config override (pulumi config set --path KEY VALUE), e.g. gateway.replicas=5")
    args = parser.parse_args(argv)
    if args.action and args.command not in ("objectstore", "peer-chart"):
        parser.error(f"{args.command} takes no {args.action!r}")
    try:
        if args.command == "up":
            return up(args.overrides)
        if args.command == "smoke":
            return smoke()
        if args.command == "prometheus":
            return prometheus()
        if args.command == "objectstore":
            return objectstore(args.action or "up")
        if args.command == "peer-chart":
            return peer_chart(args.action or "up")
        return down()
    except (ClusterError, StackError) as err:
        say(str(err))
        return 1


if __name__ == "__main__":
    sys.exit(main())
