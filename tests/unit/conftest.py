"""Fixtures for the unit tests: the Pulumi program under recording mocks, per stack.

Each run of the program happens in a fresh event loop and its own copy of the Pulumi runtime's
context (settings, config, root stack), with the project name `kubernaut-redis` and the stack
under test (tools/pulumi_mock_run.py); nothing carries over from one test to the next.
"""

from __future__ import annotations

import asyncio
from typing import Any, Callable

# Imported before any test runs, not lazily by its plugin's summary: after a refused program run
# (the rotation and engine guards' tests) the runtime's failed futures are finalized during a
# later import, and Python 3.11 then fails that compile with "AST constructor recursion depth
# mismatch"; every other module is imported at collection, before the runs.
import hypothesis  # noqa: F401
import pytest

from tools.pulumi_mock_run import ProgramRun, run_program, set_path, stack_file_config

from .support import PASSWORDS


@pytest.fixture(autouse=True)
def fresh_event_loop():
    """Python 3.12+ creates no implicit loop; give each test its own and close it afterwards."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    yield loop
    asyncio.set_event_loop(None)
    loop.close()


@pytest.fixture(autouse=True)
def strict_output_strings(monkeypatch):
    """An Output used as a str (f-string) raises instead of producing garbage text."""
    monkeypatch.setenv("PULUMI_ERROR_OUTPUT_STRING", "1")


def stack_config_values(stack: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    values = stack_file_config(stack)
    for path, value in (overrides or {}).items():
        set_path(values, path, value)
    return values


@pytest.fixture
def program() -> Callable[..., ProgramRun]:
    """`program("prod", {"gateway.maxmemory": "200Mi"}, passwords={...}, preview=False)`."""

    def run(stack: str, overrides: dict[str, Any] | None = None, *, passwords: dict[str, str] | None = None,
            preview: bool = False) -> ProgramRun:
        return run_program(stack, stack_config_values(stack, overrides),
                           PASSWORDS if passwords is None else passwords, preview=preview)

    return run


@pytest.fixture
def resource_options(monkeypatch) -> dict[tuple[str, str], Any]:
    """(type token, logical name) -> the ResourceOptions each resource was created with.

    Mocks see inputs only; protect, ignore_changes, timeouts, parents and providers are options,
    so they are recorded where every custom and component resource is constructed."""
    import pulumi

    recorded: dict[tuple[str, str], Any] = {}

    def recording(original):
        def init(self, t, name, props=None, opts=None, *args, **kwargs):
            recorded[(t, name)] = opts
            return original(self, t, name, props, opts, *args, **kwargs)
        return init

    monkeypatch.setattr(pulumi.CustomResource, "__init__", recording(pulumi.CustomResource.__init__))
    monkeypatch.setattr(pulumi.ComponentResource, "__init__", recording(pulumi.ComponentResource.__init__))
    return recorded
