"""Turn pydantic's errors into one line per problem: `<key path>: got <value>; <what is allowed>`.

Operators read these lines in `pulumi up` output, so they name YAML keys (camelCase), the value
that was given and the rule, never pydantic internals.
"""

from __future__ import annotations

import json
from types import UnionType
from typing import Any, Iterable, Optional, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from .models import PROBLEMS_ERROR_TYPE

_MAX_SHOWN_VALUE = 60


class ConfigError(ValueError):
    """Invalid stack config; `problems` holds one human-readable line per problem."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def show_value(value: Any) -> str:
    """Compact rendering of a given value: JSON where possible, shortened."""
    try:
        text = json.dumps(value, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _MAX_SHOWN_VALUE else text[: _MAX_SHOWN_VALUE - 3] + "..."


def problem_line(path: str, given: Any, rule: str) -> str:
    return f"{path or '(root)'}: got {show_value(given)}; {rule}"


def format_validation_error(err: ValidationError, root: type[BaseModel]) -> list[str]:
    lines: list[str] = []
    for item in err.errors(include_url=False):
        lines.extend(_lines_for(item, root))
    return lines


def _lines_for(item: dict, root: type[BaseModel]) -> list[str]:
    loc = tuple(str(part) for part in item["loc"])
    path = _path_text(item["loc"])
    kind = item["type"]
    if kind == PROBLEMS_ERROR_TYPE:
        return [problem_line(_join(path, sub), given, rule) for sub, given, rule in item["ctx"]["problems"]]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(root, loc[:-1])
        return [f"{path}: unknown key; allowed keys: {', '.join(allowed)}"]
    if kind == "missing":
        return [f"{path}: missing; this key is required"]
    return [problem_line(path, item.get("input"), _rule_text(item))]


def _path_text(loc: tuple) -> str:
    """`gateway.persistence.rdbSchedule[1]`: list positions in brackets, keys joined by dots."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _join(prefix: str, suffix: str) -> str:
    return ".".join(p for p in (prefix, suffix) if p)


def _rule_text(item: dict) -> str:
    kind, msg = item["type"], item["msg"]
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a mapping of keys"
    if msg.startswith("Input should be "):
        return "must be " + msg.removeprefix("Input should be ")
    return msg[:1].lower() + msg[1:]


def _allowed_keys(root: type[BaseModel], loc: tuple[str, ...]) -> list[str]:
    model = _model_at(root, loc)
    if model is None:
        return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_at(model: type[BaseModel], loc: tuple[str, ...]) -> Optional[type[BaseModel]]:
    """The model class that sits at `loc` (a path of aliases and list positions), following nested
    model fields, list items and Optional ones."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = next((f for n, f in current.model_fields.items() if part in (n, f.alias)), None)
            current = getattr(field, "annotation", None)
        elif get_origin(current) is list and part.isdigit():
            current = get_args(current)[0]
        else:
            return None
        if get_origin(current) in (Union, UnionType):  # Optional[Model]
            current = next((a for a in get_args(current) if a is not type(None)), None)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None
