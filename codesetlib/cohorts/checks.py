"""Refuse a definition that cannot run, before running it, naming its file, rule and field."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from codesetlib.cohorts.model import (
    PATIENT_COLUMNS,
    TABLE_CODING_SYSTEMS,
    CodesetCodes,
    CohortDefinition,
)
from codesetlib.core.errors import CohortError
from codesetlib.core.yamlfile import field_path, line_of

# The columns each part of a definition reads.
EVENT_COLUMNS = {
    "clinical_events": {"patient_id", "date", "code"},
    "medications": {"patient_id", "date", "code"},
}
PATIENT_TABLE_COLUMNS = {
    "patients": {"patient_id", "sex", "date_of_birth", "date_of_death"},
    "registrations": {"patient_id", "practice_id", "start_date", "end_date"},
    "practices": {"practice_id", "borough"},
}
BOOLEAN_RETURNS = {"exists"}
VALUE_RETURNS = {"first_value", "last_value"}
DATE_RETURNS = {"first_date", "last_date"}


def fail(
    definition: CohortDefinition, location: tuple[str | int, ...], message: str
) -> CohortError:
    """A CohortError at `location` in the definition (its file and line when read from YAML)."""
    line = line_of(definition._tree, location) if definition._tree is not None else None
    return CohortError(message, path=definition._path, line=line, field=field_path(location))


def check_definition(
    definition: CohortDefinition,
    codesets: Mapping[str, CodesetCodes],
    schemas: Mapping[str, set[str]],
    extra_columns: tuple[str, ...] = (),
    coding_systems: Mapping[str, Collection[str]] | None = None,
) -> None:
    """Raise CohortError for the first thing that would stop the definition running on `schemas`,
    whose event tables hold codes of `coding_systems` (by default, SNOMED CT clinical events and
    dm+d medicines)."""
    _check_population(definition)
    _check_codesets(definition, codesets, coding_systems or TABLE_CODING_SYSTEMS)
    _check_names(definition, extra_columns)
    _check_columns(definition, schemas, extra_columns)


def _check_population(definition: CohortDefinition) -> None:
    pop = definition.population
    if pop.age_min is not None and pop.age_max is not None and pop.age_min > pop.age_max:
        raise fail(
            definition,
            ("population", "age_max"),
            f"empty population: age_max {pop.age_max} is below age_min {pop.age_min}",
        )
    if pop.sex is not None and not pop.sex:
        raise fail(definition, ("population", "sex"), "empty population: no sex is allowed")


def _check_codesets(
    definition: CohortDefinition,
    codesets: Mapping[str, CodesetCodes],
    coding_systems: Mapping[str, Collection[str]],
) -> None:
    uses = [
        (("criteria", i, "codeset"), c.codeset, c.table) for i, c in enumerate(definition.criteria)
    ]
    index = definition.index_date
    if index.first_event_of:
        uses.insert(0, (("index_date", "first_event_of"), index.first_event_of, index.table))
    for location, codeset_id, table in uses:
        if codeset_id not in codesets:
            known = ", ".join(sorted(codesets)) or "none"
            raise fail(definition, location, f"unknown codeset {codeset_id!r} (given: {known})")
        system = codesets[codeset_id].coding_system
        held = coding_systems.get(table, ())
        if system not in held:
            raise fail(
                definition,
                location,
                f"codeset {codeset_id!r} is {system} but {table} is coded in "
                f"{' or '.join(held) or 'nothing these data hold'}",
            )


def _check_names(definition: CohortDefinition, extra_columns: tuple[str, ...]) -> None:
    """Criteria names are unique; rules and flags name criteria of the right kind."""
    seen = set(PATIENT_COLUMNS)
    for i, criterion in enumerate(definition.criteria):
        if criterion.name in seen:
            raise fail(definition, ("criteria", i, "name"), f"name {criterion.name!r} is taken")
        if criterion.table == "medications" and criterion.field == "value":
            raise fail(definition, ("criteria", i, "returns"), "medications have no value")
        seen.add(criterion.name)
    kinds = {c.name: c.returns for c in definition.criteria}
    _check_anchors(definition, kinds)
    for i, flag in enumerate(definition.flags):
        if kinds.get(flag.of) not in VALUE_RETURNS:
            raise fail(
                definition, ("flags", i, "of"), f"{flag.of!r} is not a criterion returning a value"
            )
        if flag.name in seen:
            raise fail(definition, ("flags", i, "name"), f"name {flag.name!r} is taken")
        seen.add(flag.name)
        kinds[flag.name] = "exists"
    for i, rule in enumerate(definition.rules):
        if rule.criterion not in kinds:
            raise fail(
                definition, ("rules", i, "criterion"), f"unknown criterion {rule.criterion!r}"
            )
        if kinds[rule.criterion] not in BOOLEAN_RETURNS:
            raise fail(
                definition,
                ("rules", i, "criterion"),
                f"{rule.criterion!r} returns {kinds[rule.criterion]}, not yes/no (use exists or a flag)",
            )
    for i, column in enumerate([*definition.output_columns(), *extra_columns]):
        if column not in seen:
            location = ("columns", i) if i < len(definition.output_columns()) else ()
            raise fail(definition, location, f"unknown output column {column!r}")


def _check_anchors(definition: CohortDefinition, kinds: Mapping[str, str]) -> None:
    """A window bound is measured from a criterion returning a date, itself from the index date."""
    anchored = {c.name for c in definition.criteria if c.window.anchors}
    for i, criterion in enumerate(definition.criteria):
        for bound in ("start_from", "end_from"):
            anchor = getattr(criterion.window, bound)
            if anchor is None:
                continue
            location = ("criteria", i, "window", bound)
            if kinds.get(anchor) not in DATE_RETURNS:
                raise fail(definition, location, f"{anchor!r} is not a criterion returning a date")
            if anchor in anchored:
                raise fail(
                    definition,
                    location,
                    f"{anchor!r} is measured from another criterion's date itself; "
                    "measure it from the index date",
                )


def _check_columns(
    definition: CohortDefinition, schemas: Mapping[str, set[str]], extra: tuple[str, ...]
) -> None:
    """Every table and column the definition reads exists in the data."""
    needed = {"patients": {"patient_id", "sex", "date_of_birth", "date_of_death"}}
    columns = set(definition.output_columns()) | set(extra)
    if definition.population.registered or columns & {"practice_id", "borough"}:
        needed["registrations"] = PATIENT_TABLE_COLUMNS["registrations"]
    if "borough" in columns:
        needed["practices"] = PATIENT_TABLE_COLUMNS["practices"]
    if "imd_quintile" in columns:
        needed["patients"] = needed["patients"] | {"imd_quintile"}
    located: list[tuple[tuple[str | int, ...], str, set[str]]] = [
        ((), table, cols) for table, cols in needed.items()
    ]
    index = definition.index_date
    if index.per_patient:
        located.append((("index_date", "table"), index.table, EVENT_COLUMNS[index.table]))
    for i, criterion in enumerate(definition.criteria):
        cols = EVENT_COLUMNS[criterion.table] | ({"value"} if criterion.field == "value" else set())
        located.append((("criteria", i, "table"), criterion.table, cols))
    for location, table, cols in located:
        if table not in schemas:
            raise fail(definition, location, f"the data have no table {table}")
        missing = cols - schemas[table]
        if missing:
            raise fail(
                definition, location, f"table {table} lacks column(s) {', '.join(sorted(missing))}"
            )
