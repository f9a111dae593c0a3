"""Descriptive tables: outcomes by group, distributions, data facts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from study.core.inference import critical_value
from study.core.results import format_p
from study.data.schema import BY_NAME, validation_report


def t_half_width(sd: float | None, n: int, alpha: float = 0.05) -> float:
    """Half-width of the t interval of a mean from its sample SD and count (NaN below two values)."""
    if n < 2 or sd is None:
        return float("nan")
    return float(critical_value(alpha, n - 1) * sd / np.sqrt(n))


# Words for the columns of outcomes-by-group tables and groupings in displayed tables (the frame itself keeps code names).
_OUTCOME_HEADERS = {
    "csat answers": "CSAT answers",
    "csat mean": "mean CSAT (1-5)",
    "csat ci half-width": "CSAT ± ({level} CI)",
    "repeat_purchase mean": "repeat purchase",
    "repeat_purchase ci half-width": "repeat purchase ± ({level} CI)",
}
_GROUP_NAMES = {"response_band": "first response time", "resolved": "resolution"}
_FLAG_WORDS = {"resolved": ("unresolved", "resolved")}  # (False, True)

# Labels (column or row) of counts: shown as integers even in a float column.
_COUNT_LABELS = {"count", "missing", "tickets", "respondents", "csat answers", "customers", "rows", "n"}


def group_label(group: str | None, value) -> str:
    """Words for a value of a grouping column: flags as e.g. 'resolved'/'unresolved', others as text."""
    if isinstance(value, (bool, np.bool_)):
        negative, positive = _FLAG_WORDS.get(group, (f"not {str(group).replace('_', ' ')}", str(group).replace("_", " ")))
        return positive if value else negative
    return str(value)


def _is_count_label(label) -> bool:
    text = str(label).strip().lower()
    return text in _COUNT_LABELS or text.startswith(("rows ", "dropped: "))


def _whole(value) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and float(value).is_integer()


def display_table(frame: pd.DataFrame, percent: list[str] = (), digits: int = 3) -> pd.DataFrame:
    """A copy with numbers as fixed-decimal text (percent columns as '12.3%'), for stable display.

    Text rather than a Styler: a Styler's HTML carries a random id, which would make every run's
    output differ.

    Counts (columns or rows labelled e.g. ``count``, ``missing``, ``tickets``, ``respondents``) show as
    integers even when stored as floats. For outcomes-by-group tables (:class:`study.data.overview.Overview`), a CI half-width is shown in
    the unit of its mean (percentage points when the mean is a percent column), headers are words,
    and flag groupings read e.g. 'resolved' / 'unresolved'.
    """
    out = frame.copy()
    for column in out.columns:
        values = out[column]
        if column in percent:
            out[column] = [("–" if pd.isna(v) else f"{v:.1%}") for v in values]
        elif (str(column).endswith(" ci half-width")
              and f"{str(column).removesuffix(' ci half-width')} mean" in percent and pd.api.types.is_numeric_dtype(values)):
            out[column] = [("–" if pd.isna(v) else f"{100 * v:.1f} pp") for v in values]
        elif ("p-value" in str(column) or str(column).startswith("p (")) and pd.api.types.is_numeric_dtype(values):
            out[column] = ["–" if pd.isna(v) else format_p(v) for v in values]
        elif pd.api.types.is_float_dtype(values):
            count_column = _is_count_label(column)
            out[column] = [
                "–" if pd.isna(v)
                else f"{int(v):,}" if (count_column or _is_count_label(row)) and _whole(v)
                else f"{v:,.{digits}f}"
                for row, v in zip(out.index, values)
            ]
        elif pd.api.types.is_integer_dtype(values):
            out[column] = [("–" if pd.isna(v) else f"{v:,}") for v in values]
    if set(_OUTCOME_HEADERS) <= set(out.columns):  # an outcomes-by-group table
        level = out.attrs.get("ci_level")
        level = f"{level:.0%}" if level is not None else "95%"
        out = out.rename(columns={k: v.format(level=level) for k, v in _OUTCOME_HEADERS.items()})
        group = out.index.name
        if pd.api.types.is_bool_dtype(out.index) or all(isinstance(v, (bool, np.bool_)) for v in out.index):
            out.index = pd.Index([group_label(group, v) for v in out.index], name=group)
        out.index.name = _GROUP_NAMES.get(group, str(group).replace("_", " ") if group is not None else None)
    return out


# What a ticket without a value of each measure is not counted in, for the row accounting.
MEASURES = {
    "first_response_minutes": ("a first response time", "the response-time figures and bands"),
    "resolved": ("a resolution outcome", "the comparison by resolution"),
    "csat": ("a CSAT answer", "the satisfaction figures"),
    "repeat_purchase": ("a repeat-purchase value", "the repeat-purchase figures"),
}


def row_accounting(rows: int, rows_read: int, measured: dict[str, int],
                   set_aside: dict[str, int] | None = None) -> pd.DataFrame:
    """Rows read, set aside, kept, and how many have each measure (and so enter its figures).

    Parameters
    ----------
    rows : int
        Tickets kept (a contract breach stops the run instead of dropping rows).
    rows_read : int
        Rows in the file.
    measured : dict
        Contract column -> tickets with a value of it (:attr:`study.data.overview.Overview.measured`);
        columns the data lacks are left out.
    set_aside : dict, optional
        Rows left out before the analysis, by reason (a column map's filter).
    """
    lines = [("rows read", rows_read, "")]
    lines += [(f"set aside: {reason}", n, "not described") for reason, n in (set_aside or {}).items() if n]
    lines += [
        ("rows failing the data contract", rows_read - rows - sum((set_aside or {}).values()),
         "a value breaking the contract stops the run with a message naming it"),
        ("rows kept", rows, ""),
    ]
    for column, n in measured.items():
        measure, figures = MEASURES[column]
        lines.append((f"  with {measure}", n, f"in {figures}"))
        if n < rows or column == "csat":  # unanswered surveys are always worth a line: they are the rule
            lines.append((f"  without {measure}", rows - n, f"left out of {figures}"))
    return pd.DataFrame(lines, columns=["rows", "count", "note"]).set_index("rows")


def column_report(tickets: pd.DataFrame, mapped_from: dict[str, str] | None = None,
                  missing: dict[str, float] | None = None, validated: bool = False,
                  notes: dict[str, str] | None = None) -> pd.DataFrame:
    """The validation report of ``study validate`` (found, mapped or missing; type; share missing;
    problems) with each column's meaning.

    Parameters
    ----------
    tickets : pandas.DataFrame
    mapped_from : dict, optional
        Contract name -> the export's column.
    missing : dict, optional
        Share missing of the columns not read (:attr:`study.data.dataset.TicketData.missing`).
    validated : bool
        The tickets passed validation already (:func:`study.data.dataset.load_tickets`): not checked again.
    notes : dict, optional
        What validation did to a column's values (time zones converted to UTC, Unix times read):
        :attr:`study.data.dataset.TicketData.notes`.
    """
    report = validation_report(tickets, mapped_from, missing=missing, check=not validated, notes=notes)[0]
    report["meaning"] = [BY_NAME[c].description for c in report.index]
    return report


def ledgers_table(rows: dict) -> pd.DataFrame:
    """Row accounting of several models side by side: ``{model: {"in", "used", "dropped"}}`` to a table."""
    reasons = sorted({reason for part in rows.values() for reason in part["dropped"]})
    lines = {
        model: {"rows in": part["in"], **{f"dropped: {r}": part["dropped"].get(r, 0) for r in reasons}, "rows used": part["used"]}
        for model, part in rows.items()
    }
    return pd.DataFrame.from_dict(lines, orient="index").rename_axis("model")
