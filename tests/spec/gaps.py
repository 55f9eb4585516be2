"""Where an engine falls short of the spec, said out loud: each gap is an expected failure.

A gap maps (engine, where) to why, `where` being a section (`chapter/section`), a whole chapter or
`*` for every chapter. The runner marks the examples a gap covers `xfail(strict=True)` with the
exception they must fail with, so an example that starts to pass fails the run until its gap is
removed, and one that fails another way is a failure like any other. Nothing is skipped.

The kinds are Ibis's: `notimpl` (the kit has not written it for this engine), `notyet` (waiting on
the engine or a library), `never` (it does not apply to this engine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pytest

MODES = ("execute", "sql")


@dataclass(frozen=True)
class Gap:
    """Why an engine cannot run (`execute`) or compile (`sql`) some spec examples, and how it fails."""

    kind: Literal["notimpl", "notyet", "never"]
    reason: str
    raises: type[BaseException] | tuple[type[BaseException], ...]
    modes: tuple[str, ...] = MODES

    def mark(self) -> pytest.MarkDecorator:
        return pytest.mark.xfail(
            strict=True, raises=self.raises, reason=f"{self.kind}: {self.reason}"
        )


GAPS: dict[tuple[str, str], Gap] = {
    # The reference is the documented semantics written as plain Python over rows, apart from the
    # Ibis plan on purpose, so there is no plan to compile.
    ("pandas", "*"): Gap(
        "never",
        "the pandas reference walks rows in Python and compiles nothing to SQL",
        raises=AttributeError,
        modes=("sql",),
    ),
}


def gap_for(engine: str, mode: str, section: str) -> Gap | None:
    """The gap covering `engine` running an example of `section` (`chapter/section`) in `mode`."""
    chapter = section.split("/")[0]
    for where in (section, chapter, "*"):
        gap = GAPS.get((engine, where))
        if gap is not None and mode in gap.modes:
            return gap
    return None
