"""The parameters of a synthetic dataset, and reading them from a YAML file of overrides."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from codesetlib.core.errors import DatasetError
from codesetlib.core.models import StrictModel
from codesetlib.core.yamlfile import validate_yaml

CONFIG_DIR = Path(__file__).parent / "config"
DEFAULT_CALIBRATION = CONFIG_DIR / "ncl_calibration.yaml"
DEFAULT_CODE_CHOICE = CONFIG_DIR / "code_choice.yaml"


class SynthParams(StrictModel):
    """Parameters of a synthetic dataset; together with the seed they fix every byte of it.

    `start`..`end` is the window of the coded record; the truth (cancer, diabetes) is simulated from
    `history_start`, so patients arrive with histories. `drift_date` is the first day of the second
    terminology releases: codes they inactivate are recorded only before it."""

    patients: int = Field(default=2000, ge=1, le=100_000_000)
    practices: int = Field(default=10, ge=1, le=10_000)
    seed: int = Field(default=42, ge=0)
    history_start: dt.date = dt.date(2000, 1, 1)
    start: dt.date = dt.date(2015, 1, 1)
    end: dt.date = dt.date(2025, 12, 31)
    terminology_release: str = "snomedct-teaching-20240401"
    terminology_release_after_drift: str = "snomedct-teaching-20250401"
    dmd_release: str = "dmd-teaching-20240401"
    dmd_release_after_drift: str = "dmd-teaching-20250401"
    drift_date: dt.date = dt.date(2025, 4, 1)
    calibration: str | None = Field(
        default=None, description="calibration YAML file; the shipped NCL calibration when empty"
    )
    code_choice: str | None = Field(
        default=None, description="code-choice YAML file; the shipped one when empty"
    )
    chunk_patients: int = Field(default=50_000, ge=100, le=1_000_000)

    @model_validator(mode="after")
    def _dates_in_order(self) -> SynthParams:
        if not self.history_start <= self.start < self.end:
            raise ValueError("dates must satisfy history_start <= start < end")
        return self

    def calibration_path(self) -> Path:
        return Path(self.calibration) if self.calibration else DEFAULT_CALIBRATION

    def code_choice_path(self) -> Path:
        return Path(self.code_choice) if self.code_choice else DEFAULT_CODE_CHOICE


def params_error(exc: ValidationError, path: Path | None = None) -> DatasetError:
    """A pydantic error on parameters as one located DatasetError."""
    first = exc.errors()[0]
    field = ".".join(str(k) for k in first["loc"]) or None
    return DatasetError(first["msg"].removeprefix("Value error, "), path=path, field=field)


def make_params(**values: object) -> SynthParams:
    """SynthParams from keyword values, refusing bad ones with a DatasetError that names the field."""
    try:
        return SynthParams(**values)
    except ValidationError as exc:
        raise params_error(exc) from None


def load_params(path: Path, **overrides: object) -> SynthParams:
    """SynthParams from a YAML file of overrides (then `overrides`); errors name file, line, field.

    A relative calibration or code-choice path in the file is read relative to the file."""
    params = validate_yaml(path, SynthParams, DatasetError)
    relative = {}
    for name in ("calibration", "code_choice"):
        value = getattr(params, name)
        if value and not Path(value).is_absolute():
            relative[name] = str((path.parent / value).resolve())
    values = {**params.model_dump(exclude_unset=True), **relative, **overrides}
    try:
        return SynthParams(**values)
    except ValidationError as exc:
        raise params_error(exc, path) from None
