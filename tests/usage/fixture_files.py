"""The usage fixture (`tests/fixtures/usage/`): INVENTED counts in NHS England's published layouts.

Not one figure here is NHS England's: every count is made up, for codes of the shipped teaching
releases (SNOMED CT) and the WHO ICD-10 release, so that tests and examples can load usage files
without shipping national figures. The SNOMED files round as the publication does (to the nearest
10, `*` for 1 to 4); a code left out of a year's file was not used that year. `write_fixture` writes
the files; a test keeps the committed copies equal to what it writes.
"""

from __future__ import annotations

from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "usage"

SNOMED_HEADER = "SNOMED_Concept_ID\tDescription\tUsage\tActive_at_Start\tActive_at_End"
ICD10_HEADER = "ICD10_Code\tDescription\tUsage"

# code: (fully specified name in the teaching release, invented usage 2022-23, invented 2023-24);
# None leaves the code out of that year's file. 313435000 and 190372001 are in neither (unused;
# the diabetes codeset records a decision about 190372001 only); 11687002 is left out of the
# diabetes codeset by its exclusion and used well over 1,000 times.
SNOMED_USAGE: dict[str, tuple[str, str | None, str | None]] = {
    "73211009": ("Diabetes mellitus (disorder)", "51230", "49870"),
    "44054006": ("Diabetes mellitus type 2 (disorder)", "398120", "412330"),
    "46635009": ("Diabetes mellitus type 1 (disorder)", "41870", "42110"),
    "313436004": ("Type II diabetes mellitus without complication (disorder)", "120450", "118960"),
    "313435000": ("Type I diabetes mellitus without complication (disorder)", None, None),
    "237599002": ("Insulin treated type 2 diabetes mellitus (disorder)", "22310", "23080"),
    "4855003": ("Diabetic retinopathy (disorder)", "6540", "6210"),
    "420279001": ("Renal disorder due to type 2 diabetes mellitus (disorder)", "3120", "3460"),
    "422034002": ("Retinopathy due to type 2 diabetes mellitus (disorder)", "2870", "2990"),
    "422099009": ("Disorder of eye due to type 2 diabetes mellitus (disorder)", "*", None),
    "8801005": ("Secondary diabetes mellitus (disorder)", "1230", "1310"),
    "609561005": ("Maturity-onset diabetes of the young (disorder)", "*", "*"),
    "11687002": ("Gestational diabetes mellitus (disorder)", "21450", "24300"),
    "714628002": ("Prediabetes (finding)", "310560", "334020"),
    "315051004": ("Diabetes resolved (finding)", "18230", "19440"),
}
# Hospital files give no active flags; `I10X` is the padded form the published tables use for I10.
ICD10_USAGE: dict[str, tuple[str, str]] = {
    "E10.9": ("Type 1 diabetes mellitus without complications", "38412"),
    "E11.9": ("Type 2 diabetes mellitus without complications", "612087"),
    "E14.9": ("Unspecified diabetes mellitus without complications", "*"),
    "O24.4": ("Diabetes mellitus arising in pregnancy", "9163"),
    "C50.9": ("Malignant neoplasm: Breast, unspecified", "41876"),
    "I10X": ("Essential (primary) hypertension", "1204531"),
}

README = """\
# Usage fixture: INVENTED counts

Every count in these files is made up. They are in the layouts of NHS England's "SNOMED code
usage in primary care" and of the hospital ICD-10 diagnosis tables (see codesets/README.md), for
codes of the kit's teaching releases, so that the kit can be tested without NHS figures.
Written by tests/usage/fixture_files.py; never edit them by hand.
"""


def snomed_text(column: int) -> str:
    rows = [
        f"{code}\t{name}\t{counts[column]}\t1\t1"
        for code, (name, *counts) in SNOMED_USAGE.items()
        if counts[column] is not None
    ]
    return "\n".join([SNOMED_HEADER, *rows]) + "\n"


def icd10_text() -> str:
    rows = [f"{code}\t{name}\t{count}" for code, (name, count) in ICD10_USAGE.items()]
    return "\n".join([ICD10_HEADER, *rows]) + "\n"


def fixture_files() -> dict[str, str]:
    """Each file of the fixture by name, as text."""
    return {
        "README.md": README,
        "SNOMED_code_usage_2022-23.txt": snomed_text(0),
        "SNOMED_code_usage_2023-24.txt": snomed_text(1),
        "ICD10_code_usage_2023-24.txt": icd10_text(),
    }


def write_fixture(folder: Path = FIXTURE) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in fixture_files().items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


if __name__ == "__main__":
    print(write_fixture())
