"""The codeset review page: a codeset's metadata, rules and expanded codes, and the patients its codes
find, counted by the cohort engine running the codeset's codes cohort."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from codesetlib.codesets.expand import Expansion, expand_rules
from codesetlib.codesets.model import Codeset
from codesetlib.cohorts import CohortDefinition
from codesetlib.cohorts.codes import expanded_codes, pinned_codeset
from codesetlib.cohorts.codeset_cohorts import HAS_CODE, codes_cohort, table_coded_in
from codesetlib.cohorts.engines.database_engine import open_engine
from codesetlib.core.disclosure import DisclosureSettings, protect_counts
from codesetlib.core.paths import project_root
from codesetlib.record.book.cards import rules_frame


@dataclass(frozen=True)
class CodesetReviewPage:
    """Everything the codeset review page shows about one codeset on one dataset."""

    codeset: Codeset
    expansion: Expansion
    cohort: CohortDefinition
    patients_per_code: pd.DataFrame
    cohort_size: int
    sql: str
    disclosure: DisclosureSettings


def codeset_review_page(
    codeset_id: str,
    *,
    codesets_dir: str | Path,
    dataset_dir: str | Path,
    index_date: str | dt.date,
    version: str | None = None,
    disclosure: DisclosureSettings | None = None,
) -> CodesetReviewPage:
    """Load one codeset at the version the study pins (the current one when `version` is None),
    expand it, and run its codes cohort on a dataset (paths relative to the project root)."""
    codeset = pinned_codeset(codesets_dir, codeset_id, version)
    expansion = expand_rules(codeset)
    cohort = codes_cohort(
        codeset.id,
        dt.date.fromisoformat(str(index_date)),
        table=table_coded_in(codeset.coding_system),
    )
    codes = {codeset.id: expanded_codes(codeset, expansion)}
    engine = open_engine(dataset_dir, root=project_root())
    per_code = engine.patients_per_code(cohort, codes, HAS_CODE)
    terms = {row.code: row.term for row in expansion.codes}
    per_code.insert(1, "term", per_code["code"].map(terms))
    return CodesetReviewPage(
        codeset=codeset,
        expansion=expansion,
        cohort=cohort,
        patients_per_code=per_code,
        cohort_size=len(engine.cohort(cohort, codes)),
        sql=engine.cohort_sql(cohort, codes),
        disclosure=disclosure or DisclosureSettings(),
    )


def metadata_table(codeset: Codeset) -> pd.DataFrame:
    """The codeset's metadata as two columns, field and value."""
    authors = "; ".join(f"{a.name} ({a.role})" if a.role else a.name for a in codeset.authors)
    rows = {
        "Id": codeset.id,
        "Title": codeset.title,
        "Version": codeset.version,
        "Status": codeset.status,
        "Coding system": codeset.coding_system,
        "Terminology release": codeset.terminology_release,
        "Purpose": codeset.purpose,
        "Authors": authors,
    }
    return pd.DataFrame({"Field": list(rows), "Value": list(rows.values())})


def rules_table(expansion: Expansion) -> pd.DataFrame:
    """Each rule in order with what it did: codes matched, added and removed (the card's table
    without its notes)."""
    return rules_frame(expansion).drop(columns="Why").rename(columns={"Matched": "Codes matched"})


def expanded_codes_table(expansion: Expansion) -> pd.DataFrame:
    """The expanded codes with their terms and the rule that brought each in."""
    return pd.DataFrame([{"Code": r.code, "Term": r.term, "Rule": r.rule} for r in expansion.codes])


def usage_table(review: CodesetReviewPage) -> pd.DataFrame:
    """Patients and events per code on or before the index date, under disclosure control."""
    table = review.patients_per_code.rename(
        columns={"code": "Code", "term": "Term", "patients": "Patients", "events": "Events"}
    )
    return protect_counts(table, ["Patients", "Events"], review.disclosure)


def cohort_summary(review: CodesetReviewPage) -> pd.DataFrame:
    """The cohort's size under disclosure control, with the index date and codes used."""
    table = pd.DataFrame(
        {
            "Index date": [str(review.cohort.index_date.date)],
            "Codes in codeset": [len(review.expansion.codes)],
            "Patients with a code on or before the index date": [review.cohort_size],
        }
    )
    return protect_counts(
        table, ["Patients with a code on or before the index date"], review.disclosure
    )
