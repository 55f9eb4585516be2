"""What the benchmarks of the kit's commands as whole processes share: the kit is this repository's,
here and in every process they start (the same code when a script runs from another checkout, e.g. a
worktree of one commit), and the cohort and measure they run."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"
sys.path.insert(0, str(ROOT))
CHILD_ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
}
DEFINITION = ROOT / "cohorts" / "diabetes_control.yaml"
NUMERATOR = "hba1c_controlled"
