"""python -m smoke: the post-deploy smoke check of the Gateway's Sentinel cluster and the cache.

Targets, one of:
  --manifests DIR        rendered manifests (addresses, expectations and, from their Secrets, passwords)
  --stack-outputs FILE   `pulumi stack output --json` saved to FILE ('-' = stdin), plus the expectations
                         that the outputs do not carry (--cache-maxmemory-policy, --cache-maxmemory)
  --sentinel H:P ...     flags only (see --help)
Passwords: REDIS_PASSWORD, SENTINEL_PASSWORD, CACHE_PASSWORD in the environment, or
--redis-password-file/--sentinel-password-file/--cache-password-file (a mounted Secret); never argv.
A password given means that auth is expected to be enforced there.

Sentinel hands out in-cluster names, so the check must run where they resolve: inside the
namespace, as a Job (smoke/job.py makes it; docs/lab.md shows it; `python -m lab.deploy smoke`
runs it on the lab cluster).

Exit status: 0 all checks pass, 1 some failed (named on stderr), 2 the targets are unusable.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Optional

from . import targets as targets_module
from .invariants import CHECKS, NOT_CONFIGURED, Report, check_all, wait_until_healthy
from .targets import (
    DEFAULT_REDIS_PORT, DEFAULT_REPLICATION_BOUND_SECONDS, DEFAULT_SENTINEL_PORT, Address, Passwords, Targets,
    TargetsError,
)



def main(argv: Optional[list[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        targets, passwords = _targets(args)
        targets_module.require_passwords(targets, passwords)
    except (TargetsError, OSError, ValueError, KeyError) as err:
        print(f"smoke: {err}", file=sys.stderr)
        return 2
    if args.wait:
        # Settle first on every check (a cluster DNS may answer with a recreated pod's old address
        # for up to its cache TTL, and until then Sentinel counts that replica as down and hands
        # out one replica fewer), then report one run of every check.
        wait_until_healthy(targets, passwords, args.wait, checks=CHECKS)
    report = check_all(targets, passwords)
    _print(report, args.json)
    return 0 if report.ok else 1


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m smoke", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group()
    source.add_argument("--manifests", type=Path, help="directory of rendered manifests")
    source.add_argument("--stack-outputs", help="`pulumi stack output --json` in a file, or - for stdin")
    source.add_argument("--targets-json", help=argparse.SUPPRESS)
    p.add_argument("--sentinel", action="append", default=[], metavar="HOST[:PORT]")
    p.add_argument("--master-set")
    p.add_argument("--replicas", type=int, help="expected Redis pods (default: number of sentinels)")
    p.add_argument("--redis-port", type=int, default=DEFAULT_REDIS_PORT)
    p.add_argument("--master-endpoint", metavar="HOST[:PORT]", help="the master-only endpoint (redis-gateway-ha)")
    p.add_argument("--cache-endpoint", metavar="HOST[:PORT]")
    p.add_argument("--cache-maxmemory-policy")
    p.add_argument("--cache-maxmemory", help="bytes, or a redis.conf value such as 384mb")
    p.add_argument("--redis-setting", action="append", default=[], metavar="KEY=VALUE",
                   help=f"a setting every gateway Redis must run ({', '.join(targets_module.REDIS_SETTINGS)}; "
                        "maxmemory in bytes); anything else is reported as drift")
    p.add_argument("--sentinel-setting", action="append", default=[], metavar="KEY=VALUE",
                   help=f"a setting of the master set every sentinel must run "
                        f"({', '.join(targets_module.SENTINEL_SETTINGS)})")
    p.add_argument("--replication-bound", type=float, default=None,
                   help=f"seconds a write may take to reach every replica (default: min-replicas-max-lag, "
                        f"{DEFAULT_REPLICATION_BOUND_SECONDS:.0f})")
    p.add_argument("--redis-password-file", type=Path)
    p.add_argument("--sentinel-password-file", type=Path)
    p.add_argument("--cache-password-file", type=Path)
    p.add_argument("--json", action="store_true", help="the report as JSON on stdout")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="first wait up to SECONDS for the state checks to pass (right after a deploy or a "
                        "pod's recreation, when cluster DNS may still hand out old addresses; 60 covers "
                        "CoreDNS' usual 30 s cache)")
    return p


# ---------------------------------------------------------------------------- targets

def _targets(args) -> tuple[Targets, Passwords]:
    files = {"redis": args.redis_password_file, "sentinel": args.sentinel_password_file,
             "cache": args.cache_password_file}
    passwords = targets_module.passwords_from(os.environ, files)
    if args.targets_json:
        return Targets.from_json(args.targets_json), passwords
    if args.manifests:
        targets, from_secrets = targets_module.from_manifest_objects(_read_manifests(args.manifests))
        return _override(targets, args), from_secrets
    expected = _expected_from_flags(args, passwords)
    if args.stack_outputs:
        text = sys.stdin.read() if args.stack_outputs == "-" else Path(args.stack_outputs).read_text()
        targets = targets_module.from_stack_outputs(json.loads(text), **expected)
        return _override(targets, args).check(), passwords
    sentinels = tuple(Address.parse(s, DEFAULT_SENTINEL_PORT) for s in args.sentinel)
    values = {"sentinels": sentinels, "master_set": args.master_set or "", "replicas": len(sentinels), **expected}
    return _override(Targets(**values), args).check(), passwords


def _expected_from_flags(args, passwords: Passwords) -> dict[str, Any]:
    return {
        "cache_maxmemory_policy": args.cache_maxmemory_policy,
        "cache_maxmemory": targets_module.redis_bytes(args.cache_maxmemory) if args.cache_maxmemory else None,
        "redis_settings": _settings(args.redis_setting, targets_module.REDIS_SETTINGS, "--redis-setting"),
        "sentinel_settings": _settings(args.sentinel_setting, targets_module.SENTINEL_SETTINGS, "--sentinel-setting"),
        "redis_auth": passwords.redis is not None,
        "sentinel_auth": passwords.sentinel is not None,
        "cache_auth": passwords.cache is not None,
    }


def _settings(pairs: list[str], known: tuple[str, ...], flag: str) -> Optional[dict[str, str]]:
    settings = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in known:
            raise TargetsError(f"{flag} {pair!r}: expected KEY=VALUE with KEY one of {', '.join(known)}")
        settings[key] = value
    return settings or None


def _override(targets: Targets, args) -> Targets:
    """Flags given explicitly win over what the manifests or outputs say."""
    changes: dict[str, Any] = {}
    if args.sentinel:
        changes["sentinels"] = tuple(Address.parse(s, DEFAULT_SENTINEL_PORT) for s in args.sentinel)
    if args.master_set:
        changes["master_set"] = args.master_set
    if args.replicas:
        changes["replicas"] = args.replicas
    if args.redis_port != DEFAULT_REDIS_PORT:
        changes["redis_port"] = args.redis_port
    if args.master_endpoint:
        changes["master_endpoint"] = Address.parse(args.master_endpoint, DEFAULT_REDIS_PORT)
    if args.cache_endpoint:
        changes["cache_endpoint"] = Address.parse(args.cache_endpoint, DEFAULT_REDIS_PORT)
    if args.replication_bound is not None:
        changes["replication_bound_seconds"] = args.replication_bound
    values = {**targets.__dict__, **changes}
    return Targets(**values)


def _read_manifests(root: Path) -> list[dict[str, Any]]:
    import yaml  # host side only: the client image has no PyYAML, and needs none with --targets-json

    objects = []
    for path in sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()):
        objects += [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict) and d.get("metadata")]
    if not objects:
        raise TargetsError(f"{root}: no manifests found")
    return objects


# ---------------------------------------------------------------------------- output

def _print(report: Report, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.as_dict(), indent=1, default=str))
    else:
        width = max(len(c.name) for c in report.checks)
        print(f"{'CHECK':{width}}  STATUS  DETAIL")
        for check in report.checks:
            print(f"{check.name:{width}}  {check.status:6}  {check.detail}")
    sys.stdout.flush()  # the table before the verdict, also when both go to one pipe
    if report.ok:
        skipped = [c.name for c in report.checks if c.status == NOT_CONFIGURED]
        note = f" (not configured: {', '.join(skipped)})" if skipped else ""
        print(f"smoke: all {len(report.checks) - len(skipped)} checks passed{note}", file=sys.stderr)
    else:
        print(f"smoke: FAILED: {', '.join(report.failed)}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
