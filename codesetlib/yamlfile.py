"""Read YAML files so that a validation error can name the line of the field it concerns."""

from __future__ import annotations

import difflib
import typing
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
        tree = yaml.compose(text)
        _refuse_duplicate_keys(tree, path, error)
        return yaml.safe_load(text), tree
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(f"not valid YAML: {problem}", path=path, line=line) from None


def _refuse_duplicate_keys(node: yaml.Node | None, path: Path, error: type[CodesetError]) -> None:
    """YAML parsers keep the last of two equal keys silently; a codeset file must not have two."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if key.value in seen:
                raise error(
                    "this key is given twice",
                    path=path,
                    line=key.start_mark.line + 1,
                    field=key.value,
                )
            seen.add(key.value)
            _refuse_duplicate_keys(value, path, error)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _refuse_duplicate_keys(item, path, error)


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


def _field_names(model: type[BaseModel], seen: set[type] | None = None) -> set[str]:
    """Every field name of `model` and of the models nested in it."""
    seen = seen if seen is not None else set()
    if model in seen:
        return set()
    seen.add(model)
    names = set(model.model_fields)
    for info in model.model_fields.values():
        for kind in [info.annotation, *typing.get_args(info.annotation)]:
            for inner in [kind, *typing.get_args(kind)]:
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    names |= _field_names(inner, seen)
    return names


def _did_you_mean(location: tuple[str | int, ...], model: type[BaseModel]) -> str:
    """A suggestion for a misspelt field, e.g. " (did you mean 'purpose'?)"."""
    close = difflib.get_close_matches(str(location[-1]), sorted(_field_names(model)), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _message(error: dict, model: type[BaseModel], hints: dict[str, str]) -> str:
    """A validation error in a reader's words, with the value found where that helps."""
    kind, location = error["type"], error["loc"]
    if kind == "extra_forbidden":
        return "unknown field" + _did_you_mean(location, model)
    if kind == "missing":
        return "required field is missing"
    message = error["msg"].removeprefix("Value error, ")
    if kind == "string_pattern_mismatch":
        message = f"expected {hints.get(error['ctx']['pattern'], 'a value of the form ' + error['ctx']['pattern'])}"
    value = error.get("input")
    if kind != "value_error" and isinstance(value, str | int | float | bool):
        message += f" (found {value!r})"
    return message


def validate_yaml(
    path: Path, model: type[M], error: type[CodesetError], hints: dict[str, str] | None = None
) -> M:
    """Load `path` into `model`, turning the first validation problem into one located error.

    `hints` says in words what a field's pattern expects, keyed by the pattern."""
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
        message = _message(first, model, hints or {})
        raise error(
            message, path=path, line=line_of(tree, location), field=field_path(location) or None
        ) from None
