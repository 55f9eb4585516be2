"""`codeset show ID --usage`: national usage of each code of a codeset, per published year.

The figures come from the usage files on CODESET_USAGE_PATH (`codesetlib.codesets.usage`): NHS
England's published national aggregates, shown as published (SNOMED CT counts are already rounded
to the nearest 10 by NHS England, and `*` is shown as what it stands for, 1–4).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from codesetlib.codesets.files import read_codes
from codesetlib.codesets.model import Codeset
from codesetlib.codesets.usage import (
    USAGE_PATH_VARIABLE,
    describe,
    load_usage,
    usage_by_year,
    usage_of,
)
from codesetlib.core.errors import CodesetError


def add_usage(folder: Path, codeset: Codeset, data: dict, lines: list[str]) -> None:
    """Add the national usage of the codes in `folder`'s codes.csv to what `codeset show` prints:
    a table of code, one column per year and term to `lines`, and the rows to `data["usage"]`.

    Refuses when no usage file of the codeset's coding system is loaded, naming the variable."""
    system = codeset.coding_system
    index = load_usage()
    if not index.loaded(system):
        found = ", ".join(sorted({f.system for f in index.files})) or "none"
        raise CodesetError(
            f"no {system} usage file is loaded (usage files found for: {found}); name the folder "
            f"holding them in {USAGE_PATH_VARIABLE}",
            field="--usage",
        )
    rows = read_codes(folder)
    codes = [r.code for r in rows]
    frame = usage_of(codes, system, index)
    data["usage"] = {
        "source": describe(system),
        "years": index.years(system),
        "codes": [
            {
                "code": r.code,
                "year": r.year,
                "usage": None if r.suppressed else int(r.usage),
                "suppressed": bool(r.suppressed),
                "active_at_start": _flag(r.active_at_start),
                "active_at_end": _flag(r.active_at_end),
            }
            for r in frame.itertuples(index=False)
        ],
        "not_usage_files": [str(p) for p in index.ignored],
    }
    lines += usage_lines(usage_by_year(codes, system, index), {r.code: r.term for r in rows})
    lines.append(f"  ({describe(system)}; a code a year's file does not list was used 0 times)")
    lines += [f"  note: not a usage file, left alone: {p}" for p in index.ignored]


def _flag(value: object) -> bool | None:
    return None if pd.isna(value) else bool(value)


def usage_lines(wide: pd.DataFrame, terms: dict[str, str]) -> list[str]:
    """The wide usage table (Code, then a column per year) as aligned text, each row ending with
    the code's term."""
    years = [c for c in wide.columns if c != "Code"]
    width = max([len("code"), *(len(c) for c in wide["Code"])])
    widths = [max(len(y), *(len(v) for v in wide[y])) for y in years]
    head = "  " + "code".ljust(width)
    head += "".join("  " + y.rjust(w) for y, w in zip(years, widths, strict=True)) + "  term"
    out = ["national usage:", head]
    for _, row in wide.iterrows():
        cells = "".join("  " + row[y].rjust(w) for y, w in zip(years, widths, strict=True))
        out.append(f"  {row['Code'].ljust(width)}{cells}  {terms.get(row['Code'], '')}")
    return out
