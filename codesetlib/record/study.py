"""The study configuration (`study.yaml`): the dataset, codesets, notebooks and settings of a record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator, model_validator

from codesetlib.codesets.model import CODESET_ID, PATTERN_HINTS, SEMVER
from codesetlib.core.disclosure import DisclosureSettings
from codesetlib.core.errors import StudyError
from codesetlib.core.models import StrictModel
from codesetlib.core.yamlfile import validate_yaml
from codesetlib.data.synthetic import SynthParams


class DatasetSpec(StrictModel):
    """The study's data: a synthetic dataset to generate (or reuse when its manifest matches) under
    `data/synthetic/NAME`, or a `source` the study reads as it is (a kit dataset folder, `omop:PATH`,
    `omop:postgresql://…`, `ehrql:PATH`, `mapped:MAPPING.yaml`; paths relative to the study file)."""

    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]+$")
    synth: SynthParams = SynthParams()
    source: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> DatasetSpec:
        if (self.name is None) == (self.source is None):
            raise ValueError("give either name (a synthetic dataset) or source (data to read)")
        if self.source is not None and "synth" in self.model_fields_set:
            raise ValueError("synth parameters apply to a generated dataset, not to a source")
        return self


class CodesetPin(StrictModel):
    """A codeset the study uses, pinned to a version (the current one when none is given). It is named
    by its id, a folder of the study's codesets folder, never by a path that could lead outside it."""

    id: str = Field(pattern=CODESET_ID)
    version: str | None = Field(default=None, pattern=SEMVER)


class NotebookRun(StrictModel):
    """One notebook of the record and the parameters it runs with."""

    path: str
    parameters: dict[str, Any] = {}
    name: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="the executed copy's name (default: the notebook's), to run one notebook twice",
    )

    @property
    def output_name(self) -> str:
        return self.name or Path(self.path).stem


class Study(StrictModel):
    """Everything a record is built from; the default study is what `make book` runs."""

    title: str
    seed: int = Field(default=42, ge=0)
    index_date: dt.date
    dataset: DatasetSpec
    codesets_dir: str = "codesets"
    codesets: list[CodesetPin] = Field(min_length=1)
    notebooks: list[NotebookRun] = Field(min_length=1)
    disclosure: DisclosureSettings = DisclosureSettings()
    book_dir: str = "book"

    @field_validator("codesets", mode="before")
    @classmethod
    def _pins(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"id": v} if isinstance(v, str) else v for v in value]
        return value

    @model_validator(mode="after")
    def _outputs_unique(self) -> Study:
        names = [run.output_name for run in self.notebooks]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(
                    f"two notebook runs would both write {name}.ipynb: give one a name"
                )
        return self

    @property
    def dataset_dir(self) -> str:
        """The data as the notebooks are given them: the generated dataset's folder, or the source."""
        if self.dataset.source is not None:
            return self.dataset.source
        return f"data/synthetic/{self.dataset.name}"

    @property
    def codeset_ids(self) -> list[str]:
        return [pin.id for pin in self.codesets]


def load_study(path: Path) -> Study:
    """Read and validate a study file; errors name the file, line and field."""
    return validate_yaml(path, Study, StudyError, PATTERN_HINTS)


def check_cohort_codesets(study: Study, root: Path) -> None:
    """Refuse a cohort file a notebook is given (its `cohort_file`) that names a codeset the study does
    not: its codes would come from outside the study's pinned codesets and its record."""
    from codesetlib.cohorts.checks import fail  # cohorts import their engines: only when run
    from codesetlib.cohorts.load import load_definition

    named = study.codeset_ids
    for run in study.notebooks:
        cohort_file = run.parameters.get("cohort_file")
        if not isinstance(cohort_file, str):
            continue
        definition = load_definition(root / cohort_file)
        for location, codeset_id in definition.codeset_names():
            if codeset_id not in named:
                raise fail(
                    definition,
                    location,
                    f"codeset '{codeset_id}' is not one the study names (it names "
                    f"{', '.join(named)}): add it to the study's codesets to pin it",
                )
