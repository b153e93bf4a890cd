"""How long the provider waits for an object, as resource options.

The provider waits for every Deployment, StatefulSet and Service with a selector to become ready
(10 minutes by default) before `pulumi up` moves on or fails. The times come from the stack
config (stack_config.derived), so a crash loop fails a deployment once an honest start is
over, not after the provider's default.
"""

from __future__ import annotations

import pulumi

from stack_config import AwaitTimeouts


def custom_timeouts(timeouts: AwaitTimeouts) -> pulumi.CustomTimeouts:
    return pulumi.CustomTimeouts(
        create=f"{timeouts.create}s", update=f"{timeouts.update}s", delete=f"{timeouts.delete}s")


def create_timeout(timeouts: AwaitTimeouts) -> pulumi.CustomTimeouts:
    """For a Service, which the provider awaits only when it is created (its endpoints)."""
    return pulumi.CustomTimeouts(create=f"{timeouts.create}s")
