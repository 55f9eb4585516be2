"""The builder notebook's widgets: each event calls one `CodesetBuilder` method, then redraws.

No codeset logic lives here. Every handler is a plain method, so a test can set a widget's value or
click a button and read the HTML tables back without a browser. An error from the builder (an unknown
code, a bad codeset id) is shown in the message line instead of raising in the kernel.

`open_builder_app` makes the whole app from a notebook's parameters; `notebooks/teaching/builder_app.ipynb`
is that call alone, which `make builder` serves with Voilà (the page shows the app, not the code).
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import os
from collections.abc import Callable
from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from codesetlib.codesets.files import codeset_dir, load_codeset
from codesetlib.codesets.lint import lint_codeset
from codesetlib.core.disclosure import DisclosureSettings
from codesetlib.core.errors import CodesetError
from codesetlib.core.paths import project_root, resolve
from codesetlib.record.book.tables import html_table
from codesetlib.teaching.builder import COUNT_COLUMNS, CodesetBuilder
from codesetlib.teaching.counts import PatientCounter
from codesetlib.terminology import Concept, open_release

MAX_ROWS = 300
WIDE = widgets.Layout(width="95%")
DRAFTS_DIR = "notebooks/teaching/drafts"
# Where a served app saves drafts when its notebook names no folder (a class's shared folder, a test's).
DRAFTS_DIR_VARIABLE = "CODESET_DRAFTS_DIR"


def drafts_folder(drafts_dir: str | Path = "") -> Path:
    """Where drafts are saved: `drafts_dir` if given, else $CODESET_DRAFTS_DIR, else the default."""
    chosen = str(drafts_dir) or os.environ.get(DRAFTS_DIR_VARIABLE, "") or DRAFTS_DIR
    return resolve(chosen)


def open_builder_app(
    release: str,
    dataset_dir: str | Path = "",
    *,
    index_date: str | dt.date | None = None,
    codesets_dir: str | Path = "codesets",
    start_from: str = "",
    drafts_dir: str | Path = "",
    disclosure_enabled: bool = True,
) -> CodesetBuilderApp:
    """The builder app from a notebook's parameters: counting patients in `dataset_dir` (none if
    blank), starting from the codeset `start_from` under `codesets_dir` (empty, in `release`, if
    blank), saving drafts under `drafts_folder(drafts_dir)`."""
    counter = PatientCounter.from_dataset(dataset_dir, index_date) if dataset_dir else None
    if start_from:
        start = load_codeset(codeset_dir(resolve(codesets_dir), start_from))
        builder = CodesetBuilder.from_codeset(start, counter)
    else:
        builder = CodesetBuilder(open_release(release), counter)
    builder.disclosure = DisclosureSettings(enabled=disclosure_enabled)
    return CodesetBuilderApp(builder, drafts_folder(drafts_dir))


def shown_path(path: Path) -> str:
    """`path` relative to the project root when it lies below it, as a learner would type it."""
    try:
        return str(path.relative_to(project_root()))
    except ValueError:
        return str(path)


def concept_options(concepts: list[Concept]) -> list[tuple[str, str]]:
    """(label, code) pairs for a selection widget: `term (code)`, inactive ones marked."""
    return [(f"{c.term} ({c.code}){'' if c.active else ' [inactive]'}", c.code) for c in concepts]


def table_html(table: pd.DataFrame, empty: str, count_columns: list[str] | None = None) -> str:
    """A table as HTML (at most MAX_ROWS rows, saying so), or `empty` when it has no rows."""
    if table.empty:
        return f"<p><em>{html.escape(empty)}</em></p>"
    shown = html_table(table.head(MAX_ROWS), count_columns or [])
    if len(table) > MAX_ROWS:
        shown += f"<p><em>First {MAX_ROWS} of {len(table)} rows.</em></p>"
    return shown


def reporting(handler: Callable) -> Callable:
    """Run a handler, showing a builder error in the message line rather than raising it."""

    @functools.wraps(handler)
    def run(self: CodesetBuilderApp, *args) -> None:
        try:
            handler(self, *args)
        except CodesetError as error:
            self.say(str(error), error=True)

    return run


class CodesetBuilderApp:
    """A terminology browser and codeset builder over one `CodesetBuilder`.

    Search, then pick a result to select it; its parents and children are listed, and picking one
    moves there. Include or exclude the selected concept (with or without descendants) or a search
    term; record a decision about a rule; the rules, the codes and the patients each finds redraw
    after every change. Save writes a draft codeset folder under `drafts_dir`.
    """

    def __init__(self, builder: CodesetBuilder, drafts_dir: str | Path = DRAFTS_DIR) -> None:
        self.builder = builder
        self.drafts_dir = resolve(drafts_dir)
        self._quiet = False
        self._make_browser()
        self._make_rule_controls()
        self._make_outputs()
        self._wire()
        self.refresh()

    # Building the widgets.

    def _make_browser(self) -> None:
        self.query = widgets.Text(
            description="Search",
            placeholder="words in the term, e.g. lung cancer",
            continuous_update=False,
            layout=WIDE,
        )
        self.results = widgets.Select(options=[], rows=8, description="Results", layout=WIDE)
        self.concept = widgets.HTML()
        self.parents = widgets.Select(options=[], rows=3, description="Parents", layout=WIDE)
        self.children = widgets.Select(options=[], rows=6, description="Children", layout=WIDE)

    def _make_rule_controls(self) -> None:
        self.descendants = widgets.Checkbox(value=True, description="with descendants")
        self.include_button = widgets.Button(description="Include", button_style="success")
        self.exclude_button = widgets.Button(description="Exclude", button_style="danger")
        self.search_term = widgets.Text(description="Search rule", placeholder="e.g. carcinoma")
        self.within_selected = widgets.Checkbox(value=False, description="within selected concept")
        self.include_search_button = widgets.Button(description="Include search")
        self.exclude_search_button = widgets.Button(description="Exclude search")
        self.rule_choice = widgets.Dropdown(options=[], description="Rule")
        self.rationale = widgets.Textarea(
            description="Rationale", placeholder="why the rule is as it is", layout=WIDE
        )
        self.decide_button = widgets.Button(description="Record decision")
        self.remove_button = widgets.Button(description="Remove rule", button_style="warning")
        self.codeset_id = widgets.Text(
            description="Codeset id",
            placeholder="lower-case letters, digits and _, e.g. lung_cancer_draft",
            layout=WIDE,
        )
        self.title = widgets.Text(
            description="Title", placeholder="what the codeset is, e.g. Lung cancer", layout=WIDE
        )
        self.purpose = widgets.Textarea(
            description="Purpose", placeholder="what the codeset is for, in a sentence", layout=WIDE
        )
        self.save_button = widgets.Button(description="Save draft", button_style="primary")

    def _make_outputs(self) -> None:
        self.message = widgets.HTML()
        self.summary_html = widgets.HTML()
        self.rules_html = widgets.HTML()
        self.codes_html = widgets.HTML()
        # Names a page (and its browser test) can find the parts by, whatever ipywidgets renders.
        for name in ("message", "summary_html", "rules_html", "codes_html"):
            getattr(self, name).add_class(f"codeset-builder-{name.removesuffix('_html')}")

    def _wire(self) -> None:
        self.query.observe(self.on_search, names="value")
        for picker in (self.results, self.parents, self.children):
            picker.observe(self.on_pick, names="value")
        self.include_button.on_click(self.on_include)
        self.exclude_button.on_click(self.on_exclude)
        self.include_search_button.on_click(self.on_include_search)
        self.exclude_search_button.on_click(self.on_exclude_search)
        self.decide_button.on_click(self.on_decide)
        self.remove_button.on_click(self.on_remove)
        self.save_button.on_click(self.on_save)

    def widget(self) -> widgets.Widget:
        """The whole builder as one widget, to display in a notebook."""
        browse = widgets.VBox([self.query, self.results, self.concept, self.parents, self.children])
        rules = widgets.VBox(
            [
                widgets.HBox([self.descendants, self.include_button, self.exclude_button]),
                widgets.HBox([self.search_term, self.within_selected]),
                widgets.HBox([self.include_search_button, self.exclude_search_button]),
                widgets.HBox([self.rule_choice, self.decide_button, self.remove_button]),
                self.rationale,
            ]
        )
        needed = widgets.HTML(
            f"<p>A draft is saved with an id, a title and a purpose, under "
            f"<code>{html.escape(shown_path(self.drafts_dir))}/&lt;id&gt;/</code>.</p>"
        )
        save = widgets.VBox([needed, self.codeset_id, self.title, self.purpose, self.save_button])
        controls = widgets.Tab(children=[browse, rules, save], titles=["Browse", "Rules", "Save"])
        results = widgets.Tab(
            children=[self.rules_html, self.codes_html],
            titles=["Rules and decisions", "Codes and patients"],
        )
        return widgets.VBox([controls, self.message, self.summary_html, results])

    # Events: each calls the builder, then redraws.

    @reporting
    def on_search(self, change: dict | None = None) -> None:
        found = self.builder.search(self.query.value)
        self._set_options(self.results, concept_options(found))
        self.say(f"{len(found)} concept(s) found for '{self.query.value}'." if found else "")

    @reporting
    def on_pick(self, change: dict) -> None:
        if self._quiet or not change.get("new"):
            return
        self.builder.select(change["new"])
        self.show_concept()

    @reporting
    def on_include(self, button: widgets.Button | None = None) -> None:
        rule = self.builder.include(descendants=self.descendants.value)
        self.changed(f"Added {rule.id}: include {rule.target}.")

    @reporting
    def on_exclude(self, button: widgets.Button | None = None) -> None:
        rule = self.builder.exclude(descendants=self.descendants.value)
        self.changed(f"Added {rule.id}: exclude {rule.target}.")

    @reporting
    def on_include_search(self, button: widgets.Button | None = None) -> None:
        rule = self.builder.include_search(self.search_term.value, within=self._within())
        self.changed(f"Added {rule.id}: include {rule.target}.")

    @reporting
    def on_exclude_search(self, button: widgets.Button | None = None) -> None:
        rule = self.builder.exclude_search(self.search_term.value, within=self._within())
        self.changed(f"Added {rule.id}: exclude {rule.target}.")

    @reporting
    def on_decide(self, button: widgets.Button | None = None) -> None:
        decision = self.builder.decide(self._chosen_rule(), self.rationale.value)
        self.rationale.value = ""
        self.changed(f"Recorded the decision about {decision.about}.")

    @reporting
    def on_remove(self, button: widgets.Button | None = None) -> None:
        rule = self.builder.remove_rule(self._chosen_rule())
        self.changed(f"Removed {rule.id} ({rule.action} {rule.target}).")

    @reporting
    def on_save(self, button: widgets.Button | None = None) -> None:
        folder = self.builder.save_draft(
            self.drafts_dir,
            self.codeset_id.value,
            title=self.title.value.strip(),
            purpose=self.purpose.value.strip(),
        )
        findings = [f for f in lint_codeset(folder) if f.severity != "info"]
        checked = (
            "codeset lint finds nothing to fix."
            if not findings
            else f"codeset lint: {len(findings)} finding(s): "
            + " ".join(f.line() for f in findings)
        )
        self.say(
            f"Saved the draft codeset to {shown_path(folder)} (codeset.yaml and codes.csv); {checked}",
            error=bool(findings),
        )

    # Redrawing.

    def _within(self) -> str | None:
        if not self.within_selected.value:
            return None
        return self.builder.concept().code

    def _chosen_rule(self) -> str:
        if not self.rule_choice.value:
            raise CodesetError("there is no rule to choose: add one first")
        return self.rule_choice.value

    def _set_options(self, picker: widgets.Select, options: list[tuple[str, str]]) -> None:
        """Replace a picker's options without treating the reset as the user picking."""
        self._quiet = True
        try:
            picker.options = options
            picker.value = None
        finally:
            self._quiet = False

    def say(self, text: str, error: bool = False) -> None:
        """Show one line under the controls (red for an error)."""
        colour = "#b00020" if error else "#1b5e20"
        self.message.value = f'<p style="color:{colour}">{html.escape(text)}</p>' if text else ""

    def show_concept(self) -> None:
        """The selected concept, and its parents and children to move to."""
        chosen = self.builder.selected
        if chosen is None:
            self.concept.value = "<p><em>No concept selected: search and pick one.</em></p>"
            return
        state = "active" if chosen.active else "inactive"
        self.concept.value = (
            f"<p><strong>{html.escape(chosen.term)}</strong> ({chosen.code}, {state})<br>"
            f"<small>{html.escape(chosen.fully_specified_name or '')}</small></p>"
        )
        self._set_options(self.parents, concept_options(self.builder.parents()))
        self._set_options(self.children, concept_options(self.builder.children()))

    def changed(self, text: str) -> None:
        """After a rule or decision changes: redraw everything that depends on it, then say what
        changed, so that the counts a learner reads beside the message are already the new ones."""
        self.refresh()
        self.say(text)

    def refresh(self) -> None:
        """Redraw the summary, the rules and the codes with their patient counts."""
        self.show_concept()
        self.rule_choice.options = [
            (f"{r.id}: {r.action} {r.target}", r.id) for r in self.builder.rules
        ]
        self.summary_html.value = table_html(
            self.builder.summary(), "", ["Patients found"] if self.builder.counter else []
        )
        self.rules_html.value = table_html(
            self.builder.rules_table(), "No rules yet: select a concept and include it."
        )
        counts = COUNT_COLUMNS if self.builder.counter else []
        self.codes_html.value = table_html(
            self.builder.patients_per_code(), "No codes yet.", counts
        )
