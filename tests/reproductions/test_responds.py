"""The reproduction responds to the data: on a population generated from the alternative calibration
it recovers the alternative shares and not the published figures, while on the shipped calibration it
recovers the published ones; the alternative population is cached as the kit's other datasets are, and
the notebook's section shows the verdict."""

import json
import shutil
from pathlib import Path

import papermill
import pytest

from codesetlib.core.disclosure import DisclosureSettings
from codesetlib.core.errors import DatasetError
from codesetlib.data.synthetic import SynthParams, generate_dataset
from codesetlib.data.synthetic.calibration import load_calibration
from codesetlib.data.synthetic.params import DEFAULT_CALIBRATION
from codesetlib.record.book.disclosure_scan import scan_derived_page, scan_page
from codesetlib.record.book.tables import html_table
from codesetlib.reproductions import ncl, responds

ROOT = Path(__file__).resolve().parents[2]
RATES = ROOT / "data/reference/cancer_incidence.csv"
NOTEBOOK = ROOT / "notebooks/05_ncl_cancer_coding_review.ipynb"
# As the notebook's defaults: small enough to generate in about a second.
PATIENTS, PRACTICES, SEED = 20_000, 25, 42


def compare(calibration_file: Path, out_dir: Path):
    return responds.run_alternative(
        calibration_file,
        out_dir,
        ROOT / "codesets",
        RATES,
        ncl.Period(),
        patients=PATIENTS,
        practices=PRACTICES,
        seed=SEED,
    )


@pytest.fixture(scope="module")
def alternative_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("alt") / "ncl_alt"


@pytest.fixture(scope="module")
def alternative(alternative_dir: Path):
    return compare(responds.ALTERNATIVE_CALIBRATION, alternative_dir)


def test_the_shipped_calibration_sets_the_published_figures():
    """What the page's first paragraph says: the default data were made to have the review's figures."""
    shares = responds.calibrated_shares(load_calibration(DEFAULT_CALIBRATION))
    published = {p.measure: p.value for p in ncl.PUBLISHED}
    assert shares == {m: published[m] for m in responds.CALIBRATED_BY}


def test_the_alternative_calibration_validates_and_changes_only_the_published_shares():
    shipped = load_calibration(DEFAULT_CALIBRATION)
    alternative = load_calibration(responds.ALTERNATIVE_CALIBRATION)
    items = set(responds.CALIBRATED_BY.values())
    for item in items:
        ours, theirs = getattr(alternative.recording, item), getattr(shipped.recording, item)
        assert abs(ours - theirs) >= 0.15, item  # clearly different, not within an interval
    assert alternative.recording.model_dump(exclude=items) == shipped.recording.model_dump(
        exclude=items
    )
    assert alternative.model_dump(exclude={"recording", "source"}) == shipped.model_dump(
        exclude={"recording", "source"}
    )


def test_the_analysis_recovers_the_alternative_shares_and_not_the_published(alternative):
    shown = alternative[["measure", "calibrated", "published", "reproduced", "low", "high"]]
    assert set(alternative["measure"]) == set(responds.CALIBRATED_BY)
    assert alternative["calibrated_inside"].all(), shown
    assert not alternative["published_inside"].any(), shown
    assert alternative["responds"].all()


def test_on_the_shipped_calibration_the_analysis_recovers_the_published_figures(tmp_path: Path):
    """The control: the same comparison, on data calibrated to the published figures, says no."""
    table = compare(DEFAULT_CALIBRATION, tmp_path / "shipped")
    assert table["published_inside"].all()
    assert not table["responds"].any()


def test_the_note_under_the_published_table_says_what_a_match_means(
    alternative, alternative_dir: Path, tmp_path: Path
):
    shipped = tmp_path / "shipped"
    generate_dataset(SynthParams(patients=500, practices=3, seed=1), shipped, progress=False)
    note = responds.calibration_note(shipped)
    assert "`ncl_calibration.yaml`, whose recording shares are the published figures" in note
    assert "not that the figure is right" in note
    assert "differ from the published figures" in responds.calibration_note(alternative_dir)
    assert responds.calibration_note(ROOT / "codesets") == ""  # not a dataset the kit generated


def test_the_note_does_not_vouch_for_a_calibration_edited_since(tmp_path: Path):
    calibration = tmp_path / "calibration.yaml"
    shutil.copy(DEFAULT_CALIBRATION, calibration)
    data = tmp_path / "data"
    params = SynthParams(patients=500, practices=3, seed=1, calibration=str(calibration))
    generate_dataset(params, data, progress=False)
    calibration.write_text(calibration.read_text().replace("ethnicity: 0.865", "ethnicity: 0.5"))
    assert "no longer there as it was" in responds.calibration_note(data)


def test_the_population_is_reused_while_its_manifest_matches_and_made_again_when_edited(
    tmp_path: Path,
):
    calibration = tmp_path / "calibration.yaml"
    shutil.copy(responds.ALTERNATIVE_CALIBRATION, calibration)
    out = tmp_path / "data" / "alt"

    def make() -> dict:
        responds.alternative_dataset(calibration, out, patients=500, practices=3, seed=1)
        return json.loads((out / "manifest.json").read_text())

    first = make()
    stamp = (out / "clinical_events.parquet").stat().st_mtime_ns
    assert make() == first
    assert (out / "clinical_events.parquet").stat().st_mtime_ns == stamp
    calibration.write_text(calibration.read_text().replace("ethnicity: 0.60", "ethnicity: 0.30", 1))
    edited = make()
    assert edited["inputs"]["calibration"] != first["inputs"]["calibration"]
    assert edited["tables"]["clinical_events"] != first["tables"]["clinical_events"]


def test_a_folder_the_kit_did_not_write_is_left_alone(tmp_path: Path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my own")
    with pytest.raises(DatasetError, match=r"mine.*holds no manifest\.json"):
        responds.alternative_dataset(
            responds.ALTERNATIVE_CALIBRATION, out, patients=500, practices=3, seed=1
        )
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


def test_a_wrong_calibration_is_refused_by_file_line_and_field(tmp_path: Path):
    calibration = tmp_path / "calibration.yaml"
    text = responds.ALTERNATIVE_CALIBRATION.read_text()
    calibration.write_text(text.replace("ethnicity: 0.60", "ethnicity: 1.60", 1))
    line = 1 + text[: text.index("ethnicity: 0.60")].count("\n")
    with pytest.raises(DatasetError) as caught:
        responds.alternative_dataset(
            calibration, tmp_path / "alt", patients=500, practices=3, seed=1
        )
    assert f"calibration.yaml:{line}" in str(caught.value)
    assert "recording.ethnicity" in str(caught.value)
    assert not (tmp_path / "alt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["calibration.yaml"]


def test_the_table_passes_the_record_s_disclosure_scan(alternative, tmp_path: Path):
    """Counts protected; the recovered share and interval recomputed from the counts as shown."""
    settings = DisclosureSettings()
    shown = responds.response_table(alternative, settings)
    page = tmp_path / "page.html"
    page.write_text(html_table(shown))
    assert scan_page(page, settings) == []
    assert scan_derived_page(page) == []
    for row in shown.to_dict("records"):
        numerator, denominator = int(row["Numerator"]), int(row["Denominator"])
        assert row[responds.RECOVERED].startswith(f"{numerator / denominator:.1%} (")
    assert list(shown[responds.VERDICT]) == ["yes"] * len(shown)


def test_a_figure_read_from_exact_counts_would_fail_the_scan(alternative, tmp_path: Path):
    """The scan above can fail: the same table with its figures from the exact counts does."""
    shown = responds.response_table(alternative, DisclosureSettings())
    shown[responds.RECOVERED] = [
        f"{r:.1%} ({lo:.1%}–{hi:.1%})"
        for r, lo, hi in zip(
            alternative["reproduced"], alternative["low"], alternative["high"], strict=True
        )
    ]
    page = tmp_path / "page.html"
    page.write_text(html_table(shown))
    assert scan_derived_page(page)


def test_a_share_whose_count_is_suppressed_is_not_shown(alternative):
    few = alternative.assign(numerator=5.0, denominator=40.0)
    shown = responds.response_table(few, DisclosureSettings())
    assert set(shown["Numerator"]) == {"≤7"}
    assert set(shown[responds.RECOVERED]) == {"suppressed"}
    assert set(shown[responds.VERDICT]) == {"no"}


def test_the_notebook_section_shows_the_verdict(tmp_path: Path):
    """The reproduction notebook, run as the study runs it (on a small default population)."""
    default = tmp_path / "default"
    generate_dataset(SynthParams(patients=5_000, practices=5, seed=3), default, progress=False)
    out = tmp_path / "out.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(out),
        parameters={
            "dataset_dir": str(default),
            "alternative_dataset_dir": str(tmp_path / "alternative"),
        },
        cwd=str(ROOT),
        kernel_name="python3",
        progress_bar=False,
    )
    cells = json.loads(out.read_text())["cells"]
    first = "".join(cells[0]["source"])
    assert "generated from a calibration set to the very figures the review published" in first
    assert "ncl_calibration.yaml" in first
    section = next(
        i for i, c in enumerate(cells) if "## Does the analysis respond?" in "".join(c["source"])
    )
    outputs = [
        "".join(o["data"].get(kind, ""))
        for o in cells[section + 1]["outputs"]
        if o["output_type"] == "display_data"
        for kind in ("text/markdown", "text/html")
    ]
    text = "\n".join(outputs)
    assert "generated from `ncl_calibration_alternative.yaml`" in text
    assert "for 7 of the 7" in text
    assert "Recovers the alternative, not the published" in text
    assert text.count("<td>yes</td>") == 7
    assert (tmp_path / "alternative" / "manifest.json").is_file()
