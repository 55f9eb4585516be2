"""The study configuration (`study.yaml`): the dataset, codesets, notebooks and settings of a record."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from codesetlib.codeset import SEMVER
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


class CodesetPin(_Strict):
    """A codeset the study uses, pinned to a version (the current one when none is given)."""

    id: str
    version: str | None = Field(default=None, pattern=SEMVER)


class NotebookRun(_Strict):
    """One notebook of the record and the parameters it runs with."""

    path: str
    parameters: dict[str, Any] = {}


class Study(_Strict):
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

    @property
    def dataset_dir(self) -> str:
        return f"data/synthetic/{self.dataset.name}"

    @property
    def codeset_ids(self) -> list[str]:
        return [pin.id for pin in self.codesets]


def load_study(path: Path) -> Study:
    """Read and validate a study file; errors name the file, line and field."""
    return validate_yaml(path, Study, StudyError)
