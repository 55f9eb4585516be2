"""Read the text files users hand the kit, turning every way a read can fail into one located error.

A file may be missing, a folder, unreadable, too large or not UTF-8; each becomes the caller's
`CodesetError` subclass naming the file, and for bytes that are not UTF-8 the line and the byte offset,
so that the CLI prints one line instead of a traceback.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path

from codesetlib.core.errors import CodesetError, file_problem


def one_line(text: str) -> str:
    """Text from a user's file quoted in a message, kept to one line: a line break or other control
    character in it (a quoted CSV cell, a YAML key) is written as its escape, e.g. `\\n`."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def read_bytes(path: Path, error: type[CodesetError], *, limit: int | None = None) -> bytes:
    """The bytes of `path`, refusing a file larger than `limit` bytes before reading all of it."""
    try:
        with path.open("rb") as handle:
            data = handle.read() if limit is None else handle.read(limit + 1)
    except OSError as exc:
        raise error(file_problem(exc), path=path) from None
    if limit is not None and len(data) > limit:
        raise error(f"larger than {limit:,} bytes, the most the kit reads in this file", path=path)
    return data


def _undecodable(
    data: bytes, start: int, base: int, path: Path, error: type[CodesetError], line: int
) -> CodesetError:
    return error(
        f"not UTF-8 text: byte 0x{data[start]:02x} at byte offset {base + start} cannot be decoded; "
        "save the file as UTF-8",
        path=path,
        line=line,
    )


def decode(data: bytes, path: Path, error: type[CodesetError]) -> str:
    """`data` as UTF-8 text (a leading byte-order mark is dropped); bad bytes name line and offset."""
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        start = skip + exc.start
        line = data.count(b"\n", 0, start) + 1
        raise _undecodable(data, start, 0, path, error, line) from None


def read_text(path: Path, error: type[CodesetError], *, limit: int | None = None) -> str:
    """The UTF-8 text of `path`, or one error naming the file (and the line and byte of bad bytes)."""
    return decode(read_bytes(path, error, limit=limit), path, error)


def read_json(path: Path, error: type[CodesetError], what: str) -> object:
    """The JSON document at `path`; `error` naming the line and column when it is not JSON (`what`
    says what the file should have been), or when Python cannot hold it (integers of thousands of
    digits, nesting deeper than its stack)."""
    text = read_text(path, error)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(
            f"not {what}: not JSON ({exc.msg}, column {exc.colno})", path=path, line=exc.lineno
        ) from None
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
        raise error(f"not JSON the kit can read: {reason}", path=path) from None


def text_lines(path: Path, error: type[CodesetError]) -> Iterator[str]:
    """The lines of `path` (line endings kept) decoded one at a time, for files too large to hold."""
    offset = 0
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                skip = (
                    len(codecs.BOM_UTF8) if number == 1 and raw.startswith(codecs.BOM_UTF8) else 0
                )
                try:
                    yield raw[skip:].decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise _undecodable(raw, skip + exc.start, offset, path, error, number) from None
                offset += len(raw)
    except OSError as exc:
        raise error(file_problem(exc), path=path) from None
