"""Figures for the record: a matplotlib figure as an embedded image with its caption.

Library code builds `matplotlib.figure.Figure` objects and never chooses a backend; the record turns
each into a PNG inside the page, so what a reader sees does not depend on how the notebook's kernel
happened to configure matplotlib. The PNG carries no version or date metadata, so the same figure gives
the same bytes in every build.
"""

from __future__ import annotations

import base64
import html
import io

from matplotlib.figure import Figure

# Pixels per inch of the embedded image. Figures are drawn at about 7-8 inches wide, which the page shows
# at 100 pixels per inch (about the book's text width); twice that keeps them sharp on dense screens.
DPI = 200
SHOWN_PER_INCH = 100


def figure_png(figure: Figure) -> bytes:
    """The figure as PNG bytes, without the metadata (software version) that would vary by build."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def figure_title(figure: Figure) -> str:
    """The titles of the figure's axes (or its suptitle), joined: the image's text alternative."""
    titles = [axes.get_title() for axes in figure.axes if axes.get_title()]
    if figure._suptitle is not None and figure._suptitle.get_text():
        titles.insert(0, figure._suptitle.get_text())
    return "; ".join(titles)


def figure_html(figure: Figure, caption: str = "") -> str:
    """An HTML `<figure>` holding the PNG (with the title as its text alternative) and a caption.

    A figure without a title is refused: a reader (and a screen reader) must know what it shows.
    """
    title = figure_title(figure)
    if not title:
        raise ValueError("a figure in the record needs a title")
    width, height = (round(v * SHOWN_PER_INCH) for v in figure.get_size_inches())
    data = base64.b64encode(figure_png(figure)).decode("ascii")
    figcaption = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return (
        f'<figure class="codeset-figure"><img src="data:image/png;base64,{data}" '
        f'alt="{html.escape(title)}" width="{width}" height="{height}" '
        f'style="max-width: 100%; height: auto;" />{figcaption}</figure>'
    )


def show_figure(figure: Figure, caption: str = "") -> None:
    """Display the figure in a notebook as the record shows it."""
    from IPython.display import HTML, display

    display(HTML(figure_html(figure, caption)))
