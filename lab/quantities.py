"""Kubernetes resource quantities, for mapping limits onto podman flags."""

from __future__ import annotations

import re

_SUFFIX = {
    "": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$")


def cpu_cores(value: object) -> float:
    """"250m" -> 0.25, "1" -> 1.0."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"not a CPU quantity: {value!r}")
    number, suffix = float(match.group(1)), match.group(2) or ""
    if suffix == "m":
        return number / 1000
    if suffix:
        raise ValueError(f"not a CPU quantity: {value!r}")
    return number


def memory_bytes(value: object) -> int:
    """"512Mi" -> 536870912, "1G" -> 10**9."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match or match.group(2) == "m":
        raise ValueError(f"not a memory quantity: {value!r}")
    return int(float(match.group(1)) * _SUFFIX[match.group(2) or ""])
