"""Benchmark the cohort engines on generated data: the DuckDB engine against hand-written SQL.

Generates its own dataset (vectorised numpy → Parquet in a temporary folder) with ≈20 clinical
events and 10 prescriptions per patient, then times, in one run:

- the workload cohort (adults registered on 31 Mar 2024 with a diabetes code before it; age, sex,
  practice, latest HbA1c in the last 15 months with its date and a ≤58 flag, metformin in the last
  12 months) on the DuckDB engine and as hand-written DuckDB SQL (the peer), taking turns, each
  both to pandas and to Arrow, checking that both give the same cohort;
- the same population's monthly practice-level measure (HbA1c ≤ 58) over 12 months, one query;
- the pandas reference (written for clarity, not speed) on a subset of patients.

Usage: python benchmarks/bench_cohort.py [--patients 100000 1000000] [--reference-patients 5000]
       [--repeats 9]
Writes benchmarks/results/cohort.json and cohort.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from codesetlib.cohorts import CodesetCodes, CohortDefinition, DuckDBEngine, PandasReference
from codesetlib.cohorts.measures import Intervals, Measure, compute_measure

RESULTS = Path(__file__).parent / "results"
INDEX = dt.date(2024, 3, 31)
EPOCH = dt.date(1970, 1, 1)
DIABETES = [f"4400{i}" for i in range(5)]
HBA1C = "1049301000000100"
METFORMIN = [f"3456{i}" for i in range(3)]
CODESETS = {
    "diabetes": CodesetCodes(coding_system="snomedct", codes=DIABETES),
    "hba1c": CodesetCodes(coding_system="snomedct", codes=[HBA1C]),
    "metformin": CodesetCodes(coding_system="dmd", codes=METFORMIN),
}
DEFINITION = CohortDefinition.model_validate(
    {
        "id": "diabetes_control",
        "index_date": INDEX,
        "population": {"age_min": 18},
        "criteria": [
            {"name": "diabetes", "codeset": "diabetes", "window": "ever before"},
            {
                "name": "hba1c_value",
                "codeset": "hba1c",
                "window": "15 months before",
                "returns": "last_value",
            },
            {
                "name": "hba1c_date",
                "codeset": "hba1c",
                "window": "15 months before",
                "returns": "last_date",
            },
            {
                "name": "metformin",
                "codeset": "metformin",
                "table": "medications",
                "window": "12 months before",
            },
        ],
        "flags": [{"name": "hba1c_controlled", "of": "hba1c_value", "at_most": 58}],
        "rules": [{"action": "include", "criterion": "diabetes"}],
        "columns": [
            "patient_id",
            "age",
            "sex",
            "practice_id",
            "hba1c_value",
            "hba1c_date",
            "hba1c_controlled",
            "metformin",
        ],
    }
)
MEASURE = Measure(
    id="hba1c_control_by_practice",
    definition=DEFINITION,
    numerator="hba1c_controlled",
    group_by=["practice_id"],
    intervals=Intervals(start=dt.date(2023, 4, 1), end=dt.date(2024, 3, 31)),
)

HAND_SQL = """
WITH pop AS (
  SELECT p.patient_id, p.sex, r.practice_id,
         date_diff('year', p.date_of_birth, DATE '2024-03-31')
           - CASE WHEN strftime(DATE '2024-03-31', '%m%d') < strftime(p.date_of_birth, '%m%d')
             THEN 1 ELSE 0 END AS age
  FROM patients p
  JOIN registrations r ON r.patient_id = p.patient_id
   AND r.start_date <= DATE '2024-03-31'
   AND (r.end_date IS NULL OR r.end_date >= DATE '2024-03-31')
  WHERE p.date_of_death IS NULL OR p.date_of_death > DATE '2024-03-31'
),
dm AS (
  SELECT DISTINCT e.patient_id FROM clinical_events e JOIN codes c ON c.code = e.code
  WHERE c.codeset = 'diabetes' AND e.date <= DATE '2024-03-31'
),
a1c AS (
  SELECT e.patient_id, arg_max(e.value, (e.date, coalesce(e.value, -1e300))) AS hba1c_value, max(e.date) AS hba1c_date
  FROM clinical_events e JOIN codes c ON c.code = e.code
  WHERE c.codeset = 'hba1c' AND e.date BETWEEN DATE '2022-12-31' AND DATE '2024-03-31'
  GROUP BY e.patient_id
),
met AS (
  SELECT DISTINCT m.patient_id FROM medications m JOIN codes c ON c.code = m.code
  WHERE c.codeset = 'metformin' AND m.date BETWEEN DATE '2023-03-31' AND DATE '2024-03-31'
)
SELECT pop.patient_id, pop.age, pop.sex, pop.practice_id, a1c.hba1c_value, a1c.hba1c_date,
       coalesce(a1c.hba1c_value <= 58, false) AS hba1c_controlled, met.patient_id IS NOT NULL AS metformin
FROM pop JOIN dm USING (patient_id)
LEFT JOIN a1c USING (patient_id) LEFT JOIN met USING (patient_id)
WHERE pop.age >= 18
ORDER BY pop.patient_id
"""


def days(date: dt.date) -> int:
    return (date - EPOCH).days


def dates(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype("int32"), type=pa.int32()).cast(pa.date32())


def generate(n: int, folder: Path, seed: int = 7) -> dict[str, int]:
    """Write patients, registrations, practices, clinical_events and medications for `n` patients."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, n + 1, dtype="int64")
    dob = days(dt.date(2024, 1, 1)) - rng.integers(0, 95 * 365, n)
    dies = rng.random(n) < 0.03
    dod = np.where(dies, rng.integers(days(dt.date(2015, 1, 1)), days(dt.date(2025, 1, 1)), n), 0)
    practices = max(n // 5000, 2)
    practice = rng.integers(1, practices + 1, n)
    tables = {
        "patients": pa.table(
            {
                "patient_id": ids,
                "sex": np.where(rng.random(n) < 0.5, "female", "male"),
                "date_of_birth": dates(dob),
                "date_of_death": pa.array(
                    np.maximum(dod, dob + 1).astype("int32"), mask=~dies
                ).cast(pa.date32()),
                "imd_quintile": pa.array(rng.integers(1, 6, n), type=pa.int8()),
            }
        ),
        "registrations": pa.table(
            {
                "patient_id": ids,
                "practice_id": practice.astype("int64"),
                "start_date": dates(
                    np.maximum(dob, days(dt.date(2000, 1, 1)) + rng.integers(0, 8000, n))
                ),
                "end_date": pa.array(np.maximum(dod, dob + 1).astype("int32"), mask=~dies).cast(
                    pa.date32()
                ),
            }
        ),
        "practices": pa.table(
            {
                "practice_id": np.arange(1, practices + 1, dtype="int64"),
                "borough": np.array(["Camden", "Barnet"])[np.arange(practices) % 2],
            }
        ),
        "clinical_events": _events(rng, ids, 20),
        "medications": _medications(rng, ids, 10),
    }
    for name, table in tables.items():
        pq.write_table(table, folder / f"{name}.parquet")
    return {name: table.num_rows for name, table in tables.items()}


def _events(rng: np.random.Generator, ids: np.ndarray, per_patient: int) -> pa.Table:
    """Background codes, diabetes codes for 8% of patients, and HbA1c tests mostly for them."""
    n = len(ids)
    who = np.repeat(ids, per_patient)
    codes = np.array([f"9{i:06d}" for i in range(2000)])[rng.integers(0, 2000, len(who))]
    diabetic = rng.random(n) < 0.08
    slot = np.arange(len(who)) % per_patient
    is_diabetic_row = diabetic[who - 1]
    codes = np.where(
        is_diabetic_row & (slot == 0), np.array(DIABETES)[rng.integers(0, 5, len(who))], codes
    )
    codes = np.where(is_diabetic_row & (slot >= 1) & (slot <= 4), HBA1C, codes)
    codes = np.where(~is_diabetic_row & (slot == 1) & (rng.random(len(who)) < 0.1), HBA1C, codes)
    day = rng.integers(days(dt.date(2010, 1, 1)), days(dt.date(2024, 12, 31)), len(who))
    value = np.where(codes == HBA1C, rng.normal(55, 12, len(who)).round(), np.nan)
    return pa.table(
        {
            "patient_id": who,
            "date": dates(day),
            "code": codes,
            "value": pa.array(value, mask=np.isnan(value)),
        }
    )


def _medications(rng: np.random.Generator, ids: np.ndarray, per_patient: int) -> pa.Table:
    who = np.repeat(ids, per_patient)
    pool = np.array(METFORMIN + [f"7{i:06d}" for i in range(500)])
    codes = pool[np.minimum(rng.integers(0, len(pool) + 40, len(who)), len(pool) - 1)]
    day = rng.integers(days(dt.date(2018, 1, 1)), days(dt.date(2024, 12, 31)), len(who))
    return pa.table({"patient_id": who, "date": dates(day), "code": codes})


def timed(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, dict]:
    """Wall-clock seconds of each run, `repeats` times, taking turns so shared load hits all alike.

    Returns per run its first time (cold: nothing compiled or cached yet), best and median times,
    and its last result.
    """
    times: dict[str, list[float]] = {name: [] for name in runs}
    results: dict[str, object] = {}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            results[name] = run()
            times[name].append(time.perf_counter() - start)
    return {
        name: {
            "first_s": round(ts[0], 3),
            "best_s": round(min(ts), 3),
            "median_s": round(statistics.median(ts), 3),
            "result": results[name],
        }
        for name, ts in times.items()
    }


def hand_written(folder: Path, threads: int) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the tables as views over the Parquet files and the codes as a table,
    as the engine has them."""
    con = duckdb.connect(config={"threads": threads})
    for name in ("patients", "registrations", "clinical_events", "medications"):
        con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{folder / name}.parquet')")
    rows = [(cid, code) for cid, cs in CODESETS.items() for code in cs.codes]
    con.execute("CREATE TABLE codes (codeset VARCHAR, code VARCHAR)")
    con.executemany("INSERT INTO codes VALUES (?, ?)", rows)
    return con


def same_cohort(engine: pd.DataFrame, peer: pd.DataFrame) -> None:
    """The engine and the peer give the same rows, columns and values.

    DuckDB's `.df()` gives dates as datetime64[us] and the engine (as Ibis) datetime64[s], and the
    peer's ages are 32-bit; the values are compared in the engine's types.
    """
    peer = peer.astype(dict(engine.dtypes))
    pd.testing.assert_frame_equal(engine.reset_index(drop=True), peer.reset_index(drop=True))


def bench_size(n: int, reference_n: int, repeats: int, threads: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        start = time.perf_counter()
        rows = generate(n, folder)
        generate_s = time.perf_counter() - start
        engine = DuckDBEngine(folder, threads=threads)
        peer = hand_written(folder, threads)
        runs = timed(
            {
                # Check, compile (first run only), run, fetch Arrow, convert to pandas.
                "engine_pandas": lambda: engine.cohort(DEFINITION, CODESETS),
                # The hand-written query, fetched and converted to pandas by DuckDB.
                "peer_pandas": lambda: peer.sql(HAND_SQL).df(),
                # The same two, stopping at the Arrow table.
                "engine_arrow": lambda: engine.to_pyarrow(
                    engine.plan(DEFINITION, CODESETS).patients()
                ),
                "peer_arrow": lambda: peer.sql(HAND_SQL).to_arrow_table(),
            },
            repeats,
        )
        cohort = runs["engine_pandas"]["result"]
        same_cohort(cohort, runs["peer_pandas"]["result"])
        assert runs["engine_arrow"]["result"].num_rows == runs["peer_arrow"]["result"].num_rows
        measure_engine = DuckDBEngine(folder, threads=threads)
        measure = timed(
            {"measure": lambda: compute_measure(MEASURE, CODESETS, measure_engine)}, repeats
        )["measure"]
        timings = {
            name: {k: v for k, v in run.items() if k != "result"} for name, run in runs.items()
        }
        result = {
            "patients": n,
            "rows": rows,
            "generate_s": round(generate_s, 2),
            "cohort_rows": len(cohort),
            "cohort": timings,
            "duckdb_engine_s": runs["engine_pandas"]["best_s"],
            "hand_written_sql_s": runs["peer_pandas"]["best_s"],
            "ratio_engine_to_sql": round(
                runs["engine_pandas"]["best_s"] / runs["peer_pandas"]["best_s"], 2
            ),
            "ratio_engine_to_sql_arrow": round(
                runs["engine_arrow"]["best_s"] / runs["peer_arrow"]["best_s"], 2
            ),
            "ratio_engine_to_sql_median": round(
                runs["engine_pandas"]["median_s"] / runs["peer_pandas"]["median_s"], 2
            ),
            "measure_rows": len(measure["result"]),
            "measure_12_months_s": measure["best_s"],
            "measure_12_months": {k: v for k, v in measure.items() if k != "result"},
        }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        generate(reference_n, folder)
        engine = DuckDBEngine(folder, threads=threads)
        reference = PandasReference.from_dataset(folder)
        ref = timed({"reference": lambda: reference.cohort(DEFINITION, CODESETS)}, 1)["reference"]
        duck = timed({"engine": lambda: engine.cohort(DEFINITION, CODESETS)}, repeats)["engine"]
        assert len(ref["result"]) == len(duck["result"])
        result.update(
            reference_patients=reference_n,
            pandas_reference_s=ref["best_s"],
            duckdb_engine_on_reference_subset_s=duck["best_s"],
        )
    return result


def verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def write_results(results: list[dict], threads: int, repeats: int) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    targets = {"cohort_s": 2.0, "ratio_engine_to_sql": 1.5, "measure_12_months_s": 9.0}
    meta = {
        "benchmark": "cohort",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "threads": threads,
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "ibis": ibis.__version__,
        },
        "repeats": repeats,
        "targets_at_1m": targets,
        "results": results,
    }
    (RESULTS / "cohort.json").write_text(json.dumps(meta, indent=2) + "\n")
    lines = [
        "# Cohort benchmark",
        "",
        f"Run {meta['date']} on {meta['machine']['cpus']} shared CPUs (DuckDB {duckdb.__version__}, "
        f"Ibis {ibis.__version__}, {threads} threads), with `python benchmarks/bench_cohort.py`.",
        "",
    ]
    largest = max(results, key=lambda r: r["patients"])
    if largest["patients"] >= 1_000_000:
        cohort = largest["cohort"]["engine_pandas"]["best_s"]
        ratio = largest["ratio_engine_to_sql"]
        measure = largest["measure_12_months_s"]
        lines += [
            f"## Targets at {largest['patients']:,} patients",
            "",
            f"- Cohort on the DuckDB engine ≤ {targets['cohort_s']} s: {verdict(cohort <= targets['cohort_s'])} "
            f"({cohort} s).",
            f"- Cohort within {targets['ratio_engine_to_sql']}× hand-written DuckDB SQL, both to pandas: "
            f"{verdict(ratio <= targets['ratio_engine_to_sql'])} ({ratio}× best against best; "
            f"{largest['ratio_engine_to_sql_median']}× median against median; "
            f"{largest['ratio_engine_to_sql_arrow']}× when both stop at Arrow; first runs, the "
            f"engine's including compiling: {largest['cohort']['engine_pandas']['first_s']} s against "
            f"{largest['cohort']['peer_pandas']['first_s']} s, "
            f"{largest['cohort']['engine_pandas']['first_s'] / largest['cohort']['peer_pandas']['first_s']:.2f}×).",
            f"- 12-month practice-level monthly measure in one query ≤ {targets['measure_12_months_s']} s: "
            f"{verdict(measure <= targets['measure_12_months_s'])} ({measure} s).",
            "",
        ]
    lines += [
        "## Cohort: DuckDB engine against hand-written DuckDB SQL",
        "",
        "Seconds of wall-clock time; best (median) of "
        f"{repeats} runs taken in turn, so shared load falls on all four alike; first = the first run.",
        "",
        "| Patients | Events | Prescriptions | Cohort rows | Engine → pandas | first | Hand SQL → pandas | Ratio | Engine → Arrow | Hand SQL → Arrow | Ratio (Arrow) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        c = r["cohort"]
        lines.append(
            f"| {r['patients']:,} | {r['rows']['clinical_events']:,} | {r['rows']['medications']:,} "
            f"| {r['cohort_rows']:,} "
            f"| {c['engine_pandas']['best_s']} ({c['engine_pandas']['median_s']}) | {c['engine_pandas']['first_s']} "
            f"| {c['peer_pandas']['best_s']} ({c['peer_pandas']['median_s']}) | {r['ratio_engine_to_sql']} "
            f"| {c['engine_arrow']['best_s']} ({c['engine_arrow']['median_s']}) "
            f"| {c['peer_arrow']['best_s']} ({c['peer_arrow']['median_s']}) | {r['ratio_engine_to_sql_arrow']} |"
        )
    lines += [
        "",
        "What each timing includes:",
        "",
        "- **Engine → pandas**: `DuckDBEngine.cohort(definition, codesets)` as a user calls it: the "
        "look-up of the compiled plan by the definition and its codesets, the query over the Parquet "
        "files, the fetch as Arrow and one conversion to pandas. Its first run also checks the "
        "definition, compiles the plan to SQL and loads the codes into a temporary table "
        "(**first** column); later runs reuse that SQL.",
        "- **Hand SQL → pandas**: the hand-written query in `bench_cohort.py` (`HAND_SQL`) on its own "
        "DuckDB connection over the same Parquet files with the codes in a table, fetched by "
        "DuckDB's `.df()`. It returns the same rows, columns and values as the engine (checked on "
        "the last run's results). It takes the one registration covering the index date and so does not choose among "
        "several, as the engine does (latest start, then lowest practice id); the generated data have "
        "one registration per patient, so this only favours the peer.",
        "- **→ Arrow**: the same two queries stopping at the Arrow table (the engine by "
        "`DuckDBEngine.to_pyarrow` on the cached plan), leaving out the conversion to pandas.",
        "",
        "The engine's SQL is compiled from the definition (`codesetlib/cohorts/plan.py`): the "
        "population conditions (alive, age) filter the patients first, the registration on the index "
        "date is an inner join, the diabetes rule is a semi join to the coded events in its window, "
        "the latest HbA1c value and its date are one aggregate (`arg_max` by date, code, value) over "
        "the events in the window, and metformin is one count, each joined once to the rows left.",
        "",
        "## 12-month practice-level measure and the pandas reference",
        "",
        "| Patients | Measure rows | Measure best (median) s | first s | Pandas reference (patients: s) | Engine on that subset s |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        m = r["measure_12_months"]
        lines.append(
            f"| {r['patients']:,} | {r['measure_rows']:,} | {m['best_s']} ({m['median_s']}) | {m['first_s']} "
            f"| {r['reference_patients']:,}: {r['pandas_reference_s']} "
            f"| {r['duckdb_engine_on_reference_subset_s']} |"
        )
    lines += [
        "",
        "The measure is `compute_measure` on a fresh engine: HbA1c ≤ 58 mmol/mol among the cohort, by "
        "practice, for each of 12 months, in one query (patients crossed with the 12 month ends), "
        "fetched and converted to pandas; its first run includes compiling. The pandas reference "
        "(written for clarity, not speed) runs on a small subset only, to show what the engines "
        "replace.",
        "",
    ]
    (RESULTS / "cohort.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--reference-patients", type=int, default=5_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    results = []
    for n in args.patients:
        result = bench_size(n, min(args.reference_patients, n), args.repeats, args.threads)
        print(json.dumps(result))
        results.append(result)
    write_results(results, args.threads, args.repeats)


if __name__ == "__main__":
    main()
