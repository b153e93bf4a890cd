"""Passwords of the gateway's internal ACL users (docs/architecture.md, "Redis users").

Operators set at most two gateway Redis passwords: `gatewayRedisPassword` (the clients' user,
`default`) and, optionally, `gatewayOperatorPassword` (the `operator` user). The other internal
users (replication, sentinel, pod, probe, exporter) get a password derived here:
HMAC-SHA256(seed, "redis-gateway/<user>") in hex, 64 characters, which the password rule of
stack_config.keys accepts. The seed is the operator password when it is set: whoever holds it
has full access already, so deriving from it leaks nothing. Without it the seed is the clients'
password, and whoever holds that can compute every internal password (the program warns).

Derivation keeps each password stable across runs (no rollout, no state of its own) and changes
them all when the seed changes; the pods accept more than one password per user
(redis-start.sh: ACL_<USER>_PASSWORD_PREVIOUS), which is the path for a rotation window.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Optional

from . import names

DERIVATION_CONTEXT = "redis-gateway"


def derived_password(seed: str, user: str) -> str:
    """The password of internal user <user> derived from <seed> (hex, 64 characters)."""
    if user not in names.ACL_INTERNAL_USERS:
        raise ValueError(f"{user!r} is not an internal ACL user of the gateway")
    message = f"{DERIVATION_CONTEXT}/{user}".encode()
    return hmac.new(seed.encode(), message, hashlib.sha256).hexdigest()


def internal_passwords(clients_password: str, operator_password: Optional[str]) -> dict[str, str]:
    """user -> password of every internal user: `operator` gets <operator_password> when given,
    everyone else (and `operator` without it) a password derived from the operator password, or
    from the clients' password when there is none."""
    seed = operator_password if operator_password is not None else clients_password
    passwords = {user: derived_password(seed, user) for user in names.ACL_INTERNAL_USERS}
    if operator_password is not None:
        passwords[names.ACL_USER_OPERATOR] = operator_password
    return passwords
