"""CITATION.cff is valid Citation File Format 1.2.0 and agrees with pyproject.toml and LICENSE."""

import datetime as dt
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# The keys the CFF 1.2.0 schema allows at the top level, and those it requires.
CFF_KEYS = {
    "abstract",
    "authors",
    "cff-version",
    "commit",
    "contact",
    "date-released",
    "doi",
    "identifiers",
    "keywords",
    "license",
    "license-url",
    "message",
    "preferred-citation",
    "references",
    "repository",
    "repository-artifact",
    "repository-code",
    "title",
    "type",
    "url",
    "version",
}
CFF_REQUIRED = {"cff-version", "message", "title", "authors"}


def citation() -> dict:
    return yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_citation_is_cff_1_2_0_with_every_required_key():
    cff = citation()
    assert isinstance(cff, dict)
    assert not CFF_REQUIRED - set(cff), CFF_REQUIRED - set(cff)
    assert set(cff) <= CFF_KEYS, set(cff) - CFF_KEYS
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software"
    assert all(isinstance(cff[key], str) and cff[key].strip() for key in ("message", "title"))


def test_every_author_is_a_person_or_an_entity():
    authors = citation()["authors"]
    assert isinstance(authors, list) and authors
    for author in authors:
        assert isinstance(author, dict)
        assert author.get("name") or author.get("family-names") or author.get("given-names")


def test_citation_agrees_with_pyproject_and_the_licence_file():
    cff, meta = citation(), project()
    licence = meta["license"]["text"] if isinstance(meta["license"], dict) else meta["license"]
    assert str(cff["version"]) == meta["version"]
    assert cff["license"] == licence == "MIT"
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License\n")


def test_a_release_date_when_given_is_a_date():
    released = citation().get("date-released")
    assert released is None or isinstance(released, dt.date)
