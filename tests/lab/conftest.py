"""Fixtures of the lab tests: the rendered stack in the podman lab, the small fixture stack in the
podman lab (the drills run on the real cluster: test_drills.py, with tests/conftest.py's
`lab_cluster`).

Each lab is module-scoped (one lab at a time: the machine has two shared cores) and removed when
its module ends, also when a test fails. The podman lab is imported only by the fixtures that
use it, so that the tests on the real cluster do not depend on it.
"""

from __future__ import annotations

import pytest

from lab_support import TINY, render_stack, require_lab_prerequisites


@pytest.fixture(scope="module")
def tiny_lab(tmp_path_factory):
    from lab import Lab

    require_lab_prerequisites()
    state_root = tmp_path_factory.mktemp("lab-state")
    with Lab(TINY, name="kr-test-tiny", state_root=state_root) as lab:
        lab.wait_ready(120)
        yield lab


@pytest.fixture(scope="module")
def rendered_dev_stack(tmp_path_factory):
    """The dev stack with only the images pointed at the lab image (the mock renderer's twin of the lab stack)."""
    return render_stack("dev", tmp_path_factory.mktemp("rendered") / "dev")


@pytest.fixture(scope="module")
def stack_lab(rendered_dev_stack, tmp_path_factory):
    from lab import Lab

    require_lab_prerequisites()
    state_root = tmp_path_factory.mktemp("lab-state")
    with Lab(rendered_dev_stack, name="kr-test-stack", state_root=state_root) as lab:
        lab.wait_ready(300)
        yield lab
