"""Shared fixtures: a small RF2 release written by committed code, and codesets built on it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codesetlib.terminology.snomedct import SnomedCT
from tests.browser import chromium_browser  # noqa: F401 (a session fixture for every test)
from tests.fixtures.rf2 import write_release
from tests.postgres import postgres_server  # noqa: F401 (a session fixture for every test)
from tests.spark_cluster import spark_cluster  # noqa: F401 (a session fixture for every test)

TEST_RELEASE = "snomedct-test-20240401"


@pytest.fixture(scope="session", autouse=True)
def terminology_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Index releases into a cache of the test session's own, not the user's."""
    cache = tmp_path_factory.mktemp("terminology-cache")
    os.environ["CODESET_CACHE_DIR"] = str(cache)
    return cache


@pytest.fixture(scope="session")
def release_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("releases")
    write_release(root)
    return root


@pytest.fixture(scope="session")
def terminology(release_root: Path) -> SnomedCT:
    return SnomedCT(next(release_root.iterdir()))


@pytest.fixture
def test_release(release_root: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make the test release findable by id, as a user's own release would be."""
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(release_root))
    return TEST_RELEASE


CODESET_YAML = """\
id: {id}
title: Cancer diagnosis
version: 1.0.0
status: draft
coding_system: snomedct
terminology_release: snomedct-test-20240401
purpose: Patients with a recorded diagnosis of cancer.
rules:
  - id: R1
    action: include
    concept: "363346000"
    term: Malignant neoplastic disease
  - id: R2
    action: exclude
    concept: "128462008"
    term: Secondary malignant neoplastic disease
    descendants: true
authors:
  - name: A. Researcher
    role: analyst
decisions:
  - about: R2
    decision: exclude
    rationale: Secondary cancers do not mark a new primary diagnosis.
    by: A. Researcher
    date: 2024-05-01
"""


def write_codeset(root: Path, codeset_id: str = "cancer", text: str | None = None) -> Path:
    """Write a codeset folder under `root` and return it."""
    folder = root / codeset_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "codeset.yaml").write_text(text or CODESET_YAML.format(id=codeset_id))
    return folder
