"""Where indexed releases are kept between sessions, and how an index is built without leaving half of one.

A release is indexed once into a file named by the release id and a fingerprint of its source files
(name, size and modification time), so a changed release is indexed again and an unchanged one is
opened from the cache. The cache folder is `CODESET_CACHE_DIR`, or `~/.cache/codesetlib/`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from codesetlib.core.errors import TerminologyError
from codesetlib.core.paths import cache_dir

# Bump when the index layout changes, so that old cache entries are not read with new code.
INDEX_FORMAT = 2


def fingerprint(files: Iterable[Path], extra: str = "") -> str:
    """A short hash of the files' names, sizes and modification times (and any `extra` text)."""
    digest = hashlib.sha256(f"format={INDEX_FORMAT};{extra}".encode())
    for path in sorted(files):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def index_path(release_id: str, files: Iterable[Path], extra: str = "") -> Path:
    """The cache file for this release built from these source files."""
    return cache_dir() / f"{release_id}-{fingerprint(files, extra)}.duckdb"


@contextmanager
def building(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success rename it to `target`, otherwise delete it.

    The rename is atomic on one file system, so `target` either does not exist or is a whole index,
    even if the build fails or is interrupted.
    """
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TerminologyError(
            f"cannot be used as the terminology cache folder ({exc.strerror or exc}); set "
            "CODESET_CACHE_DIR to a folder you can write",
            path=target.parent,
        ) from None
    temporary = target.with_name(f".{target.name}.{os.getpid()}.building")
    temporary.unlink(missing_ok=True)
    try:
        yield temporary
        os.replace(temporary, target)
    finally:
        for leftover in (temporary, temporary.with_name(temporary.name + ".wal")):
            leftover.unlink(missing_ok=True)
