"""The usage fixture on CODESET_USAGE_PATH, and usage files written for one test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.usage.fixture_files import FIXTURE, SNOMED_HEADER

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def usage_path(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped fixture of invented counts, named by CODESET_USAGE_PATH."""
    monkeypatch.setenv("CODESET_USAGE_PATH", str(FIXTURE))
    return FIXTURE


def write_usage(folder: Path, name: str, lines: list[str], header: str = SNOMED_HEADER) -> Path:
    """A usage file in `folder`: the header, then each line as given (tab-separated)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path
