"""A report figure's PNG is the picture matplotlib's tight save makes (``bbox_inches="tight"``, as the inline
backend shows figures), drawn in fewer passes: checked against matplotlib's own save, on figures that fit in
their canvas, that reach outside it, and that a layout engine places."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import matplotlib
import numpy as np
import pytest

from study.report import figures

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # after choosing the backend that needs no screen
from PIL import Image


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)


def _matplotlib_tight(fig, dpi: float) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def _inside() -> plt.Figure:
    fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
    for ax, shift in zip(axes, (0, 1)):
        ax.plot(np.arange(20), np.sin(np.arange(20) / 3 + shift), marker="o", label="weekly mean")
        ax.set(title=f"Panel {shift + 1}", xlabel="week", ylabel="CSAT")
    axes[0].legend()
    fig.suptitle("Two panels inside their canvas")
    fig.tight_layout()
    return fig


def _outside() -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot([1, 2, 3], [3, 1, 2], label="a legend placed to the right of the axes, past the canvas")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5))
    ax.set_yticks([1, 2, 3], ["a long label on the left side", "two", "three"])
    return fig


def _tight_past_the_edge() -> plt.Figure:
    """tight_layout places the panels and leaves its placeholder engine; a figure text it ignores reaches past the
    canvas, so the picture is saved around the larger box."""
    fig = _inside()
    fig.text(1.02, 0.5, "a note past the right edge")
    return fig


def _constrained() -> plt.Figure:
    fig, axes = plt.subplots(2, 1, figsize=(5, 5), layout="constrained")
    for ax in axes:
        ax.bar(["email", "chat", "phone"], [3, 5, 2])
        ax.set(title="Tickets by channel", ylabel="tickets")
    return fig


@pytest.mark.parametrize("make", [_inside, _outside, _tight_past_the_edge, _constrained])
@pytest.mark.parametrize("dpi", [96, figures.PHONE_DPI])
def test_the_png_is_the_picture_of_a_tight_save(make, dpi: float) -> None:
    fig = make()
    ours, reference = _pixels(figures._png(fig, dpi=dpi)), _pixels(_matplotlib_tight(fig, dpi))
    # The crop can fall a pixel off matplotlib's rounding of the box, and matplotlib draws a tight save shifted by
    # the box's fraction of a pixel: anti-aliased edges differ by up to about 4 grey levels on average (reducing
    # both to 256 colours alone differs by about 1). A box cut wrong (padding lost: 8.6) lies well above 5.
    assert abs(ours.shape[0] - reference.shape[0]) <= 2 and abs(ours.shape[1] - reference.shape[1]) <= 2
    rows, columns = min(ours.shape[0], reference.shape[0]), min(ours.shape[1], reference.shape[1])
    best = min(np.abs(ours[dy:dy + rows - 2, dx:dx + columns - 2] - reference[:rows - 2, :columns - 2]).mean()
               for dy in range(3) for dx in range(3))
    assert best < 5.0, f"mean grey-level difference {best:.1f} of 255"
    plt.close(fig)


@pytest.mark.parametrize("make", [_outside, _tight_past_the_edge])
def test_contents_outside_the_canvas_widen_the_picture_as_a_tight_save_does(make) -> None:
    fig = make()
    width_pixels = fig.get_size_inches()[0] * 96
    assert _pixels(figures._png(fig)).shape[1] > width_pixels + 50
    plt.close(fig)


def test_the_figure_is_left_as_it_was() -> None:
    fig = _constrained()
    dpi, face, engine = fig.dpi, fig.get_facecolor(), type(fig.get_layout_engine())
    figures._png(fig, dpi=figures.PHONE_DPI)
    assert fig.dpi == dpi and fig.get_facecolor() == face and type(fig.get_layout_engine()) is engine
    plt.close(fig)
    for make in (_inside, _tight_past_the_edge):
        fig = make()
        placeholder = fig.get_layout_engine()
        figures._png(fig, dpi=figures.PHONE_DPI)
        assert fig.get_layout_engine() is placeholder
        figures.phone_png(fig)
        assert type(fig.get_layout_engine()) is type(placeholder) and fig.dpi == dpi
        plt.close(fig)


def test_a_phone_copy_of_a_tight_layout_figure_is_laid_out_again_for_the_phone() -> None:
    """``tight_layout`` leaves a placeholder engine behind: the phone copy must still get margins of its own,
    or the labels of the desktop layout spill past a phone's width and the browser shrinks the picture."""
    dates = np.arange("2026-01-05", "2026-07-06", 7, dtype="datetime64[D]")
    fig, axes = plt.subplots(2, 3, figsize=(11, 6), sharex=True)
    for ax in axes.flat:
        ax.plot(dates, np.cos(np.arange(len(dates)) / 4) * 1000 + 5000)
        ax.set(title="Weekly tickets answered within the SLA", ylabel="tickets answered")
    fig.tight_layout()
    phone = Image.open(io.BytesIO(figures.phone_png(fig)))
    assert phone.width <= figures.PHONE_WIDTH * 1.1 * figures.PHONE_DPI
    plt.close(fig)


_INLINE_SHELL = """
import json, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
from matplotlib.backends.backend_agg import FigureCanvasAgg
draws, sent = [0], []
original = FigureCanvasAgg.draw
def counted(self, *args, **kwargs):
    draws[0] += 1
    return original(self, *args, **kwargs)
FigureCanvasAgg.draw = counted
shell.display_pub.publish = lambda data, metadata=None, **kw: sent.append(sorted((metadata or {}).get("image/png", {})))
shell.run_cell("import study; study.plots.set_style()")
shell.run_cell("import matplotlib.pyplot as plt; fig, ax = plt.subplots(); ax.plot([1, 2, 3]); ax.set_title('t')")
json.dump({"draws": draws[0], "sent": sent}, sys.stdout)
"""


def test_in_a_kernel_each_figure_is_drawn_once_a_picture() -> None:
    """With the inline backend pyplot would redraw every changed figure after each cell, and the backend then draw
    it again to send it: two pictures are sent (the figure and its phone copy), so two draws, not three."""
    env = dict(os.environ, MPLBACKEND="module://matplotlib_inline.backend_inline")
    done = subprocess.run([sys.executable, "-c", _INLINE_SHELL], check=False, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["sent"] == [["alt", figures.METADATA_KEY, figures.METADATA_KEY + "_density"]]
    assert seen["draws"] == 2, seen
