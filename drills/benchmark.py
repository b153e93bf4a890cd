"""python -m drills.benchmark --trials 20 --out docs/benchmarks.md [--json-out FILE]

Runs every drill N times on the lab's real Kubernetes (the gateway's scenarios on the lab stack,
deployed once by `pulumi up -s lab`, then the floor's on the bare cluster of drills.floor in its
own namespace, in the same run), then writes the report: p50/p95/max outage, time to the first write on the new master, lost
writes, failovers, TILT, the machine and the exact command. `--from-json FILE` renders the
report again from saved results without running anything.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from .analysis import summarize
from .report import render_report
from .runner import Options, floor_target, gateway_target, lab_cluster, restore_bound, run_trial
from .scenarios import SCENARIOS

GATEWAY_ORDER = ["master-kill", "master-kill-restart", "master-delete", "master-cut", "replica-kill",
                 "sentinel-then-master", "rolling-restart"]
FLOOR_ORDER = ["floor-master-kill", "floor-master-kill-restart"]


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m drills.benchmark", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks.md"))
    parser.add_argument("--json-out", type=Path, help="also save every trial as JSON here")
    parser.add_argument("--from-json", type=Path, help="render --out from saved results; run nothing")
    parser.add_argument("--scenarios", default=",".join(GATEWAY_ORDER + FLOOR_ORDER),
                        help="comma-separated subset, in the order to run")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="config override of the lab stack (pulumi config set --path KEY VALUE)")
    parser.add_argument("--no-deploy", dest="deploy", action="store_false",
                        help="drill the lab stack as deployed, without `pulumi up` first")
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args(argv)
    unknown = [s for s in args.scenarios.split(",") if s and s not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    if not 1 <= args.trials <= 200:
        parser.error("--trials must be between 1 and 200")
    return args


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"


def machine_facts(cluster) -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    total_kib = next(int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:"))
    node = cluster.nodes()[0]
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(total_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": _run(["sh", "-c", ". /etc/os-release && echo \"$PRETTY_NAME\""]),
        "kubernetes": f"Kubernetes {node.kubelet_version}, one node",
        "runtime": node.container_runtime,
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def redis_version(target) -> str:
    """The server version of a running node of the cluster, as its INFO reports it: Valkey also
    reports redis_version (7.2.4, for clients' sake), so its own valkey_version comes first."""
    import redis
    for pod, ip in sorted(target.pod_ips().items()):
        try:
            client = redis.Redis(ip, 6379, password=getattr(target, "redis_password", None), socket_timeout=2)
            server = client.info("server")
            if "valkey_version" in server:
                return f"valkey {server['valkey_version']}"
            return str(server.get("redis_version"))
        except redis.RedisError:
            continue
    return "unknown"


DNS_LOOKUPS = 200
FRESH_CLUSTERS = 10


class ClusterLost(Exception):
    """The cluster did not become whole again after a trial: the rest needs a fresh one."""


def run_block(target, names: list[str], trials: int, options: Options, results: dict[str, Any]) -> None:
    """Run the trials still missing from `results`; ClusterLost when the cluster stays broken."""
    for name in names:
        scenario = SCENARIOS[name]
        entry = results["scenarios"].setdefault(name, {"description": scenario.summary, "trials": []})
        records = entry["trials"]
        while len(records) < trials:
            number = len(records) + 1
            record = run_trial(target, scenario, number, options)
            records.append(record)
            options.say(f"{name} {number}/{trials}: outage {record.get('outage_s')} s, lost {record.get('lost')}, "
                        f"TILT {record.get('tilt') or 'none'}" + (f", UNMET {record['unmet']}" if record["unmet"] else ""))
            entry.update(summary=summarize(records), summary_new_master=summarize(records, "first_ack_on_new_master_s"))
            options.save(results)
            if record.get("error"):
                check_recovered(target, name, number, results)
        results["versions"].setdefault("redis", redis_version(target))


def check_recovered(target, key: str, number: int, results: dict[str, Any]) -> None:
    """After a failed trial: the cluster must heal by itself within the bound, else it is
    recorded as lost (with the failed invariants) and the run goes on in a fresh one."""
    try:
        target.wait_healthy(restore_bound(target))
    except TimeoutError as err:
        results.setdefault("clusters_lost", []).append({"scenario": key, "after_trial": number, "problems": str(err)})
        raise ClusterLost(key) from err


def probe_dns(target, lookups: int) -> list[dict[str, Any]]:
    """Resolver cost, in the target's client pod (the gateway pods' resolver settings and search
    path), of a pod name that resolves and of one that is gone (which the resolver also tries
    once per search domain)."""
    live = target.fqdn(target.pod_names()[0])
    gone = live.replace(target.pod_names()[0], "gone-0", 1)
    probes = []
    for name in (live, gone):
        done = target.client_exec(["python3", "-m", "drills.dnsprobe", "--name", name, "--lookups", str(lookups)],
                                  timeout=lookups * 12 + 60)
        probes.append(json.loads(done.stdout) if done.returncode == 0 else {"name": name, "error": done.stderr[-300:]})
    return probes


def run_sessions(names: list[str], trials: int, options: Options, results: dict[str, Any]) -> None:
    """The gateway's scenarios on the lab stack, then the floor's on one floor cluster; a target
    that is lost is replaced by a fresh one (the stack applied again, the floor made again), at
    most FRESH_CLUSTERS times per session."""
    for scenarios, session in (([n for n in names if not SCENARIOS[n].floor], gateway_target),
                               ([n for n in names if SCENARIOS[n].floor], floor_target)):
        for attempt in range(FRESH_CLUSTERS + 1):
            if not scenarios:
                break
            try:
                with session(options, fresh=attempt > 0) as target:
                    results["timing"] = vars(target.timing)
                    if session is gateway_target and "dns" not in results:
                        results["dns"] = probe_dns(target, DNS_LOOKUPS)
                    run_block(target, scenarios, trials, options, results)
                break
            except ClusterLost as lost:
                options.say(f"cluster lost during {lost}: continuing in a fresh one")


def run_benchmark(args: argparse.Namespace) -> dict[str, Any]:
    options = Options(overrides=args.overrides, deploy=args.deploy, rate=args.rate,
                      echo=lambda text: print(text, file=sys.stderr, flush=True),
                      checkpoint=lambda partial: save(partial, args.json_out))
    wanted = [name for name in args.scenarios.split(",") if name]
    results: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "command": "python -m drills.benchmark "
        + shlex.join(sys.argv[1:]), "trials": args.trials, "rate": args.rate, "stack": "lab",
        "overrides": args.overrides, "machine": machine_facts(lab_cluster(options)), "versions": {}, "scenarios": {},
    }
    run_sessions(wanted, args.trials, options, results)
    results["machine"]["loadavg_at_end"] = Path("/proc/loadavg").read_text().split()[:3]
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return results


def save(results: dict[str, Any], path: Optional[Path]) -> None:
    """Results so far, after every trial: a run of hours must not be lost to one interruption."""
    if path:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(results, indent=1, default=str) + "\n")
        tmp.replace(path)


# Results of other runs that docs/benchmarks.md quotes, beside the report's folder: each section
# says the command that made it, and is rendered again from its JSON with the report.
COMPARISON_JSON, WORKLOAD_JSON, PLOTS_DIR = "peer-comparison.json", "workload.json", "plots"


# The saved runs of single drills with both writers (`python -m drills SCENARIO --json` prints its
# results on stdout, without its command line: the command is kept here) and of the pressure drill
# (which records its own command).
DRILL_RUNS = {
    "drill-endpoint-master-kill.json": ("master held down, down-after 5000 ms",
                                        "python -m drills master-kill --trials 5 --endpoint-writer --json"),
    "drill-endpoint-master-delete.json": ("master deleted gracefully, before its port was closed at the switch",
                                          "python -m drills master-delete --trials 5 --endpoint-writer --json"),
    "drill-endpoint-master-delete-port-closed.json": (
        "master deleted gracefully, its port closed at the switch",
        "python -m drills master-delete --trials 5 --endpoint-writer --json"),
    "drill-fast-profile-master-kill.json": (
        "fast profile: master held down, down-after 2000 ms",
        "python -m drills master-kill --trials 5 --endpoint-writer --set gateway.downAfterMilliseconds=2000 --json"),
    "drill-fast-profile-1500-master-kill.json": (
        "fast profile: master held down, down-after 1500 ms",
        "python -m drills master-kill --trials 5 --endpoint-writer --set gateway.downAfterMilliseconds=1500 --json"),
}
PRESSURE_RUNS = ("pressure-fast-profile.json", "pressure-fast-profile-1500.json")
# The same drills with a third writer, go-redis's Sentinel client (--failover-client-writer).
FAILOVER_CLIENT_RUNS = {
    "drill-failover-client-master-delete.json": (
        "master deleted gracefully",
        "python -m drills master-delete --trials 5 --endpoint-writer --failover-client-writer --json"),
}


def _seconds(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


def _saved_summaries(docs: Path, runs: dict[str, tuple[str, str]]) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(file, what, command, summary) of each saved drill run of `runs` that is present."""
    return [(name, what, command, json.loads((docs / name).read_text())["summary"])
            for name, (what, command) in runs.items() if (docs / name).is_file()]


def drill_run_lines(docs: Path) -> list[str]:
    """The graceful and fast-profile runs (the Sentinel writer and the master-only endpoint's in
    the same trials) and the pressure runs, from their saved results where present."""
    rows = []
    for name, what, command, summary in _saved_summaries(docs, DRILL_RUNS):
        endpoint = summary.get("endpoint") or {}
        rows.append(f"| {what} (`{name}`; `{command}`) | {summary['trials']} | "
                    f"{_seconds(summary['p50'])} / {_seconds(summary['p95'])} / {_seconds(summary['max'])} s | "
                    f"{_seconds(endpoint.get('p50'))} / {_seconds(endpoint.get('p95'))} / "
                    f"{_seconds(endpoint.get('max'))} s | {_seconds(endpoint.get('after_named_max'))} s | "
                    f"{endpoint.get('readonly_replies', '-')} | {summary['lost_total']} + "
                    f"{endpoint.get('lost_total', '-')} |")
    lines: list[str] = []
    if rows:
        lines += ["", "## Graceful handover and the fast profile, through Sentinel and the endpoint", "",
                  "| run | trials | Sentinel writer: outage p50 / p95 / max | endpoint writer | endpoint back after a "
                  "majority of the sentinels named the new master (max) | READONLY through the endpoint | lost "
                  "(Sentinel + endpoint) |",
                  "| --- | --- | --- | --- | --- | --- | --- |", *rows]
    clients = []
    for name, what, command, summary in _saved_summaries(docs, FAILOVER_CLIENT_RUNS):
        endpoint, go = summary.get("endpoint") or {}, summary.get("failover_client") or {}
        clients.append(f"| {what} (`{name}`; `{command}`) | {summary['trials']} | "
                       + " | ".join(f"{_seconds(w.get('p50'))} / {_seconds(w.get('p95'))} / {_seconds(w.get('max'))} s"
                                    for w in (summary, go, endpoint))
                       + f" | {summary['lost_total']} + {go.get('lost_total', '-')} + {endpoint.get('lost_total', '-')} |")
    if clients:
        lines += ["", "Through Sentinel discovery as each client library does it, in the same trials: redis-py's "
                  "Sentinel client asks the sentinels again when a connection fails (the drills' writer), "
                  "go-redis v9's FailoverClient also subscribes to `+switch-master` (go/workload's "
                  "`failover-writer`, with the Gateway's pool, timeouts and retries):", "",
                  "| run | trials | redis-py Sentinel client: outage p50 / p95 / max | go-redis FailoverClient | "
                  "master-only endpoint | lost (redis-py + go-redis + endpoint) |",
                  "| --- | --- | --- | --- | --- | --- |", *clients]
    pressure = []
    for name in PRESSURE_RUNS:
        path = docs / name
        if not path.is_file():
            continue
        run = json.loads(path.read_text())
        writer = run["writer"]
        pressure.append(f"| `{name}` (`{run['command']}`) | {run['minutes']:g} min, {run['hogs']} busy loops | "
                        f"{run['timing']['down_after_ms']} ms | {run['false_failovers']} | {run['sdown_of_master']} | "
                        f"{len(run['tilt'])} | {writer['longest_gap_s']:.2f} s | {writer['lost']} of {writer['acked']} |")
    if pressure:
        lines += ["", "The fast profile's cost: CPU pressure on the node, no fault (`drills/pressure.py`):", "",
                  "| run | pressure | down-after | false failovers | +sdown of the master | TILT | writer's "
                  "largest gap | lost |", "| --- | --- | --- | --- | --- | --- | --- | --- |", *pressure]
    return lines


def related_sections(docs: Path) -> list[str]:
    """The side-by-side table (us, the redis-ha chart; the floor is in the report above), the
    workload table and the pictures (drills/plots.py), from their saved results where present."""
    from .compare import comparison_table
    from .workload import render_tables

    lines: list[str] = []
    comparison, workload = docs / COMPARISON_JSON, docs / WORKLOAD_JSON
    if comparison.is_file():
        results = json.loads(comparison.read_text())
        lines += ["", "## Side by side with the redis-ha chart", "",
                  f"From `{COMPARISON_JSON}` ({results['date']}; `{results['command']}`; the whole report: "
                  "peer-comparison.md). The floor's rows are in the table above.", "",
                  *comparison_table(results)]
    if workload.is_file():
        results = json.loads(workload.read_text())
        lines += ["", "## The Gateway's workload", "",
                  f"From `{WORKLOAD_JSON}` ({results['date']}; `{results['command']}`; the whole report: "
                  "workload.md).", "", *render_tables(results)]
    lines += drill_run_lines(docs)
    pictures = sorted((docs / PLOTS_DIR).glob("*.png"))
    if pictures:
        lines += ["", "## Pictures", "",
                  "Drawn by `python -m drills.plots` from the saved results above "
                  "(benchmarks.json, peer-comparison.json, workload.json).", ""]
        lines += [f"![{p.stem}]({PLOTS_DIR}/{p.name})" for p in pictures]
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    if args.from_json:
        results = json.loads(args.from_json.read_text())
    else:
        results = run_benchmark(args)
        save(results, args.json_out)
    text = render_report(results).rstrip("\n")
    args.out.write_text("\n".join([text, *related_sections(args.out.parent)]) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
