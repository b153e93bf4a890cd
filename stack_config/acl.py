"""Passwords of the internal ACL users of the gateway and of the cache (docs/architecture.md,
"Redis users").

Operators set at most two Redis passwords per component: the clients' (`gatewayRedisPassword`,
`contextCachePassword`: the user `default`) and, optionally, the operators'
(`gatewayOperatorPassword`, `contextCacheOperatorPassword`: the user `operator`). The other
internal users of a component (the gateway's replication, sentinel, pod, probe, exporter, backup; the
cache's probe and exporter) get a password derived here: HMAC-SHA256(seed, "<context>/<user>")
in hex, 64 characters, which the password rule of stack_config.keys accepts. The context is the
component's name (`redis-gateway`, `redis`), so one seed never gives two components the same
password. The seed is the operator password when it is set: whoever holds it has full access
already, so deriving from it leaks nothing. Without it the seed is the clients' password, and
whoever holds that can compute every internal password (the program warns for the gateway,
whose internal users can change the server; the cache's can only read INFO, SLOWLOG and LATENCY).

Derivation keeps each password stable across runs (no rollout, no state of its own) and changes
them all when the seed changes; the pods accept more than one password per user
(pod_scripts/passwords.sh: <VARIABLE>_ACCEPTED): a rotation's window (docs/architecture.md,
"Rotation") derives each user's second password from the seed's second one.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Optional

from . import names


@dataclass(frozen=True)
class PasswordDerivation:
    """The derived passwords of one component's internal users."""

    # The component's name; part of every derived password's message.
    context: str
    # The users whose password is derived (the gateway's `operator` among them: it always exists).
    users: tuple[str, ...]

    def derived_password(self, seed: str, user: str) -> str:
        """The password of internal user <user> derived from <seed> (hex, 64 characters)."""
        if user not in self.users:
            raise ValueError(f"{user!r} is not an internal ACL user of {self.context}")
        message = f"{self.context}/{user}".encode()
        return hmac.new(seed.encode(), message, hashlib.sha256).hexdigest()

    def internal_users(self, clients: bool, operator: bool) -> tuple[str, ...]:
        """The internal users there are: the derived ones beside a clients' password (without
        one, as on a cache without auth, the clients' user does their jobs), and `operator`
        while its password is set."""
        users = self.users if clients else ()
        if operator and names.ACL_USER_OPERATOR not in users:
            users = (*users, names.ACL_USER_OPERATOR)
        return users

    def internal_passwords(self, clients_password: Optional[str],
                           operator_password: Optional[str]) -> dict[str, str]:
        """user -> password of every internal user (internal_users): `operator` gets
        <operator_password> when given, the others a password derived from the operator
        password, or from the clients' password when there is none."""
        seed = operator_password if operator_password is not None else clients_password
        users = self.internal_users(clients_password is not None, operator_password is not None)
        passwords = {user: self.derived_password(seed, user) for user in users if user in self.users}
        if operator_password is not None:
            passwords[names.ACL_USER_OPERATOR] = operator_password
        return passwords


GATEWAY_PASSWORDS = PasswordDerivation(names.GATEWAY, names.ACL_INTERNAL_USERS)
CACHE_PASSWORDS = PasswordDerivation(names.CACHE, names.CACHE_ACL_DERIVED_USERS)

# The gateway's, by the names its callers have always used.
derived_password = GATEWAY_PASSWORDS.derived_password
internal_passwords = GATEWAY_PASSWORDS.internal_passwords
