"""What the record says of a data source it cannot hash table by table: rows per table, patients,
and the span of the events' dates, each counted by the engine where the data live."""

from __future__ import annotations

from typing import Any

from codesetlib.cohorts.engines.ibis_engine import IbisEngine

DATED = {"clinical_events": "date", "medications": "date", "registrations": "start_date"}


def describe_data(engine: IbisEngine) -> dict[str, Any]:
    """Rows per table, distinct patients, and the first and last date of each dated table."""
    tables: dict[str, Any] = {}
    for name, table in sorted(engine.tables.items()):
        column = DATED.get(name)
        aggregates = {"rows": table.count()}
        if column is not None:
            aggregates |= {"first": table[column].min(), "last": table[column].max()}
        row = engine.execute(table.aggregate(**aggregates)).iloc[0]
        entry: dict[str, Any] = {"rows": int(row["rows"])}
        if column is not None:
            entry |= {
                "first": None
                if row["first"] is None or str(row["first"]) == "NaT"
                else str(row["first"])[:10],
                "last": None
                if row["last"] is None or str(row["last"]) == "NaT"
                else str(row["last"])[:10],
            }
        tables[name] = entry
    return {"tables": tables}
