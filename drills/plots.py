"""python -m drills.plots [--docs docs] [--out DOCS/plots]: pictures of the saved drill results.

Runs nothing: reads the results the drills saved in --docs, each if it is there, and draws PNG
files into --out, under fixed names for the docs to link:

- outage-<scenario>.png: the outage (longest gap between acknowledged writes) of every trial of a
  scenario, one column per source: our stack in docs/benchmarks.json (drills.benchmark), our stack
  and the redis-ha chart in docs/peer-comparison.json (drills.compare), and the bare hand-made
  Sentinel cluster (the benchmark's `floor-<scenario>`);
- workload-latency.png: docs/workload.json (drills.workload): per phase and target, the latency
  percentiles of an alert and of a round trip, from the histograms of its runs merged;
- workload-throughput.png: the same file's saturation phase, alerts/s per target.

The paths written are printed; a missing file is skipped (said on stderr), a file without the
fields a picture needs is an error that names the file and the field.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path
from typing import Any, Callable, Optional

# No pyplot: a Figure on the Agg canvas needs no display and keeps no global registry of figures.
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .analysis import percentile
from .histogram import merge, percentile_ms

BENCHMARKS, COMPARISON, WORKLOAD = "benchmarks.json", "peer-comparison.json", "workload.json"
FLOOR_PREFIX = "floor-"
OURS_BENCHMARK, OURS_COMPARISON, CHART, FLOOR = "ours (benchmark)", "ours (comparison run)", "redis-ha chart", "floor"
# drills.compare's sides, as the columns name them.
SIDE_COLUMNS = {"stack": OURS_COMPARISON, "redis-ha chart": CHART}
COLUMN_ORDER = [OURS_BENCHMARK, OURS_COMPARISON, CHART, FLOOR]
COLUMN_COLORS = {OURS_BENCHMARK: "#1f77b4", OURS_COMPARISON: "#6baed6", CHART: "#d62728", FLOOR: "#7f7f7f"}

PHASES = ["steady", "burst", "saturation"]
TARGETS = ["endpoint", "direct", "bare", "chart"]
TARGET_COLORS = {"endpoint": "#1f77b4", "direct": "#2ca02c", "bare": "#7f7f7f", "chart": "#d62728"}
LATENCIES = {"alert": "per alert", "round_trip": "per round trip"}
PERCENTILES = [("p50", 50.0), ("p95", 95.0), ("p99", 99.0), ("p99.9", 99.9)]
SATURATION = "saturation"
LATENCY_TITLE = "Gateway workload: latency per alert (14 round trips) and per round trip"

# The same dots on every run: a picture changes only when the results do.
JITTER_SEED = 0
JITTER = 0.12
# No matplotlib version in the PNG: a picture is rewritten only when what it shows changes.
PNG_METADATA = {"Software": None}
OTHER_COLORS = ["#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#ff7f0e"]


class ShapeError(ValueError):
    """A saved result without a field a picture needs; the message says which."""


class InputError(Exception):
    """A saved result that cannot be drawn; the message names the file."""


def _field(node: Any, where: str, key: str, kind: Any = dict) -> Any:
    """node[key], which must be a `kind`; `where` is node's path in the file, for the error."""
    path = f"{where}.{key}" if where else key
    if not isinstance(node, dict):
        raise ShapeError(f"{where or 'the top level'} is not an object")
    if key not in node:
        raise ShapeError(f"{path} is missing")
    value = node[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
        raise ShapeError(f"{path} is not a {names} ({type(value).__name__})")
    return value


def _column(trials: list[Any], where: str) -> dict[str, Any]:
    """The outages of a source's trials; a trial the drill failed to measure has none (no
    outage_s, or null), and still counts among the trials."""
    outages = []
    for number, trial in enumerate(trials):
        if not isinstance(trial, dict):
            raise ShapeError(f"{where}[{number}] is not an object")
        if trial.get("outage_s") is not None:
            outages.append(float(_field(trial, f"{where}[{number}]", "outage_s", (int, float))))
    return {"outages_s": outages, "trials": len(trials)}


def benchmark_outages(results: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """scenario -> column -> outages, from drills.benchmark's results: `floor-X` is the floor of X."""
    columns: dict[str, dict[str, dict[str, Any]]] = {}
    for name, entry in _field(results, "", "scenarios").items():
        trials = _field(entry, f"scenarios.{name}", "trials", list)
        scenario, source = ((name[len(FLOOR_PREFIX):], FLOOR) if name.startswith(FLOOR_PREFIX)
                            else (name, OURS_BENCHMARK))
        columns.setdefault(scenario, {})[source] = _column(trials, f"scenarios.{name}.trials")
    return columns


def comparison_outages(results: dict[str, Any]) -> dict[str, dict[str, dict[str, Any]]]:
    """scenario -> column -> outages, from drills.compare's results (a side without trials in a
    scenario has no column)."""
    columns: dict[str, dict[str, dict[str, Any]]] = {}
    for name, entry in _field(results, "", "scenarios").items():
        sides = _field(entry, f"scenarios.{name}", "sides")
        for side, trials in sides.items():
            if not isinstance(trials, list):
                raise ShapeError(f"scenarios.{name}.sides.{side} is not a list")
            if trials:
                columns.setdefault(name, {})[SIDE_COLUMNS.get(side, side)] = _column(
                    trials, f"scenarios.{name}.sides.{side}")
    return columns


def outage_columns(*sources: Optional[dict[str, dict[str, dict[str, Any]]]]) -> dict[str, list[dict[str, Any]]]:
    """scenario -> its columns in COLUMN_ORDER, each {"source", "outages_s", "trials"}; scenarios
    in the order the sources first name them."""
    merged: dict[str, dict[str, dict[str, Any]]] = {}
    for source in sources:
        for scenario, columns in (source or {}).items():
            merged.setdefault(scenario, {}).update(columns)

    def rank(name: str) -> int:
        return COLUMN_ORDER.index(name) if name in COLUMN_ORDER else len(COLUMN_ORDER)

    return {scenario: [{"source": name, **columns[name]} for name in sorted(columns, key=rank)]
            for scenario, columns in merged.items()}


def _ordered(names: set[str], known: list[str], seen: list[str]) -> list[str]:
    """The known names first, in their order, then any others in the order the file has them."""
    return [n for n in known if n in names] + [n for n in dict.fromkeys(seen) if n in names and n not in known]


def _runs(results: dict[str, Any]) -> list[dict[str, Any]]:
    runs = _field(results, "", "runs", list)
    for number, run in enumerate(runs):
        where = f"runs[{number}]"
        if not isinstance(run, dict):
            raise ShapeError(f"{where} is not an object")
        _field(run, where, "phase", str)
        _field(run, where, "target", str)
        _field(run, where, "result")
    return runs


def workload_latency(results: dict[str, Any]) -> dict[str, dict[str, dict[str, dict[str, float]]]]:
    """phase -> "alert"/"round_trip" -> target -> percentile label -> ms, from the histograms of
    every run of that phase and target merged (a percentile of merged counts, not a mean of the
    runs' percentiles). A target whose runs recorded nothing is left out."""
    runs = _runs(results)
    grouped: dict[tuple[str, str], list[tuple[int, dict[str, Any]]]] = {}
    for number, run in enumerate(runs):
        grouped.setdefault((run["phase"], run["target"]), []).append((number, run))
    phases = _ordered({p for p, _ in grouped}, PHASES, [run["phase"] for run in runs])
    targets = _ordered({t for _, t in grouped}, TARGETS, [run["target"] for run in runs])
    latency: dict[str, dict[str, dict[str, dict[str, float]]]] = {}
    for phase in phases:
        for kind in LATENCIES:
            for target in targets:
                group = grouped.get((phase, target))
                if not group:
                    continue
                histograms = []
                for number, run in group:
                    where = f"runs[{number}].result.{kind}"
                    buckets = _field(_field(run["result"], f"runs[{number}].result", kind), where, "buckets_us")
                    for upper, count in buckets.items():
                        if not isinstance(count, int) or isinstance(count, bool) or not _is_number(upper):
                            raise ShapeError(f"{where}.buckets_us has {upper!r}: {count!r}, not a bound in µs "
                                             "and a count")
                    histograms.append(buckets)
                merged = merge(histograms)
                if sum(merged.values()) == 0:
                    continue
                latency.setdefault(phase, {}).setdefault(kind, {})[target] = {
                    label: percentile_ms(merged, p) for label, p in PERCENTILES}
    return latency


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def workload_throughput(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """target -> {"runs": alerts/s of each saturation run, "mean": their mean}."""
    runs = _runs(results)
    rates: dict[str, list[float]] = {}
    for number, run in enumerate(runs):
        if run["phase"] == SATURATION:
            rate = _field(run["result"], f"runs[{number}].result", "alerts_per_s", (int, float))
            rates.setdefault(run["target"], []).append(float(rate))
    order = _ordered(set(rates), TARGETS, [run["target"] for run in runs])
    return {target: {"runs": rates[target], "mean": sum(rates[target]) / len(rates[target])} for target in order}


def _color(name: str, known: dict[str, str], others: list[str]) -> str:
    if name not in known and name not in others:
        others.append(name)
    return known.get(name) or OTHER_COLORS[others.index(name) % len(OTHER_COLORS)]


def _save(figure: Figure, path: Path) -> Path:
    FigureCanvasAgg(figure)
    figure.savefig(path, format="png", metadata=PNG_METADATA)
    return path


def draw_outage(scenario: str, columns: list[dict[str, Any]], path: Path) -> Path:
    """A strip plot: each trial a dot (jittered sideways so equal outages stay apart), a line at
    the p50 (nearest rank, as in the reports' tables)."""
    figure = Figure(figsize=(1.9 * len(columns) + 2.2, 4.5), layout="constrained")
    axes = figure.add_subplot()
    jitter = random.Random(JITTER_SEED)
    others: list[str] = []
    labels = []
    for x, column in enumerate(columns):
        outages, color = column["outages_s"], _color(column["source"], COLUMN_COLORS, others)
        axes.scatter([x + jitter.uniform(-JITTER, JITTER) for _ in outages], outages, s=28, color=color,
                     alpha=0.8, edgecolors="none", zorder=4)
        median = percentile(outages, 0.50)
        if median is not None:
            axes.hlines(median, x - 0.3, x + 0.3, color="black", linewidth=1.6, zorder=3)
            axes.annotate(f"{median:.2f} s", (x + 0.32, median), va="center", fontsize=8)
        counted = f"n={len(outages)}" + (f" of {column['trials']}" if len(outages) != column["trials"] else "")
        labels.append(f"{column['source']}\n{counted}")
    axes.set_xticks(range(len(columns)), labels)
    axes.set_xlim(-0.6, len(columns) - 0.4)
    axes.set_ylim(bottom=0, top=max([o for c in columns for o in c["outages_s"]] + [0.1]) * 1.1)
    axes.set_ylabel("outage (s)")
    axes.set_title(scenario)
    axes.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def draw_latency(latency: dict[str, dict[str, dict[str, dict[str, float]]]], path: Path) -> Path:
    """Per phase a column, per latency a row; percentiles on a log scale."""
    phases = list(latency)
    figure = Figure(figsize=(4.2 * len(phases) + 0.8, 7.5), layout="constrained")
    grid = figure.subplots(len(LATENCIES), len(phases), sharey="row", squeeze=False)
    labels = [label for label, _ in PERCENTILES]
    others: list[str] = []
    handles: dict[str, Any] = {}
    for column, phase in enumerate(phases):
        for row, (kind, what) in enumerate(LATENCIES.items()):
            axes = grid[row][column]
            for target, values in latency[phase].get(kind, {}).items():
                (line,) = axes.plot(range(len(labels)), [values[label] for label in labels], marker="o",
                                    color=_color(target, TARGET_COLORS, others), label=target)
                handles.setdefault(target, line)
            axes.set_yscale("log")
            # Plain numbers, not powers of ten: the reader compares milliseconds.
            axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
            axes.set_xticks(range(len(labels)), labels)
            axes.grid(alpha=0.3, which="both", axis="y")
            axes.set_title(f"{phase}, {what}", fontsize=10)
            if column == 0:
                axes.set_ylabel(f"latency {what} (ms)")
    figure.suptitle(LATENCY_TITLE)
    figure.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=max(1, len(handles)))
    return _save(figure, path)


def draw_throughput(throughput: dict[str, dict[str, Any]], path: Path) -> Path:
    """A bar per target at the mean of its saturation runs, each run a dot on it."""
    figure = Figure(figsize=(1.5 * len(throughput) + 3, 4.5), layout="constrained")
    axes = figure.add_subplot()
    jitter = random.Random(JITTER_SEED)
    others: list[str] = []
    for x, (target, values) in enumerate(throughput.items()):
        color = _color(target, TARGET_COLORS, others)
        axes.bar(x, values["mean"], width=0.6, color=color, alpha=0.45, zorder=2)
        axes.scatter([x + jitter.uniform(-JITTER, JITTER) for _ in values["runs"]], values["runs"], s=24,
                     color=color, edgecolors="black", linewidths=0.5, zorder=3)
        # Inside the bar, halfway up: above it the runs' dots would cover it.
        axes.annotate(f"{values['mean']:.0f}/s", (x, values["mean"] / 2), ha="center", va="center", fontsize=9)
    axes.set_xticks(range(len(throughput)), [f"{t}\nn={len(v['runs'])}" for t, v in throughput.items()])
    axes.set_ylim(bottom=0)
    axes.set_ylabel("alerts/s")
    axes.set_title("Gateway workload, saturation: alerts/s per target (bar: mean; dots: runs)", fontsize=10)
    axes.grid(axis="y", alpha=0.3)
    return _save(figure, path)


def file_name(scenario: str) -> str:
    """outage-<scenario>.png, with anything that is not safe in a file name or a link replaced."""
    return "outage-" + re.sub(r"[^A-Za-z0-9._-]", "_", scenario) + ".png"


def read(path: Path, extract: Callable[[dict[str, Any]], Any], say: Callable[[str], None]) -> Any:
    """What `extract` takes from the saved results at `path`; None when there is no such file."""
    if not path.exists():
        say(f"{path}: not found, skipped")
        return None
    try:
        return extract(json.loads(path.read_text()))
    except (ValueError, OSError) as err:  # ShapeError and JSONDecodeError are ValueErrors
        raise InputError(f"{path}: {err}") from err


def draw_all(docs: Path, out: Path, say: Callable[[str], None]) -> list[Path]:
    """Every picture the saved results in `docs` give; every file is read before one is drawn,
    so that a bad file leaves --out as it was."""
    benchmarks = read(docs / BENCHMARKS, benchmark_outages, say)
    comparison = read(docs / COMPARISON, comparison_outages, say)
    workload = read(docs / WORKLOAD, lambda results: (workload_latency(results), workload_throughput(results)), say)
    out.mkdir(parents=True, exist_ok=True)
    written = [draw_outage(scenario, columns, out / file_name(scenario))
               for scenario, columns in outage_columns(benchmarks, comparison).items()]
    if workload is not None:
        latency, throughput = workload
        if latency:
            written.append(draw_latency(latency, out / "workload-latency.png"))
        else:
            say(f"{docs / WORKLOAD}: no run recorded a latency, no workload-latency.png")
        if throughput:
            written.append(draw_throughput(throughput, out / "workload-throughput.png"))
        else:
            say(f"{docs / WORKLOAD}: no {SATURATION} runs, no workload-throughput.png")
    return written


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m drills.plots", description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=Path("docs"), help="where the saved results are")
    parser.add_argument("--out", type=Path, help="where the pictures go (default: DOCS/plots)")
    args = parser.parse_args(argv)
    if not args.docs.is_dir():
        parser.error(f"--docs {args.docs}: not a directory")
    out = args.out if args.out is not None else args.docs / "plots"
    if out.exists() and not out.is_dir():
        parser.error(f"--out {out}: not a directory")

    def say(text: str) -> None:
        print(text, file=sys.stderr)

    try:
        written = draw_all(args.docs, out, say)
    except InputError as err:
        print(f"python -m drills.plots: error: {err}", file=sys.stderr)
        return 1
    if not written:
        say(f"nothing to draw: none of {BENCHMARKS}, {COMPARISON}, {WORKLOAD} in {args.docs} has results")
        return 1
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
