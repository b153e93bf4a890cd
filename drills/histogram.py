"""Latency histograms as the workload driver (go/workload) writes them: `buckets_us` maps the
upper bound of a bucket in microseconds (as text; buckets grow by 2%) to its count. Runs are
merged by adding counts; a percentile is the upper bound of the bucket holding the nearest rank,
so it overstates by at most 2%."""

from __future__ import annotations

import math
from typing import Iterable, Mapping


def merge(histograms: Iterable[Mapping[str, int]]) -> dict[float, int]:
    merged: dict[float, int] = {}
    for buckets in histograms:
        for upper, count in buckets.items():
            merged[float(upper)] = merged.get(float(upper), 0) + int(count)
    return merged


def percentile_ms(buckets: Mapping[float, int], p: float) -> float:
    """The nearest-rank percentile `p` (0 < p <= 100) in milliseconds; ValueError when empty."""
    total = sum(buckets.values())
    if total == 0:
        raise ValueError("no samples")
    if not 0 < p <= 100:
        raise ValueError(f"percentile {p} is not in (0, 100]")
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for upper in sorted(buckets):
        seen += buckets[upper]
        if seen >= rank:
            return upper / 1000
    raise AssertionError("unreachable: the ranks add up to the total")
