"""Read YAML files so that a validation error can name the line of the field it concerns."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from codesetlib.errors import CodesetError

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, error: type[CodesetError]) -> tuple[Any, yaml.Node | None]:
    """The parsed document and its node tree (for line numbers); a syntax error names its line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error("file not found", path=path) from None
    except UnicodeDecodeError as exc:
        raise error(f"not UTF-8 text ({exc.reason})", path=path) from None
    try:
        return yaml.safe_load(text), yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"not valid YAML: {problem}", path=path, line=line) from None


def line_of(node: yaml.Node | None, location: tuple[str | int, ...]) -> int | None:
    """The 1-based line of the value at `location` in the node tree, or of its nearest parent."""
    line = node.start_mark.line + 1 if node is not None else None
    for key in location:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            node = None
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def field_path(location: tuple[str | int, ...]) -> str:
    """A validation location written as a reader would: `rules[2].concept`."""
    out = ""
    for key in location:
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else str(key))
    return out


def _did_you_mean(location: tuple[str | int, ...], model: type[BaseModel]) -> str:
    """A suggestion for a misspelt top-level field, e.g. " (did you mean 'purpose'?)"."""
    if len(location) != 1:
        return ""
    close = difflib.get_close_matches(str(location[0]), list(model.model_fields), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def validate_yaml(path: Path, model: type[M], error: type[CodesetError]) -> M:
    """Load `path` into `model`, turning the first validation problem into one located error."""
    data, tree = read_yaml(path, error)
    if not isinstance(data, dict):
        raise error("expected a mapping of fields at the top level", path=path, line=1)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        # An unknown field is usually a misspelt known one: report it before the "missing" it causes.
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        first = errors[0]
        location = tuple(k for k in first["loc"] if not isinstance(k, str) or "[" not in k)
        message = first["msg"].removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = "unknown field" + _did_you_mean(location, model)
        elif first["type"] == "missing":
            message = "required field is missing"
        raise error(
            message, path=path, line=line_of(tree, location), field=field_path(location) or None
        ) from None
