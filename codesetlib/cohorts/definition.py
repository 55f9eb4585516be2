"""Cohort definitions as data, and their relational plans as Ibis expressions (engine-independent)."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from codesetlib.cohorts.relations import named_memtable


class CodeCohort(BaseModel):
    """Patients with at least one event coded from a codeset on or before the index date."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    codeset: str
    codes: tuple[str, ...] = Field(min_length=1)
    index_date: dt.date


def codes_table(codes: tuple[str, ...]) -> ir.Table:
    """The codes as a table, so that they reach the engine as data joined against, never as SQL text
    (named by its codes, so the SQL shown for a query is the same on every run)."""
    frame = pd.DataFrame({"code": sorted(set(codes))}, dtype="string")
    return named_memtable(frame, {"code": "string"}, "codes")


def coded_events(events: ir.Table, cohort: CodeCohort, codes: ir.Table | None = None) -> ir.Table:
    """Events whose code is in the cohort's codeset and whose date is on or before the index date.

    `codes` is the codeset's `codes_table`, when the caller joins it again elsewhere."""
    codes = codes_table(cohort.codes) if codes is None else codes
    on_or_before = events.filter(events.date <= ibis.literal(cohort.index_date))
    return on_or_before.semi_join(codes, on_or_before.code == codes.code)


def cohort_patients(events: ir.Table, cohort: CodeCohort) -> ir.Table:
    """One row per patient in the cohort, with the date of their first coded event."""
    coded = coded_events(events, cohort)
    return (
        coded.group_by("patient_id").agg(first_event_date=coded.date.min()).order_by("patient_id")
    )


def patients_per_code(events: ir.Table, cohort: CodeCohort) -> ir.Table:
    """For each code of the codeset: patients with it and events of it, on or before the index date."""
    codes = codes_table(cohort.codes)
    coded = coded_events(events, cohort, codes)
    per_code = coded.group_by("code").agg(patients=coded.patient_id.nunique(), events=coded.count())
    joined = codes.left_join(per_code, codes.code == per_code.code).select(
        code=codes.code,
        patients=ibis.coalesce(per_code.patients, 0),
        events=ibis.coalesce(per_code.events, 0),
    )
    return joined.order_by([ibis.desc("patients"), "code"])
