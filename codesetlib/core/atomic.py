"""Writes that are whole or not at all, and the refusal to replace what the kit did not write.

A file is written to a temporary name in its own folder (so the rename cannot cross file systems),
flushed to disk and renamed over the target; a folder is built beside its target and swapped in. The
temporary file or folder is removed however the write ends, an interrupt included, so a failed write
leaves the target as it was and nothing beside it. A write that fails for a reason of the file system
(no such folder, no permission, a folder where a file should be) is a `CodesetError` naming the path.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from codesetlib.core.errors import CodesetError, file_problem

# renameat2(2)'s flag to swap two paths in one step (Linux 3.15 and later).
RENAME_EXCHANGE = 2
AT_FDCWD = -100


def write_error(path: Path, exc: OSError) -> CodesetError:
    """The error for a write to `path` that the file system refused."""
    return CodesetError(file_problem(exc, writing=True), path=path)


def _new_file_mode(path: Path) -> int:
    """The mode the written file gets: the replaced file's, or what the umask gives a new file."""
    with contextlib.suppress(OSError):
        if path.is_file() and not path.is_symlink():
            return path.stat().st_mode & 0o7777
    return 0o666 & ~_umask()


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _new_folder_mode() -> int:
    return 0o777 & ~_umask()


def _sync_files(folder: Path) -> None:
    """Flush every file below `folder` to disk, so that the folder put in place is whole on disk too."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
    _sync_folder(folder)


def _sync_folder(folder: Path) -> None:
    """Flush a folder's entries (the rename) to disk where the platform allows it."""
    with contextlib.suppress(OSError):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _temporary_file(path: Path) -> tuple[int, str]:
    """A new temporary file for `path` (descriptor and name): hidden, beside it, ending in its suffix
    (tools such as papermill judge a file by its suffix)."""
    return tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent)


def check_file_target(path: Path) -> None:
    """Refuse a target that is a folder, or whose folder is missing or is a file, naming which."""
    if path.is_dir() and not path.is_symlink():
        raise CodesetError("is a folder, where a file was to be written", path=path)
    parent = path.parent
    if not parent.exists():
        raise CodesetError(f"no folder {parent} to write into", path=path)
    if not parent.is_dir():
        above = next(p for p in [parent, *parent.parents] if p.exists())
        raise CodesetError(f"{above} is not a folder", path=path)


def write_bytes(path: Path, data: bytes) -> Path:
    """Write `data` to `path` whole or not at all (temporary file, fsync, rename)."""
    with file_written_whole(path) as temporary, temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


def write_text(path: Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` whole or not at all."""
    return write_bytes(path, text.encode("utf-8"))


@contextlib.contextmanager
def file_written_whole(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` for a writer that needs a file name (a notebook run, say): it
    becomes `path` when the block ends without error, and is removed when it does not."""
    path = Path(path)
    check_file_target(path)
    try:
        descriptor, name = _temporary_file(path)
    except OSError as exc:
        raise write_error(path, exc) from None
    os.close(descriptor)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _new_file_mode(path))
        os.replace(temporary, path)
    except BaseException as exc:
        temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise write_error(path, exc) from None
        raise
    _sync_folder(path.parent)


class StagedFolder:
    """A hidden folder beside `target` to build what will replace it: `commit` puts it in place whole,
    `abandon` removes it and the folders above it that were made for it."""

    def __init__(self, target: Path) -> None:
        self.target = Path(target)
        missing = [p for p in self.target.parents if not p.exists() and not p.is_symlink()]
        self.made: list[Path] = []
        try:
            for folder in reversed(missing):
                folder.mkdir()
                self.made.append(folder)
            self.path = Path(
                tempfile.mkdtemp(
                    prefix=f".{self.target.name}.", suffix=".tmp", dir=self.target.parent
                )
            )
        except OSError as exc:
            self._remove_made()
            above = next((p for p in self.target.parents if p.exists() and not p.is_dir()), None)
            if above is not None:
                raise CodesetError(f"{above} is not a folder", path=self.target) from None
            raise write_error(self.target, exc) from None

    def commit(self) -> None:
        replace_folder(self.path, self.target)

    def abandon(self) -> None:
        remove(self.path)
        self._remove_made()

    def _remove_made(self) -> None:
        for folder in reversed(self.made):
            with contextlib.suppress(OSError):
                folder.rmdir()  # only while empty: something else may have been put there since


@contextlib.contextmanager
def folder_written_whole(target: Path) -> Iterator[Path]:
    """A hidden folder to fill; it takes the place of `target` when the block ends without error, and
    is removed (with any folder made for it) when it does not."""
    staged = StagedFolder(target)
    try:
        yield staged.path
        staged.commit()
    except BaseException:
        staged.abandon()
        raise


def remove(path: Path) -> None:
    """Remove a file, link or folder (what a failed or replaced write leaves), whichever it is."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths in one step with renameat2; False where the system cannot."""
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is None:
        return False
    done = renameat2(AT_FDCWD, os.fsencode(first), AT_FDCWD, os.fsencode(second), RENAME_EXCHANGE)
    if done == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(second))


def replace_folder(staging: Path, target: Path) -> None:
    """Put the folder `staging` in the place of `target` (absent, a file or a folder) in one step,
    and remove what was there. Where the system cannot swap two paths at once, the old target is
    moved aside first and moved back if the second rename fails."""
    staging, target = Path(staging), Path(target)
    try:
        _sync_files(staging)
        mode = target.stat().st_mode if target.is_dir() and not target.is_symlink() else None
        os.chmod(staging, (mode & 0o7777) if mode is not None else _new_folder_mode())
        if not target.exists() and not target.is_symlink():
            os.rename(staging, target)
        elif _exchange(staging, target):
            remove(staging)  # it now holds what `target` held
        else:
            aside = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.rename(target, aside / target.name)
            try:
                os.rename(staging, target)
            except BaseException:
                os.rename(aside / target.name, target)
                raise
            finally:
                remove(aside)
    except OSError as exc:
        raise write_error(target, exc) from None
    _sync_folder(target.parent)


def holds_current_folder(path: Path) -> bool:
    """Whether `path` is the current folder or one above it (replacing it would remove where the
    command runs)."""
    resolved = Path(path).resolve()
    here = Path.cwd().resolve()
    return resolved == here or resolved in here.parents


def refuse_existing(
    path: Path,
    *,
    force: bool,
    not_owned: Callable[[Path], str | None] | None = None,
    replace_with: str = "it",
    error: type[CodesetError] = CodesetError,
) -> None:
    """Refuse to replace `path` unless it is absent, the kit wrote it, or `force` is given.

    `not_owned(path)` says why an existing `path` is not the kit's (None when it is); without it
    nothing that exists is the kit's. A path holding the current folder is refused even when forced.
    The refusal is an `error`."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return
    if holds_current_folder(path):
        raise error(
            "refusing to replace it: it holds the current folder; name a new folder", path=path
        )
    reason = "exists already" if not_owned is None else not_owned(path)
    if reason is None or force:
        return
    raise error(
        f"{reason}; refusing to replace it (choose another path, or pass --force to replace it "
        f"with {replace_with})",
        path=path,
    )
