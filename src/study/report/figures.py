"""Figures as a report shows them: a sentence for readers who cannot see the picture, and a phone-sized copy.

In a notebook kernel, :func:`install` replaces the inline backend's PNG formatter for matplotlib figures with
one that also records, in the output's metadata, the figure's alt text (set by a plot helper with
:func:`describe`, or built from its titles and axis labels) and a second PNG drawn at phone width with the same
point sizes. The report template puts the two in a ``<picture>``: on a phone the text of a figure is as large
as the page's own small print instead of a few pixels.
"""

from __future__ import annotations

import base64
import io
import math
import textwrap
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# Where describe() keeps the sentence on the figure object.
_ALT = "_study_alt"
# Phone copy: 4 inches at 96 dpi is about a phone's 390 CSS px less the page margins; drawn at 1.5 times the
# resolution, so it stays sharp on a phone's 2-3x screen without tripling the page's weight.
PHONE_WIDTH = 4.0
PHONE_DPI = 144
# The tallest phone copy, in inches: a column of six stacked panels.
MAX_PHONE_HEIGHT = 16.0
METADATA_KEY = "study_phone"


def describe(fig: Any, text: str) -> Any:
    """Attach the alt text of a figure: what it shows and its main number, in one or two sentences.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    text : str
        E.g. ``"Relative lift of each metric with its 95% interval: CSAT +4.3% (+3.2% to +5.4%)."``

    Returns
    -------
    matplotlib.figure.Figure
        ``fig`` itself, so a plot helper can ``return describe(fig, ...)``.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError("a figure's description must be a non-empty sentence")
    setattr(fig, _ALT, " ".join(text.split()))
    return fig


def alt_text(fig: Any) -> str:
    """The figure's alt text: the one :func:`describe` set, else one built from its titles and axis labels."""
    given = getattr(fig, _ALT, None)
    if given:
        return given
    parts = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None and suptitle.get_text().strip():
        parts.append(f"{suptitle.get_text().strip()}.")
    panels = []
    for ax in fig.get_axes():
        if not ax.get_visible() or not ax.has_data() and not ax.texts:
            continue
        title = next((ax.get_title(loc).strip() for loc in ("center", "left", "right") if ax.get_title(loc).strip()), "")
        y, x = ax.get_ylabel().strip(), ax.get_xlabel().strip()
        axes_words = f"{y} against {x}" if y and x else (y or x)
        said = ": ".join(w for w in (title, axes_words) if w)
        if said and said not in panels:
            panels.append(said)
    if len(panels) == 1:
        parts.append(f"Chart: {panels[0]}.")
    elif panels:
        parts.append(f"Chart of {len(panels)} panels: " + "; ".join(panels) + ".")
    text = " ".join(" ".join(parts).split())
    return text or "Chart without a title or axis labels."


def _png(fig: Any, dpi: float | None = None, placed: bool = False) -> bytes:
    """The figure as a PNG cropped to its contents, as the inline backend draws it (``bbox_inches="tight"``), so the
    notebook and the report show the same picture.

    matplotlib's tight saving lays the figure out three times (to place the contents, to measure them, to draw).
    Here a figure whose panels stay where they are when drawn (no layout engine, or the placeholder that
    ``tight_layout`` leaves) is laid out twice: drawn and measured, the drawn pixels cropped; or, when the caller
    has just placed it (``placed``: the phone copy), measured before it is drawn. Contents that reach outside the
    figure (tick labels of a narrow phone copy) need the larger canvas a tight save gives: the figure is drawn
    once more around the measured box.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    dpi = dpi or _rc_number("savefig.dpi", fig.dpi)
    pad = _rc_number("savefig.pad_inches", 0.1)
    static = _static(fig)
    if type(fig.canvas) is not FigureCanvasAgg:  # an interactive canvas (a widget's too): matplotlib's own tight save
        return _saved(fig, dpi, "tight")
    saved_dpi, saved_face = fig.dpi, fig.get_facecolor()
    try:
        fig.dpi = dpi
        fig.set_facecolor("white")
        drawn = not (placed and static)
        if drawn:  # a layout engine places the panels as the figure is drawn
            fig.canvas.draw()
        box = fig.get_tightbbox(fig.canvas.get_renderer())
        width, height = fig.get_size_inches()
        if box.x0 < 0 or box.y0 < 0 or box.x1 > width or box.y1 > height:
            return _saved(fig, dpi, box.padded(pad))
        if not drawn:
            fig.canvas.draw()
        return _smaller(_crop(fig, box.padded(pad), dpi))
    finally:
        fig.dpi = saved_dpi
        fig.set_facecolor(saved_face)


def _crop(fig: Any, box: Any, dpi: float) -> Any:
    """The drawn canvas cut to ``box`` (inches); padding past the canvas's edge is white, as a tight save draws it."""
    from PIL import Image

    width, height = fig.canvas.get_width_height()
    drawn = Image.frombuffer("RGBA", (width, height), fig.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    top_inches = fig.get_size_inches()[1]
    left, top = math.floor(box.x0 * dpi), math.floor((top_inches - box.y1) * dpi)
    right, bottom = int(round(box.x1 * dpi)), int(round((top_inches - box.y0) * dpi))
    picture = Image.new("RGBA", (right - left, bottom - top), "white")
    inside = (max(left, 0), max(top, 0), min(right, width), min(bottom, height))
    picture.paste(drawn.crop(inside), (inside[0] - left, inside[1] - top))
    return picture


def _static(fig: Any) -> bool:
    """Whether drawing the figure leaves its panels where they are: no layout engine, or ``tight_layout``'s placeholder."""
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    engine = fig.get_layout_engine()
    return engine is None or isinstance(engine, PlaceHolderLayoutEngine)


def _rc_number(name: str, default: float) -> float:
    """A numeric rcParams value; ``default`` for a word (``"figure"``, ``"layout"``) or a missing one."""
    import matplotlib

    value = matplotlib.rcParams.get(name, default)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else default


def _saved(fig: Any, dpi: float, box: Any) -> bytes:
    """The figure saved by matplotlib around ``box`` (inches, or ``"tight"``)."""
    from matplotlib.layout_engine import PlaceHolderLayoutEngine
    from matplotlib.transforms import Bbox
    from PIL import Image

    buffer = io.BytesIO()
    # matplotlib lays out a figure with a layout engine once more before saving it. tight_layout's placeholder
    # places nothing: without it the figure is saved as it stands, in one pass instead of two.
    engine = fig.get_layout_engine()
    placeholder = isinstance(box, Bbox) and isinstance(engine, PlaceHolderLayoutEngine)
    if placeholder:
        fig.set_layout_engine(None)
    try:
        # Stored uncompressed: it is read straight back, and compressing it first cost a tenth of a second a figure.
        fig.canvas.print_figure(buffer, format="png", dpi=dpi, bbox_inches=box, facecolor="white",
                                pil_kwargs={"compress_level": 0})
    finally:
        if placeholder:
            fig.set_layout_engine(engine)
    return _smaller(Image.open(io.BytesIO(buffer.getvalue())))


def _smaller(image: Any) -> bytes:
    """The image as a PNG of at most 256 colours: a chart's flat colours and anti-aliased text lose nothing visible,
    and the file is about a quarter of matplotlib's."""
    from PIL import Image

    image = image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE)
    buffer = io.BytesIO()
    # zlib's default level: the maximum (optimize=True) made files ~8% smaller at three times the time.
    image.save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def _chars(inches: float, points: float) -> int:
    """About how many characters of text at ``points`` fit in ``inches`` (an average glyph is ~0.55 em wide)."""
    return max(12, int(inches * 72 / (points * 0.55)))


class _WrappedFormatter:
    """A tick formatter that breaks its labels into lines of at most ``width`` characters."""

    def __init__(self, formatter: Any, width: int) -> None:
        self.formatter, self.width = formatter, width

    def __getattr__(self, name: str) -> Any:
        return getattr(self.formatter, name)

    def __call__(self, x: Any, pos: Any = None) -> str:
        return textwrap.fill(self.formatter(x, pos), self.width) if self.width else self.formatter(x, pos)

    def format_ticks(self, values: Any) -> list[str]:
        return [textwrap.fill(t, self.width) for t in self.formatter.format_ticks(values)]


@contextmanager
def _narrow_text(fig: Any, width: float) -> Iterator[None]:
    """Titles, legends and text tick labels broken into lines that fit ``width`` inches, restored on exit."""
    texts = []
    suptitle = getattr(fig, "_suptitle", None)
    if suptitle is not None:
        texts.append((suptitle, width))
    formatters = []
    for ax in fig.get_axes():
        share = ax.get_position().width  # a panel's share of the figure's width
        for title in (ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None), ax.xaxis.label):
            if title is not None:
                texts.append((title, width * max(share, 0.3)))
        legend = ax.get_legend()
        if legend is not None:
            texts.extend((t, width * 0.5) for t in legend.get_texts())
        # Text labels on the y axis (a forest plot's rows) take at most 40% of the width; numbers never wrap.
        formatter = ax.yaxis.get_major_formatter()
        labels = [t.get_text() for t in ax.get_yticklabels()]
        if labels and max(len(t) for t in labels) > 12 and not any(c.isdigit() for t in labels for c in t[:1]):
            size = ax.get_yticklabels()[0].get_fontsize()
            formatters.append((ax.yaxis, formatter))
            ax.yaxis.set_major_formatter(_WrappedFormatter(formatter, _chars(width * 0.4, size)))
    saved = [(t, t.get_text()) for t, _ in texts]
    try:
        for text, inches in texts:
            words = text.get_text()
            if words:
                text.set_text(textwrap.fill(words, _chars(inches, text.get_fontsize())))
        yield
    finally:
        for text, words in saved:
            text.set_text(words)
        for axis, formatter in formatters:
            axis.set_major_formatter(formatter)


def phone_png(fig: Any) -> bytes:
    """The figure drawn at phone width with the same point sizes, then put back as it was.

    Panels side by side are stacked in one column; titles, legends and text labels are broken into lines
    that fit; the layout is redone for the narrow width. The figure's own size, panel places, texts and
    margins are restored afterwards, so showing it again shows the original.
    """
    width, height = fig.get_size_inches()
    if width <= PHONE_WIDTH * 1.1:
        return _png(fig, dpi=PHONE_DPI)
    pars = fig.subplotpars
    saved = {k: getattr(pars, k) for k in ("left", "right", "bottom", "top", "wspace", "hspace")}
    saved_dpi = fig.dpi
    with _one_column(fig) as (stacked, grid_rows):
        # Stacked panels keep about their own height; a figure left as it is keeps its height.
        new_height = height / grid_rows * stacked if stacked else height
        try:
            fig.set_size_inches(PHONE_WIDTH, min(max(new_height, 2.5), MAX_PHONE_HEIGHT), forward=False)
            # Laid out at the resolution it is drawn at: the texts measured for the layout are measured once.
            fig.dpi = PHONE_DPI
            with _narrow_text(fig, PHONE_WIDTH), _legends_in_two_columns(fig):
                if _static(fig):  # tight_layout's placeholder too: the desktop margins do not fit a phone
                    _tighten(fig)
                return _png(fig, dpi=PHONE_DPI, placed=True)
        finally:
            fig.dpi = saved_dpi
            fig.set_size_inches(width, height, forward=False)
            if _static(fig):
                fig.subplots_adjust(**saved)


@contextmanager
def _one_column(fig: Any) -> Iterator[tuple[int, int]]:
    """Panels of one grid with several columns moved into a single column, put back on exit; yields how many
    panels were stacked (0 if left as they are) and the grid's rows before. Panels sharing a y axis keep their grid: stacked, some would lose its labels."""
    axes = [ax for ax in fig.get_axes() if ax.get_subplotspec() is not None]
    grids = {id(ax.get_subplotspec().get_gridspec()) for ax in axes}
    spec = axes[0].get_subplotspec().get_gridspec() if axes else None
    single = all(ax.get_subplotspec().num1 == ax.get_subplotspec().num2 for ax in axes)
    shared_y = any(len(ax.get_shared_y_axes().get_siblings(ax)) > 1 for ax in axes)
    if not axes or len(grids) != 1 or spec.ncols == 1 or not single or shared_y or len(axes) != len(fig.get_axes()):
        yield 0, 1
        return
    from matplotlib.gridspec import GridSpec

    places = [ax.get_subplotspec() for ax in axes]
    order = sorted(range(len(axes)), key=lambda i: places[i].num1)
    column = GridSpec(len(axes), 1, figure=fig)
    shown = [ax.xaxis.get_tick_params(which="major").get("labelbottom", True) for ax in axes]
    try:
        for row, i in enumerate(order):
            axes[i].set_subplotspec(column[row])
            if row < len(order) - 1 and len(axes[i].get_shared_x_axes().get_siblings(axes[i])) > 1:
                axes[i].tick_params(axis="x", labelbottom=False)  # the panel below shows the same dates
        yield len(axes), spec.nrows
    finally:
        for ax, place, labels in zip(axes, places, shown):
            ax.set_subplotspec(place)
            ax.tick_params(axis="x", labelbottom=labels)


def _tighten(fig: Any) -> None:
    """tight_layout for the phone size, leaving room below for a legend placed under the panels."""
    bottom = 0.0
    renderer = fig.canvas.get_renderer()
    for legend in fig.legends:
        box = legend.get_window_extent(renderer)
        if box.y0 < fig.bbox.height * 0.2:
            bottom = max(bottom, box.height / fig.bbox.height + 0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "not compatible with tight_layout": drawn as it is
        try:
            fig.tight_layout(rect=(0, bottom, 1, 1))
        except (ValueError, RuntimeError):
            pass


@contextmanager
def _legends_in_two_columns(fig: Any) -> Iterator[None]:
    """A figure legend under the panels redrawn in two columns (five in a row do not fit a phone); the
    original is hidden meanwhile and shown again on exit."""
    swapped = []
    for legend in list(fig.legends):
        texts = legend.get_texts()
        if legend.get_visible() and len(texts) > 2:
            size = texts[0].get_fontsize()
            narrow = fig.legend(legend.legend_handles, [t.get_text() for t in texts], loc="lower center", ncols=2,
                                frameon=False, fontsize=size)
            legend.set_visible(False)
            swapped.append((legend, narrow))
    try:
        yield
    finally:
        for legend, narrow in swapped:
            narrow.remove()
            legend.set_visible(True)


def png_with_metadata(fig: Any) -> tuple[str, dict[str, str]]:
    """An IPython PNG formatter's answer: the figure as base64 PNG, and metadata with its alt text and phone copy."""
    full = base64.b64encode(_png(fig)).decode("ascii")
    metadata = {"alt": alt_text(fig)}
    try:
        metadata[METADATA_KEY] = base64.b64encode(phone_png(fig)).decode("ascii")
        metadata[METADATA_KEY + "_density"] = f"{PHONE_DPI / 96:g}x"  # the browser shows it at PHONE_WIDTH inches
    except Exception as error:  # noqa: BLE001 - the full-size figure must still show; say why the phone copy is missing
        warnings.warn(f"no phone-sized copy of a figure: {type(error).__name__}: {error}", stacklevel=2)
    return full, metadata


def install() -> bool:
    """Register :func:`png_with_metadata` for matplotlib figures in the running IPython kernel.

    Returns
    -------
    bool
        True when registered; False outside IPython (a script or test draws figures as usual).
    """
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    import matplotlib
    from matplotlib.figure import Figure

    if "inline" in str(matplotlib.get_backend()).lower():
        # Importing the inline backend sets its own figure formatters once; doing it first keeps it from
        # replacing ours when the first figure is drawn.
        import matplotlib.pyplot as plt
        import matplotlib_inline.backend_inline  # noqa: F401

        # pyplot redraws each changed figure after every cell, for a window showing it live; the inline backend
        # then draws it again to send it. The first picture was never shown: a whole draw per figure saved.
        plt.uninstall_repl_displayhook()
    shell.display_formatter.formatters["image/png"].for_type(Figure, png_with_metadata)
    return True
