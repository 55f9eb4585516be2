"""Where the project's folders are, so notebooks and the CLI resolve the same relative paths."""

from __future__ import annotations

import os
from pathlib import Path

MARKERS = ("pyproject.toml", "codesets")


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above `start` (default: the working directory) that holds the project.

    Notebooks run from `notebooks/` under nbval and from the project root under the study runner; both
    find the same root this way.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if all((folder / m).exists() for m in MARKERS):
            return folder
    return here


def resolve(path: str | Path, root: Path | None = None) -> Path:
    """`path` made absolute against the project root when it is relative."""
    path = Path(path)
    return path if path.is_absolute() else (root or project_root()) / path


def cache_dir() -> Path:
    """The kit's cache folder: `CODESET_CACHE_DIR`, or `~/.cache/codesetlib/` (made when needed)."""
    configured = os.environ.get("CODESET_CACHE_DIR")
    return Path(configured) if configured else Path.home() / ".cache" / "codesetlib"
