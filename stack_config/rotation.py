"""The guard of password rotation (docs/architecture.md, "Rotation").

A rotation is three `pulumi up`s, each rolling the pods that hold the password:
  1. open:   `<key>Accepted` = new       servers accept old and new; everything still sends old
  2. switch: `<key>` = new, `<key>Accepted` = old    everything sends new; old still accepted
  3. close:  `pulumi config rm <key>Accepted`       only new is accepted
A rolling update runs old and new pods side by side, so a step is safe exactly when each side
accepts the password the other side sends: the new `<key>` is among the passwords the deployed
pods accept, and the deployed `<key>` among those the new config accepts. `rotation_problems`
checks that rule against the record of the last `pulumi up` that finished (the stack output
ROTATION_OUTPUT, read back through a StackReference to the stack itself), so skipping a step
stops the preview before anything changes.

The record holds no password: each is a fingerprint, PBKDF2-HMAC-SHA256 salted with the project,
the stack and the key, and the record is a secret stack output (encrypted in the state). The
derived passwords (stack_config/acl.py) follow their seed's window, so the record names the
gateway's seed key: a seed that changes key (gatewayOperatorPassword added to or removed from a
running gateway) would change every internal password in one step, and is refused.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Mapping, Optional

from .keys import GATEWAY_OPERATOR_PASSWORD_KEY, GATEWAY_REDIS_PASSWORD_KEY, accepted_key
from .names import PROJECT

ROTATION_OUTPUT = "passwordRotation"
RUNBOOK = "docs/architecture.md#rotation"
# Enough to make guessing from a leaked record slow, cheap enough for every program run (at most
# ten passwords): the record is encrypted in the state besides.
FINGERPRINT_ITERATIONS = 20_000


@dataclass(frozen=True)
class PasswordWindow:
    """One password key as the config sets it: the password everything sends, and the second one
    the servers accept while a window is open."""

    current: str
    accepted: Optional[str] = None

    def passwords(self) -> tuple[str, ...]:
        return (self.current,) if self.accepted is None else (self.current, self.accepted)


def fingerprint(stack: str, key: str, password: str) -> str:
    salt = f"{PROJECT}/{stack}/rotation/{key}".encode()
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, FINGERPRINT_ITERATIONS).hex()


def rotation_record(stack: str, windows: Mapping[str, PasswordWindow]) -> dict[str, Any]:
    """The record of `windows` (password key -> its window, for the keys the config uses):
    {"passwords": {key: {"current": fp, "accepted": [fp, ...]}}, "gatewaySeed": key or None}."""
    passwords = {key: {"current": fingerprint(stack, key, window.current),
                       "accepted": sorted(fingerprint(stack, key, p) for p in window.passwords())}
                 for key, window in sorted(windows.items())}
    return {"passwords": passwords, "gatewaySeed": gateway_seed_key(windows)}


def gateway_seed_key(windows: Mapping[str, PasswordWindow]) -> Optional[str]:
    """The key whose password the gateway's internal users' passwords derive from (acl.py)."""
    for key in (GATEWAY_OPERATOR_PASSWORD_KEY, GATEWAY_REDIS_PASSWORD_KEY):
        if key in windows:
            return key
    return None


def rotation_problems(deployed: Optional[Mapping[str, Any]], record: Mapping[str, Any]) -> list[str]:
    """One line per password key whose change from `deployed` (the record of the last finished
    `pulumi up`, None before the first) to `record` skips a step. A key new to the config, or no
    longer in it, has no pods on the other side to disagree with and is not checked."""
    if not deployed:
        return []
    problems = []
    old_seed, new_seed = deployed.get("gatewaySeed"), record.get("gatewaySeed")
    if old_seed and new_seed and old_seed != new_seed:
        problems.append(
            f"{GATEWAY_OPERATOR_PASSWORD_KEY}: {'set' if new_seed == GATEWAY_OPERATOR_PASSWORD_KEY else 'removed'} on "
            f"a running gateway whose internal users' passwords derive from {old_seed}: every one of them would "
            f"change in one step, which a rolling update cannot survive; keep it as deployed ({RUNBOOK})")
    old_passwords = deployed.get("passwords") or {}
    for key, new in sorted((record.get("passwords") or {}).items()):
        old = old_passwords.get(key)
        if old is None:
            continue
        problem = _window_problem(key, old, new)
        if problem:
            problems.append(problem)
    return problems


def _window_problem(key: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> Optional[str]:
    second = accepted_key(key)
    if new["current"] not in old["accepted"]:
        return (f"{key}: the deployed pods do not accept the new value yet: first `pulumi up` with it as {second} "
                f"and {key} unchanged (rotation step 1 of 3, {RUNBOOK})")
    if old["current"] not in new["accepted"]:
        return (f"{second}: the deployed pods still send the value {key} had before, which this config no longer "
                f"accepts: keep it as {second} until a `pulumi up` with the new {key} has finished "
                f"(rotation step 2 of 3, {RUNBOOK})")
    return None
