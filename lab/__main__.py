"""python -m lab: run rendered manifests in podman and act on the running lab.

    python -m lab check DIR                    what the lab would refuse or approximate (no podman)
    python -m lab up DIR [--name N]            start in the background, show readiness, wait
    python -m lab status [--name N] [--json]
    python -m lab delete POD [--grace S] [--force] [--no-recreate]
    python -m lab kill POD [--no-recreate]     SIGKILL every container of the pod
    python -m lab kill-container POD CONTAINER
    python -m lab recreate POD                 bring back a pod held down with --no-recreate
    python -m lab cut POD | heal POD           network partition inside the pod's namespace
    python -m lab restart-all [WORKLOAD] [--graceful]
    python -m lab rolling-restart WORKLOAD
    python -m lab exec [--env NAME ...] -- CMD ...   in the toolbox container on the lab network
    python -m lab logs POD [CONTAINER]
    python -m lab down [--name N]              remove everything of the lab

Operations print their timestamps as JSON. Secrets given with --env are read from this
process's environment and never appear on a command line.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from . import errors
from .lab import Lab, check_name, lab_dir, leftovers, sweep, toolbox_name
from .manifests import load
from .podman import Podman
from .schema import approximations
from .server import PID_NAME, LabClient, log_path, serve, wait_for_socket

DEFAULT_NAME = "kr-lab"


def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except errors.LabError as err:
        print(f"lab: {err}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--name", default=os.environ.get("KUBERNAUT_LAB_NAME", DEFAULT_NAME),
                        help=f"lab name, prefix of everything it creates (default {DEFAULT_NAME})")
    parser.add_argument("--state-root", type=Path, default=None,
                        help="parent of the lab directory (default ~/.cache/kubernaut-redis/lab)")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, run, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.set_defaults(run=run)
        return p

    p = command("check", cmd_check, "read manifests; list approximations; fail on what cannot be honoured")
    p.add_argument("manifests", type=Path)
    command("approximations", cmd_approximations, "every field the lab approximates")
    p = command("up", cmd_up, "start the lab in the background and wait until it is Ready")
    p.add_argument("manifests", type=Path)
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--cluster-domain", default=None)
    p.add_argument("--keep-on-failure", action="store_true", help="leave a lab that did not get Ready")
    p = command("serve", cmd_serve, argparse.SUPPRESS)
    p.add_argument("manifests", type=Path)
    p.add_argument("--cluster-domain", default=None)
    command("down", cmd_down, "stop the controller and remove everything of the lab")
    p = command("status", cmd_status, "pods, readiness, restarts, Service endpoints")
    p.add_argument("--json", action="store_true")
    p = command("delete", cmd_delete, "graceful delete (preStop, SIGTERM, SIGKILL after the grace period)")
    p.add_argument("pod")
    p.add_argument("--grace", type=float, default=None)
    p.add_argument("--force", action="store_true", help="ignore PodDisruptionBudgets")
    p.add_argument("--no-recreate", action="store_true", help="hold the StatefulSet pod down until `recreate`")
    p = command("kill", cmd_kill, "SIGKILL every container of a pod; the owner recreates it")
    p.add_argument("pod")
    p.add_argument("--no-recreate", action="store_true")
    p = command("kill-container", cmd_kill_container, "SIGKILL one container; the kubelet restarts it")
    p.add_argument("pod")
    p.add_argument("container")
    p = command("recreate", cmd_recreate, "recreate a pod held down with --no-recreate")
    p.add_argument("pod")
    p = command("cut", cmd_cut, "drop all traffic of a pod (it keeps its IP)")
    p.add_argument("pod")
    p = command("heal", cmd_heal, "undo cut")
    p.add_argument("pod")
    p = command("restart-all", cmd_restart_all, "every pod of a workload at once (default: StatefulSets)")
    p.add_argument("workload", nargs="?")
    p.add_argument("--graceful", action="store_true")
    p = command("rolling-restart", cmd_rolling_restart, "rollout restart of a workload")
    p.add_argument("workload")
    p = command("exec", cmd_exec, "run a command in the toolbox container on the lab network")
    p.add_argument("--env", action="append", default=[], help="pass this variable from the environment")
    p.add_argument("command", nargs=argparse.REMAINDER)
    p = command("logs", cmd_logs, "container logs of a pod")
    p.add_argument("pod")
    p.add_argument("container", nargs="?")
    return parser


# ---------------------------------------------------------------------------- without a lab

def cmd_check(args) -> int:
    manifests = load(args.manifests)
    print(f"{len(manifests.objects)} objects, namespace(s) {', '.join(manifests.namespaces)}, "
          f"cluster domain {manifests.cluster_domain}")
    grouped: dict[tuple[str, str], list[str]] = {}
    for label, path, note in manifests.approximations:
        grouped.setdefault((re.sub(r"\[\d+\]", "[]", path), note), []).append(label.split(" (")[0])
    for (path, note), objects in sorted(grouped.items()):
        print(f"  approximated {path}: {note} ({', '.join(sorted(set(objects)))})")
    return 0


def cmd_approximations(args) -> int:
    for path, note in approximations():
        print(f"{path}: {note}")
    return 0


# ---------------------------------------------------------------------------- up / serve / down

def cmd_serve(args) -> int:
    lab = Lab(args.manifests, name=args.name, state_root=args.state_root, cluster_domain=args.cluster_domain,
              echo=_print_event)
    serve(lab)
    return 0


def cmd_up(args) -> int:
    check_name(args.name)
    load(args.manifests, args.cluster_domain)  # refuse before anything starts
    _stop_previous(args)
    log = log_path(args.name, args.state_root)
    log.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    command = [sys.executable, "-m", "lab", "--name", args.name]
    if args.state_root:
        command += ["--state-root", str(args.state_root)]
    command += ["serve", str(args.manifests.resolve())]
    if args.cluster_domain:
        command += ["--cluster-domain", args.cluster_domain]
    with open(log, "w") as out:
        os.chmod(log, 0o600)
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   start_new_session=True, cwd=Path(__file__).resolve().parents[1])
    client = LabClient(args.name, args.state_root)
    started = time.monotonic()
    try:
        wait_for_socket(client, lambda: process.poll() is None, 120)
        _show_progress(client, started, args.timeout)
    except errors.LabError as err:
        print(f"lab {args.name}: {err}", file=sys.stderr)
        _print_tail(log)
        if not args.keep_on_failure:
            cmd_down(args)
        return 1
    return 0


def _show_progress(client: LabClient, started: float, timeout: float) -> None:
    last = ""
    while time.monotonic() - started < timeout:
        status = client.status()
        line = _readiness_line(status)
        if line != last:
            print(f"[{time.monotonic() - started:5.1f}s] {line}", flush=True)
            last = line
        if status["loop_error"]:
            print(f"controller: {status['loop_error']}", file=sys.stderr)
        failed = [{"pod": p["name"], "error": p["error"]} for p in status["pods"].values() if p["phase"] == "Failed"]
        failed += status["create_failures"]
        if failed:
            raise errors.LabError(f"pod {failed[0]['pod']} could not be created: {failed[0]['error']}")
        if status["all_ready"]:
            print(f"lab {client.name}: all pods Ready after {time.monotonic() - started:.1f} s")
            _print_status(status)
            return
        time.sleep(1)
    raise errors.LabTimeout(f"not Ready within {timeout:.0f} s")


def _readiness_line(status: dict[str, Any]) -> str:
    parts = []
    for pod in status["pods"].values():
        containers = pod["containers"].values()
        ready = sum(1 for c in containers if c["ready"])
        state = "Ready" if pod["ready"] else pod["phase"]
        parts.append(f"{pod['name']} {ready}/{len(containers)} {state}")
    return ", ".join(parts) or "no pods yet"


def _stop_previous(args) -> None:
    """End the controller an earlier `up` of this lab started (by its recorded PID), then sweep."""
    client = LabClient(args.name, args.state_root)
    if client.path.exists() and client.alive():
        pid = client.call("ping")["pid"]
        client.shutdown()
        _wait_exit(pid, 60)
    sweep(Podman(), args.name, lab_dir(args.name, args.state_root))


def _wait_exit(pid: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)


def cmd_down(args) -> int:
    client = LabClient(args.name, args.state_root)
    pid_file = lab_dir(args.name, args.state_root) / PID_NAME
    if client.path.exists() and client.alive():
        client.shutdown()
        if pid_file.exists():
            _wait_exit(int(pid_file.read_text()), 60)
    podman = Podman()
    removed = sweep(podman, args.name, lab_dir(args.name, args.state_root))
    log_path(args.name, args.state_root).unlink(missing_ok=True)
    left = leftovers(podman, args.name)
    print(f"lab {args.name}: down" + (f" (also removed {len(removed)} leftovers)" if removed else ""))
    if left:
        print(f"lab {args.name}: still present: {', '.join(left)}", file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------- on a running lab

def _client(args) -> LabClient:
    return LabClient(check_name(args.name), args.state_root)


def _print_json(value: Any) -> int:
    print(json.dumps(value, indent=1, default=str))
    return 0


def cmd_status(args) -> int:
    status = _client(args).status()
    if args.json:
        return _print_json(status)
    _print_status(status)
    return 0 if status["all_ready"] else 2


def _print_status(status: dict[str, Any]) -> None:
    print(f"{'POD':40} {'READY':6} {'PHASE':12} {'IP':15} RESTARTS")
    for pod in status["pods"].values():
        containers = pod["containers"].values()
        ready = f"{sum(1 for c in containers if c['ready'])}/{len(containers)}"
        restarts = sum(c["restarts"] for c in containers)
        phase = pod["phase"] + (" (cut)" if pod["cut"] else "")
        print(f"{pod['name']:40} {ready:6} {phase:12} {pod['ip']:15} {restarts}")
    for service, endpoints in status["services"].items():
        print(f"service {service}: {', '.join(endpoints) or 'no endpoints'}")


def cmd_delete(args) -> int:
    return _print_json(_client(args).delete_pod(name=args.pod, grace=args.grace, check_pdb=not args.force,
                                                recreate=not args.no_recreate))


def cmd_kill(args) -> int:
    return _print_json(_client(args).kill_pod(name=args.pod, recreate=not args.no_recreate))


def cmd_kill_container(args) -> int:
    return _print_json(_client(args).kill_container(pod_name=args.pod, container=args.container))


def cmd_recreate(args) -> int:
    return _print_json(_client(args).recreate_pod(name=args.pod))


def cmd_cut(args) -> int:
    return _print_json(_client(args).cut_pod(name=args.pod))


def cmd_heal(args) -> int:
    return _print_json(_client(args).heal_pod(name=args.pod))


def cmd_restart_all(args) -> int:
    return _print_json(_client(args).restart_all(workload_name=args.workload, graceful=args.graceful))


def cmd_rolling_restart(args) -> int:
    return _print_json(_client(args).rolling_restart(workload_name=args.workload))


def cmd_exec(args) -> int:
    """`podman exec -i` straight into the toolbox: stdin and stdout stream, so a long-running client
    (a drill's writer) can be driven from another process; no controller round trip."""
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        raise errors.LabError("exec: give the command after --")
    missing = [name for name in args.env if name not in os.environ]
    if missing:
        raise errors.LabError(f"exec: --env {', '.join(missing)}: not set in this environment")
    podman = Podman()
    toolbox = toolbox_name(check_name(args.name))
    if not podman.exists("container", toolbox):
        raise errors.LabError(f"lab {args.name} is not up (no container {toolbox})")
    env_args = [arg for name in args.env for arg in ("--env", name)]
    return subprocess.run([podman.binary, "exec", "-i", *env_args, toolbox, *command]).returncode


def cmd_logs(args) -> int:
    status = _client(args).status()
    pod = status["pods"].get(args.pod)
    if pod is None:
        raise errors.LabError(f"no pod {args.pod!r}")
    podman = Podman()
    for container in [args.container] if args.container else list(pod["containers"]):
        print(f"==> {args.pod}/{container}")
        print(podman.logs(f"{args.name}-{args.pod}-{container}"), end="")
    return 0


def _print_event(event: dict[str, Any]) -> None:
    detail = " ".join(f"{k}={v}" for k, v in event.items() if k not in ("t", "kind", "pod", "container"))
    where = "/".join(x for x in (event["pod"], event["container"]) if x)
    stamp = time.strftime("%H:%M:%S", time.localtime(event["t"])) + f".{int(event['t'] % 1 * 1000):03d}"
    print(f"{stamp} {event['kind']:28} {where} {detail}", flush=True)


def _print_tail(path: Path, lines: int = 30) -> None:
    if path.exists():
        print(f"--- last lines of {path}", file=sys.stderr)
        for line in path.read_text().splitlines()[-lines:]:
            print(line, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
