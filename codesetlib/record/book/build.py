"""Build the Jupyter Book methods record, with every script it needs served from the book itself."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from codesetlib.core.atomic import folder_written_whole, write_text
from codesetlib.core.errors import StudyError

# Scripts installed from the npm registry (package.json) and copied into the book, so the built pages
# view offline: MathJax for mathematics, RequireJS and the widget manager for embedded ipywidgets.
VENDOR_FILES = {
    "node_modules/mathjax/es5": "mathjax",
    "node_modules/requirejs/require.js": "require.js",
    "node_modules/@jupyter-widgets/html-manager/dist/embed-amd.js": "embed-amd.js",
}
# The book's static folder; not `_static`, which Jupyter Book would inject into every page.
VENDOR_DIR = "vendor"
# Files served beside the pages (Sphinx's html_extra_path). The widget manager loads its icon fonts
# relative to the page through RequireJS module paths; widget pages are the executed notebooks in
# generated/, so the fonts go where those pages ask for them.
EXTRA_DIR = "vendor_extra"
WIDGET_FONTS = "node_modules/@jupyter-widgets/html-manager/dist"
FONT_SUFFIXES = {".woff2", ".woff", ".ttf", ".eot", ".svg"}
FONT_FOLDERS = ["generated/@jupyter-widgets/html-manager/dist", "generated/@jupyter-widgets"]
# What `jupyter-book build` printed, kept beside the built pages.
BUILD_LOG = "sphinx.log"


def copy_vendor_assets(root: Path, book_dir: Path) -> Path:
    """Copy the installed npm assets into `book_dir/vendor` (replacing what was there)."""
    target = book_dir / VENDOR_DIR
    missing = [src for src in VENDOR_FILES if not (root / src).exists()]
    if missing:
        raise StudyError(
            f"book scripts are not installed ({', '.join(missing)}); run `npm ci` in {root} "
            "(`make book` does this)"
        )
    with folder_written_whole(target) as staging:
        for src, dest in VENDOR_FILES.items():
            source = root / src
            if source.is_dir():
                shutil.copytree(source, staging / dest)
            else:
                shutil.copy2(source, staging / dest)
    copy_widget_fonts(root, book_dir)
    return target


def copy_widget_fonts(root: Path, book_dir: Path) -> Path:
    """Put the widget manager's icon fonts where widget pages request them (see EXTRA_DIR)."""
    target = book_dir / EXTRA_DIR
    fonts = [f for f in sorted((root / WIDGET_FONTS).iterdir()) if f.suffix in FONT_SUFFIXES]
    with folder_written_whole(target) as staging:
        for folder in FONT_FOLDERS:
            (staging / folder).mkdir(parents=True, exist_ok=True)
            for font in fonts:
                shutil.copy2(font, staging / folder / font.name)
    return target


def build_book(book_dir: Path, builder: str = "html") -> Path:
    """Run `jupyter-book build` with warnings as errors; return the path of the built index.html.

    `builder` names any Sphinx builder (`singlehtml` for the one page the PDF is printed from)."""
    command = [
        str(Path(sys.executable).parent / "jupyter-book"),
        "build",
        str(book_dir),
        *(["--builder", "custom", "--custom-builder", builder] if builder != "html" else []),
        "--warningiserror",
        "--nitpick",
        "--keep-going",
        "--quiet",
    ]
    # Sphinx's output is kept in a log and shown only when the build fails: its warnings first (the
    # build keeps going past them, so the last lines are only the summary).
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    log = book_dir / "_build" / BUILD_LOG
    log.parent.mkdir(parents=True, exist_ok=True)
    write_text(log, output + "\n")
    if result.returncode != 0:
        lines = output.splitlines()
        problems = [line for line in lines if "WARNING" in line or "ERROR" in line]
        raise StudyError(
            f"the book did not build (Sphinx's whole output is in {log}):\n"
            + "\n".join(problems[:30] if problems else lines[-30:]),
            path=book_dir / "_config.yml",
        )
    index = book_dir / "_build" / builder / "index.html"
    if not index.is_file():
        raise StudyError(f"the book build wrote no {index}", path=book_dir)
    return index
