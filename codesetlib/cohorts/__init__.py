"""Cohorts from codesets: the definition (data) kept apart from the engines that run it.

`model` holds the definition, `dates` its date arithmetic, `plan` compiles it to an Ibis plan,
`checks` refuses what cannot run; each engine lives in its own module. `codeset_cohorts` builds the
definitions that look at one codeset (the patients with any of its codes).
"""

from codesetlib.cohorts.codeset_cohorts import codes_cohort
from codesetlib.cohorts.dates import Offset, add_offset, age_on
from codesetlib.cohorts.engines.duckdb_engine import DuckDBEngine
from codesetlib.cohorts.engines.pandas_reference import PandasReference
from codesetlib.cohorts.load import load_definition
from codesetlib.cohorts.model import (
    CodesetCodes,
    CohortDefinition,
    CohortRule,
    Criterion,
    IndexDate,
    Population,
    ValueFlag,
    Window,
    between,
    ever_before,
    within_after,
    within_before,
)

__all__ = [
    "CodesetCodes",
    "CohortDefinition",
    "CohortRule",
    "Criterion",
    "DuckDBEngine",
    "IndexDate",
    "Offset",
    "PandasReference",
    "Population",
    "ValueFlag",
    "Window",
    "add_offset",
    "age_on",
    "between",
    "codes_cohort",
    "ever_before",
    "load_definition",
    "within_after",
    "within_before",
]
