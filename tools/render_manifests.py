"""Render a stack's Kubernetes manifests to YAML files without a cluster.

    python -m tools.render_manifests --stack dev --out DIR [--set gateway.replicas=5 ...]

Runs `__main__.py` under Pulumi mocks with the values of Pulumi.<stack>.yaml (plus `--set`
overrides, the equivalent of `pulumi config set --path`) and writes every object to
`DIR/1-manifest/<apiVersion>-<kind>-<namespace>-<name>.yaml`, the layout and file names of the
Kubernetes provider's renderYamlToDirectory mode, so a reader or a test takes either output unchanged.

Passwords come from KUBERNAUT_GATEWAY_REDIS_PASSWORD, KUBERNAUT_GATEWAY_SENTINEL_PASSWORD,
KUBERNAUT_GATEWAY_OPERATOR_PASSWORD and KUBERNAUT_CONTEXT_CACHE_PASSWORD, or are random for this run;
KUBERNAUT_CONTEXT_CACHE_OPERATOR_PASSWORD, whose key adds the cache's `operator` user, only from its
variable (unset: no such user, as in a stack without the key). The rendered Secrets hold them in
plain text: DIR is created private (0700, files 0600) and must lie outside the repository, or
below its git-ignored `.rendered/`.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

import pulumi
import yaml
from pulumi.runtime import rpc

from .pulumi_mock_run import REPO, ProgramRun, run_program, set_path, stack_file_config

MANIFEST_DIR = "1-manifest"
IGNORED_RENDER_DIR = REPO / ".rendered"
PASSWORD_ENV = {
    "gatewayRedisPassword": "KUBERNAUT_GATEWAY_REDIS_PASSWORD",
    "gatewaySentinelPassword": "KUBERNAUT_GATEWAY_SENTINEL_PASSWORD",
    "contextCachePassword": "KUBERNAUT_CONTEXT_CACHE_PASSWORD",
    "gatewayOperatorPassword": "KUBERNAUT_GATEWAY_OPERATOR_PASSWORD",
}
# Optional keys whose presence changes what is deployed: never made up.
OPTIONAL_PASSWORD_ENV = {"contextCacheOperatorPassword": "KUBERNAUT_CONTEXT_CACHE_OPERATOR_PASSWORD"}


class RenderError(Exception):
    """A refusal the user can act on (bad output directory, bad --set)."""


def passwords_from_env(env: Mapping[str, str]) -> dict[str, str]:
    """Each password from its variable, else a random one that lives only as long as the output."""
    given = {key: env[variable] for key, variable in OPTIONAL_PASSWORD_ENV.items() if env.get(variable)}
    return {**{key: env.get(variable) or secrets.token_urlsafe(24) for key, variable in PASSWORD_ENV.items()}, **given}


def parse_override(text: str) -> tuple[str, Any]:
    """`key.path=value`; the value is read as YAML, so numbers and booleans keep their type."""
    path, sep, value = text.partition("=")
    if not sep or not path or any(not part for part in path.split(".")):
        raise RenderError(f"--set {text!r}: expected key.path=value, e.g. gateway.replicas=5")
    return path, yaml.safe_load(value) if value else ""


def check_output_dir(out: Path) -> Path:
    out = out.expanduser().resolve()
    if out.is_relative_to(REPO) and not out.is_relative_to(IGNORED_RENDER_DIR):
        raise RenderError(
            f"{out}: rendered Secrets hold passwords in plain text; render outside the repository "
            f"or below {IGNORED_RENDER_DIR} (git-ignored)")
    return out


def render_config(stack: str, out: Path, overrides: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    values = stack_file_config(stack)
    for path, value in overrides:
        set_path(values, path, value)
    # Render mode exactly as the provider would be configured for it: no kubeconfig, no context.
    set_path(values, "platform.kubernetes.renderYamlToDirectory", str(out))
    return values


def render(stack: str, out: Path, overrides: Iterable[tuple[str, Any]] = (),
           env: Optional[Mapping[str, str]] = None) -> list[Path]:
    """Render `stack` into `out`; returns the files written."""
    out = check_output_dir(out)
    if not (REPO / f"Pulumi.{stack}.yaml").is_file():
        raise RenderError(f"no stack file Pulumi.{stack}.yaml in {REPO}")
    run = run_program(stack, render_config(stack, out, overrides),
                      passwords_from_env(os.environ if env is None else env))
    return write_manifests(run, out)


def write_manifests(run: ProgramRun, out: Path) -> list[Path]:
    manifest_dir = _private_dir(out) / MANIFEST_DIR
    _private_dir(manifest_dir)
    # A previous render may hold objects this one no longer has (e.g. a Secret with auth off).
    for stale in manifest_dir.glob("*.yaml"):
        stale.unlink()
    written = []
    for manifest in run.kubernetes_objects():
        manifest = secret_string_data_as_data(unwrap_secrets(manifest))
        path = manifest_dir / manifest_file_name(manifest)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as stream:
            yaml.dump(_ordered(manifest), stream, Dumper=_ManifestDumper, sort_keys=False)
        written.append(path)
    return written


def manifest_file_name(manifest: Mapping[str, Any]) -> str:
    """The provider's name: sanitised apiVersion, lower-case kind, namespace ("default" when
    cluster-scoped) and name, with "/" and ":" replaced by "_"."""
    metadata = manifest["metadata"]
    parts = [manifest["apiVersion"], manifest["kind"].lower(), metadata.get("namespace") or "default",
             metadata["name"]]
    return "-".join(part.replace("/", "_").replace(":", "_") for part in parts) + ".yaml"


def unwrap_secrets(value: Any) -> Any:
    """Mocks see Secret data as Pulumi secret envelopes; a manifest holds the plain value."""
    if isinstance(value, dict):
        if value.get(rpc._special_sig_key) == rpc._special_secret_sig:
            return unwrap_secrets(value["value"])
        return {key: unwrap_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(item) for item in value]
    return value


def secret_string_data_as_data(manifest: dict[str, Any]) -> dict[str, Any]:
    """A Secret's stringData as base64 `data`, as the provider writes it in render mode."""
    if manifest["kind"] != "Secret" or "stringData" not in manifest:
        return manifest
    converted = {key: value for key, value in manifest.items() if key != "stringData"}
    converted["data"] = {**manifest.get("data", {}), **{
        key: base64.b64encode(value.encode()).decode() for key, value in manifest["stringData"].items()}}
    return converted


def _ordered(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """apiVersion, kind, metadata first, then every mapping sorted: the same program gives the
    same bytes (the mock monitor hands the keys over in no particular order)."""
    head = ("apiVersion", "kind", "metadata")
    return {**{key: _sorted(manifest[key]) for key in head if key in manifest},
            **{key: _sorted(manifest[key]) for key in sorted(manifest) if key not in head}}


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


class _ManifestDumper(yaml.SafeDumper):
    """Multi-line strings (config files, scripts) as literal blocks, readable in the output."""


def _represent_str(dumper: yaml.SafeDumper, text: str):
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_ManifestDumper.add_representer(str, _represent_str)


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", required=True, help="stack name: dev, prod, lab (Pulumi.<stack>.yaml)")
    parser.add_argument("--out", required=True, type=Path, help="output directory (created 0700)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE", dest="overrides",
                        help="override a config value, as `pulumi config set --path`; repeatable")
    args = parser.parse_args(argv)
    try:
        files = render(args.stack, args.out, [parse_override(text) for text in args.overrides])
    except (RenderError, pulumi.RunError) as err:
        print(f"render_manifests: {err}", file=sys.stderr)
        return 2
    for path in files:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
