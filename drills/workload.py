"""python -m drills.workload [--rounds 3] [--seconds 20] [--steady-rate 100] [--burst-rate 1000]
[--with-chart] [--set KEY.PATH=VALUE] [--no-deploy] [--out docs/workload.md] [--json-out FILE]
[--from-json FILE]

The Gateway's Redis traffic (go/workload: go-redis v9 configured as the Gateway configures it,
each alert its 14 round trips) on the lab cluster, sent to each target in turn in the same run:
- `endpoint`: the master-only endpoint, the Service the Gateway is given (through HAProxy);
- `direct`: the master pod's IP, no proxy;
- `bare`: a bare `redis-server` pod (no persistence, no replicas, no ACL) with the gateway's
  Redis container's CPU and memory limits, on the same node, in a namespace of its own;
- `chart` (`--with-chart`): the redis-ha chart's HAProxy Service (lab/peer_chart.py installs
  the release when it is missing).
Phases: `steady` and `burst` are open loop at a rate of alerts per second (latency from when
each alert was due), `saturation` is closed loop (10 workers, the Gateway's pool) and gives the
throughput. Every round runs every phase on every target, the targets' order turning each round,
so that all of them see the same machine. During each run, the CPU time of the parts (the
master's redis, HAProxy, the bare pod, the driver) is read from their cgroups: on 2 cores
the driver competes with what it measures, and the report says how much each took. The driver
runs in a client pod of the target's namespace (the gateway's access labels and password
Secret; the chart's Secret for the chart). `--from-json` renders the report again from saved
results without running anything.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from cluster import ClientSpec, Cluster, SecretEnv
from cluster.kubernetes import ClusterAccessError
from stack_config import names

from . import cpu, histogram
from .benchmark import machine_facts, redis_version, save
from .floor import REDIS_UID
from .report import generated_header
from .runner import Options, gateway_target, lab_cluster
from .targets import GO_WRITER_PROGRAM as DRIVER  # go/workload's binary: the driver and the go-redis writer

PHASES = ("steady", "burst", "saturation")
DRIVER_POD = "kubernaut-workload"
BARE_NAMESPACE = "kubernaut-bench"
BARE_POD = "bare-redis"
PASSWORD_ENV = "REDIS_PASSWORD"
RUN_TIMEOUT_SLACK_SECONDS = 60.0
WARMUP_SECONDS = 2.0  # the driver's -warmup default: traffic that is not counted
# The CPU readings stay this far inside the measured window: a reading takes a kubectl exec.
CPU_MARGIN_SECONDS = 1.5


@dataclass(frozen=True)
class Endpoint:
    """Where one target is reached, from which driver pod, and which of its containers do the
    work (namespace, pod, container) for the CPU table."""

    name: str
    address: str
    client: ClientSpec
    password: bool
    parts: tuple[tuple[str, str, str, str], ...]  # (part, namespace, pod, container)


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m drills.workload", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each run")
    parser.add_argument("--steady-rate", type=float, default=100.0, help="alerts/s of the steady phase")
    parser.add_argument("--burst-rate", type=float, default=1000.0, help="alerts/s of the burst phase")
    parser.add_argument("--phases", default=",".join(PHASES), help="comma-separated subset of " + ", ".join(PHASES))
    parser.add_argument("--with-chart", action="store_true", help="the redis-ha chart's HAProxy as a fourth target")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="config override of the lab stack (pulumi config set --path KEY VALUE)")
    parser.add_argument("--no-deploy", dest="deploy", action="store_false",
                        help="use the lab stack as deployed, without `pulumi up` first")
    parser.add_argument("--out", type=Path, default=Path("docs/workload.md"))
    parser.add_argument("--json-out", type=Path, help="also save every run as JSON here")
    parser.add_argument("--from-json", type=Path, help="render --out from saved results; run nothing")
    args = parser.parse_args(argv)
    phases = [p for p in args.phases.split(",") if p]
    unknown = [p for p in phases if p not in PHASES]
    if unknown or not phases:
        parser.error(f"--phases: unknown {', '.join(unknown) or '(none given)'} (choose from {', '.join(PHASES)})")
    args.phases = phases
    if not 1 <= args.rounds <= 20:
        parser.error("--rounds must be between 1 and 20")
    if not 5 <= args.seconds <= 600:
        parser.error("--seconds must be between 5 and 600 (the CPU readings need a few seconds inside a run)")
    for option, rate in (("--steady-rate", args.steady_rate), ("--burst-rate", args.burst_rate)):
        if not 1 <= rate <= 20000:
            parser.error(f"{option} must be between 1 and 20000 alerts/s")
    return args


# ---------------------------------------------------------------------------------- the bare pod

def bare_objects(image: str, limits: dict[str, str], requests: dict[str, str], maxmemory_bytes: int,
                 policy: str) -> list[dict[str, Any]]:
    """A namespace with one plain redis-server pod: the gateway's Redis container's resources and
    memory settings, nothing else of it (no AOF or RDB, no replicas, no ACL, no probes)."""
    labels = {"app.kubernetes.io/name": BARE_POD}
    command = ["redis-server", "--port", str(names.REDIS_PORT), "--protected-mode", "no", "--save", "",
               "--appendonly", "no", "--maxmemory", str(maxmemory_bytes), "--maxmemory-policy", policy]
    return [
        {"apiVersion": "v1", "kind": "Namespace",
         "metadata": {"name": BARE_NAMESPACE, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": BARE_POD, "namespace": BARE_NAMESPACE, "labels": labels},
         "spec": {
             "automountServiceAccountToken": False, "enableServiceLinks": False,
             "terminationGracePeriodSeconds": 1,
             "securityContext": {"runAsNonRoot": True, "runAsUser": REDIS_UID, "runAsGroup": REDIS_UID,
                                 "seccompProfile": {"type": "RuntimeDefault"}},
             "containers": [{
                 "name": "redis", "image": image, "imagePullPolicy": "IfNotPresent", "command": command,
                 "resources": {"requests": requests, "limits": limits},
                 "readinessProbe": {"tcpSocket": {"port": names.REDIS_PORT}, "periodSeconds": 1},
                 "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                     "capabilities": {"drop": ["ALL"]}},
             }],
         }},
    ]


def start_bare(cluster: Cluster, gateway_config, image: str, timeout: float = 120.0) -> str:
    """The bare pod (made again, so that its settings are this run's); its IP once Ready."""
    redis = gateway_config.resources.redis
    limits = {"cpu": redis.limits.cpu, "memory": redis.limits.memory}
    requests = {"cpu": redis.requests.cpu, "memory": redis.requests.memory}
    if cluster.pod(BARE_NAMESPACE, BARE_POD) is not None:
        cluster.delete_object(BARE_NAMESPACE, "Pod", BARE_POD)
    cluster.apply(bare_objects(image, limits, requests, gateway_config.maxmemory_bytes,
                               gateway_config.maxmemory_policy))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pod = cluster.pod(BARE_NAMESPACE, BARE_POD)
        if pod is not None and pod.ready and pod.ip and not pod.terminating:
            return pod.ip
        time.sleep(1)
    raise ClusterAccessError(f"{BARE_NAMESPACE}/{BARE_POD} not Ready in {timeout:.0f} s")


# ---------------------------------------------------------------------------------- runs

def driver_client(namespace: str, secret_env: tuple[SecretEnv, ...], labels: tuple[tuple[str, str], ...]) -> ClientSpec:
    return ClientSpec(namespace=namespace, name=DRIVER_POD, packages=(), secret_env=secret_env, labels=labels,
                      scratch=True)


def driver_command(path: str, endpoint: Endpoint, phase: str, args: argparse.Namespace, prefix: str) -> list[str]:
    rate = {"steady": args.steady_rate, "burst": args.burst_rate, "saturation": 0}[phase]
    command = [path, "-target", endpoint.name, "-addr", endpoint.address, "-rate", f"{rate:g}",
               "-seconds", f"{args.seconds:g}", "-prefix", prefix]
    if endpoint.password:
        command += ["-password-env", PASSWORD_ENV]
    return command


def cpu_of(cluster: Cluster, parts: tuple[tuple[str, str, str, str], ...]) -> dict[tuple[str, str], dict[str, Any]]:
    samples = {}
    for _part, namespace, pod, container in parts:
        result = cluster.exec(namespace, pod, container, ["sh", "-c", cpu.CPU_STAT_SCRIPT], timeout=30.0)
        if result.returncode == 0:
            samples[(pod, container)] = {**cpu.cpu_stat(result.stdout), "at": time.time()}
    return samples


def run_once(cluster: Cluster, endpoint: Endpoint, path: str, phase: str, args: argparse.Namespace,
             round_number: int) -> dict[str, Any]:
    """One run of the driver; the parts' CPU is read twice while it runs, after its warm-up and
    shortly before its end, so that the millicores are those of the load."""
    prefix = f"bench:{round_number}:{phase}:"
    command = driver_command(path, endpoint, phase, args, prefix)
    started = time.monotonic()
    process = cluster.client_popen(endpoint.client, command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
    before = after = {}
    try:
        time.sleep(WARMUP_SECONDS + CPU_MARGIN_SECONDS)
        before = cpu_of(cluster, endpoint.parts)
        time.sleep(max(0.0, started + WARMUP_SECONDS + args.seconds - CPU_MARGIN_SECONDS - time.monotonic()))
        after = cpu_of(cluster, endpoint.parts)
        stdout, stderr = process.communicate(timeout=args.seconds + RUN_TIMEOUT_SLACK_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    if process.returncode != 0:
        raise RuntimeError(f"{endpoint.name} {phase}: the driver failed ({process.returncode}): {stderr.strip()[-600:]}")
    result = json.loads(stdout)
    part_of = {(pod, container): part for part, _ns, pod, container in endpoint.parts}
    rows = [{**row, "part": part_of[(row["pod"], row["container"])]} for row in cpu.usage(before, after)]
    clean = cluster.client_exec(endpoint.client, [path, "-addr", endpoint.address, "-cleanup", "-prefix", prefix]
                                + (["-password-env", PASSWORD_ENV] if endpoint.password else []), timeout=120)
    return {"round": round_number, "phase": phase, "target": endpoint.name, "result": result, "cpu": rows,
            "cleanup": clean.stdout.strip() or clean.stderr.strip()[-300:]}


def run_rounds(cluster: Cluster, endpoints: list[Endpoint], paths: dict[str, str], args: argparse.Namespace,
               results: dict[str, Any], say: Callable[[str], None], checkpoint: Callable[[], None]) -> None:
    for round_number in range(1, args.rounds + 1):
        turn = (round_number - 1) % len(endpoints)
        order = endpoints[turn:] + endpoints[:turn]
        for phase in args.phases:
            for endpoint in order:
                run = run_once(cluster, endpoint, paths[endpoint.client.namespace], phase, args, round_number)
                results["runs"].append(run)
                r = run["result"]
                say(f"round {round_number} {phase:10} {endpoint.name:8} {r['alerts_per_s']:8.1f} alerts/s  "
                    f"alert p50/p95/p99 {r['alert']['p50_ms']:.2f}/{r['alert']['p95_ms']:.2f}/"
                    f"{r['alert']['p99_ms']:.2f} ms  errors {r['errors']}")
                checkpoint()


# ---------------------------------------------------------------------------------- summary

def summarize(runs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    """(phase, target) -> merged latencies (ms), throughput (mean of the runs), errors and CPU."""
    grouped: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run in runs:
        grouped.setdefault((run["phase"], run["target"]), []).append(run)
    summary = {}
    for key, group in grouped.items():
        results = [run["result"] for run in group]
        alert = histogram.merge(r["alert"]["buckets_us"] for r in results)
        trip = histogram.merge(r["round_trip"]["buckets_us"] for r in results)
        # A part may be several containers (the chart's three HAProxy pods): summed per run, then
        # the mean over the runs.
        cpu_rows: dict[str, list[float]] = {}
        for run in group:
            per_run: dict[str, float] = {}
            for row in run["cpu"]:
                per_run[row["part"]] = per_run.get(row["part"], 0.0) + row["millicores"]
            for part, millicores in per_run.items():
                cpu_rows.setdefault(part, []).append(millicores)
        summary[key] = {
            "runs": len(group),
            "alerts": sum(r["alerts"] for r in results),
            "failed_alerts": sum(r["failed_alerts"] for r in results),
            "errors": sum(r["errors"] for r in results),
            "late": sum(r.get("alerts_started_late", 0) for r in results),
            "alerts_per_s": sum(r["alerts_per_s"] for r in results) / len(results),
            "round_trips_per_s": sum(r["round_trips_per_s"] for r in results) / len(results),
            "alert_ms": {p: histogram.percentile_ms(alert, p) for p in (50, 95, 99, 99.9)} if alert else {},
            "trip_ms": {p: histogram.percentile_ms(trip, p) for p in (50, 95, 99, 99.9)} if trip else {},
            "cpu_millicores": {part: sum(v) / len(v) for part, v in cpu_rows.items()},
            "throttled_periods": sum(row["throttled_periods"] for run in group for row in run["cpu"]
                                     if row["part"] != "driver"),
        }
    return summary


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return None if a is None or not b else a / b


def verdicts(summary: dict[tuple[str, str], dict[str, Any]]) -> list[tuple[str, Optional[bool], str]]:
    """The issue's targets, each (what, met or None when not measured, the numbers)."""
    out: list[tuple[str, Optional[bool], str]] = []
    burst = summary.get(("burst", "endpoint"))
    if burst and burst["alert_ms"]:
        a, t = burst["alert_ms"], burst["trip_ms"]
        out.append(("burst through the endpoint: per alert p95 < 5 ms and p99 < 10 ms",
                    a[95] < 5 and a[99] < 10, f"p95 {a[95]:.2f} ms, p99 {a[99]:.2f} ms"))
        out.append(("burst through the endpoint: per command (round trip) p95 < 5 ms and p99 < 10 ms",
                    t[95] < 5 and t[99] < 10, f"p95 {t[95]:.2f} ms, p99 {t[99]:.2f} ms"))
    for phase in ("steady", "burst"):
        e, d = summary.get((phase, "endpoint")), summary.get((phase, "direct"))
        if e and d and e["alert_ms"] and d["alert_ms"]:
            over = ratio(e["alert_ms"][99], d["alert_ms"][99])
            out.append((f"{phase}: the proxy's overhead at p99 per alert <= 10%", over <= 1.10,
                        f"endpoint {e['alert_ms'][99]:.2f} ms vs direct {d['alert_ms'][99]:.2f} ms: "
                        f"{(over - 1) * 100:+.0f}%"))
    e, d, b = (summary.get(("saturation", t)) for t in ("endpoint", "direct", "bare"))
    if e and b:
        share = ratio(e["alerts_per_s"], b["alerts_per_s"])
        out.append(("saturation through the endpoint >= 90% of a bare redis-server", share >= 0.9,
                    f"{e['alerts_per_s']:.0f} vs {b['alerts_per_s']:.0f} alerts/s: {share * 100:.0f}%"))
    if e and d:
        share = ratio(e["alerts_per_s"], d["alerts_per_s"])
        out.append(("saturation through the endpoint >= 90% of the master direct", share >= 0.9,
                    f"{e['alerts_per_s']:.0f} vs {d['alerts_per_s']:.0f} alerts/s: {share * 100:.0f}%"))
    return out


# ---------------------------------------------------------------------------------- report

TARGET_ORDER = ("endpoint", "direct", "bare", "chart")
PARTS = ("redis", "haproxy", "driver")


def _ms(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.2f}"


def render_tables(results: dict[str, Any]) -> list[str]:
    """The latency, throughput and CPU tables (also quoted in docs/benchmarks.md)."""
    summary = summarize(results["runs"])
    lines = ["| phase | target | runs | alerts/s | alert p50 | p95 | p99 | p99.9 | round trip p50 | p95 | p99 "
             "| failed alerts | errors |", "| --- |" * 1 + " --- |" * 12]
    for phase in PHASES:
        for target in TARGET_ORDER:
            s = summary.get((phase, target))
            if not s:
                continue
            a, t = s["alert_ms"], s["trip_ms"]
            lines.append(f"| {phase} | `{target}` | {s['runs']} | {s['alerts_per_s']:.0f} | {_ms(a.get(50))} ms "
                         f"| {_ms(a.get(95))} ms | {_ms(a.get(99))} ms | {_ms(a.get(99.9))} ms | {_ms(t.get(50))} ms "
                         f"| {_ms(t.get(95))} ms | {_ms(t.get(99))} ms | {s['failed_alerts']} | {s['errors']} |")
    lines += ["", "CPU while the runs were under load (millicores, summed over a part's containers, mean over the "
              "runs; the node has 2,000):", "",
              "| phase | target | redis | haproxy | driver | limit-throttled periods (redis, haproxy) |",
              "| --- | --- | --- | --- | --- | --- |"]
    for phase in PHASES:
        for target in TARGET_ORDER:
            s = summary.get((phase, target))
            if not s or not s["cpu_millicores"]:
                continue
            cells = " | ".join(f"{s['cpu_millicores'][part]:.0f}" if part in s["cpu_millicores"] else "-"
                               for part in PARTS)
            lines.append(f"| {phase} | `{target}` | {cells} | {s['throttled_periods']} |")
    lines += ["", "Against the goals:", ""]
    for what, met, numbers in verdicts(summary):
        state = "not measured" if met is None else ("**MET**" if met else "**NOT MET**")
        lines.append(f"- {what}: {numbers}: {state}")
    return lines


def render_report(results: dict[str, Any]) -> str:
    config = results["config"]
    targets = "\n".join(f"- `{name}`: {t['what']} (`{t['address']}`)" for name, t in results["targets"].items())
    parts = [
        *generated_header("The Gateway's workload", "drills/workload.py", "real runs", results),
        f"- cluster: {results['machine']['kubernetes']}, runtime {results['machine']['runtime']}; "
        f"redis {results.get('redis_version', '-')}",
        f"- stack: the lab stack; HAProxy limits {config['haproxy_limits']}, Redis limits {config['redis_limits']}",
        f"- runs: {config['rounds']} rounds x {len(config['phases'])} phases x {len(results['targets'])} targets, "
        f"{config['seconds']:g} s each; steady {config['steady_rate']:g} alerts/s, burst "
        f"{config['burst_rate']:g} alerts/s (open loop), saturation closed loop with {config['pool']} workers",
        "",
        "Targets:",
        "",
        targets,
        "",
        "## Results",
        "",
        *render_tables(results),
        "",
        "## How it is measured",
        "",
        "`go/workload/main.go` is the driver: go-redis v9 with the Gateway's settings (pool 10, 2 idle, "
        "timeouts 5/3/3 s, 3 retries), one NEW alert as the Gateway handles it: `EXISTS`, `SET NX EX 5`, "
        "`INCR` + `EXPIRE`, `ZADD` + `ZREMRANGEBYSCORE` + `EXPIRE` + `ZCARD` + `ZRANGE`, a pipeline of "
        "`HSET` (8 fields) + `EXPIRE 300`, `HINCRBY`, `TTL`, `HGETALL`, `DEL`: 14 round trips, 15 "
        "commands. An alert's latency is from when it was due (open loop) or sent (closed loop) to its "
        "last reply; a round trip's is one command (or the pipeline) to its reply. Percentiles are "
        "nearest-rank over every alert of the runs, from histograms with buckets 2% wide (a percentile "
        "overstates by at most 2%). Each run starts with 2 s of traffic that is not counted (the pool "
        "fills) and ends by deleting its keys (not timed). The driver runs in a client pod on the same "
        "node as everything it measures: on 2 cores its own CPU (the table) is taken from the same "
        "budget.",
        "",
    ]
    return "\n".join(parts)


# ---------------------------------------------------------------------------------- main

def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        results = json.loads(args.from_json.read_text())
        args.out.write_text(render_report(results))
        print(f"wrote {args.out}")
        return 0
    from labcluster.cluster import find_binaries

    driver = find_binaries() / DRIVER
    if not driver.is_file():
        print(f"no {driver}: run scripts/build-cluster", file=sys.stderr)
        return 2

    def say(text: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)

    options = Options(overrides=list(args.overrides), deploy=args.deploy, echo=say)
    cluster = lab_cluster(options)
    from .targets import stack_config_of

    config = stack_config_of(args.overrides)
    gateway_config = config.gateway
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
        "command": "python -m drills.workload " + " ".join(shlex.quote(a) for a in (argv or sys.argv[1:])),
        "machine": machine_facts(cluster),
        "config": {"rounds": args.rounds, "seconds": args.seconds, "steady_rate": args.steady_rate,
                   "burst_rate": args.burst_rate, "phases": args.phases, "pool": 10,
                   "overrides": list(args.overrides),
                   "haproxy_limits": gateway_config.resources.haproxy.limits.model_dump(),
                   "redis_limits": gateway_config.resources.redis.limits.model_dump()},
        "targets": {}, "runs": [],
    }

    def checkpoint() -> None:
        if args.json_out:
            save(results, args.json_out)

    with gateway_target(options) as gateway:
        results["redis_version"] = redis_version(gateway)
        master = next(pod for pod, role in gateway.roles().items() if role == "master")
        master_ip = gateway.pod_ip(master)
        bare_ip = start_bare(cluster, gateway_config, config.platform.images.redis)
        proxy = [p for p in cluster.pods(gateway.namespace, f"{names.LABEL_COMPONENT}={names.COMPONENT_MASTER_PROXY}")
                 if p.phase == "Running" and not p.terminating]
        client = driver_client(gateway.namespace, tuple(e for e in gateway.client.secret_env
                                                        if e.variable == PASSWORD_ENV), gateway.client.labels)
        driver_part = ("driver", gateway.namespace, DRIVER_POD, "client")
        endpoint = gateway.master_endpoint
        endpoints = [
            Endpoint("endpoint", f"{endpoint.host}:{endpoint.port}", client, gateway.redis_password is not None,
                     tuple(("haproxy", gateway.namespace, p.name, "haproxy") for p in proxy)
                     + (("redis", gateway.namespace, master, "redis"), driver_part)),
            Endpoint("direct", f"{master_ip}:{names.REDIS_PORT}", client, gateway.redis_password is not None,
                     (("redis", gateway.namespace, master, "redis"), driver_part)),
            Endpoint("bare", f"{bare_ip}:{names.REDIS_PORT}", client, False,
                     (("redis", BARE_NAMESPACE, BARE_POD, "redis"), driver_part)),
        ]
        results["targets"] = {
            "endpoint": {"address": endpoints[0].address, "what": "the master-only endpoint (HAProxy), as the Gateway"},
            "direct": {"address": endpoints[1].address, "what": f"the master pod {master} directly"},
            "bare": {"address": endpoints[2].address,
                     "what": "a bare redis-server pod with the gateway Redis container's limits"},
        }
        clients = [client]
        if args.with_chart:
            endpoints.append(chart_endpoint(cluster, say))
            clients.append(endpoints[-1].client)
            results["targets"]["chart"] = {"address": endpoints[-1].address,
                                           "what": "the redis-ha chart's HAProxy Service"}
        paths = {}
        try:
            for spec in clients:
                cluster.start_client(spec)
                paths[spec.namespace] = cluster.client_put(spec, str(driver), DRIVER)
            say(f"targets: {', '.join(f'{e.name} {e.address}' for e in endpoints)}")
            run_rounds(cluster, endpoints, paths, args, results, say, checkpoint)
        finally:
            for spec in clients:
                cluster.stop_client(spec)
            cluster.delete_namespace(BARE_NAMESPACE)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    results["machine"]["loadavg_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    checkpoint()
    args.out.write_text(render_report(results))
    print(f"wrote {args.out}")
    return 0


def chart_endpoint(cluster: Cluster, say: Callable[[str], None]) -> Endpoint:
    """The redis-ha chart's HAProxy Service (the release installed when missing), driven from a
    client pod in its namespace with its password; its HAProxy pods and its master for the CPU."""
    from lab import peer_chart

    from .peer import AUTH_KEY, AUTH_SECRET, HAPROXY_LABELS, PeerChartTarget

    peer_chart.install(say=say)
    namespace = peer_chart.NAMESPACE
    chart = PeerChartTarget.from_cluster(cluster)
    master = next(pod for pod, role in chart.roles().items() if role == "master")
    selector = ",".join(f"{key}={value}" for key, value in HAPROXY_LABELS.items())
    proxies = [p for p in cluster.pods(namespace, selector) if p.phase == "Running" and not p.terminating]
    client = driver_client(namespace, (SecretEnv(PASSWORD_ENV, AUTH_SECRET, AUTH_KEY),), ())
    parts = (*(("haproxy", namespace, p.name, "haproxy") for p in proxies), ("redis", namespace, master, "redis"),
             ("driver", namespace, DRIVER_POD, "client"))
    return Endpoint("chart", f"{chart.master_endpoint.host}:{chart.master_endpoint.port}", client, True, parts)


if __name__ == "__main__":
    sys.exit(main())
