"""Parsing of Kubernetes resource quantities and Redis memory sizes.

Kept separate from the models so that the renderers (redis.conf) and the validators agree on
what "256Mi" means in bytes. Parsing is strict: the whole text must match (`fullmatch`; a `$`
would also match before a final newline), and surrounding spaces are refused, not trimmed,
because the manifests carry the text as written.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_K8S_MULTIPLIERS = {
    "": 1,
    "m": Decimal("0.001"),
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60,
}
_K8S_QUANTITY = re.compile(r"(?P<number>[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?",
                           re.ASCII)

# redis.conf sizes: k/m/g are powers of 1000, kb/mb/gb powers of 1024, case-insensitive.
_REDIS_MULTIPLIERS = {"b": 1, "k": 10**3, "kb": 2**10, "m": 10**6, "mb": 2**20, "g": 10**9, "gb": 2**30}
_REDIS_SIZE = re.compile(r"(?P<number>[0-9]+)(?P<suffix>b|k|kb|m|mb|g|gb)", re.IGNORECASE | re.ASCII)


def parse_k8s_quantity(text: str) -> Decimal:
    """Value of a Kubernetes quantity ("100m" -> 0.1, "512Mi" -> 536870912); ValueError if malformed."""
    match = _K8S_QUANTITY.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    try:
        number = Decimal(match["number"])
    except InvalidOperation as err:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"not a Kubernetes quantity: {text!r}") from err
    return number * _K8S_MULTIPLIERS[match["suffix"] or ""]


def parse_cpu(text: str) -> Decimal:
    """CPU cores of "100m", "0.5" or "2"; binary suffixes make no sense for CPU and are refused."""
    value = parse_k8s_quantity(text)
    if text.endswith("i"):
        raise ValueError(f"not a CPU quantity: {text!r}")
    return value


def parse_memory_bytes(text: str) -> int:
    """Bytes of a memory quantity ("512Mi"); a milli suffix ("512m") is a classic typo and is refused."""
    value = parse_k8s_quantity(text)
    if text.endswith("m"):
        raise ValueError(f"not a memory quantity (\"m\" means milli-bytes): {text!r}")
    if value != value.to_integral_value():
        raise ValueError(f"not a whole number of bytes: {text!r}")
    return int(value)


def parse_size_bytes(text: str) -> int:
    """Bytes of a Kubernetes memory quantity ("256Mi") or a redis.conf size ("256mb")."""
    match = _REDIS_SIZE.fullmatch(text) if isinstance(text, str) else None
    if match:
        return int(match["number"]) * _REDIS_MULTIPLIERS[match["suffix"].lower()]
    return parse_memory_bytes(text)
