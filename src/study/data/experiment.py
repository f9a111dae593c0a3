"""The ticket-shaped experiment's rows: tickets of customers with one known arm, one row per customer."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from study.core.accounting import RowLedger


@dataclass
class ExperimentUnits:
    """The rows of an experiment that can be analysed, and what was set aside."""

    rows: pd.DataFrame
    units: pd.DataFrame
    ledger: RowLedger
    units_in_several_arms: int
    set_aside: dict = field(default_factory=dict)
    # ``pandas.factorize(rows[unit], use_na_sentinel=False)`` as (codes, values), for the customer table
    # (:func:`study.ab.customers.customer_table`): factorizing 10M text ids takes 10 s, so it is done once.
    unit_codes: tuple | None = None


def experiment_rows(
    tickets: pd.DataFrame, unit: str = "customer_id", arm: str = "variant", arms: tuple[str, str] = ("control", "treatment"),
    unit_columns: list[str] = (), set_aside: dict[str, int] | None = None,
) -> ExperimentUnits:
    """Keep rows with a known arm whose unit was assigned to one arm only.

    Parameters
    ----------
    tickets : pandas.DataFrame
    unit : str
        Column of the randomized unit.
    arm : str
        Arm column.
    arms : tuple of str
        Control and treatment values.
    unit_columns : list of str
        Unit-level columns (pre-period covariates) to carry into ``units``.
    set_aside : dict, optional
        Rows of the source left out before ``tickets`` (:attr:`study.data.dataset.TicketData.set_aside`):
        the ledger counts them, the assignment check does not.

    Returns
    -------
    ExperimentUnits
        Rows kept, one row per unit (first row of each), the row ledger, and how many units
        appeared in more than one arm (their rows are dropped: their assignment is unknowable).
    """
    ledger = RowLedger(tickets, set_aside)
    ledger.keep(tickets[arm].notna(), f"no {arm}")
    rows = ledger.keep(ledger.frame[arm].isin(list(arms)), f"{arm} not one of {', '.join(arms)}")
    # Integer codes instead of a groupby on text keys. A missing unit gets a code of its own, so
    # that it is one "unit" to drop_duplicates as before, but it is never counted as mixed (a
    # groupby leaves missing keys out).
    codes, values = pd.factorize(rows[unit], use_na_sentinel=False)
    is_unit = ~pd.isna(values)
    arms_seen = sum(
        np.bincount(codes[rows[arm].eq(a).to_numpy(dtype=bool, na_value=False)], minlength=len(values)) > 0
        for a in dict.fromkeys(arms)
    )
    mixed = (arms_seen > 1) & is_unit
    rows = ledger.keep(pd.Series(~mixed[codes], index=rows.index), f"{unit} seen in several arms")
    # A mixed unit loses all its rows, so every unit kept keeps its first row; codes number units
    # in order of appearance, so the first rows come out in code order.
    first_rows = np.flatnonzero(~pd.Series(codes).duplicated().to_numpy())
    if mixed.any():
        first_rows = (np.cumsum(~mixed[codes]) - 1)[first_rows[~mixed[codes[first_rows]]]]  # positions among the kept
    units = rows[[unit, arm, *unit_columns]].iloc[first_rows]
    return ExperimentUnits(rows, units.reset_index(drop=True), ledger, int(mixed.sum()), dict(set_aside or {}),
                           (codes[~mixed[codes]] if mixed.any() else codes, values))


class CountedLedger(RowLedger):
    """A :class:`study.core.accounting.RowLedger` from counts, for rows an engine kept in its file.

    Parameters
    ----------
    rows : int
        Rows read.
    dropped : dict
        Reason -> rows dropped, in the order the steps ran.
    used : int
        Rows kept.
    set_aside : dict, optional
        Rows of the source left out before (counted as rows in and as dropped, first).
    """

    def __init__(self, rows: int, dropped: dict[str, int], used: int, set_aside: dict[str, int] | None = None):
        self.frame = None
        self.dropped = dict(set_aside or {})
        for reason, n in dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + int(n)
        self.rows_in = int(rows) + sum((set_aside or {}).values())
        self.used = int(used)
        if self.rows_in != self.used + sum(self.dropped.values()):
            raise ValueError(f"rows in ({self.rows_in}) are not rows used ({self.used}) plus rows dropped")

    @property
    def rows_used(self) -> int:
        return self.used
