"""Execute one notebook of the record quietly, and so that its page is the same on every run.

The kernel talks to papermill over Unix sockets in a private folder (on POSIX) rather than TCP ports
on localhost: no port can be taken by another process between being chosen and bound, and nothing is
sent over an unencrypted network transport (which ipykernel warns about). What the kernel process
prints itself goes to a log in that folder and is shown only when the notebook fails; what its cells
print is kept in the notebook.

Widgets get new model ids at random on every run; the executed notebook numbers them in the order a
reader meets them, so its pages are the same on every build.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import nbformat
import papermill
from jupyter_client.manager import AsyncKernelManager
from papermill.exceptions import PapermillExecutionError
from traitlets import Unicode
from traitlets.config import Config

from codesetlib.core.errors import StudyError

WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# A widget model id: 32 hexadecimal digits (a UUID without dashes), standing alone.
MODEL_ID = re.compile(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")
MODEL_REFERENCE = re.compile(r"IPY_MODEL_([0-9a-f]{32})")
KERNEL_LOG_LINES = 30


class KernelWithLog(AsyncKernelManager):
    """A kernel whose own standard output and error go to `output_log` instead of the terminal."""

    output_log = Unicode("", config=True, help="file that receives the kernel process's output")

    async def start_kernel(self, **kw: Any) -> None:
        if not self.output_log:
            return await super().start_kernel(**kw)
        with open(self.output_log, "ab") as log:
            return await super().start_kernel(stdout=log, stderr=log, **kw)


def kernel_config(folder: Path) -> Config:
    """Kernel settings for one run: sockets and the kernel's log inside `folder`."""
    settings: dict[str, Any] = {"KernelWithLog": {"output_log": str(folder / "kernel.log")}}
    if os.name == "posix":
        # With IPC, `ip` is the path prefix of the socket files (one per channel).
        settings["KernelManager"] = {"transport": "ipc", "ip": str(folder / "kernel")}
    return Config(settings)


# Cells that need the synthetic truth carry this tag; they are left out when the data hold none.
NEEDS_TRUTH = "needs-truth"


def without_tagged_cells(source: Path, tag: str) -> nbformat.NotebookNode:
    """The notebook at `source` without the cells tagged `tag`."""
    notebook = nbformat.read(source, as_version=4)
    notebook.cells = [c for c in notebook.cells if tag not in c.get("metadata", {}).get("tags", [])]
    return notebook


def run_notebook(
    source: Path,
    output: Path,
    parameters: dict,
    root: Path,
    page: Path,
    has_truth: bool = True,
) -> None:
    """Execute `source` with papermill into `output` (removed again if the run fails).

    Cells run with `root` as the working directory; `page` is where the executed notebook will live
    in the book. When the data hold no truth (`has_truth` false) the cells tagged `needs-truth` are
    left out, so the page shows only what can be known. A failing cell, or a kernel that dies,
    raises a StudyError naming the notebook; the second shows the end of the kernel's own log."""
    given: Path | nbformat.NotebookNode = (
        source if has_truth else without_tagged_cells(source, NEEDS_TRUTH)
    )
    # A short folder name: a Unix socket's path may be only about 100 characters long.
    with tempfile.TemporaryDirectory(prefix="codeset-kernel-") as folder:
        try:
            papermill.execute_notebook(
                str(given) if isinstance(given, Path) else given,
                str(output),
                parameters=parameters,
                cwd=str(root),
                kernel_name="python3",
                progress_bar=False,
                kernel_manager_class=KernelWithLog,
                config=kernel_config(Path(folder)),
            )
        except PapermillExecutionError as exc:
            output.unlink(missing_ok=True)
            raise StudyError(
                f"cell {exc.exec_count} raised {exc.ename}: {exc.evalue}", path=source
            ) from None
        except (RuntimeError, TimeoutError) as exc:
            # nbclient's DeadKernelError is a RuntimeError, as is a kernel that never started.
            output.unlink(missing_ok=True)
            raise StudyError(
                f"the notebook did not run ({type(exc).__name__}: {exc})"
                + kernel_log_tail(Path(folder) / "kernel.log"),
                path=source,
            ) from None
        except BaseException:
            output.unlink(missing_ok=True)
            raise
    notebook = nbformat.read(output, as_version=nbformat.NO_CONVERT)
    shown = source.relative_to(root) if source.is_relative_to(root) else Path(source.name)
    stable_papermill_record(notebook, shown, page)
    nbformat.write(stable_widget_ids(notebook, page.stem), output)


def kernel_log_tail(log: Path) -> str:
    """The last lines the kernel printed, as a paragraph to add to an error (empty when none)."""
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    if not any(line.strip() for line in lines):
        return ""
    return "\nthe kernel printed:\n" + "\n".join(lines[-KERNEL_LOG_LINES:])


def stable_papermill_record(notebook: Any, source: Path, output: Path) -> None:
    """Keep what papermill adds to the notebook free of the machine and the run: the paths it ran
    from and to, relative (the page of the record it became, not the temporary file it wrote first),
    and the id of the cell it injects."""
    run = notebook.metadata.get("papermill")
    if run is not None:
        run["input_path"] = source.as_posix()
        run["output_path"] = output.as_posix()
    # The cell papermill adds for the parameters gets a random id.
    for cell in notebook.cells:
        if "injected-parameters" in cell.get("metadata", {}).get("tags", []) and "id" in cell:
            cell["id"] = "injected-parameters"


def stable_widget_ids(notebook: Any, salt: str) -> Any:
    """The notebook with its widget model ids numbered in the order a reader meets the widgets.

    Models are visited from the views in the cells' outputs, in order, following each model's
    references in the order of its sorted state; models no view reaches follow, in the order of
    their content. A new id is a hash of `salt` and the visit number."""
    state = notebook.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state")
    if not state:
        return notebook
    order: list[str] = []

    def visit(model_id: str) -> None:
        pending = [model_id]
        while pending:
            current = pending.pop(0)
            if current in order or current not in state:
                continue
            order.append(current)
            pending += MODEL_REFERENCE.findall(json.dumps(state[current], sort_keys=True))

    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            view = output.get("data", {}).get(WIDGET_VIEW)
            if view:
                visit(view["model_id"])

    def masked(model_id: str) -> str:
        return MODEL_ID.sub("", json.dumps(state[model_id], sort_keys=True))

    while len(order) < len(state):
        visit(min((m for m in state if m not in order), key=masked))
    new_ids = {
        old: hashlib.sha256(f"{salt} widget {number}".encode()).hexdigest()[:32]
        for number, old in enumerate(order)
    }
    # nbformat writes keys sorted, so the renamed models are also stored in a stable order.
    text = MODEL_ID.sub(lambda m: new_ids.get(m.group(), m.group()), nbformat.writes(notebook))
    return nbformat.reads(text, as_version=nbformat.NO_CONVERT)
