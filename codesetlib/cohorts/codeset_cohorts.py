"""Cohort definitions made from one codeset, for pages that look at a codeset rather than a study's
cohort: the patients with any of its codes on or before a date, run by the same engines as any other
definition (and their patients and events per code by `patients_per_code` on an engine)."""

from __future__ import annotations

import datetime as dt

from codesetlib.cohorts.model import (
    CODING_SYSTEM_TABLE,
    CohortDefinition,
    CohortRule,
    Criterion,
    IndexDate,
    Population,
    TableName,
    ever_before,
)
from codesetlib.core.errors import CohortError

# The criteria of a codes cohort: whether a patient has a code, and the date of their first.
HAS_CODE = "has_code"
FIRST_EVENT_DATE = "first_event_date"


def table_coded_in(coding_system: str) -> TableName:
    """The event table recorded in `coding_system` (SNOMED CT and ICD-10: clinical events; dm+d:
    medications)."""
    if coding_system in CODING_SYSTEM_TABLE:
        return CODING_SYSTEM_TABLE[coding_system]  # type: ignore[return-value]
    raise CohortError(f"the data hold no events coded in {coding_system}")


def codes_cohort(
    codeset_id: str, index_date: str | dt.date, table: TableName = "clinical_events"
) -> CohortDefinition:
    """Every patient with at least one event of a code of the codeset on or before the index date
    (alive or not, registered or not), with the date of their first such event."""
    window = ever_before()
    return CohortDefinition(
        id=f"{codeset_id}_codes",
        title=f"Patients with a code of {codeset_id} on or before the index date",
        index_date=IndexDate(date=dt.date.fromisoformat(str(index_date))),
        population=Population(registered=False, alive=False),
        criteria=[
            Criterion(name=HAS_CODE, codeset=codeset_id, table=table, window=window),
            Criterion(
                name=FIRST_EVENT_DATE,
                codeset=codeset_id,
                table=table,
                window=window,
                returns="first_date",
            ),
        ],
        rules=[
            CohortRule(
                action="include",
                criterion=HAS_CODE,
                description=f"include patients with a code of {codeset_id}",
            )
        ],
        columns=["patient_id", FIRST_EVENT_DATE],
    )
