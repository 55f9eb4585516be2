"""Generate a small synthetic primary-care dataset as Parquet, deterministic by seed.

Tables: `practices`, `patients`, `registrations`, `clinical_events`; `manifest.json` records the schema
version, seed, parameters, row counts and a SHA-256 of every file, so a dataset can be pinned by hash.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict, Field

from codesetlib.errors import DatasetError
from codesetlib.terminology import Terminology, open_release

SCHEMA_VERSION = "0.1"
MANIFEST = "manifest.json"
EPOCH = dt.date(1970, 1, 1)
# Concepts whose descendants the events are drawn from, with the share of patients who get one.
CONDITION_ANCHORS = {
    "363346000": 0.06,  # Malignant neoplastic disease
    "73211009": 0.07,  # Diabetes mellitus
}
BOROUGHS = ["Barnet", "Camden", "Enfield", "Haringey", "Islington"]


class SynthParams(BaseModel):
    """Parameters of a synthetic dataset; together with the seed they fix every byte of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    patients: int = Field(default=2000, ge=1, le=50_000_000)
    practices: int = Field(default=10, ge=1)
    seed: int = Field(default=42, ge=0)
    start: dt.date = dt.date(2015, 1, 1)
    end: dt.date = dt.date(2025, 3, 31)
    terminology_release: str = "snomedct-teaching-20240401"
    background_events_per_patient: float = Field(default=4.0, ge=0)


def _days(date: dt.date) -> int:
    return (date - EPOCH).days


def _date_array(days: np.ndarray) -> pa.Array:
    return pa.array(days.astype("int32"), type=pa.int32()).cast(pa.date32())


def _practices(params: SynthParams, registrations: pa.Table) -> pa.Table:
    ids = np.arange(1, params.practices + 1)
    registered = registrations["practice_id"].to_numpy()
    return pa.table(
        {
            "practice_id": pa.array(ids, type=pa.int32()),
            "borough": pa.array([BOROUGHS[i % len(BOROUGHS)] for i in range(params.practices)]),
            "list_size": pa.array(np.bincount(registered, minlength=len(ids) + 1)[1:], pa.int32()),
        }
    )


def _patients(params: SynthParams, rng: np.random.Generator) -> pa.Table:
    n = params.patients
    age_at_end = rng.integers(0, 100, n)
    dob = _days(params.end) - age_at_end * 365 - rng.integers(0, 365, n)
    dies = rng.random(n) < 0.03
    death = np.where(dies, rng.integers(_days(params.start), _days(params.end), n), 0)
    death = np.maximum(death, dob + 1)
    return pa.table(
        {
            "patient_id": pa.array(np.arange(1, n + 1), type=pa.int64()),
            "sex": pa.array(np.where(rng.random(n) < 0.5, "female", "male")),
            "date_of_birth": _date_array(dob),
            "date_of_death": pa.array(
                [None if not d else int(x) for d, x in zip(dies, death, strict=True)],
                type=pa.int32(),
            ).cast(pa.date32()),
            "imd_quintile": pa.array(rng.integers(1, 6, n), type=pa.int8()),
        }
    )


def _registrations(params: SynthParams, patients: pa.Table, rng: np.random.Generator) -> pa.Table:
    n = patients.num_rows
    dob = patients["date_of_birth"].cast(pa.int32()).to_numpy()
    start = np.maximum(dob, _days(params.start) - rng.integers(0, 3650, n))
    return pa.table(
        {
            "patient_id": patients["patient_id"],
            "practice_id": pa.array(rng.integers(1, params.practices + 1, n), type=pa.int32()),
            "start_date": _date_array(start),
            "end_date": patients["date_of_death"],
        }
    )


def _events(
    params: SynthParams, patients: pa.Table, terminology: Terminology, rng: np.random.Generator
) -> pa.Table:
    n = patients.num_rows
    dob = patients["date_of_birth"].cast(pa.int32()).to_numpy()
    first_day = np.maximum(dob, _days(params.start))
    span = np.maximum(_days(params.end) - first_day, 1)
    all_codes = np.array(sorted(c for c in terminology.codes() if terminology.concept(c).active))
    pids, codes = [], []
    for anchor, share in CONDITION_ANCHORS.items():
        pool = np.array(sorted(terminology.descendants_of(anchor) | {anchor}))
        who = np.flatnonzero(rng.random(n) < share)
        pids.append(who)
        codes.append(pool[rng.integers(0, len(pool), len(who))])
    background = rng.poisson(params.background_events_per_patient, n)
    who = np.repeat(np.arange(n), background)
    pids.append(who)
    codes.append(all_codes[rng.integers(0, len(all_codes), len(who))])
    index = np.concatenate(pids)
    day = first_day[index] + (rng.random(len(index)) * span[index]).astype("int64")
    order = np.lexsort((np.concatenate(codes), day, index))
    return pa.table(
        {
            "patient_id": pa.array(index[order] + 1, type=pa.int64()),
            "date": _date_array(day[order]),
            "code": pa.array(np.concatenate(codes)[order]),
            "value": pa.array(np.full(len(order), None, dtype=object), type=pa.float64()),
        }
    )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def generate_dataset(params: SynthParams, out_dir: Path) -> dict:
    """Write the dataset to `out_dir` (replacing it whole, never half-written); return the manifest."""
    rng = np.random.default_rng(params.seed)
    terminology = open_release(params.terminology_release)
    patients = _patients(params, rng)
    registrations = _registrations(params, patients, rng)
    tables = {
        "practices": _practices(params, registrations),
        "patients": patients,
        "registrations": registrations,
        "clinical_events": _events(params, patients, terminology, rng),
    }
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        files = {}
        for name, table in tables.items():
            path = staging / f"{name}.parquet"
            pq.write_table(table, path, compression="zstd")
            files[name] = {"rows": table.num_rows, "sha256": _sha256(path)}
        manifest = {
            "schema_version": SCHEMA_VERSION,
            "seed": params.seed,
            "parameters": params.model_dump(mode="json"),
            "tables": files,
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.chmod(0o755)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def read_manifest(dataset_dir: Path) -> dict:
    """The manifest of a generated dataset; a clear error when the folder holds none."""
    path = dataset_dir / MANIFEST
    if not path.is_file():
        raise DatasetError(
            "no manifest.json: not a generated dataset (run `codeset synth --out DIR`)",
            path=dataset_dir,
        )
    return json.loads(path.read_text(encoding="utf-8"))
