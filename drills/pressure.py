"""python -m drills.pressure [--minutes 30] [--hogs 2] [--set KEY.PATH=VALUE ...] [--json FILE]:
false failovers under CPU pressure on the node.

Deploys the lab stack with the overrides (`--no-deploy`: as it is), then starts `--hogs` busy
loops on the node beside the pods for `--minutes`, with no fault applied: every master change,
`+sdown`/`+odown` of the master, and TILT in that window is a false alarm. Counts them from the
sentinels' INFO (polled every 0.5 s, drills.observe.TiltWatch) and their logs, and reports the
sentinel and redis containers' CPU over the window (drills.cpu) and the largest gap of a writer
through Sentinel at 20 writes/s. A shorter window than the default is a weaker claim: say so.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from typing import Any, Optional

from .analysis import longest_gap
from .cpu import sample, usage
from .observe import TiltWatch
from .runner import Options, gateway_target, sentinel_logs

# A busy loop that ends when its parent does: a drill killed outright leaves no hog behind.
HOG = "import os\nparent = os.getppid()\nwhile os.getppid() == parent: pass"
WRITE_RATE = 20.0


def count_events(logs: dict[str, Any], marker: str) -> int:
    return sum(1 for pod in logs.values() for line in pod.get("events", []) if f"# {marker} " in line)


def run(args: argparse.Namespace) -> dict[str, Any]:
    echo = (lambda text: print(text, file=sys.stderr, flush=True))
    options = Options(overrides=args.overrides, deploy=args.deploy, echo=echo)
    seconds = args.minutes * 60
    with gateway_target(options) as target:
        epoch_before = target.panel.max_epoch()
        master_before = target.panel.wait_agreed_master(target.timing.failover_bound_seconds)
        cpu_before = sample(target.cluster, target.namespace)
        started = time.time()
        hogs = [subprocess.Popen([sys.executable, "-c", HOG]) for _ in range(args.hogs)]
        echo(f"pressure: {args.hogs} busy loops on the node for {args.minutes} min")
        try:
            with TiltWatch(target.panel) as watch, \
                    target.writer(f"pressure:{int(started)}", WRITE_RATE, seconds + 120) as writer:
                time.sleep(seconds)
                result = writer.stop()
        finally:
            for hog in hogs:
                hog.kill()
                hog.wait()
        cpu = usage(cpu_before, sample(target.cluster, target.namespace))
        logs = sentinel_logs(target, started)
        epoch_after = target.panel.max_epoch()
    gap = longest_gap(sorted(ack[1] for ack in result["acks"]))[0]
    return {
        "command": "python -m drills.pressure " + " ".join(sys.argv[1:]),
        "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(started)),
        "minutes": args.minutes, "hogs": args.hogs, "overrides": args.overrides,
        "timing": vars(target.timing),
        "master_before": master_before, "masters": watch.masters,
        "epochs": [epoch_before, epoch_after],
        "false_failovers": (epoch_after or 0) - (epoch_before or 0),
        "sdown_of_master": count_events(logs, "+sdown master"),
        "odown": count_events(logs, "+odown"),
        "tilt": {pod: len(times) for pod, times in watch.seen.items()},
        "writer": {"acked": result["acked"], "attempts": result["attempts"], "lost": len(result.get("lost") or []),
                   "longest_gap_s": round(gap, 3)},
        "cpu": cpu,
    }


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills.pressure", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--hogs", type=int, default=2, help="busy loops (default 2: one per core here)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")
    parser.add_argument("--no-deploy", dest="deploy", action="store_false")
    parser.add_argument("--json", dest="json_out", help="also write the result to this file")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 240:
        parser.error("--minutes must be in (0, 240]")
    if not 1 <= args.hogs <= 64:
        parser.error("--hogs must be between 1 and 64")
    report = run(args)
    text = json.dumps(report, indent=1, default=str)
    if args.json_out:
        with open(args.json_out, "w") as out:
            out.write(text + "\n")
    print(text)
    return 1 if report["false_failovers"] or report["writer"]["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
