"""Small tables a query joins against the dataset (codes, intervals), named by their content.

Ibis names an in-memory table at random (`ibis_pandas_memtable_<random>`), so the SQL of a query
that joins one would read differently on every run, and the record shows that SQL. A name made from
the table's rows and column types is the same on every run, and two tables share it only when they
hold the same rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import ibis
import ibis.expr.types as ir
import pandas as pd


def content_name(frame: pd.DataFrame, schema: Mapping[str, str], prefix: str) -> str:
    """`prefix` and a hash of the frame's rows and the schema's column types."""
    digest = hashlib.sha256(frame.to_csv(index=False).encode())
    digest.update(str(sorted(schema.items())).encode())
    return f"{prefix}_{digest.hexdigest()[:20]}"


def named_memtable(frame: pd.DataFrame, schema: Mapping[str, str], prefix: str) -> ir.Table:
    """`frame` as an Ibis in-memory table named by its content (registered when a query runs).

    Ibis refuses an expression holding two in-memory tables of one name, so an expression should
    build each such table once and join that one table wherever it needs it."""
    table = ibis.memtable(frame, schema=dict(schema))
    return table.op().copy(name=content_name(frame, schema, prefix)).to_expr()


def code_list_table(codes: Iterable[str]) -> ir.Table:
    """A list of codes as a one-column table (`code`), so that the codes reach a query as data joined
    against, never as SQL text."""
    frame = pd.DataFrame({"code": sorted(set(codes))}, dtype="string")
    return named_memtable(frame, {"code": "string"}, "codes")
