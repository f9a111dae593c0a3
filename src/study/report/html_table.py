"""A displayed table whose HTML carries the kind of each column, for the report's stylesheet.

The cells' classes (``num``, ``text``, ``prose``: :func:`study.core.tables.column_kinds`) are given when
the table is shown, from the table as built; the report's stylesheet right-aligns numbers and keeps
them on one line, and lets text read from the left and wrap on a phone. The markup is that of
``DataFrame.to_html`` (header rows, index names, sparse row labels) without a random id, so a run's
output is the same every time. Right-to-left text is isolated (:mod:`study.core.bidi`).
"""

from __future__ import annotations

import html

import pandas as pd

from study.core import bidi


def _cell(tag: str, value, kind: str | None = None, rowspan: int = 1) -> str:
    attributes = (f' class="{kind}"' if kind else "") + (f' rowspan="{rowspan}"' if rowspan > 1 else "")
    text = "–" if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) else str(value)
    shown = f"<bdi>{html.escape(text)}</bdi>" if bidi.needs_isolating(text) else html.escape(text)
    return f"<{tag}{attributes}>{shown}</{tag}>"


def _label(value) -> str:
    return " ".join(map(str, value)) if isinstance(value, tuple) else str(value)


def _row_labels(index: pd.Index) -> list[list[str]]:
    """The row-label cells of each row: outer levels of a MultiIndex once per run of equal labels."""
    rows = [list(v) if isinstance(v, tuple) else [v] for v in index]
    cells: list[list[str]] = [[] for _ in rows]
    levels = index.nlevels
    for level in range(levels):
        start = 0
        while start < len(rows):
            end = start + 1
            if level < levels - 1:  # the innermost label is shown on every row, as pandas does
                while end < len(rows) and rows[end][:level + 1] == rows[start][:level + 1]:
                    end += 1
            cells[start].append(_cell("th", rows[start][level], rowspan=end - start))
            start = end
    return cells


def table_html(frame: pd.DataFrame, kinds: list[str]) -> str:
    """HTML of ``frame`` with each column's header and cells classed by its kind.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as displayed (numbers already formatted as text).
    kinds : list of str
        One class per column of ``frame``, e.g. from :func:`study.core.tables.column_kinds`.

    Returns
    -------
    str
        A ``<table class="dataframe">`` with every value escaped; a missing value shows as "–", as
        :func:`study.data.descriptives.display_table` writes the missing numbers.
    """
    if len(kinds) != frame.shape[1]:
        raise ValueError(f"{len(kinds)} column kinds for {frame.shape[1]} columns")
    names = list(frame.index.names)
    corner = [_cell("th", "") for _ in names[:-1]] + [_cell("th", frame.columns.name or "")]
    head = ["<tr>" + "".join(corner + [_cell("th", _label(c), k) for c, k in zip(frame.columns, kinds)]) + "</tr>"]
    if any(name is not None for name in names):
        # Index names head columns of row labels, which read as text.
        head.append("<tr>" + "".join([_cell("th", n or "", "text") for n in names] + [_cell("th", "") for _ in kinds]) + "</tr>")
    body = [
        "<tr>" + "".join(labels + [_cell("td", v, k) for v, k in zip(row, kinds)]) + "</tr>"
        for labels, row in zip(_row_labels(frame.index), frame.itertuples(index=False, name=None))
    ]
    return ('<table class="dataframe">\n<thead>\n' + "\n".join(head) + "\n</thead>\n<tbody>\n"
            + "\n".join(body) + "\n</tbody>\n</table>")


class HtmlTable:
    """A table for ``IPython.display``: its HTML is classed by column kind, its text is the frame's own.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table as displayed.
    kinds : list of str
        One class per column of ``frame``.
    """

    def __init__(self, frame: pd.DataFrame, kinds: list[str]) -> None:
        self.frame = frame
        self.kinds = list(kinds)

    def __repr__(self) -> str:
        # The plain-text output (what a terminal, and a comparison of notebook outputs, sees) stays pandas'.
        return repr(self.frame)

    def _repr_html_(self) -> str:
        return table_html(self.frame, self.kinds)
