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


def test_the_pressure_drill_counts_each_alarm_in_the_sentinel_logs():
    from drills.pressure import count_events

    logs = {"redis-gateway-0": {"events": ["2026 10:00:00.000 # +sdown master gateway-master a 6379",
                                           "2026 10:00:01.000 # -sdown master gateway-master a 6379"]},
            "redis-gateway-1": {"events": ["2026 10:00:00.500 # +sdown master gateway-master a 6379",
                                           "2026 10:00:00.600 # +odown master gateway-master a 6379 #quorum 2/2"]},
            "redis-gateway-2": {"events": []}}
    assert (count_events(logs, "+sdown master"), count_events(logs, "+odown")) == (2, 1)


def test_a_hog_ends_when_the_drill_that_started_it_is_killed():
    import subprocess
    import sys
    import time

    from drills.pressure import HOG

    # a parent shell that starts the hog and is then killed outright
    parent = subprocess.Popen(["sh", "-c", f'{sys.executable} -c "$0" & echo $!; wait', HOG],
                              stdout=subprocess.PIPE, text=True)
    hog = int(parent.stdout.readline())
    time.sleep(1.0)  # the hog has read its parent's pid
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{hog}/stat") as stat:
                if stat.read().split(") ", 1)[1].startswith("Z"):
                    break
        except FileNotFoundError:
            break
        time.sleep(0.05)
    else:
        raise AssertionError(f"hog {hog} still runs after its parent was killed")
