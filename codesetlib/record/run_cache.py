"""What a notebook run reads, by content: the key under which the study runner reuses a run.

A run is reused only while everything it reads is unchanged: the notebook, its parameters (those the
study passes and the defaults the notebook declares), the content of every file or folder a parameter
names (a cohort file, a table of reference rates, a calibration, the codesets folder with every
version in its history, a dataset by its manifest), and what the whole study shares (`study_inputs`):
the study's settings, the dataset's manifest, the codesets' content hashes, the Python and package
versions, the kit's source with the releases it ships, and the releases on CODESET_TERMINOLOGY_PATH.

A file is taken as it was before the run, so a file edited while the notebook ran makes the next run
execute it again. A folder is taken as the run left it: notebooks write into folders they are given
(the drafts of the codeset builder, a dataset generated from another calibration), and what they
wrote there must not make the next run look changed.
"""

from __future__ import annotations

import ast
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codesetlib.core.file_hashes import file_sha256
from codesetlib.data.synthetic.writer import MANIFEST
from codesetlib.record.provenance import environment, sha256_json, source_hash
from codesetlib.record.study import Study
from codesetlib.terminology import SHIPPED, release_search_paths

# A parameter longer than this is text, not a path.
LONGEST_PATH = 1024


def declared_defaults(declared: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The defaults a notebook's parameters cell gives (as papermill inspects them), as values where
    they are literals and as their source text otherwise."""
    defaults = {}
    for name, parameter in declared.items():
        text = str(parameter.get("default", ""))
        try:
            defaults[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            defaults[name] = text
    return defaults


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def named_paths(values: Any, root: Path) -> dict[str, Path]:
    """Every string among `values` (nested in lists and dicts too) that names an existing file, or a
    folder inside the project (never the project itself), relative to `root`, by the string."""
    root = Path(os.path.abspath(root))
    found = {}
    for text in _strings(values):
        if not text or len(text) > LONGEST_PATH or "\0" in text or text in found:
            continue
        path = Path(os.path.abspath(root / text))
        try:
            inside = path.is_relative_to(root) and path != root
            if path.is_file() or (path.is_dir() and inside):
                found[text] = path
        except (OSError, ValueError):
            continue
    return found


def _file_digest(path: Path) -> str:
    try:
        return file_sha256(path)
    except OSError as exc:
        # The notebook will say what is wrong when it reads the file; the key only has to differ.
        return f"unreadable: {exc.strerror or exc}"


def folder_digest(folder: Path) -> str:
    """The content of every file below `folder`, by path: hidden files (temporary files of a write
    in progress) left out, and a dataset folder taken by its manifest, which fixes its tables."""
    digest = hashlib.sha256()
    for base, folders, files in os.walk(folder, onerror=None):
        here = Path(base)
        if MANIFEST in files:
            folders.clear()
            files = [MANIFEST]
        folders[:] = sorted(f for f in folders if not f.startswith(".") and f != "__pycache__")
        for name in sorted(f for f in files if not f.startswith(".")):
            relative = (here / name).relative_to(folder).as_posix()
            digest.update(f"{relative}\0{_file_digest(here / name)}\0".encode())
    return digest.hexdigest()


def path_digest(path: Path) -> str:
    """A file's SHA-256, or a folder's `folder_digest`."""
    return folder_digest(path) if path.is_dir() else _file_digest(path)


def named_contents(parameters: dict, defaults: dict, root: Path) -> dict[str, dict[str, str]]:
    """The content of the files and folders the parameters (and their defaults) name."""
    paths = named_paths([defaults, parameters], root)
    return {
        "files": {text: path_digest(p) for text, p in paths.items() if not p.is_dir()},
        "folders": {text: path_digest(p) for text, p in paths.items() if p.is_dir()},
    }


def notebook_inputs(source: Path, parameters: dict, defaults: dict, root: Path) -> dict[str, Any]:
    """What one notebook run reads, by content, before it runs."""
    return {
        "notebook": _file_digest(source),
        "parameters": parameters,
        "defaults": defaults,
        **named_contents(parameters, defaults, root),
    }


def settled_inputs(before: dict[str, Any], root: Path) -> dict[str, Any]:
    """The inputs of a run as it left them: its folders (and files it made) as they are now, the
    files it found as they were before it ran."""
    after = named_contents(before["parameters"], before["defaults"], root)
    return {**before, "folders": after["folders"], "files": {**after["files"], **before["files"]}}


def terminology_fingerprint() -> dict[str, list]:
    """The releases on CODESET_TERMINOLOGY_PATH by each file's path, size and modification time
    (a licensed release is too large to read on every run; the shipped ones are in the source)."""
    found: dict[str, list] = {}
    for folder in release_search_paths():
        if folder.is_relative_to(SHIPPED):
            continue
        files = []
        for base, folders, names in os.walk(folder):
            folders.sort()
            for name in sorted(names):
                path = Path(base) / name
                try:
                    stat = path.stat()
                except OSError:
                    continue
                files.append([path.relative_to(folder).as_posix(), stat.st_size, stat.st_mtime_ns])
        found[str(folder)] = files
    return found


def study_inputs(study: Study, codesets: dict[str, str], manifest_sha256: str) -> dict[str, Any]:
    """What every notebook of the study reads besides its own inputs. The study's title and list of
    notebooks are left out: no notebook is given them, and each run is its own entry."""
    env = environment()
    return {
        "study": study.model_dump(mode="json", exclude={"title", "notebooks"}),
        "codesets": codesets,
        "dataset": manifest_sha256,
        "python": env["python"],
        "packages": env["packages"],
        "source": source_hash(),
        "terminology": terminology_fingerprint(),
    }


def run_key(inputs: dict[str, Any], shared: dict[str, Any]) -> str:
    """The key a run is stored and found under."""
    return sha256_json({**inputs, **shared})
