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
    for attribute, section in (("platform", "platform"), ("gateway", "gateway"), ("context_cache", "contextCache"),
                               ("monitoring", "monitoring")):
        for path, field in _leaves(StackConfig.model_fields[attribute].annotation, (section,)):
            assert f"| `{'.'.join(path)}` |" in text
            assert field.description, f"{'.'.join(path)} has no description"
    for secret in ("gatewayRedisPassword", "gatewaySentinelPassword", "contextCachePassword",
                   "contextCacheOperatorPassword", "kubeconfig"):
        assert f"`{secret}`" in text


def test_readme_states_the_rules_with_the_codes_numbers():
    """README's summary of the rules is hand-written: its numbers must be the code's."""
    from stack_config.keys import PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH
    from stack_config.models import (
        MAX_DOWN_AFTER_MILLISECONDS,
        MAX_GATEWAY_REPLICAS,
        MAX_WAIT_SECONDS,
        MIN_CONTAINER_MEMORY_LIMIT_BYTES,
        MIN_MAXMEMORY_BYTES,
    )

    readme = " ".join((REPO / "README.md").read_text().split())
    assert f"`gateway.replicas` is odd, 3 to {MAX_GATEWAY_REPLICAS}" in readme
    assert "between the majority and `replicas - 1`" in readme
    assert "`minReplicasToWrite` is at most `replicas - 2`" in readme
    assert f"{PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} printable ASCII characters without spaces" in readme
    assert f"Memory limits are at least {MIN_CONTAINER_MEMORY_LIMIT_BYTES // 2**20}Mi" in readme
    assert f"`maxmemory` at least {MIN_MAXMEMORY_BYTES // 2**20}Mi and at most 60%" in readme
    assert f"`downAfterMilliseconds` 1000 to {MAX_DOWN_AFTER_MILLISECONDS}" in readme
    assert f"waits and grace period at most {MAX_WAIT_SECONDS} s" in readme
    assert "`kubernaut-redis:gatway`" in readme


def test_reference_states_the_rules():
    text = " ".join(render_reference().split())
    for rule in ("`majority <= quorum <= replicas - 1`", "`minReplicasToWrite <= replicas - 2`",
                 "printable ASCII characters without spaces", "Text is never trimmed",
                 "`storageClass: \"\"` is refused", "`kubernaut-redis:gatway` is an error, not ignored",
                 "booleans are refused"):
        assert rule in text, rule
