"""Password rotation (docs/architecture.md, "Rotation"): the second passwords' config rules, the
guard's rule as a pure function and in the program, the Secret and environment wiring, and the
digest that rolls the pods."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Optional

import pulumi
import pytest

from stack_config import ConfigError, load_stack_config, names
from stack_config.rotation import ROTATION_OUTPUT, PasswordWindow, fingerprint, rotation_problems, rotation_record
from tools.pulumi_mock_run import ProgramRun, run_program

from .conftest import stack_config_values
from .support import PASSWORDS, record_registered_types

OLD = "old-password-0123456789"
NEW = "new-password-9876543210"
KEY = "gatewayRedisPassword"
ACCEPTED = "gatewayRedisPasswordAccepted"


def _record(current: str, accepted: Optional[str] = None, **others: PasswordWindow) -> dict[str, Any]:
    return rotation_record("prod", {KEY: PasswordWindow(current, accepted), **others})


# ---------------------------------------------------------------------------- the rule, pure

def test_the_three_steps_each_pass():
    steady = _record(OLD)
    opened = _record(OLD, NEW)      # 1: NEW accepted, OLD still sent
    switched = _record(NEW, OLD)    # 2: NEW sent, OLD still accepted
    closed = _record(NEW)           # 3: only NEW
    for deployed, config in ((steady, opened), (opened, switched), (switched, closed)):
        assert rotation_problems(deployed, config) == []


def test_skipping_the_window_is_refused_naming_the_first_step():
    (line,) = rotation_problems(_record(OLD), _record(NEW))
    assert line.startswith(f"{KEY}: the deployed pods do not accept the new value yet")
    assert f"as {ACCEPTED}" in line and "step 1 of 3" in line and "\n" not in line


def test_switching_before_the_window_was_deployed_is_refused():
    """Step 2's config on a stack whose step 1 never finished a `pulumi up`."""
    (line,) = rotation_problems(_record(OLD), _record(NEW, OLD))
    assert "step 1 of 3" in line


def test_closing_in_the_same_up_as_switching_is_refused_naming_the_second_step():
    (line,) = rotation_problems(_record(OLD, NEW), _record(NEW))
    assert line.startswith(f"{ACCEPTED}: the deployed pods still send the value {KEY} had before")
    assert "step 2 of 3" in line


def test_aborting_an_open_window_is_allowed():
    assert rotation_problems(_record(OLD, NEW), _record(OLD)) == []


def test_nothing_deployed_or_a_key_new_to_the_config_is_not_checked():
    assert rotation_problems(None, _record(NEW)) == []
    assert rotation_problems({}, _record(NEW)) == []
    sentinel = {"gatewaySentinelPassword": PasswordWindow(NEW)}
    assert rotation_problems(_record(OLD), _record(OLD, **sentinel)) == []


def test_each_key_is_checked_on_its_own():
    deployed = _record(OLD, gatewaySentinelPassword=PasswordWindow(OLD))
    config = _record(OLD, gatewaySentinelPassword=PasswordWindow(NEW))
    (line,) = rotation_problems(deployed, config)
    assert line.startswith("gatewaySentinelPassword: ")


def test_a_seed_that_changes_key_is_refused():
    """Adding gatewayOperatorPassword to a running gateway changes every derived password at once."""
    with_operator = _record(OLD, gatewayOperatorPassword=PasswordWindow(NEW))
    (line,) = rotation_problems(_record(OLD), with_operator)
    assert line.startswith("gatewayOperatorPassword: set on a running gateway whose internal users' passwords "
                           "derive from gatewayRedisPassword")


def test_the_record_holds_salted_fingerprints_only():
    record = _record(OLD, NEW)
    text = json.dumps(record)
    for password in (OLD, NEW):
        assert password not in text
        assert hashlib.sha256(password.encode()).hexdigest() not in text
    assert fingerprint("prod", KEY, OLD) != fingerprint("dev", KEY, OLD) != fingerprint("prod", ACCEPTED, OLD)
    assert record["passwords"][KEY]["current"] == fingerprint("prod", KEY, OLD)


# ---------------------------------------------------------------------------- config rules

def _problems(passwords: dict[str, Optional[str]], stack: str = "prod", overrides: Optional[dict] = None) -> list[str]:
    values = {key: value for key, value in PASSWORDS.items() if key != "kubeconfig"}
    values.update(passwords)
    raw = stack_config_values(stack, overrides)
    try:
        load_stack_config(raw, stack, passwords=values, config_keys=())
    except ConfigError as err:
        return err.problems
    return []


@pytest.mark.parametrize("key", ["gatewayRedisPassword", "gatewaySentinelPassword", "gatewayOperatorPassword",
                                 "contextCacheOperatorPassword"])
def test_a_second_password_is_accepted_beside_its_key(key):
    assert _problems({f"{key}Accepted": NEW}) == []


@pytest.mark.parametrize("passwords, line_start, rule", [
    ({ACCEPTED: "short"}, f"{ACCEPTED}: got a value that breaks the rule", "printable ASCII"),
    ({ACCEPTED: PASSWORDS[KEY]}, f"{ACCEPTED}: got the value of {KEY}", "closes the window"),
    ({"gatewayOperatorPasswordAccepted": PASSWORDS[KEY]}, "gatewayOperatorPasswordAccepted: got the value of "
     "gatewayRedisPassword", "operators' full access"),
    ({ACCEPTED: PASSWORDS["gatewayOperatorPassword"]}, "gatewayOperatorPassword: got the value of "
     f"{ACCEPTED}", "operators' full access"),
    ({"contextCachePasswordAccepted": NEW}, "contextCachePasswordAccepted: set while contextCachePassword is not "
     "in use", "pulumi config rm contextCachePasswordAccepted"),
])
def test_a_bad_second_password_is_refused_with_one_line(passwords, line_start, rule):
    (line,) = _problems(passwords)
    assert line.startswith(line_start) and rule in line and "\n" not in line
    for value in passwords.values():
        assert len(value) < 8 or value not in line


def test_a_second_password_without_its_key_is_refused():
    (line,) = _problems({"gatewayOperatorPassword": None, "gatewayOperatorPasswordAccepted": NEW}, stack="dev")
    assert line.startswith("gatewayOperatorPasswordAccepted: set while gatewayOperatorPassword is not")


# ---------------------------------------------------------------------------- the program

def _run(stack: str, passwords: dict[str, str], deployed: Optional[dict[str, Any]] = None,
         overrides: Optional[dict] = None) -> ProgramRun:
    return run_program(stack, stack_config_values(stack, overrides), passwords,
                       deployed_outputs={ROTATION_OUTPUT: deployed} if deployed is not None else None)


def _with(**changes: str) -> dict[str, str]:
    return {**PASSWORDS, **changes}


def _env(run: ProgramRun, kind: str, name: str, container: str) -> dict[str, Any]:
    (found,) = [c for c in run.object(kind, name)["spec"]["template"]["spec"]["containers"] if c["name"] == container]
    return {item["name"]: item.get("valueFrom", {}).get("secretKeyRef", {}).get("key") for item in found["env"]}


def _annotation(run: ProgramRun, kind: str, name: str) -> str:
    return run.object(kind, name)["spec"]["template"]["metadata"]["annotations"][names.PASSWORDS_ANNOTATION]


def _gateway_secret(run: ProgramRun) -> dict[str, str]:
    return run.object("Secret", names.GATEWAY_AUTH_SECRET)["stringData"]["value"]


def test_the_program_exports_the_record_of_its_config():
    run = _run("prod", PASSWORDS)
    record = run.outputs[ROTATION_OUTPUT]
    assert ROTATION_OUTPUT in run.secret_outputs
    assert set(record["passwords"]) == {"gatewayRedisPassword", "gatewaySentinelPassword", "gatewayOperatorPassword",
                                        "contextCacheOperatorPassword"}
    assert record["gatewaySeed"] == "gatewayOperatorPassword"
    assert rotation_problems(record, _run("prod", PASSWORDS, deployed=record).outputs[ROTATION_OUTPUT]) == []


def test_a_skipped_step_stops_the_program_before_any_kubernetes_object(monkeypatch):
    deployed = _run("prod", PASSWORDS).outputs[ROTATION_OUTPUT]
    registered = record_registered_types(monkeypatch)
    with pytest.raises(pulumi.RunError) as caught:
        _run("prod", _with(gatewayRedisPassword=NEW), deployed=deployed)
    # The provider waits for the guard, and every object for the provider.
    assert registered and not [typ for typ in registered if typ.startswith(("kubernetes:", "pulumi:providers:"))]
    lines = str(caught.value).splitlines()
    assert lines[0] == "password rotation of stack 'prod' refused, nothing changed:"
    assert len(lines) == 2 and lines[1].startswith("gatewayRedisPassword: the deployed pods do not accept")
    assert NEW not in str(caught.value) and PASSWORDS[KEY] not in str(caught.value)


def test_the_steps_run_one_after_the_other_in_the_program():
    deployed = _run("prod", PASSWORDS).outputs[ROTATION_OUTPUT]
    old = PASSWORDS[KEY]
    for passwords in (_with(gatewayRedisPasswordAccepted=NEW), _with(gatewayRedisPassword=NEW,
                                                                        gatewayRedisPasswordAccepted=old),
                      _with(gatewayRedisPassword=NEW)):
        deployed = _run("prod", passwords, deployed=deployed).outputs[ROTATION_OUTPUT]


def test_the_window_reaches_the_secret_and_the_servers_that_check_it():
    run = _run("prod", _with(gatewayRedisPasswordAccepted=NEW, gatewaySentinelPasswordAccepted=NEW + "-s"))
    secret = _gateway_secret(run)
    assert secret["redis-password-accepted"] == NEW
    assert secret["sentinel-password-accepted"] == NEW + "-s"
    # The seed (gatewayOperatorPassword) has no window: no internal user gets a second password.
    assert not [key for key in secret if key.startswith("acl-") and key.endswith("-accepted")]
    redis = _env(run, "StatefulSet", names.GATEWAY, "redis")
    assert redis["REDIS_PASSWORD_ACCEPTED"] == "redis-password-accepted"
    assert redis["SENTINEL_PASSWORD_ACCEPTED"] == "sentinel-password-accepted"
    sentinel = _env(run, "StatefulSet", names.GATEWAY, "sentinel")
    assert {name for name in sentinel if name.endswith("_ACCEPTED")} == {"SENTINEL_PASSWORD_ACCEPTED"}
    haproxy = _env(run, "Deployment", names.GATEWAY_HAPROXY, "haproxy")
    assert not [name for name in haproxy if name.endswith("_ACCEPTED")], "HAProxy sends passwords, checks none"


def test_a_seed_window_gives_every_internal_user_a_second_password():
    from stack_config import GATEWAY_PASSWORDS

    run = _run("prod", _with(gatewayOperatorPasswordAccepted=NEW))
    secret = _gateway_secret(run)
    expected = GATEWAY_PASSWORDS.internal_passwords(PASSWORDS[KEY], NEW)
    assert {user: secret[f"acl-{user}-password-accepted"] for user in names.ACL_INTERNAL_USERS} == expected
    assert expected[names.ACL_USER_OPERATOR] == NEW
    redis = _env(run, "StatefulSet", names.GATEWAY, "redis")
    for user in names.ACL_INTERNAL_USERS:
        assert redis[f"ACL_{user.upper()}_PASSWORD_ACCEPTED"] == f"acl-{user}-password-accepted"


def test_the_cache_window_reaches_its_secret_and_container():
    passwords = _with(contextCachePasswordAccepted=NEW, contextCacheOperatorPasswordAccepted=NEW + "-o")
    run = _run("dev", passwords, overrides={"contextCache.auth.enabled": True})
    secret = run.object("Secret", names.CACHE_AUTH_SECRET)["stringData"]["value"]
    assert secret["redis-password-accepted"] == NEW
    assert secret["acl-operator-password-accepted"] == NEW + "-o"
    env = _env(run, "Deployment", names.CACHE, "redis")
    assert env["REDIS_PASSWORD_ACCEPTED"] == "redis-password-accepted"
    assert env["ACL_PROBE_PASSWORD_ACCEPTED"] == "acl-probe-password-accepted"


@pytest.mark.parametrize("changes, gateway, proxy, cache", [
    ({"gatewayRedisPasswordAccepted": NEW}, True, False, False),
    ({"gatewayRedisPassword": NEW}, True, True, False),
    ({"gatewaySentinelPassword": NEW}, True, True, False),
    ({"gatewayOperatorPassword": NEW}, True, False, False),
    ({"contextCacheOperatorPassword": NEW}, False, False, True),
])
def test_a_password_change_rolls_exactly_the_pods_that_hold_it(changes, gateway, proxy, cache):
    before, after = _run("prod", PASSWORDS), _run("prod", _with(**changes))
    workloads = (("StatefulSet", names.GATEWAY), ("Deployment", names.GATEWAY_HAPROXY), ("Deployment", names.CACHE))
    changed = tuple(_annotation(before, *w) != _annotation(after, *w) for w in workloads)
    assert changed == (gateway, proxy, cache)


def test_the_digest_shows_no_password_nor_a_plain_hash_of_one():
    run = _run("prod", _with(gatewayRedisPasswordAccepted=NEW))
    digests = [_annotation(run, "StatefulSet", names.GATEWAY), _annotation(run, "Deployment", names.GATEWAY_HAPROXY),
               _annotation(run, "Deployment", names.CACHE)]
    values = [*PASSWORDS.values(), NEW]
    for digest in digests:
        assert len(digest) == 64
        for value in values:
            assert value not in digest
            assert digest != hashlib.sha256(value.encode()).hexdigest()
