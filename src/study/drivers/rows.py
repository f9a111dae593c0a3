"""The rows and columns of a driver analysis: every row that leaves is counted, every control dropped is said.

:func:`model_rows` reads the outcome and the driver as numbers (:mod:`study.data.driver_columns`), keeps
the rows with a value in every model column (outcome, driver, controls, cluster), counting each
column's drops under its own reason in a :class:`study.core.accounting.RowLedger`, and sorts the
controls into dummies (text) and straight-line terms (numbers). A control with one value on the
rows kept is dropped with a note: it cannot be held fixed where it does not vary.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from study.core.accounting import RowLedger, missing_reason
from study.data.convert import short
from study.data.schema import DataError
from study.data.driver_columns import (
    Kind,
    as_numbers,
    driver_kind,
    is_categorical,
    outcome_kind,
)


@dataclass
class ModelRows:
    """What the models of a driver analysis are fitted on.

    Attributes
    ----------
    rows : pandas.DataFrame
        The rows used: outcome and driver as floats, controls and cluster as they were.
    ledger : RowLedger
        Rows in (``set_aside`` included), dropped by reason, used.
    outcome, driver : str
    outcome_kind, driver_kind : Kind
    numeric, categorical : list of str
        Controls entered as they are, and as dummies (``C()``), after constant ones were dropped.
    cluster : str or None
    notes : list of str
        Controls dropped and why; how columns were read.
    unanswered : pandas.DataFrame
        Rows with the driver and every control but no outcome (for who answers a survey).
    """

    rows: pd.DataFrame
    ledger: RowLedger
    outcome: str
    driver: str
    outcome_kind: Kind
    driver_kind: Kind
    numeric: list[str]
    categorical: list[str]
    cluster: str | None
    notes: list[str] = field(default_factory=list)
    unanswered: pd.DataFrame | None = None

    @property
    def controls(self) -> list[str]:
        """Every control held fixed, numbers first."""
        return [*self.numeric, *self.categorical]


def check_names(frame: pd.DataFrame, outcome: str, driver: str, controls: list[str], cluster: str | None) -> None:
    """Refuse a model column the frame does not have, or a column in two roles.

    Raises
    ------
    DataError
        For a missing column (naming the nearest one present).
    ValueError
        For the driver as its own outcome, a control that is the outcome or the driver, or a control listed twice.
    """
    from study.data.column_map import nearest

    for role, name in [("outcome", outcome), ("driver", driver), *[("control", c) for c in controls],
                       *([("cluster", cluster)] if cluster else [])]:
        if not isinstance(name, str) or not name:
            raise ValueError(f"the {role} must be a column name, not {name!r}")
        if name not in frame.columns:
            close = nearest(name, [str(c) for c in frame.columns])
            hint = f" (did you mean {close!r}?)" if close else ""
            raise DataError(f"the {role} column {short(name)} is not in the data{hint}")
    if driver == outcome:
        raise ValueError(f"the driver and the outcome are the same column ({driver!r})")
    for control in controls:
        if control in (outcome, driver):
            raise ValueError(f"control {control!r} is also the {'outcome' if control == outcome else 'driver'}: "
                             "a column cannot be held fixed and studied at once")
    repeated = sorted({c for c in controls if controls.count(c) > 1})
    if repeated:
        raise ValueError(f"control {repeated[0]!r} is listed twice")


def model_rows(frame: pd.DataFrame, outcome: str, driver: str, controls: list[str] = (), cluster: str | None = None,
               set_aside: dict[str, int] | None = None, values: dict[str, dict] | None = None,
               declared_outcome: str = "auto") -> ModelRows:
    """The rows and columns every model of the analysis uses (module docstring).

    Parameters
    ----------
    frame : pandas.DataFrame
        Any table, one row per unit.
    outcome, driver : str
        Columns of ``frame``.
    controls : list of str
        Columns held fixed: text as dummies, numbers as they are.
    cluster : str, optional
        Column whose values group rows that are not independent (a customer's orders).
    set_aside : dict, optional
        Rows of the source left out before ``frame`` (reason -> count); they count as rows in and as dropped.
    values : dict, optional
        ``{column: {stored value: number}}`` for a text outcome or driver with two values.
    declared_outcome : str
        ``"auto"`` or the outcome's kind (:func:`study.data.driver_columns.outcome_kind`).

    Returns
    -------
    ModelRows

    Raises
    ------
    DataError, ValueError
        See :func:`check_names` and :func:`study.data.driver_columns.as_numbers`; a control holding dates.
    """
    controls = list(controls)
    check_names(frame, outcome, driver, controls, cluster)
    values = values or {}
    y, y_read = as_numbers(frame[outcome], outcome, values.get(outcome))
    x, x_read = as_numbers(frame[driver], driver, values.get(driver))
    for control in controls:
        if pd.api.types.is_datetime64_any_dtype(frame[control]):
            raise DataError(f"control {short(control)} holds dates or times: derive a number or a period from it first")
    columns = list(dict.fromkeys([*controls, *([cluster] if cluster else [])]))
    # Positional, not joined on the index: a frame's index need not be unique.
    table = frame[[c for c in columns if c not in (outcome, driver)]].copy()
    table.insert(0, outcome, y.to_numpy())
    table.insert(1, driver, x.to_numpy())
    ledger = RowLedger(table, set_aside)
    ledger.require([driver])
    ledger.require(controls)
    if cluster:
        ledger.require([cluster])
    unanswered = ledger.frame[ledger.frame[outcome].isna()]
    ledger.keep(ledger.frame[outcome].notna(), f"{missing_reason(outcome)} (the outcome)")
    rows = ledger.frame
    notes = []  # how the outcome and driver were read is in their Kind (DriverAnalysis.kinds)
    numeric, categorical = [], []
    for control in controls:
        distinct = int(rows[control].nunique())
        if distinct < 2:
            notes.append(f"control {control} dropped: it has {'one value' if distinct else 'no value'} in the rows analysed, "
                         "so there is nothing to hold fixed")
            continue
        (categorical if is_categorical(rows[control]) else numeric).append(control)
    return ModelRows(rows, ledger, outcome, driver, outcome_kind(rows[outcome], declared_outcome, y_read),
                     driver_kind(rows[driver], x_read), numeric, categorical, cluster, notes, unanswered)
