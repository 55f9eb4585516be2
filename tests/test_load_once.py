"""The study reads each codeset version once: the codeset's model is immutable, so every layer that
asks for it (the pinned-version checks, the cards with every version's downloads, the summary)
shares the one read."""

from __future__ import annotations

from pathlib import Path

from codesetlib.codesets.files import codeset_reads, load_codeset
from codesetlib.record.pipeline import check_codesets, write_codeset_cards
from codesetlib.record.study import load_study

ROOT = Path(__file__).resolve().parents[1]


def test_each_codeset_version_of_the_study_is_read_once(tmp_path: Path):
    study = load_study(ROOT / "study.yaml")
    versions = [
        path
        for pin in study.codesets
        for path in (ROOT / "codesets" / pin.id).rglob("codeset.yaml")
    ]
    before = codeset_reads()
    codesets = check_codesets(study, ROOT)
    write_codeset_cards(codesets, tmp_path / "generated")
    check_codesets(study, ROOT)
    assert len(versions) > 0 and codeset_reads() - before <= len(versions)


def test_a_changed_file_is_read_again(tmp_path: Path):
    folder = tmp_path / "demo"
    folder.mkdir()
    source = (ROOT / "codesets" / "hba1c" / "codeset.yaml").read_text()
    (folder / "codeset.yaml").write_text(source.replace("id: hba1c", "id: demo", 1))
    first = load_codeset(folder)
    assert load_codeset(folder) is first
    (folder / "codeset.yaml").write_text(
        source.replace("id: hba1c", "id: demo", 1).replace(first.title, "Changed title", 1)
    )
    assert load_codeset(folder).title == "Changed title"
