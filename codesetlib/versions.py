"""Versions of a codeset: publish one (recording its content hash) and bump to the next.

A published version is immutable: `codeset check` fails when its content no longer hashes to what was
recorded. Bumping archives the current version under `history/<version>/` so versions can be diffed.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Literal

from codesetlib.codeset import (
    CODES_FILE,
    CODESET_FILE,
    HISTORY_DIR,
    codeset_dir,
    content_hash,
    load_codeset,
    read_codes,
    write_atomically,
)
from codesetlib.errors import CodesetError

Part = Literal["major", "minor", "patch"]


def next_version(version: str, part: Part) -> str:
    """The semantic version after `version` when `part` changes."""
    major, minor, patch = (int(x) for x in version.split("."))
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def set_field(text: str, key: str, value: str) -> str:
    """`text` with the top-level `key:` line set to `value` (the rest of the file as written)."""
    pattern = re.compile(rf"^{re.escape(key)}:.*$", re.M)
    if not pattern.search(text):
        raise CodesetError(f"no top-level field {key}", field=key)
    return pattern.sub(f"{key}: {value}", text, count=1)


def remove_block(text: str, key: str) -> str:
    """`text` without the top-level `key:` field and its indented lines."""
    return re.sub(rf"^{re.escape(key)}:.*\n(?:[ \t]+.*\n|\n)*", "", text, flags=re.M)


def publish(folder: Path, today: dt.date | None = None) -> str:
    """Mark the codeset published and record its content hash; return the hash."""
    codeset = load_codeset(folder)
    if codeset.status in ("published", "retired"):
        raise CodesetError(
            f"version {codeset.version} is already {codeset.status}; run `codeset bump` first",
            path=folder / CODESET_FILE,
            field="status",
        )
    digest = content_hash(codeset, read_codes(folder))
    date = (today or dt.date.today()).isoformat()
    path = folder / CODESET_FILE
    text = set_field(path.read_text(encoding="utf-8"), "status", "published")
    text = remove_block(text, "published").rstrip("\n") + "\n"
    text += f"published:\n  date: {date}\n  content_hash: {digest}\n"
    write_atomically(path, text)
    load_codeset(folder)  # the written file must still be a valid codeset
    return digest


def bump(folder: Path, part: Part = "minor") -> str:
    """Archive the current version under history/ and start the next one as a draft."""
    codeset = load_codeset(folder)
    archive = folder / HISTORY_DIR / codeset.version
    if archive.exists():
        raise CodesetError(f"version {codeset.version} is already archived", path=archive)
    archive.mkdir(parents=True)
    for name in (CODESET_FILE, CODES_FILE):
        if (folder / name).is_file():
            shutil.copy2(folder / name, archive / name)
    version = next_version(codeset.version, part)
    path = folder / CODESET_FILE
    text = set_field(path.read_text(encoding="utf-8"), "version", version)
    text = set_field(text, "status", "draft")
    write_atomically(path, remove_block(text, "published"))
    return version


def versions(folder: Path) -> list[str]:
    """The archived versions of a codeset, oldest first."""
    history = folder / HISTORY_DIR
    found = (
        [p.name for p in history.iterdir() if (p / CODESET_FILE).is_file()]
        if history.is_dir()
        else []
    )
    return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))


def version_dir(root: Path, codeset_id: str, version: str | None) -> Path:
    """The folder of one version: the current one, or an archived one under history/."""
    folder = codeset_dir(root, codeset_id)
    if version is None or version == load_codeset(folder).version:
        return folder
    archived = folder / HISTORY_DIR / version
    if not (archived / CODESET_FILE).is_file():
        known = ", ".join([*versions(folder), load_codeset(folder).version])
        raise CodesetError(f"codeset {codeset_id} has no version {version} (versions: {known})")
    return archived
