"""Run trials of a scenario: writer on, steady state, fault, invariants back, writer off, numbers.

    with cluster_for(scenario, options) as target:
        trials = [run_trial(target, scenario, n, options) for n in range(1, N + 1)]

The gateway runs in a lab (lab.Lab) from freshly rendered manifests of a stack; the floor
scenario runs on the bare cluster of drills.floor with the same Sentinel timing.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional


from lab import Lab, load_manifests

from .analysis import writer_metrics
from .floor import FloorCluster
from .health import Timing
from .observe import TiltWatch, notable_sentinel_lines
from .scenarios import Scenario, unmet_expectations
from .targets import CONFIG_MAP, REPO, LabTarget, render_stack, sentinel_setting
from .writer_process import WriterProcess

LAB_READY_TIMEOUT_SECONDS = 300.0


@dataclass
class Options:
    stack: str = "dev"
    overrides: list[str] = field(default_factory=list)
    manifests: Optional[Path] = None  # already rendered; else the stack is rendered
    lab_name: str = "kr-drills"
    rate: float = 100.0
    steady_seconds: float = 3.0
    tail_seconds: float = 2.0
    echo: Any = None  # callable(str) for progress lines
    checkpoint: Any = None  # callable(results) after every trial of a benchmark

    def say(self, text: str) -> None:
        if self.echo:
            self.echo(text)

    def save(self, results: dict[str, Any]) -> None:
        if self.checkpoint:
            self.checkpoint(results)


def manifests_dir(options: Options) -> Path:
    if options.manifests:
        return options.manifests
    out = REPO / ".rendered" / f"drills-{options.stack}"
    return render_stack(options.stack, out, options.overrides) / "1-manifest"


def stack_timing(manifest_dir: Path) -> Timing:
    manifests = load_manifests(manifest_dir)
    conf_map = next(o for o in manifests.of_kind("ConfigMap") if o.name == CONFIG_MAP)
    conf = manifests.config_map_data(conf_map.namespace, CONFIG_MAP)["sentinel.conf"].decode()
    return Timing(sentinel_setting(conf, "down-after-milliseconds"), sentinel_setting(conf, "failover-timeout"),
                  sentinel_setting(conf, "parallel-syncs"))


@contextlib.contextmanager
def lab_target(options: Options) -> Iterator[LabTarget]:
    directory = manifests_dir(options)
    options.say(f"lab {options.lab_name}: starting from {directory}")
    with Lab(directory, name=options.lab_name) as lab:
        lab.wait_ready(LAB_READY_TIMEOUT_SECONDS)
        target = LabTarget(lab)
        target.wait_healthy(LAB_READY_TIMEOUT_SECONDS)
        options.say(f"lab {options.lab_name}: ready, invariants hold")
        yield target


@contextlib.contextmanager
def floor_target(options: Options) -> Iterator[FloorCluster]:
    timing = stack_timing(manifests_dir(options))
    options.say(f"floor cluster: starting with {timing}")
    with FloorCluster(timing) as floor:
        options.say("floor cluster: healthy")
        yield floor


def cluster_for(scenario: Scenario, options: Options):
    return floor_target(options) if scenario.floor else lab_target(options)


def restore_bound(target) -> float:
    return target.timing.restore_bound_seconds


def sentinel_logs(target, since: float) -> dict[str, Any]:
    logs = {}
    for pod in target.pod_names():
        done = target.podman.run("logs", "--since", f"{since:.3f}", target.sentinel_container(pod), check=False)
        logs[pod] = notable_sentinel_lines(done.stdout + done.stderr)
    return logs


def run_trial(target, scenario: Scenario, number: int, options: Options) -> dict[str, Any]:
    """One trial; a failure of the drill itself is recorded in `error`, never raised."""
    trial: dict[str, Any] = {"scenario": scenario.name, "trial": number, "started_at": time.time()}
    try:
        trial.update(_measure(target, scenario, number, options))
        trial["unmet"] = unmet_expectations(scenario, trial)
    except Exception as err:  # the next trial must still run; the report shows what failed
        trial["error"] = f"{type(err).__name__}: {err}"
        trial["unmet"] = [trial["error"]]
    trial["finished_at"] = time.time()
    return trial


def _measure(target, scenario: Scenario, number: int, options: Options) -> dict[str, Any]:
    bound = restore_bound(target)
    target.wait_healthy(bound)
    old_master = target.panel.wait_agreed_master(target.timing.failover_bound_seconds)
    epoch_before = target.panel.max_epoch()
    prefix = f"drill:{scenario.name}:{number}:{int(time.time() * 1000)}"
    max_seconds = options.steady_seconds + 3 * bound + options.tail_seconds + 60
    with TiltWatch(target.panel) as tilt, \
            WriterProcess(target.toolbox, target.sentinel_addresses, target.master_set, target.writer_env(),
                          prefix, options.rate, max_seconds) as writer:
        writer.wait_steady(options.steady_seconds)
        fault = scenario.apply(target, old_master)
        fault_at = fault["fault_at"]
        restored_at: Optional[float] = None
        restore_error = None
        try:
            restored_at = target.wait_healthy(bound)
        except TimeoutError as err:
            restore_error = str(err)
        time.sleep(options.tail_seconds)
        result = writer.stop()
    measured = writer_metrics(result, fault_at, old_master)
    new_master = target.panel.agreed_master()
    epoch_after = target.panel.max_epoch()
    measured.update({
        "old_master": old_master, "new_master": new_master,
        "epoch_before": epoch_before, "epoch_after": epoch_after,
        "failover": epoch_before is not None and epoch_after is not None and epoch_after > epoch_before,
        "tilt": tilt.tilted, "tilt_samples": {pod: len(times) for pod, times in tilt.seen.items()},
        "restored_s": None if restored_at is None else round(restored_at - fault_at, 3),
        "fault": fault,
    })
    measured["sentinel_logs"] = sentinel_logs(target, fault_at - options.steady_seconds)
    if restore_error:
        measured["error"] = restore_error
    return measured
