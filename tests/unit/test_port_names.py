"""Every port name the program renders is one the API server accepts: an IANA service name (at
most 15 characters, lower-case letters, digits and inner hyphens, at least one letter). The
OpenAPI schema does not say so, so a schema check passes names that `pulumi up` then fails on."""

from __future__ import annotations

import re
from typing import Any, Iterator

import pytest

from .support import STACKS

IANA_SVC_NAME = re.compile(r"(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?")
MAX_LENGTH = 15


def port_names(obj: Any, where: str = "") -> Iterator[tuple[str, str]]:
    """(path, name) of every `name` of a `ports` item and every string targetPort, anywhere."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key == "ports" and isinstance(value, list):
                for i, port in enumerate(value):
                    if isinstance(port, dict):
                        for field in ("name", "targetPort"):
                            if isinstance(port.get(field), str):
                                yield f"{where}.ports[{i}].{field}", port[field]
            yield from port_names(value, f"{where}.{key}")
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from port_names(item, f"{where}[{i}]")


@pytest.mark.parametrize("stack", STACKS)
def test_every_port_name_is_an_iana_service_name(program, stack):
    found = [(f"{o['kind']}/{o['metadata']['name']}{path}", name)
             for o in program(stack).kubernetes_objects() for path, name in port_names(o)]
    assert len(found) >= 6
    bad = [(path, name) for path, name in found
           if len(name) > MAX_LENGTH or not IANA_SVC_NAME.fullmatch(name)]
    assert bad == []


def test_the_check_refuses_what_the_api_server_refuses():
    for name in ("sentinel-metrics", "Metrics", "-metrics", "9121", "metrics-"):
        assert len(name) > MAX_LENGTH or not IANA_SVC_NAME.fullmatch(name), name
    assert IANA_SVC_NAME.fullmatch("sentinel-prom") and len("sentinel-prom") <= MAX_LENGTH
