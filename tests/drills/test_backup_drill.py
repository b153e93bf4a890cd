"""The backup drill's arithmetic and dataset, without a cluster (drills.backup)."""

from __future__ import annotations

import pytest

from drills.backup import (CLASSES, COMMITTED_DATASET_MB, _value, backup_overrides, class_sizes, compare, expiry_class,
                           largest_gap)


def test_the_gap_spans_the_backups_from_the_last_ack_before_to_the_first_after():
    acks = [["k1", 9.0], ["k2", 10.5], ["k3", 11.0], ["k4", 14.0], ["k5", 20.0], ["k6", 30.0]]
    # Inside [10, 15]: 10.5, 11.0, 14.0; with 9.0 before and 20.0 after: the largest gap is 14 -> 20.
    assert largest_gap(acks, 10.0, 15.0) == 6.0
    assert largest_gap(acks, 25.0, 26.0) == 10.0  # nothing inside: from the last ack before to the first after
    assert largest_gap([], 0.0, 1.0) is None


@pytest.mark.parametrize("ttl, expected", [(-1, "none"), (3600, "<=1h"), (1, "<=1h"), (3601, "<=1d"),
                                           (86400, "<=1d"), (90000, "other(90000)")])
def test_expiry_classes(ttl, expected):
    assert expiry_class(ttl) == expected


def test_missing_changed_and_extra_keys_are_counted_apart():
    expected = {"a": "1", "b": "2", "c": "3"}
    found = {"a": "1", "b": "X", "d": "4"}
    assert compare(expected, found) == {"expected": 3, "found": 3, "missing": 1, "changed": 1, "extra": 1,
                                        "examples": ["c", "b", "d"]}
    assert compare(expected, dict(expected))["missing"] == 0


def test_values_are_deterministic_and_incompressible_and_the_bulk_is_the_plain_strings():
    assert _value("plain", 7) == _value("plain", 7) != _value("plain", 8)
    assert len(_value("plain", 7)) == 1000 and len(set(_value("plain", 7))) > 10
    sizes = class_sizes(200)
    assert sizes["plain"] * 1000 > 190 * 2**20 and set(sizes) == {name for name, _, _ in CLASSES}


def test_a_large_dataset_gets_room_within_the_rules_the_config_checks():
    assert not any(o.startswith("gateway.maxmemory") for o in backup_overrides(COMMITTED_DATASET_MB))
    large = dict(o.split("=", 1) for o in backup_overrides(200))
    maxmemory, limit, size = (int(large[k].removesuffix("Mi")) for k in
                              ("gateway.maxmemory", "gateway.resources.redis.limits.memory", "gateway.persistence.size"))
    assert maxmemory <= 0.6 * limit and size >= 2 * maxmemory
