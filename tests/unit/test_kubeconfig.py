"""The `kubeconfig` secret must be self-contained; the program says so in one line, without
ever showing the secret."""

from __future__ import annotations

import copy
import json

import pulumi
import pytest
import yaml

from stack_config import ConfigError, check_kubeconfig
from stack_config.kubeconfig import kubeconfig_problem

from .support import PASSWORDS

GOOD = yaml.safe_load(PASSWORDS["kubeconfig"])
FIX = "kubectl config view --flatten --minify | pulumi config set --secret kubeconfig -s dev"
# Distinctive values in the file-path fields: none may ever appear in a message.
SECRET_PATH = "/home/ops/.secret-path-4e1f0a/client.key"


def _with(**changes) -> dict:
    """The good kubeconfig with `cluster__<field>` / `user__<field>` set (None removes it)."""
    document = copy.deepcopy(GOOD)
    for dotted, value in changes.items():
        section, field = dotted.split("__")
        inner = document[f"{section}s"][0][section]
        field = field.replace("_", "-") if field != "tokenFile" else field
        if value is None:
            inner.pop(field, None)
        else:
            inner[field] = value
    return document


def _problem(document) -> str:
    text = document if isinstance(document, str) else yaml.safe_dump(document)
    problem = kubeconfig_problem(text, "dev")
    assert problem is not None
    assert "\n" not in problem
    for leaked in (SECRET_PATH, "kubeconfig-marker-0c9e2b", "a3ViZWNvbmZpZy1rZXktbWFya2Vy", "admin"):
        assert leaked not in problem, f"{leaked!r} leaked into: {problem}"
    return problem


@pytest.mark.parametrize("document", [
    GOOD,
    _with(cluster__certificate_authority_data=None, cluster__insecure_skip_tls_verify=True),
    _with(user__client_certificate_data=None, user__client_key_data=None, user__token="t0ken"),
    _with(user__client_certificate_data=None, user__client_key_data=None,
          user__exec={"apiVersion": "client.authentication.k8s.io/v1", "command": "aws"}),
    {"apiVersion": "v1", "kind": "Config", "clusters": [], "users": []},
], ids=["cert-data", "insecure-skip-tls-verify", "token", "exec", "empty"])
def test_self_contained_kubeconfigs_pass(document):
    assert kubeconfig_problem(yaml.safe_dump(document), "dev") is None
    check_kubeconfig(yaml.safe_dump(document), "dev")


def test_json_is_accepted_also_with_tab_indentation():
    assert kubeconfig_problem(json.dumps(GOOD), "dev") is None
    assert kubeconfig_problem(json.dumps(GOOD, indent="\t"), "dev") is None
    assert "users[0].user.client-key " in _problem(json.dumps(_with(user__client_key=SECRET_PATH), indent="\t"))


@pytest.mark.parametrize("changes, field", [
    ({"cluster__certificate_authority_data": None, "cluster__certificate_authority": SECRET_PATH},
     "clusters[0].cluster.certificate-authority"),
    ({"user__client_certificate_data": None, "user__client_certificate": SECRET_PATH},
     "users[0].user.client-certificate"),
    ({"user__client_key_data": None, "user__client_key": SECRET_PATH}, "users[0].user.client-key"),
    ({"user__client_certificate_data": None, "user__client_key_data": None, "user__tokenFile": SECRET_PATH},
     "users[0].user.tokenFile"),
])
def test_a_file_path_is_named_with_the_fix(changes, field):
    problem = _problem(_with(**changes))
    assert problem == (
        f"kubeconfig: {field} names a file that the provider cannot read where `pulumi up` runs; "
        f"store a self-contained kubeconfig (certificate and key data inline) with `{FIX}`")


def test_a_file_path_next_to_inline_data_is_refused_too():
    """client-go refuses a kubeconfig that gives both (and would read the file first elsewhere)."""
    assert "clusters[0].cluster.certificate-authority names a file" in \
        _problem(_with(cluster__certificate_authority=SECRET_PATH))


def test_every_file_path_is_named_in_the_one_line():
    document = _with(cluster__certificate_authority=SECRET_PATH, user__client_certificate=SECRET_PATH,
                     user__client_key=SECRET_PATH)
    document["users"].append({"name": "second", "user": {"tokenFile": SECRET_PATH}})
    problem = _problem(document)
    assert problem.startswith(
        "kubeconfig: clusters[0].cluster.certificate-authority, users[0].user.client-certificate, "
        "users[0].user.client-key, users[1].user.tokenFile name files ")


@pytest.mark.parametrize("text, reason", [
    ("clusters: [\n  {name: x", ""),
    ("unused", " (it is not a mapping of keys)"),
    ("", " (it is not a mapping of keys)"),
    ("- a\n- b\n", " (it is not a mapping of keys)"),
    ("clusters: {name: kubeconfig-marker-0c9e2b}\n", " (clusters is not a list)"),
    ("users:\n- name: admin\n  user: a3ViZWNvbmZpZy1rZXktbWFya2Vy\n", " (users[0] has no user mapping)"),
], ids=["broken-yaml", "scalar", "empty", "list", "clusters-mapping", "user-not-mapping"])
def test_what_is_not_a_kubeconfig_gets_one_clear_line(text, reason):
    assert _problem(text) == f"kubeconfig: the secret is not a kubeconfig (YAML or JSON){reason}; store one with `{FIX}`"


def test_check_raises_a_config_error_with_the_one_line():
    with pytest.raises(ConfigError) as caught:
        check_kubeconfig(yaml.safe_dump(_with(user__client_key=SECRET_PATH)), "prod")
    (line,) = caught.value.problems
    assert line.startswith("kubeconfig: users[0].user.client-key names a file")
    assert line.endswith("pulumi config set --secret kubeconfig -s prod`")


# ---------------------------------------------------------------------------- in the program

def _kubeconfig_with_file_paths() -> str:
    return yaml.safe_dump(_with(cluster__certificate_authority_data=None, cluster__certificate_authority=SECRET_PATH))


@pytest.mark.parametrize("preview", [True, False], ids=["preview", "up"])
def test_program_stops_before_any_resource_on_a_file_path(program, preview):
    with pytest.raises(pulumi.RunError) as caught:
        program("prod", passwords={**PASSWORDS, "kubeconfig": _kubeconfig_with_file_paths()}, preview=preview)
    message = str(caught.value)
    assert message.splitlines() == [
        "invalid configuration of stack 'prod': kubeconfig: clusters[0].cluster.certificate-authority names a "
        "file that the provider cannot read where `pulumi up` runs; store a self-contained kubeconfig "
        "(certificate and key data inline) with "
        "`kubectl config view --flatten --minify | pulumi config set --secret kubeconfig -s prod`"]
    for secret in (SECRET_PATH, "kubeconfig-marker-0c9e2b", *PASSWORDS.values()):
        assert secret not in message


def test_program_names_an_unparseable_kubeconfig(program):
    with pytest.raises(pulumi.RunError, match=r"^invalid configuration of stack 'dev': kubeconfig: the secret is "
                                              r"not a kubeconfig \(YAML or JSON\); store one with `kubectl config"):
        program("dev", passwords={**PASSWORDS, "kubeconfig": "{not: [yaml"})


def test_program_accepts_a_json_kubeconfig(program):
    run = program("dev", passwords={**PASSWORDS, "kubeconfig": json.dumps(GOOD)})
    (provider,) = run.providers()
    assert provider.inputs["kubeconfig"]["value"] == json.dumps(GOOD)


def test_render_mode_reads_no_kubeconfig_so_checks_none(program):
    run = program("dev", {"platform.kubernetes.renderYamlToDirectory": "/nonexistent/render"},
                  passwords={**PASSWORDS, "kubeconfig": "unused"})
    (provider,) = run.providers()
    assert "kubeconfig" not in provider.inputs
