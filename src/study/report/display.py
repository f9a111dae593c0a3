"""Show results in a notebook: tables as formatted text classed by column kind, skipped sections as a note."""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown, display

from study.core.findings import Findings
from study.core.results import Estimate
from study.core.tables import column_kinds
from study.core.words import bullet_list, text
from study.data.descriptives import display_table
from study.regression.fitting import comparison_table
from study.report.html_table import HtmlTable


def show(result, part: str | None = None, truth: dict[str, float] | None = None, percent: list[str] = (),
         digits: int = 3, alpha: float | None = None, pp: int | None = None) -> None:
    """Display a table, a list of estimates, or the reason a section was skipped.

    Parameters
    ----------
    result : str, list of str, Findings, pandas.DataFrame, list of Estimate, an analysis result, or None
        Text and findings are shown as Markdown (an empty text, or ``None``, shows nothing); a list
        of sentences as a bulleted list, their text escaped. A result
        with a non-empty ``skipped`` (or a ``Skipped`` with ``section`` and ``reason``) shows why it
        was skipped instead.
    part : str, optional
        Attribute of ``result`` to show when it was not skipped (e.g. ``"table"``, ``"estimates"``).
    truth : dict, optional
        True values by estimate name (simulated data), shown beside estimates.
    percent : list of str
        Table columns to show as percentages.
    digits : int
        Decimals of other numbers.
    alpha : float, optional
        Show estimates with intervals at level ``1 - alpha`` instead of the analysis's own
        (:meth:`study.core.results.Estimate.at`).
    pp : int, optional
        Show estimates of a change in a probability in percentage points with this many decimals, as
        the findings quote them (:func:`study.regression.fitting.comparison_table`).
    """
    if result is None:
        return  # an optional section this data does not have (no experiment, no agents): nothing to show
    if isinstance(result, str):
        display(Markdown(result))
    elif isinstance(result, list) and result and all(isinstance(line, str) for line in result):
        display(Markdown(bullet_list([text(line) for line in result])))
    elif isinstance(result, Findings):
        display(Markdown(result.markdown()))
    elif hasattr(result, "reason") and hasattr(result, "section"):
        display(Markdown(f"*{text(result.section[:1].upper() + result.section[1:])} skipped: {text(result.reason)}.*"))
    elif getattr(result, "skipped", None):
        display(Markdown(f"*Skipped: {text(result.skipped)}.*"))
    elif part is not None:
        value = getattr(result, part)
        # A part may be a method that builds its table (``summary``, ``table``): called without arguments.
        value = value() if callable(value) and not isinstance(value, pd.DataFrame) else value
        show(value, truth=truth, percent=percent, digits=digits, alpha=alpha, pp=pp)
    elif isinstance(result, list) and all(isinstance(e, Estimate) for e in result):
        show(comparison_table([e.at(alpha) for e in result] if alpha is not None else result, truth, pp=pp, digits=digits), digits=digits)
    elif isinstance(result, pd.DataFrame):
        # Kinds come from the table as built: once its numbers are formatted, every column is text.
        display(HtmlTable(display_table(result, percent=list(percent), digits=digits), column_kinds(result)))
    else:
        raise TypeError(f"cannot show a {type(result).__name__}")
