"""The releases the ECL tests evaluate against, each opened once for the session: the teaching
releases (a real hierarchy, with concepts inactivated since 2024), and a small RF2 release written by
`attribute_release` with attribute relationships and a simple refset, for refinements and `^`."""

from __future__ import annotations

from pathlib import Path

import pytest

from codesetlib.terminology import Terminology, open_release
from codesetlib.terminology.snomedct import SnomedCT
from tests.fixtures.rf2 import CLINICAL, write_release

FINDING_SITE, MORPHOLOGY, ATTRIBUTE = "363698007", "116676008", "410662002"
BODY, BREAST, COLON, PROSTATE = "123037004", "76752008", "71854001", "41216001"
ABNORMAL, PRIMARY, METASTATIC = "49755003", "86049000", "14799000"
# The breast screening cluster's refset id, as the breast_screening codeset's references give it.
REFSET = "999016171000230107"
# Active in 2024, inactive in the 2025 teaching release; here inactive, and a member of REFSET.
INACTIVE = "190372001"

ATTRIBUTE_CONCEPTS: dict[str, tuple[str, tuple[str, ...]]] = {
    **CLINICAL,
    ATTRIBUTE: ("Concept model attribute", ("138875005",)),
    FINDING_SITE: ("Finding site", (ATTRIBUTE,)),
    MORPHOLOGY: ("Associated morphology", (ATTRIBUTE,)),
    BODY: ("Body structure", ("138875005",)),
    BREAST: ("Breast structure", (BODY,)),
    COLON: ("Colon structure", (BODY,)),
    PROSTATE: ("Prostatic structure", (BODY,)),
    ABNORMAL: ("Morphologically abnormal structure", (BODY,)),
    PRIMARY: ("Malignant neoplasm, primary", (ABNORMAL,)),
    METASTATIC: ("Neoplasm, metastatic", (ABNORMAL,)),
    REFSET: ("Breast cancer screening codes simple reference set", ("138875005",)),
    INACTIVE: ("Type I diabetes mellitus maturity onset", ("46635009",)),
}
# Its own date, so its id (snomedct-test-20240701) names no other test release.
RELEASE_DATE = "20240701"
RELEASE = f"snomedct-test-{RELEASE_DATE}"
# source: [(attribute type, value)], each in a relationship group of its own kind (group 1).
ATTRIBUTES = {
    "254837009": [(FINDING_SITE, BREAST), (MORPHOLOGY, PRIMARY)],
    "363406005": [(FINDING_SITE, COLON), (MORPHOLOGY, PRIMARY)],
    "399068003": [(FINDING_SITE, PROSTATE), (MORPHOLOGY, PRIMARY)],
    "128462008": [(MORPHOLOGY, METASTATIC)],
}
MEMBERS = ("254837009", "363406005", "44054006", INACTIVE)


def attribute_release(root: Path) -> Path:
    """A release of `tests.fixtures.rf2` with attribute relationships (finding site and morphology of
    three cancers, morphology of secondary cancer) and a simple refset of four members, one of them an
    inactive concept."""
    return write_release(
        root,
        date=RELEASE_DATE,
        concepts=ATTRIBUTE_CONCEPTS,
        inactive={INACTIVE: ("900000000000527005", "46635009")},
        attributes=ATTRIBUTES,
        refsets={REFSET: ("Breast cancer screening codes simple reference set", MEMBERS)},
    )


@pytest.fixture(scope="session")
def attribute_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ecl-release")
    attribute_release(root)
    return root


@pytest.fixture(scope="session")
def attributes(attribute_root: Path) -> SnomedCT:
    return SnomedCT(next(attribute_root.iterdir()))


@pytest.fixture
def attribute_release_id(attribute_root: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make the attribute release findable by id, as a user's own release would be."""
    monkeypatch.setenv("CODESET_TERMINOLOGY_PATH", str(attribute_root))
    return RELEASE


@pytest.fixture(scope="session")
def teaching() -> Terminology:
    """The 2025 teaching release: a real hierarchy, with concepts inactivated since 2024."""
    return open_release("snomedct-teaching-20250401")


@pytest.fixture(scope="session")
def teaching_2024() -> Terminology:
    return open_release("snomedct-teaching-20240401")
