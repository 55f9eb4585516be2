"""The tables of a codeset review: its metadata, rules, expanded codes and the patients they find."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from codesetlib.codesets.expand import Expansion, expand_rules
from codesetlib.codesets.files import codeset_dir, load_codeset
from codesetlib.codesets.model import Codeset
from codesetlib.cohorts import CodeCohort, DuckDBEngine
from codesetlib.cohorts.definition import cohort_patients, patients_per_code
from codesetlib.core.disclosure import DisclosureSettings, protect_counts
from codesetlib.core.paths import resolve


@dataclass(frozen=True)
class CodesetReview:
    """Everything the review notebook shows about one codeset on one dataset."""

    codeset: Codeset
    expansion: Expansion
    cohort: CodeCohort
    patients_per_code: pd.DataFrame
    cohort_size: int
    sql: str
    disclosure: DisclosureSettings


def review_codeset(
    codeset_id: str,
    *,
    codesets_dir: str | Path,
    dataset_dir: str | Path,
    index_date: str | dt.date,
    disclosure: DisclosureSettings | None = None,
) -> CodesetReview:
    """Load, expand and apply one codeset to a dataset (paths relative to the project root)."""
    codeset = load_codeset(codeset_dir(resolve(codesets_dir), codeset_id))
    expansion = expand_rules(codeset)
    cohort = CodeCohort(
        codeset=codeset.id,
        codes=tuple(row.code for row in expansion.codes),
        index_date=dt.date.fromisoformat(str(index_date)),
    )
    engine = DuckDBEngine(resolve(dataset_dir))
    events = engine.table("clinical_events")
    per_code = engine.execute(patients_per_code(events, cohort))
    patients = cohort_patients(events, cohort)
    terms = {row.code: row.term for row in expansion.codes}
    per_code.insert(1, "term", per_code["code"].map(terms))
    return CodesetReview(
        codeset=codeset,
        expansion=expansion,
        cohort=cohort,
        patients_per_code=per_code,
        cohort_size=int(engine.execute(patients.count().as_table()).iloc[0, 0]),
        sql=engine.sql(patients),
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
    """Each rule in order with what it did: codes matched, added and removed."""
    return pd.DataFrame(
        [
            {
                "Rule": e.rule.id,
                "Action": e.rule.action,
                "Names": e.rule.target,
                "Codes matched": len(e.matched),
                "Added": len(e.added),
                "Removed": len(e.removed),
            }
            for e in expansion.effects
        ]
    )


def codes_table(expansion: Expansion) -> pd.DataFrame:
    """The expanded codes with their terms and the rule that brought each in."""
    return pd.DataFrame([{"Code": r.code, "Term": r.term, "Rule": r.rule} for r in expansion.codes])


def usage_table(review: CodesetReview) -> pd.DataFrame:
    """Patients and events per code on or before the index date, under disclosure control."""
    table = review.patients_per_code.rename(
        columns={"code": "Code", "term": "Term", "patients": "Patients", "events": "Events"}
    )
    return protect_counts(table, ["Patients", "Events"], review.disclosure)


def cohort_summary(review: CodesetReview) -> pd.DataFrame:
    """The cohort's size under disclosure control, with the index date and codes used."""
    table = pd.DataFrame(
        {
            "Index date": [review.cohort.index_date.isoformat()],
            "Codes in codeset": [len(review.expansion.codes)],
            "Patients with a code on or before the index date": [review.cohort_size],
        }
    )
    return protect_counts(
        table, ["Patients with a code on or before the index date"], review.disclosure
    )
