"""The CPU accounting of drills.cpu, on hand-made cgroup v2 cpu.stat samples."""

from __future__ import annotations

from drills.cpu import cpu_stat, usage

STAT = """usage_usec {usage}
user_usec 1
system_usec 2
nr_periods 10
nr_throttled {throttled}
throttled_usec 5
"""


def test_cpu_stat_reads_the_usage_and_the_throttled_periods():
    assert cpu_stat(STAT.format(usage=1_500_000, throttled=3)) == {"usage_usec": 1_500_000, "nr_throttled": 3}


def test_usage_is_millicores_over_the_window_and_leaves_out_restarted_or_missing_containers():
    before = {("p", "haproxy"): {"usage_usec": 1_000_000, "nr_throttled": 2, "at": 100.0},
              ("p", "gone"): {"usage_usec": 0, "nr_throttled": 0, "at": 100.0},
              ("q", "redis"): {"usage_usec": 9_000_000, "nr_throttled": 0, "at": 100.0}}
    after = {("p", "haproxy"): {"usage_usec": 7_000_000, "nr_throttled": 5, "at": 160.0},
             ("q", "redis"): {"usage_usec": 10, "nr_throttled": 0, "at": 160.0}}  # a new cgroup
    assert usage(before, after) == [{"pod": "p", "container": "haproxy", "seconds": 60.0, "millicores": 100.0,
                                     "throttled_periods": 3}]
