"""The study configuration (`study.yaml`): the dataset, codesets, notebooks and settings of a record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from codesetlib.disclosure import DisclosureSettings
from codesetlib.errors import StudyError
from codesetlib.synthetic import SynthParams
from codesetlib.yamlfile import validate_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DatasetSpec(_Strict):
    """A synthetic dataset to generate (or reuse when its manifest matches) under `data/synthetic/`."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    synth: SynthParams = SynthParams()


class NotebookRun(_Strict):
    """One notebook of the record and the parameters it runs with."""

    path: str
    parameters: dict[str, Any] = {}


class Study(_Strict):
    """Everything a record is built from; the default study is what `make book` runs."""

    title: str
    index_date: dt.date
    dataset: DatasetSpec
    codesets_dir: str = "codesets"
    codesets: list[str] = Field(min_length=1)
    notebooks: list[NotebookRun] = Field(min_length=1)
    disclosure: DisclosureSettings = DisclosureSettings()
    book_dir: str = "book"

    @property
    def dataset_dir(self) -> str:
        return f"data/synthetic/{self.dataset.name}"


def load_study(path: Path) -> Study:
    """Read and validate a study file; errors name the file, line and field."""
    return validate_yaml(path, Study, StudyError)
