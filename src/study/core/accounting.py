"""Row accounting: every row that leaves an analysis is counted with its reason."""

from __future__ import annotations

import pandas as pd

# The reason every model's ledger gives for tickets outside a model sample (study.data.dataset.sample_reason):
# notes tell such tickets from rows a column map's filter set aside by it.
SAMPLE_REASON_START = "outside the model sample"

# Reasons in words for columns whose missing values are common and have a name readers know.
MISSING = {
    "response_log2_hours": "no first response time",
    "response_hours": "no first response time",
    "first_response_minutes": "no first response time",
    "response_band": "no first response time",
}


def missing_reason(column: str) -> str:
    """Why a row without ``column`` leaves an analysis: ``no first response time``, else ``missing <column>``."""
    return MISSING.get(column, f"missing {column}")


_COPY_ON_WRITE = int(pd.__version__.split(".")[0]) >= 3


class RowLedger:
    """Rows in, rows dropped by reason, rows used; the totals always add up.

    Parameters
    ----------
    frame : pandas.DataFrame
        The rows an analysis starts from.
    set_aside : dict, optional
        Rows of the source left out before ``frame`` (reason -> count), such as tickets outside a
        model sample (:attr:`study.data.dataset.TicketData.set_aside`): they count as rows in and as dropped.

    Examples
    --------
    >>> ledger = RowLedger(tickets)
    >>> answered = ledger.keep(tickets["csat"].notna(), "no survey answer")
    >>> ledger.table()
    """

    def __init__(self, frame: pd.DataFrame, set_aside: dict[str, int] | None = None):
        self.frame = frame
        self.dropped: dict[str, int] = dict(set_aside or {})
        self.rows_in = len(frame) + sum(self.dropped.values())

    def keep(self, mask: pd.Series, reason: str) -> pd.DataFrame:
        """Keep the rows where ``mask`` is true; count the others under ``reason``.

        Returns the kept rows, which become the ledger's current frame.
        """
        mask = mask.reindex(self.frame.index).fillna(False).astype(bool)
        dropped = int((~mask).sum())
        self.dropped[reason] = self.dropped.get(reason, 0) + dropped
        # Nothing dropped: a new frame over the same columns, not a copy of every row. Copy-on-write (pandas 3)
        # keeps the two apart if either is changed later; without it the rows are copied as before.
        self.frame = self.frame[mask] if dropped else self.frame.copy(deep=not _COPY_ON_WRITE)
        return self.frame

    def require(self, columns: list[str]) -> pd.DataFrame:
        """Keep rows with a value in every one of ``columns``; count each column's drops separately
        (under :func:`missing_reason`: ``no first response time`` for the response time)."""
        for column in columns:
            self.keep(self.frame[column].notna(), missing_reason(column))
        return self.frame

    def absorb(self, later: "RowLedger") -> pd.DataFrame:
        """Continue with a ledger that started from this one's current rows (another module's steps)."""
        if later.rows_in != self.rows_used:
            raise ValueError(f"the later ledger starts from {later.rows_in} rows, this one ends with {self.rows_used}")
        for reason, count in later.dropped.items():
            self.dropped[reason] = self.dropped.get(reason, 0) + count
        self.frame = later.frame
        return self.frame

    @property
    def rows_used(self) -> int:
        return len(self.frame)

    def as_dict(self) -> dict:
        """``{"in": n, "used": n, "dropped": {reason: n}}`` with zero-count reasons left out."""
        return {
            "in": self.rows_in,
            "used": self.rows_used,
            "dropped": {reason: n for reason, n in self.dropped.items() if n},
        }

    def table(self) -> pd.DataFrame:
        """Rows in, each reason for dropping, and rows used, as a two-column table."""
        lines = [("rows in", self.rows_in)]
        lines += [(f"dropped: {reason}", -n) for reason, n in self.dropped.items() if n]
        lines.append(("rows used", self.rows_used))
        return pd.DataFrame(lines, columns=["step", "rows"]).set_index("step")
