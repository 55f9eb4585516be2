"""An executed notebook keeps nothing random: its widgets are numbered as a reader meets them."""

import uuid
from pathlib import Path

import nbformat

from codesetlib.record.book.execute import (
    MODEL_REFERENCE,
    WIDGET_STATE,
    WIDGET_VIEW,
    stable_papermill_record,
    stable_widget_ids,
)


def widget_notebook() -> nbformat.NotebookNode:
    """A notebook as nbclient leaves it: a box holding a label, each with a layout, and a model no
    view shows; every model id random, as ipywidgets makes them."""
    box, label, box_layout, label_layout, orphan = (uuid.uuid4().hex for _ in range(5))

    def model(name: str, **state: object) -> dict:
        return {"model_name": name, "state": {"_model_name": name, **state}}

    state = {
        box: model("VBoxModel", children=[f"IPY_MODEL_{label}"], layout=f"IPY_MODEL_{box_layout}"),
        label: model("LabelModel", value="Search", layout=f"IPY_MODEL_{label_layout}"),
        box_layout: model("LayoutModel", width="100%"),
        label_layout: model("LayoutModel", width="50%"),
        orphan: model("DescriptionStyleModel"),
    }
    nb = nbformat.v4.new_notebook()
    view = {WIDGET_VIEW: {"model_id": box, "version_major": 2, "version_minor": 0}}
    cell = nbformat.v4.new_code_cell("box", id="show-the-box")
    cell.outputs = [nbformat.v4.new_output("display_data", data={"text/plain": "VBox()", **view})]
    nb.cells = [cell]
    nb.metadata["widgets"] = {
        WIDGET_STATE: {"state": state, "version_major": 2, "version_minor": 0}
    }
    return nbformat.from_dict(nb)


def test_two_runs_of_a_widget_notebook_give_the_same_file():
    first, second = (stable_widget_ids(widget_notebook(), "page") for _ in range(2))
    assert nbformat.writes(first) == nbformat.writes(second)


def test_renumbered_widgets_still_point_at_each_other():
    nb = stable_widget_ids(widget_notebook(), "page")
    state = nb.metadata.widgets[WIDGET_STATE]["state"]
    assert len(state) == 5
    view = nb.cells[0].outputs[0].data[WIDGET_VIEW]["model_id"]
    assert state[view]["model_name"] == "VBoxModel"
    references = MODEL_REFERENCE.findall(nbformat.writes(nb))
    assert references and all(ref in state for ref in references)


def test_a_notebook_without_widgets_is_left_as_it_is():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")])
    assert stable_widget_ids(nb, "page") is nb


def test_what_papermill_records_names_no_folder_of_the_machine_and_no_random_id():
    nb = nbformat.v4.new_notebook()
    injected = nbformat.v4.new_code_cell("scale = 2", metadata={"tags": ["injected-parameters"]})
    nb.cells = [injected]
    nb.metadata["papermill"] = {
        "input_path": "/home/someone/kit/notebooks/01_codeset_review.ipynb",
        "output_path": "/tmp/build-1/book/generated/.01_codeset_review.partial.ipynb",
    }
    stable_papermill_record(
        nb, Path("notebooks/01_codeset_review.ipynb"), Path("generated/01_codeset_review.ipynb")
    )
    assert nb.metadata.papermill == {
        "input_path": "notebooks/01_codeset_review.ipynb",
        "output_path": "generated/01_codeset_review.ipynb",
    }
    assert nb.cells[0].id == "injected-parameters"
