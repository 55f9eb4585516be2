"""Provenance: what a build of the record was made from, and the hashes that decide what re-runs."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

# The installed kit: its source and the files it ships.
PACKAGE = Path(__file__).resolve().parents[1]
PACKAGES = [
    "codesetlib",
    "duckdb",
    "ibis-framework",
    "jupyter-book",
    "matplotlib",
    "numpy",
    "pandas",
    "papermill",
    "pyarrow",
    "pydantic",
    "pyspark",
    "sphinx",
]


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_json(value: object) -> str:
    """A hash of a JSON-able value that does not depend on key order."""
    return sha256_bytes(json.dumps(value, sort_keys=True, default=str).encode())


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def source_hash(package: Path = PACKAGE) -> str:
    """A hash of every file codesetlib ships: its source, its configuration (the calibrations a
    notebook may generate data from) and the teaching releases, so a change to any re-runs what
    depends on it."""
    digest = hashlib.sha256()
    shipped = (p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    for path in sorted(shipped):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def git_state(root: Path) -> dict[str, object]:
    """The commit the build came from and whether the working tree had uncommitted changes."""

    def run(*args: str) -> str | None:
        try:
            result = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=False
            )
        except FileNotFoundError:
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit or "unknown", "dirty": bool(status)}


def environment() -> dict[str, object]:
    return {"python": platform.python_version(), "packages": package_versions()}


def shown_path(path: Path, root: Path) -> str:
    """`path` as a reader can find it: relative to the project, or else to the installed kit (for
    the files it ships); only the file's name for a file elsewhere, so no machine's folders show."""
    path = path.resolve()
    for base in (root.resolve(), PACKAGE.parent):
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return path.name


def dataset_provenance(
    manifest: dict, manifest_sha256: str, files: dict[str, Path], root: Path
) -> dict[str, object]:
    """What the record says of its dataset, from the manifest the generator wrote beside it: every
    parameter, each input file (`files` says where it is) and each table, with their hashes."""
    return {
        "manifest_sha256": manifest_sha256,
        "schema_version": manifest.get("schema_version"),
        "parameters": manifest.get("parameters", {}),
        "inputs": {
            name: {
                "path": shown_path(files[name], root) if name in files else entry["path"],
                "sha256": entry["sha256"],
            }
            for name, entry in sorted(manifest.get("inputs", {}).items())
        },
        "tables": {name: entry["sha256"] for name, entry in sorted(manifest["tables"].items())},
    }
