"""Fixtures of the pod-runtime tests: real redis-server, redis-sentinel, haproxy and podman."""

from __future__ import annotations

import pytest

from runtime_support import DEFAULT_ENGINE, ENGINES, STACKS, stack_config
from stack_config import StackConfig


def pytest_configure(config):
    config.addinivalue_line("markers", "every_engine: runs on every engine of the matrix, not only the default")


def pytest_generate_tests(metafunc):
    """`lab_engine` (a labcluster.layout.LabEngineImage): every engine for tests marked
    `every_engine`, the default one (the production default's line) for the others. Module scope,
    so that a module's gateway is started once per engine."""
    if "lab_engine" in metafunc.fixturenames:
        engines = ENGINES if metafunc.definition.get_closest_marker("every_engine") else (DEFAULT_ENGINE,)
        metafunc.parametrize("lab_engine", engines, ids=[e.name for e in engines], scope="module")


@pytest.fixture(params=STACKS)
def any_stack_config(request) -> StackConfig:
    return stack_config(request.param)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item, so fixtures can see whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report
