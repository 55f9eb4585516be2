"""Read YAML files so that a validation error can name the line of the field it concerns."""

from __future__ import annotations

import difflib
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from codesetlib.core.errors import CodesetError
from codesetlib.core.textfiles import one_line, read_text

M = TypeVar("M", bound=BaseModel)
# Limits that keep a hostile file from taking minutes or gigabytes. The largest file the kit ships is
# under 15 kB with a few thousand values; these leave room for codesets a hundred times larger.
MAX_YAML_BYTES = 1_000_000
MAX_YAML_VALUES = 200_000
MAX_YAML_DEPTH = 64


class _Refused(yaml.MarkedYAMLError):
    """A document the kit will not load: too deep, too large once its aliases are expanded, or with a
    value out of range; its problem is the whole message."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, counting values as it composes the document, each alias counted as the
    whole value it names, so that an alias bomb (`a: &a [x, x]`, `b: &b [*a, *a]`, ...) is refused as
    soon as it passes the limit instead of being expanded first."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.values = 0
        self.depth = 0
        self.sizes: dict[str, int] = {}

    def _count(self, values: int, mark: yaml.Mark) -> None:
        self.values += values
        if self.values > MAX_YAML_VALUES:
            raise _Refused(
                problem=f"too large: more than {MAX_YAML_VALUES:,} values once its aliases are expanded",
                problem_mark=mark,
            )

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if event.anchor not in self.sizes:
                raise _Refused(
                    problem=f"alias *{event.anchor} is inside the value it names, without end",
                    problem_mark=event.start_mark,
                )
            self._count(self.sizes[event.anchor], event.start_mark)
            return node
        self.depth += 1
        if self.depth > MAX_YAML_DEPTH:
            raise _Refused(
                problem=f"nested more than {MAX_YAML_DEPTH} levels deep",
                problem_mark=event.start_mark,
            )
        before = self.values
        self._count(1, event.start_mark)
        node = super().compose_node(parent, index)
        self.depth -= 1
        if event.anchor is not None:
            self.sizes[event.anchor] = self.values - before
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # A value that matches a tag's pattern but cannot be built (2024-13-45, an integer of
        # thousands of digits, an empty `!!int`) fails in PyYAML's constructors with ValueError,
        # IndexError and the like: whatever the exception, it is about this value, so say so here.
        try:
            return super().construct_object(node, deep)
        except yaml.YAMLError:
            raise
        except Exception as exc:
            reason = str(exc).split(";")[0] or type(exc).__name__
            raise _Refused(
                problem=f"cannot read this value: {one_line(reason)}", problem_mark=node.start_mark
            ) from None


def read_yaml(path: Path, error: type[CodesetError]) -> tuple[Any, yaml.Node | None]:
    """The parsed document and its node tree (for line numbers); a syntax error names its line.

    A file larger than MAX_YAML_BYTES, nested deeper than MAX_YAML_DEPTH or holding more than
    MAX_YAML_VALUES values once its aliases are expanded is refused before it is loaded."""
    text = read_text(path, error, limit=MAX_YAML_BYTES)
    loader = None
    try:
        loader = _BoundedLoader(text)
        tree = loader.get_single_node()
        _refuse_duplicate_keys(tree, path, error)
        return (loader.construct_document(tree) if tree is not None else None), tree
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        raise error(
            f"not valid YAML: character #x{exc.character:04x} is not allowed", path=path, line=line
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = one_line(getattr(exc, "problem", None) or str(exc))
        message = problem if isinstance(exc, _Refused) else f"not valid YAML: {problem}"
        raise error(message, path=path, line=line) from None
    finally:
        if loader is not None:
            loader.dispose()


def _refuse_duplicate_keys(node: yaml.Node | None, path: Path, error: type[CodesetError]) -> None:
    """YAML parsers keep the last of two equal keys silently; a codeset file must not have two.

    Each node is visited once, however many aliases name it."""
    seen_nodes: set[int] = set()
    waiting = [node]
    while waiting:
        node = waiting.pop()
        if node is None or id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        raise error(
                            "this key is given twice",
                            path=path,
                            line=key.start_mark.line + 1,
                            field=one_line(key.value),
                        )
                    seen.add(key.value)
                waiting += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            waiting += node.value


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
        key = key if isinstance(key, int) else one_line(str(key))
        out += f"[{key}]" if isinstance(key, int) else (f".{key}" if out else key)
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
