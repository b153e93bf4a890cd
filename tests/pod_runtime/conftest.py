"""Fixtures of the pod-runtime tests: real redis-server, redis-sentinel, haproxy and podman."""

from __future__ import annotations

import pytest

from runtime_support import STACKS, stack_config
from stack_config import StackConfig


@pytest.fixture(params=STACKS)
def any_stack_config(request) -> StackConfig:
    return stack_config(request.param)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item, so fixtures can see whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
