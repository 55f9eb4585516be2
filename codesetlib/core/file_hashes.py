"""The SHA-256 of a file's content, remembered by the file's fingerprint so that an unchanged file is
not read again on every run.

The fingerprint is what the file system says of a file without reading it: device, inode, size,
modification time and change time, in nanoseconds. Any write changes the change time, even when the
modification time is put back afterwards, so a file edited in place is read again. A file written
less than `SETTLE_SECONDS` ago is not remembered: a second write within the same clock tick could
leave its fingerprint as it was. Entries live in the kit's cache folder (`CODESET_CACHE_DIR`), never
beside the files they describe: a dataset folder is the kit's output and its bytes stay the same
from run to run. A cache that cannot be read or written only makes the hash slower, never wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path

from codesetlib.core import atomic
from codesetlib.core.errors import CodesetError
from codesetlib.core.paths import cache_dir

# Bump when an entry's layout changes, so old entries are not read with new code.
ENTRY_FORMAT = 1
SETTLE_SECONDS = 2
BLOCK = 1 << 20


def fingerprint(stat: os.stat_result) -> list[int]:
    """What identifies one state of a file without reading it."""
    return [stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns]


def sha256_of_bytes(path: Path) -> str:
    """The SHA-256 of a file, read in blocks (never from the cache)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def _entry_path(path: Path) -> Path:
    name = hashlib.sha256(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:32]
    return cache_dir() / "file-hashes" / f"{name}.json"


def _remembered(entry: Path, path: Path, stamp: list[int]) -> str | None:
    try:
        found = json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    wanted = {"format": ENTRY_FORMAT, "path": str(path), "fingerprint": stamp}
    if not isinstance(found, dict) or any(found.get(k) != v for k, v in wanted.items()):
        return None
    sha256 = found.get("sha256")
    return sha256 if isinstance(sha256, str) and len(sha256) == 64 else None


def _remember(entry: Path, path: Path, stamp: list[int], sha256: str) -> None:
    text = json.dumps(
        {"format": ENTRY_FORMAT, "path": str(path), "fingerprint": stamp, "sha256": sha256}
    )
    # A cache entry: written whole or not at all, and never an error.
    with contextlib.suppress(OSError, CodesetError):
        entry.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(entry, text)


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at `path`: remembered while its fingerprint is unchanged, otherwise
    read. Raises OSError when the file cannot be read (missing, a folder, no permission)."""
    path = Path(os.path.abspath(path))
    before = path.stat()
    stamp = fingerprint(before)
    entry = _entry_path(path)
    known = _remembered(entry, path, stamp)
    if known is not None:
        return known
    sha256 = sha256_of_bytes(path)
    after = path.stat()
    settled = time.time_ns() - max(after.st_mtime_ns, after.st_ctime_ns) > SETTLE_SECONDS * 10**9
    # Remember only a file that did not change while it was read and has not just been written.
    if fingerprint(after) == stamp and settled:
        _remember(entry, path, stamp, sha256)
    return sha256
