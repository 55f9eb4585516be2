"""Release files where users keep them: in a folder, in a zip, or in a zip inside a zip.

A `ReleaseFile` is one file of a release wherever it lies, opened as a stream of bytes: a member of a zip
is decompressed as it is read and never extracted to disk. A zip nested in another (a TRUD download
holding the release zip) is read in place when it is stored uncompressed, and otherwise copied once to
an anonymous temporary file, since a compressed member cannot be read at random. Every failure to read
a zip is a `MalformedRelease` naming the zip and the member.
"""

from __future__ import annotations

import io
import shutil
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from codesetlib.core.errors import file_problem
from codesetlib.core.textfiles import one_line
from codesetlib.terminology.base import MalformedRelease

# How deep zips inside zips are followed; a release is never more than a download around a zip.
MAX_NESTING = 3
_LOCAL_HEADER = 30
_READING = (zipfile.BadZipFile, zlib.error, EOFError)
_UNREADABLE = (*_READING, NotImplementedError, RuntimeError)


@dataclass(frozen=True)
class ReleaseFile:
    """One file of a release: the file at `path`, or the member reached through the zip at `path` by
    `members` (the zips nested inside it, then the file)."""

    path: Path
    members: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return PurePosixPath(self.members[-1]).name if self.members else self.path.name

    @property
    def parts(self) -> tuple[str, ...]:
        """Every folder on the way to the file, through the zips, then its name."""
        inner = (p for member in self.members for p in PurePosixPath(member).parts)
        return (*self.path.parts, *inner)

    @property
    def in_zip(self) -> bool:
        return bool(self.members)

    def __str__(self) -> str:
        return "!/".join([str(self.path), *self.members])

    def __fspath__(self) -> str:
        return str(self)

    @contextmanager
    def open(self, mode: str = "rb") -> Iterator[IO[bytes]]:
        """The file's bytes as a stream (`mode` is always binary reading)."""
        if not self.members:
            with self.path.open("rb") as handle:
                yield handle
            return
        with ExitStack() as stack:
            archive = stack.enter_context(open_zip(self.path))
            for depth, nested in enumerate(self.members[:-1], start=1):
                where = ReleaseFile(self.path, self.members[:depth])
                archive = stack.enter_context(_nested_zip(archive, nested, where))
            try:
                stream = stack.enter_context(archive.open(self.members[-1]))
            except KeyError:
                raise MalformedRelease("no such member in the zip", path=str(self)) from None
            except _UNREADABLE as error:
                raise _zip_error(error, self) from None
            try:
                yield stream
            except _READING as error:
                # A damaged member shows only when its bytes are read (a bad CRC, a broken stream).
                raise _zip_error(error, self) from None


def _zip_error(error: BaseException, where: object) -> MalformedRelease:
    return MalformedRelease(f"cannot be read from the zip: {one_line(str(error))}", path=str(where))


def is_zip(path: Path) -> bool:
    """True when `path` is a file named `*.zip` (its content is checked when it is read)."""
    return path.suffix.lower() == ".zip" and path.is_file()


@contextmanager
def open_zip(path: Path) -> Iterator[zipfile.ZipFile]:
    """The zip at `path`, or a `MalformedRelease` naming it."""
    try:
        archive = zipfile.ZipFile(path)
    except OSError as error:
        raise MalformedRelease(file_problem(error), path=path) from None
    except _UNREADABLE as error:
        raise MalformedRelease(
            f"not a zip that can be read ({one_line(str(error))})", path=path
        ) from None
    with archive:
        yield archive


class _Window(io.RawIOBase):
    """`size` bytes of `raw` from `start`: a stored member read in place, as a file of its own."""

    def __init__(self, raw: IO[bytes], start: int, size: int) -> None:
        self._raw, self._start, self._size, self._position = raw, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self._size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        wanted = min(len(buffer), self._size - self._position)
        if wanted <= 0:
            return 0
        # The stream under the window is shared with the zip around it: always seek first.
        self._raw.seek(self._start + self._position)
        data = self._raw.read(wanted)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)


@contextmanager
def _nested_zip(
    archive: zipfile.ZipFile, name: str, where: ReleaseFile
) -> Iterator[zipfile.ZipFile]:
    with ExitStack() as stack:
        try:
            info = archive.getinfo(name)
            if info.compress_type == zipfile.ZIP_STORED and archive.fp is not None:
                fp = archive.fp
                fp.seek(info.header_offset)
                header = fp.read(_LOCAL_HEADER)
                if header[:4] != b"PK\x03\x04":
                    raise zipfile.BadZipFile("bad local file header")
                name_length, extra_length = struct.unpack("<HH", header[26:30])
                start = info.header_offset + _LOCAL_HEADER + name_length + extra_length
                stream: IO[bytes] = io.BufferedReader(_Window(fp, start, info.file_size), 1 << 20)
            else:
                stream = stack.enter_context(tempfile.TemporaryFile())
                with archive.open(name) as member:
                    shutil.copyfileobj(member, stream, 1 << 20)
                stream.seek(0)
            yield stack.enter_context(zipfile.ZipFile(stream))
        except KeyError:
            raise MalformedRelease("no such member in the zip", path=str(where)) from None
        except _UNREADABLE as error:
            raise _zip_error(error, where) from None


def zip_members(path: Path) -> list[ReleaseFile]:
    """Every file in the zip at `path`, and in the zips inside it, in the order they are stored."""
    with open_zip(path) as archive:
        return _members(path, archive, (), 1)


def _members(
    path: Path, archive: zipfile.ZipFile, within: tuple[str, ...], depth: int
) -> list[ReleaseFile]:
    found: list[ReleaseFile] = []
    for info in archive.infolist():
        if info.is_dir():
            continue
        member = ReleaseFile(path, (*within, info.filename))
        if info.filename.lower().endswith(".zip") and depth < MAX_NESTING:
            with _nested_zip(archive, info.filename, member) as inner:
                found += _members(path, inner, member.members, depth + 1)
        else:
            found.append(member)
    return found


def folder_files(path: Path) -> list[ReleaseFile]:
    """Every file under the folder `path`, in name order."""
    try:
        return [ReleaseFile(p) for p in sorted(path.rglob("*")) if p.is_file()]
    except OSError as error:
        raise MalformedRelease(file_problem(error), path=path) from None
