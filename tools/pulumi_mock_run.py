"""Run the Pulumi program (`__main__.py`) under Pulumi mocks and record what it registers.

Used by the manifest renderer and the unit tests: no engine, no cluster. Each run happens in its
own copy of the context, because the Pulumi runtime keeps its settings, config and root stack in
context variables; nothing leaks from one run into the next.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import runpy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Union

import pulumi
import yaml
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.stack import run_pulumi_func

from stack_config import StackConfig, load_stack_config, names

REPO = Path(__file__).resolve().parent.parent
PROGRAM = REPO / "__main__.py"
PROVIDER_TYPE = "pulumi:providers:kubernetes"
STACK_REFERENCE_TYPE = "pulumi:pulumi:StackReference"


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every registration; returns the inputs as state, as the provider would echo them.
    A StackReference (the program reads its own stack's outputs) answers `deployed_outputs`: the
    outputs of a previous `pulumi up`, none by default."""

    def __init__(self, deployed_outputs: Optional[Mapping[str, Any]] = None) -> None:
        self.registrations: list[pulumi.runtime.MockResourceArgs] = []
        self.deployed_outputs = dict(deployed_outputs or {})

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        self.registrations.append(args)
        if args.typ == STACK_REFERENCE_TYPE:
            return f"{args.name}-id", {**args.inputs, "outputs": self.deployed_outputs, "secretOutputNames": []}
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}


@dataclass
class ProgramRun:
    """What one run of the program registered and exported."""

    stack: str
    registrations: list[pulumi.runtime.MockResourceArgs]
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)

    def kubernetes_objects(self) -> list[dict[str, Any]]:
        """Every Kubernetes object, as the manifest the provider would send (camelCase wire form)."""
        return [_as_manifest(reg) for reg in self.registrations
                if reg.custom and reg.typ.startswith("kubernetes:")]

    def object(self, kind: str, name: str) -> dict[str, Any]:
        matches = [o for o in self.kubernetes_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
        if len(matches) != 1:
            raise LookupError(f"expected one {kind} {name!r}, found {len(matches)}")
        return matches[0]

    def providers(self) -> list[pulumi.runtime.MockResourceArgs]:
        return [reg for reg in self.registrations if reg.typ == PROVIDER_TYPE]

    def components(self) -> list[pulumi.runtime.MockResourceArgs]:
        # A StackReference is read, not registered: the mocks see it without `custom`.
        return [reg for reg in self.registrations if not reg.custom and reg.typ != STACK_REFERENCE_TYPE]


def _as_manifest(reg: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
    _, api_path, kind = reg.typ.split(":")
    group_version = api_path.removeprefix("core/")
    manifest = {"apiVersion": group_version, "kind": kind}
    manifest.update({key: value for key, value in reg.inputs.items() if key not in ("apiVersion", "kind")})
    return _whole_numbers_as_int(manifest)


def _whole_numbers_as_int(value: Any) -> Any:
    """The mock monitor decodes every number as a float (protobuf Struct); the provider sends
    Kubernetes integers as integers (replicas: 3, not 3.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers_as_int(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers_as_int(item) for item in value]
    return value


def stack_file_config(stack: str, repo: Path = REPO) -> dict[str, Any]:
    """The project's config values of Pulumi.<stack>.yaml, keyed without the project prefix."""
    document = yaml.safe_load((repo / f"Pulumi.{stack}.yaml").read_text()) or {}
    prefix = f"{names.PROJECT}:"
    return {key.removeprefix(prefix): value for key, value in (document.get("config") or {}).items()
            if key.startswith(prefix)}


def stack_config(stack: str, repo: Path = REPO) -> StackConfig:
    """The validated config of Pulumi.<stack>.yaml (passwords are not part of it)."""
    return load_stack_config(stack_file_config(stack, repo), stack)


def set_path(values: dict[str, Any], dotted: str, value: Any) -> None:
    """`pulumi config set --path a.b.c value` on a dict of decoded config values."""
    head, *rest = dotted.split(".")
    if not rest:
        values[head] = value
        return
    child = values.get(head)
    if not isinstance(child, dict):
        child = {}
        values[head] = child
    set_path(child, ".".join(rest), value)


def run_program(stack: str, config: Mapping[str, Any], secrets: Mapping[str, str],
                *, preview: bool = False, program: Union[Path, Callable[[], None]] = PROGRAM,
                deployed_outputs: Optional[Mapping[str, Any]] = None) -> ProgramRun:
    """Run `program` (the program file, or a function that creates resources) once under mocks
    with the given decoded config values and secret values; `deployed_outputs` are the stack
    outputs of the last `pulumi up`, as the program reads them back."""
    return contextvars.copy_context().run(_run_isolated, stack, dict(config), dict(secrets), preview, program,
                                          deployed_outputs)


def _run_isolated(stack: str, config: dict[str, Any], secrets: dict[str, str], preview: bool,
                  program: Union[Path, Callable[[], None]],
                  deployed_outputs: Optional[Mapping[str, Any]] = None) -> ProgramRun:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    failed = False
    try:
        pulumi_settings.ROOT.set(None)
        all_config = {f"{names.PROJECT}:{key}": _config_text(value) for key, value in config.items()}
        all_config.update({f"{names.PROJECT}:{key}": value for key, value in secrets.items()})
        pulumi.runtime.set_all_config(all_config, secret_keys=[f"{names.PROJECT}:{key}" for key in secrets])
        mocks = RecordingMocks(deployed_outputs)
        warnings: list[str] = []
        pulumi.runtime.set_mocks(mocks, project=names.PROJECT, stack=stack, preview=preview,
                                 logger=_warning_logger(warnings))
        body = program if callable(program) else (lambda: runpy.run_path(str(program), run_name="__main__"))
        loop.run_until_complete(run_pulumi_func(body))
        outputs, secret_outputs = loop.run_until_complete(_resolve_outputs())
        return ProgramRun(stack, mocks.registrations, outputs, secret_outputs, warnings)
    except BaseException:
        failed = True
        raise
    finally:
        if failed:
            # The caller has the run's error. The Outputs it failed stay unawaited in this loop,
            # and their garbage collection would log each one again, hundreds of tracebacks at
            # the end of a test session; their tasks are cancelled and the loop stays silent.
            loop.set_exception_handler(lambda _loop, _context: None)
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        # The runtime keeps Outputs that failed (a refused run) in a process-wide set until the
        # program exits; they belong to this run's loop, which the next run must not await.
        with pulumi_settings.SETTINGS.lock:
            pulumi_settings.SETTINGS.outputs.clear()
        asyncio.set_event_loop(None)
        loop.close()


def _config_text(value: Any) -> str:
    """Config values reach the program as strings; structured ones as JSON (get_object decodes them)."""
    return value if isinstance(value, str) else json.dumps(value)


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(level=logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


def _warning_logger(sink: list[str]) -> logging.Logger:
    """The mock engine hands `pulumi.log.warn` to a logger: collect this run's warnings in `sink`."""
    logger = logging.getLogger(f"{__name__}.run{id(sink)}")
    logger.propagate = False
    logger.handlers[:] = [_ListHandler(sink)]
    return logger


async def _resolve_outputs() -> tuple[dict[str, Any], set[str]]:
    root = pulumi_settings.get_root_resource()
    resolved, secret = {}, set()
    for key, value in getattr(root, "outputs", {}).items():
        output = pulumi.Output.from_input(value)
        resolved[key] = await output.future(with_unknowns=True)
        if await output.is_secret():
            secret.add(key)
    return resolved, secret

