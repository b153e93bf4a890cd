"""The project's config keys as a whole: no unknown key, and passwords the pods accept.

A key of the project's namespace that the program does not read (`kubernaut-redis:gatway`, a
typo) would otherwise be ignored, and the stack deployed with defaults. Passwords are checked
here, at preview, with the rule the pod scripts apply at start (pod_scripts/common.sh,
`check_password`) plus a minimum length: a password the pods refuse crash-loops every gateway
pod, and an empty one runs Redis without `requirepass`.

The passwords are secrets: no message here ever quotes one, nor tells its length or characters.
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping, Optional

from .kubeconfig import KUBECONFIG_KEY
from .names import PROJECT

# The structured keys, one object each (validated by StackConfig).
CONFIG_KEYS = ("platform", "gateway", "contextCache", "monitoring", "networkPolicy")
GATEWAY_REDIS_PASSWORD_KEY = "gatewayRedisPassword"
GATEWAY_SENTINEL_PASSWORD_KEY = "gatewaySentinelPassword"
CONTEXT_CACHE_PASSWORD_KEY = "contextCachePassword"
# The password of the gateway's ACL user `operator` (full access, for people), and the seed of the
# other internal users' passwords (stack_config/acl.py). Required in prod; optional elsewhere,
# where without it both derive from gatewayRedisPassword, which the clients hold (the program
# warns).
GATEWAY_OPERATOR_PASSWORD_KEY = "gatewayOperatorPassword"
# The password of the cache's ACL user `operator` (full access, for people), which exists only
# while this key is set, with or without contextCache.auth.enabled (the clients' user has no
# CONFIG, FLUSHALL or CLIENT KILL either way); with auth, also the seed of the probe's and the
# exporter's passwords.
CONTEXT_CACHE_OPERATOR_PASSWORD_KEY = "contextCacheOperatorPassword"
PASSWORD_KEYS = (GATEWAY_REDIS_PASSWORD_KEY, GATEWAY_SENTINEL_PASSWORD_KEY, CONTEXT_CACHE_PASSWORD_KEY,
                 GATEWAY_OPERATOR_PASSWORD_KEY, CONTEXT_CACHE_OPERATOR_PASSWORD_KEY)
# Keys checked only when set (and while their switch is on), except in the stacks named here.
OPTIONAL_PASSWORD_KEYS = (GATEWAY_OPERATOR_PASSWORD_KEY, CONTEXT_CACHE_OPERATOR_PASSWORD_KEY)
# An operator password and the clients' password of the same server: they must differ.
OPERATOR_PASSWORD_OF = {GATEWAY_OPERATOR_PASSWORD_KEY: GATEWAY_REDIS_PASSWORD_KEY,
                        CONTEXT_CACHE_OPERATOR_PASSWORD_KEY: CONTEXT_CACHE_PASSWORD_KEY}
REQUIRED_IN_STACKS = {GATEWAY_OPERATOR_PASSWORD_KEY: ("prod",)}
# A rotation's second password of each password key (docs/architecture.md, "Rotation"): the
# servers accept it beside the key's own value, and nothing in the tier sends it.
ACCEPTED_SUFFIX = "Accepted"


def accepted_key(key: str) -> str:
    return f"{key}{ACCEPTED_SUFFIX}"


ACCEPTED_KEYS = tuple(accepted_key(key) for key in PASSWORD_KEYS)
# The backups' S3 credentials (gateway.backup), optional: with both set, the stack creates the
# Secret gateway.backup.s3.credentialsSecret from them (Pulumi secrets, encrypted in the state);
# with neither, that Secret is the operator's to create.
GATEWAY_BACKUP_ACCESS_KEY_ID_KEY = "gatewayBackupAccessKeyId"
GATEWAY_BACKUP_SECRET_ACCESS_KEY_KEY = "gatewayBackupSecretAccessKey"
BACKUP_CREDENTIAL_KEYS = (GATEWAY_BACKUP_ACCESS_KEY_ID_KEY, GATEWAY_BACKUP_SECRET_ACCESS_KEY_KEY)
SECRET_KEYS = (*PASSWORD_KEYS, *ACCEPTED_KEYS, *BACKUP_CREDENTIAL_KEYS, KUBECONFIG_KEY)
KNOWN_KEYS = (*CONFIG_KEYS, *SECRET_KEYS)

PASSWORD_MIN_LENGTH = 16
PASSWORD_MAX_LENGTH = 256
# Printable ASCII without space, '"', "'" and '\': redis.conf and sentinel.conf hold the password
# in double quotes, HAProxy's health checks send `AUTH <password>` inline, and the start scripts
# refuse whitespace, quotes, backslashes and control characters.
_PASSWORD = re.compile(r"[!#-&(-\[\]-~]+", re.ASCII)
PASSWORD_RULE = (f"must be {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} printable ASCII characters without "
                 "spaces, quotes (\" ') or backslashes, e.g. `head -c 24 /dev/urandom | base64`")


# What S3-compatible servers issue: printable ASCII without spaces (AWS: letters, digits, + / =).
_CREDENTIAL = re.compile(r"[!-~]{1,256}", re.ASCII)
CREDENTIAL_RULE = "must be 1 to 256 printable ASCII characters without spaces"


def backup_credential_problems(values: Mapping[str, Optional[str]], backup_enabled: bool, stack: str) -> list[str]:
    """One line per backup credential key that is set where it cannot apply, set alone, or
    malformed (never shown)."""
    given = [key for key in BACKUP_CREDENTIAL_KEYS if values.get(key) is not None]
    if not given:
        return []
    if not backup_enabled:
        return [f"{key}: set while gateway.backup.enabled is false (`pulumi config rm {key} -s {stack}`)"
                for key in given]
    problems = [f"{key}: missing; set both {' and '.join(BACKUP_CREDENTIAL_KEYS)}, or neither and create the "
                "Secret gateway.backup.s3.credentialsSecret yourself "
                f"(`pulumi config set --secret {key} -s {stack} <file`)"
                for key in BACKUP_CREDENTIAL_KEYS if key not in given]
    problems += [f"{key}: got a value that breaks the rule (a secret, not shown); {CREDENTIAL_RULE}"
                 for key in given if not _CREDENTIAL.fullmatch(values[key] or "")]
    return problems


def unknown_key_problems(config_keys: Iterable[str]) -> list[str]:
    """One line per key `kubernaut-redis:<name>` the program does not know; keys of other
    namespaces (`kubernetes:`, `pulumi:`) belong to others."""
    prefix = f"{PROJECT}:"
    unknown = sorted({key for key in config_keys
                      if key.startswith(prefix) and key.removeprefix(prefix) not in KNOWN_KEYS})
    allowed = ", ".join(KNOWN_KEYS)
    return [f"{key}: unknown key; allowed keys of {PROJECT}: {allowed}" for key in unknown]


def password_keys_in_use(gateway_auth: bool, sentinel_auth: bool, cache_auth: bool) -> dict[str, str]:
    """The password keys the config switches on, each with the switch that reads it (the keys of
    OPTIONAL_PASSWORD_KEYS among them only when set)."""
    switches = {GATEWAY_REDIS_PASSWORD_KEY: ("gateway.auth.enabled", gateway_auth),
                GATEWAY_SENTINEL_PASSWORD_KEY: ("gateway.auth.sentinel", sentinel_auth),
                CONTEXT_CACHE_PASSWORD_KEY: ("contextCache.auth.enabled", cache_auth),
                GATEWAY_OPERATOR_PASSWORD_KEY: ("gateway.auth.enabled", gateway_auth),
                # Optional and read whenever set: no switch turns the cache's operator off.
                CONTEXT_CACHE_OPERATOR_PASSWORD_KEY: ("contextCache", True)}
    return {key: switch for key, (switch, on) in switches.items() if on}


def valid_password(value: str) -> bool:
    return PASSWORD_MIN_LENGTH <= len(value) <= PASSWORD_MAX_LENGTH and bool(_PASSWORD.fullmatch(value))


def password_problems(passwords: Mapping[str, Optional[str]], in_use: Mapping[str, str], stack: str) -> list[str]:
    """One line per password the config switches on that is missing or that the pods would refuse."""
    problems = []
    for key, switch in in_use.items():
        value = passwords.get(key)
        if value is None and key in OPTIONAL_PASSWORD_KEYS and stack in REQUIRED_IN_STACKS.get(key, ()):
            problems.append(f"{key}: missing; required in {stack} while {switch} is true: without it every "
                            f"internal Redis user's password derives from {GATEWAY_REDIS_PASSWORD_KEY}, which the "
                            f"clients hold (`pulumi config set --secret {key} -s {stack} <password-file`)")
            continue
        if value is None and key in OPTIONAL_PASSWORD_KEYS:
            continue
        if value is None:
            problems.append(f"{key}: missing; this secret key is required while {switch} is true "
                            f"(`pulumi config set --secret {key} -s {stack} <password-file`)")
        elif not valid_password(value):
            problems.append(f"{key}: got a value that breaks the rule (a secret, not shown); {PASSWORD_RULE}")
    problems += accepted_password_problems(passwords, in_use)
    for operator_key, clients_key in OPERATOR_PASSWORD_OF.items():
        if operator_key not in in_use or clients_key not in in_use:
            continue
        # During a rotation either side has two passwords: none of the operator's may be the clients'.
        for key in (operator_key, accepted_key(operator_key)):
            value = passwords.get(key)
            same = [other for other in (clients_key, accepted_key(clients_key))
                    if value is not None and passwords.get(other) == value]
            if same:
                problems.append(f"{key}: got the value of {same[0]} (a secret, not shown); must differ from it, or "
                                "the clients hold the operators' full access")
    return problems


def accepted_password_problems(passwords: Mapping[str, Optional[str]], in_use: Mapping[str, str]) -> list[str]:
    """One line per rotation key (<key>Accepted) that is set where it cannot apply or that the
    pods would refuse: it needs its key in use and set, and a value of its own."""
    problems = []
    for key in PASSWORD_KEYS:
        value = passwords.get(accepted_key(key))
        if value is None:
            continue
        name = accepted_key(key)
        if key not in in_use:
            problems.append(f"{name}: set while {key} is not in use; a rotation's second password exists only "
                            f"beside its key (`pulumi config rm {name}`)")
        elif passwords.get(key) is None:
            # Without the key, the derived passwords' seed would jump from the clients' password
            # to this one in a single step (docs/architecture.md, "Rotation").
            problems.append(f"{name}: set while {key} is not; set {key} when the stack is created, a rotation "
                            f"needs both")
        elif not valid_password(value):
            problems.append(f"{name}: got a value that breaks the rule (a secret, not shown); {PASSWORD_RULE}")
        elif value == passwords.get(key):
            problems.append(f"{name}: got the value of {key} (a secret, not shown); the window's second password "
                            f"must differ from it (`pulumi config rm {name}` closes the window)")
    return problems
