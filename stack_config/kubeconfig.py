"""The `kubeconfig` secret key must be self-contained: its credentials inline, not file paths.

The provider reads the kubeconfig from the stack secret wherever `pulumi up` runs (a CI runner,
a colleague's machine), where the files named on the machine it came from do not exist; a file
path would fail only when the provider first talks to the cluster, with an error far from the
cause. So the program checks the text before it creates anything.

The kubeconfig is a secret: no message here ever quotes a value from it (not a path, not a
name), only the position of a field, such as `users[0].user.client-key`.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from .errors import ConfigError

KUBECONFIG_KEY = "kubeconfig"

# Fields that name a file instead of holding the data (client-go reads them from disk).
CLUSTER_FILE_FIELDS = ("certificate-authority",)
USER_FILE_FIELDS = ("client-certificate", "client-key", "tokenFile")


def _fix(stack: str) -> str:
    return f"kubectl config view --flatten --minify | pulumi config set --secret {KUBECONFIG_KEY} -s {stack}"


def _parse(text: str) -> Any:
    """JSON or YAML (JSON first: PyYAML refuses the tab indentation JSON may have)."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        raise ValueError from None


def _entries(document: dict, list_key: str, item_key: str) -> list[tuple[str, dict]]:
    """(position, inner mapping) of each `clusters[i].cluster` or `users[i].user`; ValueError
    when the shape is not a kubeconfig's."""
    entries = document.get(list_key) or []
    if not isinstance(entries, list):
        raise ValueError(f"{list_key} is not a list")
    found = []
    for index, entry in enumerate(entries):
        inner = entry.get(item_key) if isinstance(entry, dict) else None
        if not isinstance(inner, dict):
            raise ValueError(f"{list_key}[{index}] has no {item_key} mapping")
        found.append((f"{list_key}[{index}].{item_key}", inner))
    return found


def kubeconfig_problem(text: str, stack: str) -> str | None:
    """One line saying why `text` is not a self-contained kubeconfig, or None when it is."""
    try:
        document = _parse(text)
        if not isinstance(document, dict):
            raise ValueError("it is not a mapping of keys")
        clusters = _entries(document, "clusters", "cluster")
        users = _entries(document, "users", "user")
    except ValueError as err:
        reason = f" ({err})" if str(err) else ""
        return (f"{KUBECONFIG_KEY}: the secret is not a kubeconfig (YAML or JSON){reason}; "
                f"store one with `{_fix(stack)}`")
    paths = [f"{where}.{field}"
             for entries, fields in ((clusters, CLUSTER_FILE_FIELDS), (users, USER_FILE_FIELDS))
             for where, inner in entries for field in fields if inner.get(field)]
    if not paths:
        return None
    return (f"{KUBECONFIG_KEY}: {', '.join(paths)} {'names a file' if len(paths) == 1 else 'name files'} "
            "that the provider cannot read where `pulumi up` runs; store a self-contained kubeconfig "
            f"(certificate and key data inline) with `{_fix(stack)}`")


def check_kubeconfig(text: str, stack: str) -> None:
    """Raise ConfigError (one line, no value from the secret) unless `text` is self-contained."""
    problem = kubeconfig_problem(text, stack)
    if problem:
        raise ConfigError([problem])
