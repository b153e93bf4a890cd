"""Run trials of a scenario: writer on, steady state, fault, invariants back, writer off, numbers.

    with cluster_for(scenario, options) as target:
        trials = [run_trial(target, scenario, n, options) for n in range(1, N + 1)]

Everything runs on the lab's real Kubernetes (labcluster; a healthy one is reused), reached
through cluster.Cluster only. The gateway is the lab stack deployed by `pulumi up -s lab`
(lab.stack.LabStack, with the options' overrides); the floor scenarios run on the bare cluster of
drills.floor, applied beside it in its own namespace, with the same Sentinel timing.

Every trial starts alike: pods whose containers an earlier trial restarted are replaced first
(Target.replace_restarted_pods: the kubelet's restart back-off would carry over), then the
invariants must hold, then the writer starts.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional

from cluster import Cluster, KubernetesCluster

from .analysis import endpoint_metrics, writer_metrics
from .floor import FloorCluster
from .observe import ReplicationWatch, TiltWatch, failover_aborts, notable_sentinel_lines
from .scenarios import Scenario, unmet_expectations
from .targets import GO_WRITER_PROGRAM, REDIS_PORT, GatewayTarget, Target, stack_timing

READY_TIMEOUT_SECONDS = 300.0


@dataclass
class Options:
    overrides: list[str] = field(default_factory=list)  # gateway config, as `pulumi config set --path`
    deploy: bool = True  # `pulumi up -s lab` first; else use what the lab stack has deployed
    fresh: bool = False  # the lab stack destroyed first (volumes too): an older engine's start
    rate: float = 100.0
    steady_seconds: float = 3.0
    tail_seconds: float = 2.0
    echo: Any = None  # callable(str) for progress lines
    checkpoint: Any = None  # callable(results) after every trial of a benchmark
    # A third writer with go-redis's Sentinel client (Target.failover_client_writer).
    failover_client_writer: bool = False

    def say(self, text: str) -> None:
        if self.echo:
            self.echo(text)

    def save(self, results: dict[str, Any]) -> None:
        if self.checkpoint:
            self.checkpoint(results)


def lab_cluster(options: Options) -> Cluster:
    """The lab cluster, started or (when healthy) reused."""
    from labcluster.cluster import LabCluster

    LabCluster.default().up(options.say)
    return KubernetesCluster.lab()


def go_writer_binary() -> str:
    """go/workload's binary, as scripts/build-cluster builds it beside the cluster's."""
    from labcluster.cluster import find_binaries

    return str(find_binaries() / GO_WRITER_PROGRAM)


def lab_stack(options: Options):
    from labcluster.cluster import LabCluster
    from lab.stack import LabStack

    return LabStack(LabCluster.default().kubeconfig, echo=options.say)


def gateway_outputs(options: Options, fresh: bool = False) -> dict[str, Any]:
    """The lab stack's outputs, after `pulumi up -s lab` with the overrides unless told not to;
    `fresh`: destroyed first (its namespace, and with it the gateway's volumes, go too)."""
    stack = lab_stack(options)
    if fresh:
        stack.destroy()
    return stack.up(options.overrides) if options.deploy or fresh else stack.outputs()


@contextlib.contextmanager
def gateway_target(options: Options, fresh: bool = False) -> Iterator[GatewayTarget]:
    cluster = lab_cluster(options)
    target = GatewayTarget.from_outputs(cluster, gateway_outputs(options, fresh))
    target.deployer = lambda extra: lab_stack(options).up([*options.overrides, *extra])
    target.start_client()
    try:
        target.wait_healthy(READY_TIMEOUT_SECONDS)
        options.say(f"gateway {target.namespace}/{target.statefulset}: ready, invariants hold")
        yield target
    finally:
        target.stop_client()


@contextlib.contextmanager
def floor_target(options: Options, fresh: bool = True) -> Iterator[FloorCluster]:
    """A floor made for this session (always fresh: an earlier one is deleted first)."""
    cluster = lab_cluster(options)
    timing = stack_timing(options.overrides)
    options.say(f"floor cluster: starting with {timing}")
    with FloorCluster(cluster, timing) as floor:
        options.say(f"floor cluster {floor.namespace}: healthy")
        yield floor


def cluster_for(scenario: Scenario, options: Options):
    return floor_target(options) if scenario.floor else gateway_target(options, fresh=options.fresh)


def restore_bound(target: Target) -> float:
    return target.timing.restore_bound_seconds


def sentinel_logs(target: Target, since: float) -> dict[str, Any]:
    return {pod: notable_sentinel_lines(target.sentinel_log(pod, since)) for pod in target.pod_names()}


def run_trial(target: Target, scenario: Scenario, number: int, options: Options) -> dict[str, Any]:
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


def masters_from(changes: list[list], fault_at: float, old_master: str) -> list[list]:
    """The agreed master from the fault on, [seconds after the fault, pod] at each change: the
    first entry is the master at the fault."""
    timeline = [[0.0, old_master]]
    for at, pod in changes:
        if at >= fault_at and pod != timeline[-1][1]:
            timeline.append([round(at - fault_at, 3), pod])
    return timeline


def _measure(target: Target, scenario: Scenario, number: int, options: Options) -> dict[str, Any]:
    bound = restore_bound(target)
    replaced = target.replace_restarted_pods(bound)
    target.wait_healthy(bound)
    old_master = target.panel.wait_agreed_master(target.timing.failover_bound_seconds)
    epoch_before = target.panel.max_epoch()
    restarts_before = target.pod_restarts()
    prefix = f"drill:{scenario.name}:{number}:{int(time.time() * 1000)}"
    max_seconds = options.steady_seconds + 3 * bound + options.tail_seconds + 60
    replication = ReplicationWatch(target.pod_ips, REDIS_PORT, target.redis_password, target.pod_of)
    max_seconds += scenario.extra_seconds
    endpoint_writer = (target.writer(f"{prefix}:endpoint", options.rate, max_seconds, through_endpoint=True)
                       if scenario.endpoint_writer else contextlib.nullcontext())
    go_writer = (target.failover_client_writer(f"{prefix}:go", options.rate, max_seconds, go_writer_binary())
                 if options.failover_client_writer else contextlib.nullcontext())
    with TiltWatch(target.panel) as tilt, replication, target.writer(prefix, options.rate, max_seconds) as writer, \
            endpoint_writer as through_endpoint, go_writer as failover_client:
        writer.wait_steady(options.steady_seconds)
        for other in (through_endpoint, failover_client):
            if other:
                other.wait_steady(options.steady_seconds)
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
        endpoint_result = through_endpoint.stop() if through_endpoint else None
        failover_client_result = failover_client.stop() if failover_client else None
    measured = writer_metrics(result, fault_at, old_master, target.pod_of)
    if endpoint_result is not None:
        measured["endpoint"] = endpoint_metrics(endpoint_result, fault_at)
    if failover_client_result is not None:
        # Its replies do not name their node: the endpoint's figures (outage, lost) fit it.
        measured["failover_client"] = {
            **endpoint_metrics(failover_client_result, fault_at),
            # go-redis's log, [seconds after the fault, line]: the sentinel it followed, its switch
            "client_log": [[round(at - fault_at, 3), line] for at, line in failover_client_result.get("client_log") or []]}
    new_master = target.panel.agreed_master()
    epoch_after = target.panel.max_epoch()
    measured.update({
        "old_master": old_master, "new_master": new_master,
        "epoch_before": epoch_before, "epoch_after": epoch_after,
        "failover": epoch_before is not None and epoch_after is not None and epoch_after > epoch_before,
        "tilt": tilt.tilted, "tilt_samples": {pod: len(times) for pod, times in tilt.seen.items()},
        "odown_samples": dict(tilt.odown),
        "masters": masters_from(tilt.masters, fault_at, old_master),
        "restored_s": None if restored_at is None else round(restored_at - fault_at, 3),
        "fault": fault,
        "replaced_before": replaced, "restarts_before": restarts_before, "restarts_after": target.pod_restarts(),
    })
    measured["sentinel_logs"] = sentinel_logs(target, fault_at - options.steady_seconds)
    # The boot decisions of pods that started during the trial: who claimed, who followed whom.
    measured["start_logs"] = {pod: target.start_script_lines(pod, fault_at) for pod in target.pod_names()}
    measured.update(replication.as_dict())
    measured["aborts"] = failover_aborts(measured["sentinel_logs"])
    if restore_error:
        measured["error"] = restore_error
    return measured
