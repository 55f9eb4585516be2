"""Generate a synthetic primary-care dataset with a known truth, as Parquet, deterministic by seed.

The truth (population, conditions, attributes) and the coding process (what reaches the record) are
separate steps. Patients are generated in chunks, each from its own random stream derived from
(seed, chunk index), so the output does not depend on how many worker processes run them; chunks are
written in order, so memory stays bounded whatever the number of patients. See SCHEMA.md."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from codesetlib.core.errors import DatasetError
from codesetlib.data.synthetic import coding
from codesetlib.data.synthetic.calibration import Calibration, load_calibration, practice_shares
from codesetlib.data.synthetic.code_choice import load_code_choice, release_periods
from codesetlib.data.synthetic.conditions import (
    ATTRIBUTE_CATEGORIES,
    attribute_rows,
    condition_rows,
    draw_attributes,
    draw_conditions,
)
from codesetlib.data.synthetic.dates import day_number
from codesetlib.data.synthetic.manifest import read_manifest
from codesetlib.data.synthetic.params import SynthParams
from codesetlib.data.synthetic.population import (
    Practices,
    draw_patients,
    draw_practices,
    draw_registrations,
    registered_at_end,
    registration_rows,
)
from codesetlib.data.synthetic.writer import DatasetWriter, sha256_of

# Recording items whose completeness varies by practice.
PRACTICE_ITEMS = (
    "ethnicity",
    "main_language",
    "employment_status",
    "family_history_of_cancer",
    "cancer_diagnosis",
    "cancer_care_review",
    "cancer_staging",
    "cancer_treatment",
    "cancer_care_plan",
    "holistic_needs_assessment",
    "cancer_support_discussion",
    "nmsc_diagnosis",
    "diabetes_diagnosis",
)


@dataclass(frozen=True)
class GeneratorModel:
    """Everything fixed before the first chunk: parameters, practices and the coding model."""

    params: SynthParams
    practices: Practices
    coding: coding.CodingModel
    history_start: int

    @property
    def chunks(self) -> int:
        return -(-self.params.patients // self.params.chunk_patients)


def _seed_sequence(seed: int, *key: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(entropy=seed, spawn_key=key)


def build_model(params: SynthParams) -> GeneratorModel:
    """Load and check the calibration and code choices, and draw the practices (from the seed)."""
    calibration: Calibration = load_calibration(params.calibration_path())
    choice = load_code_choice(
        params.code_choice_path(),
        release_periods(
            params.terminology_release, params.terminology_release_after_drift, params.drift_date
        ),
        release_periods(params.dmd_release, params.dmd_release_after_drift, params.drift_date),
        ATTRIBUTE_CATEGORIES,
    )
    rng = np.random.default_rng(_seed_sequence(params.seed, 0))
    practices = draw_practices(params.practices, calibration.boroughs, rng)
    shares = {
        item: practice_shares(
            getattr(calibration.recording, item),
            practices.share,
            calibration.practice_variation,
            rng,
        )
        for item in PRACTICE_ITEMS
    }
    model = coding.CodingModel(
        start=day_number(params.start),
        end=day_number(params.end),
        calibration=calibration,
        choice=choice,
        practice_share=shares,
    )
    return GeneratorModel(params, practices, model, day_number(params.history_start))


def generate_chunk(model: GeneratorModel, index: int) -> dict[str, Any]:
    """The rows of every table for chunk `index`, and its patients registered at the end by practice."""
    params, cm = model.params, model.coding
    rng = np.random.default_rng(_seed_sequence(params.seed, 1, index))
    first = index * params.chunk_patients
    count = min(params.chunk_patients, params.patients - first)
    patients, practice = draw_patients(first + 1, count, cm.start, cm.end, model.practices, rng)
    screening_ages = {k: v.ages for k, v in cm.calibration.screening.items()}
    conditions = draw_conditions(patients, model.history_start, cm.end, screening_ages, rng)
    registrations = draw_registrations(patients, practice, cm.start, cm.end, model.practices, rng)
    attributes = draw_attributes(patients, cm.end, rng)
    chunk = coding.Chunk(patients, registrations, conditions, attributes)
    events, medications = coding.EventBuffer(), coding.EventBuffer()
    coding.code_attributes(cm, chunk, events, rng)
    coded_day = coding.code_cancer(cm, chunk, events, rng)
    coding.code_cancer_care(cm, chunk, coded_day, events, medications, rng)
    coding.code_nmsc(cm, chunk, events, rng)
    coding.code_diabetes(cm, chunk, events, medications, rng)
    coding.code_screening(cm, chunk, events, rng)
    event_rows = events.rows(patients.patient_id, with_value=True)
    event_rows["code"] = (event_rows["code"], cm.choice.snomed_vocabulary)
    medication_rows = medications.rows(patients.patient_id, with_value=False)
    medication_rows["code"] = (medication_rows["code"], cm.choice.dmd_vocabulary)
    at_end = registered_at_end(patients, registrations, cm.end)
    return {
        "tables": {
            "patients": {
                "patient_id": patients.patient_id,
                "sex": (patients.female.astype(np.int8), ["male", "female"]),
                "date_of_birth": patients.date_of_birth,
                "date_of_death": patients.date_of_death,
                "imd_quintile": patients.imd_quintile,
            },
            "registrations": registration_rows(patients, registrations, cm.end),
            "clinical_events": event_rows,
            "medications": medication_rows,
            "truth_conditions": condition_rows(patients, conditions),
            "truth_attributes": attribute_rows(patients, attributes),
        },
        "list_size": np.bincount(
            registrations.final_practice()[at_end], minlength=len(model.practices.share)
        ),
    }


_WORKER_MODEL: GeneratorModel | None = None


def _start_worker(model: GeneratorModel) -> None:
    global _WORKER_MODEL
    _WORKER_MODEL = model
    # Ctrl-C reaches the workers too; the parent stops them and removes what it wrote.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _chunk_in_worker(index: int) -> dict[str, Any]:
    assert _WORKER_MODEL is not None
    return generate_chunk(_WORKER_MODEL, index)


def _chunks_in_order(model: GeneratorModel, workers: int):
    """Each chunk's rows in chunk order, from `workers` processes, at most a few chunks ahead."""
    if workers <= 1 or model.chunks == 1:
        for index in range(model.chunks):
            yield generate_chunk(model, index)
        return
    context = multiprocessing.get_context("forkserver")
    with context.Pool(workers, initializer=_start_worker, initargs=(model,)) as pool:
        pending: deque = deque()
        submitted = 0
        while pending or submitted < model.chunks:
            while submitted < model.chunks and len(pending) < workers + 1:
                pending.append(pool.apply_async(_chunk_in_worker, (submitted,)))
                submitted += 1
            yield pending.popleft().get()


def default_workers() -> int:
    """Two worker processes where two cores are there (the chunks' results do not depend on it)."""
    return max(1, min(2, os.cpu_count() or 1))


def generate_dataset(
    params: SynthParams,
    out_dir: Path,
    *,
    workers: int | None = None,
    progress: bool | None = None,
    force: bool = False,
) -> dict:
    """Write the dataset to `out_dir` (replacing it whole, never half-written); return the manifest.

    A folder there that is not a dataset the kit wrote is refused unless `force` is given.
    `progress` shows a bar on standard error (default: when it is a terminal)."""
    model = build_model(params)
    workers = default_workers() if workers is None else workers
    show = sys.stderr.isatty() if progress is None else progress
    writer = DatasetWriter(Path(out_dir), force=force)
    list_size = np.zeros(params.practices, dtype=np.int64)
    try:
        with tqdm(total=params.patients, unit="patient", disable=not show, file=sys.stderr) as bar:
            for result in _chunks_in_order(model, workers):
                for name, columns in result["tables"].items():
                    writer.write(name, columns)
                list_size += result["list_size"]
                bar.update(len(result["tables"]["patients"]["patient_id"]))
        practice_ids = np.arange(1, params.practices + 1, dtype=np.int32)
        writer.write(
            "practices",
            {
                "practice_id": practice_ids,
                "borough": (model.practices.borough, list(model.practices.names)),
                "list_size": list_size.astype(np.int32),
            },
        )
        return writer.commit(
            {
                "seed": params.seed,
                "parameters": params.model_dump(mode="json"),
                "inputs": input_files(params),
            }
        )
    except BaseException:
        writer.abandon()
        raise


def input_files(params: SynthParams) -> dict[str, dict[str, str]]:
    """The files besides the parameters that fix the dataset (calibration, code choices), by hash."""
    return {
        name: {"path": path.name, "sha256": sha256_of(path)}
        for name, path in (
            ("calibration", params.calibration_path()),
            ("code_choice", params.code_choice_path()),
        )
    }


def dataset_is_current(params: SynthParams, dataset_dir: Path) -> bool:
    """Whether `dataset_dir` holds a dataset generated with `params` from the same calibration and
    code-choice files (compared by hash, so an edited calibration is generated again)."""
    try:
        manifest = read_manifest(dataset_dir)
    except DatasetError:  # none, or not one the kit wrote: the writer decides what may replace it
        return False
    wanted = {"parameters": params.model_dump(mode="json"), "inputs": input_files(params)}
    return all(manifest.get(key) == value for key, value in wanted.items())
