"""docs/configuration.md is generated from the models and the stack files, and is current."""

from __future__ import annotations

from stack_config import StackConfig
from tools.config_reference import _leaves, render_reference
from tools.pulumi_mock_run import REPO

DOC = REPO / "docs" / "configuration.md"


def test_committed_reference_is_current():
    assert DOC.read_text() == render_reference(), \
        "docs/configuration.md is stale: run `python -m tools.config_reference > docs/configuration.md`"


def test_reference_lists_every_key_with_a_description():
    text = render_reference()
    for attribute, section in (("platform", "platform"), ("gateway", "gateway"), ("context_cache", "contextCache")):
        for path, field in _leaves(StackConfig.model_fields[attribute].annotation, (section,)):
            assert f"| `{'.'.join(path)}` |" in text
            assert field.description, f"{'.'.join(path)} has no description"
    for secret in ("gatewayRedisPassword", "gatewaySentinelPassword", "contextCachePassword", "kubeconfig"):
        assert f"`{secret}`" in text
