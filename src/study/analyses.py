"""The registry of the study's analyses: each one's notebook, title, needed columns and start order.

Everything that lists analyses (the runner, ``--only``, the executive summary, the tests) reads
this one tuple, so a new analysis is registered here once, beside its notebook ``notebooks/NAME.ipynb``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from study import config


@dataclass(frozen=True)
class Analysis:
    """An analysis of the study and the columns it cannot do without.

    Attributes
    ----------
    name : str
        Its notebook's name, ``NN_words``; ``NN`` alone selects it in ``--only``.
    title : str
        How the index names it.
    needs : tuple of str
        Contract columns without which it is skipped (with that reason).
    kind : {"tickets", "experiment", "drivers"}
        ``tickets`` reads the data contract; ``experiment`` reads any experiment table through the
        ``experiment`` section of a column map; ``drivers`` reads a ticket table, and what it needs
        depends on its settings (:func:`needs_of`).
    start : int
        Start order in a run: the slowest notebooks start first, so the quick ones fill in beside them.
    """

    name: str
    title: str
    needs: tuple[str, ...]
    kind: str = "tickets"
    start: int = 9

    @property
    def notebook(self) -> Path:
        """The notebook that runs it."""
        return config.NOTEBOOKS / f"{self.name}.ipynb"


ANALYSES: tuple[Analysis, ...] = (
    Analysis("01_data_overview", "Data overview", ("ticket_id",)),
    Analysis("02_satisfaction_drivers", "Speed, resolution and satisfaction",
             ("csat", "first_response_minutes", "resolved", "customer_id"), start=0),
    Analysis("03_repeat_purchase", "Repeat purchase",
             ("repeat_purchase", "first_response_minutes", "resolved", "csat", "customer_id"), start=1),
    Analysis("04_ab_test", "The faster-response SLA experiment", ("variant", "customer_id", "csat", "repeat_purchase"),
             start=2),
    Analysis("05_experiment_table", "An experiment table", (), kind="experiment"),
    Analysis("06_driver_analysis", "Driver analysis", (), kind="drivers", start=3),
)
OVERVIEW, DRIVERS, REPEAT, AB_TEST, EXPERIMENT, DRIVER_ANALYSIS = (a.name for a in ANALYSES)
# The notebook parameters that say what a driver analysis studies (None: the column map's, else the default).
DRIVER_SETTINGS = ("outcome", "driver", "controls", "cluster")


def needs_of(analysis: Analysis, columns_path=None, params: dict | None = None) -> tuple[list[str], object]:
    """The columns ``analysis`` needs with these settings, and the settings (driver analysis) or None.

    Parameters
    ----------
    analysis : Analysis
    columns_path : str or Path, optional
        The column map, whose ``drivers`` section a driver analysis reads.
    params : dict, optional
        The notebook's parameters (``outcome``, ``driver``, ``controls``, ``cluster``).

    Raises
    ------
    ValueError
        For a bad driver-analysis parameter (:func:`study.drivers.settings`).
    study.data.schema.DataError
        For a bad ``drivers`` section of the column map.
    """
    if analysis.kind != "drivers":
        return list(analysis.needs), None
    from study.drivers.settings import settings

    given = {k: v for k, v in (params or {}).items() if k in DRIVER_SETTINGS}
    chosen = settings(columns_path, **given)
    return chosen.needed, chosen


def missing_for(analysis: Analysis, columns) -> list[str]:
    """Columns an analysis needs that are absent from ``columns``."""
    present = set(columns)
    return [c for c in analysis.needs if c not in present]


def skip_reason(analysis: Analysis, present, constant: dict | None = None, needs: list[str] | None = None) -> str:
    """Why ``analysis`` cannot run on a ticket table, or ``""`` when it can.

    Parameters
    ----------
    analysis : Analysis
    present : iterable of str
        Columns of the table with at least one value.
    constant : dict, optional
        Column -> its one value, for columns without variation (:func:`only_value`). A needed column
        with one value (a placeholder) cannot carry the analysis; the arms of ``variant`` are checked
        by the runner, which names the arm that is missing.
    needs : list of str, optional
        What it needs, when that depends on its settings (:func:`needs_of`); default ``analysis.needs``.
    """
    constant = constant or {}
    needs = list(analysis.needs if needs is None else needs)
    have = set(present)
    missing = [c for c in needs if c not in have]
    flat = [c for c in needs if c in constant and c not in ("ticket_id", "variant")]
    return "; ".join(([f"data has no {', '.join(missing)}"] if missing else [])
                     + [f"{c} has one value ({constant[c]}) in every row" for c in flat])


def only_value(values) -> str | None:
    """The one value of a column (a pandas Series) that has a single distinct value, missing values aside; else None."""
    known = values.dropna()
    if known.empty:
        return None
    first = known.iloc[0]
    return None if (known != first).any() else str(first)


def require(data, name: str) -> None:
    """Stop a notebook, with the runner's reason, when its data cannot carry the analysis ``name``.

    ``study run`` skips such an analysis before starting its notebook; a researcher running the notebook
    by hand gets the same reason as one line instead of an error deep inside a model.

    Parameters
    ----------
    data : study.data.dataset.TicketData
    name : str
        The analysis, by name or number (``02``).

    Raises
    ------
    study.data.schema.DataError
    """
    from study.data.schema import BY_NAME, DataError

    analysis = select([name])[0]
    tickets = data.tickets
    present = [c for c in tickets.columns if tickets[c].notna().any()] + list(data.missing)
    constant = {c: value for c in analysis.needs if c in tickets.columns and c in BY_NAME
                and (value := only_value(tickets[c])) is not None}
    reason = skip_reason(analysis, present, constant)
    if reason:
        raise DataError(f"{analysis.title} cannot run on {data.source.name}: {reason}")


def needed_by(column: str) -> list[str]:
    """Names of the analyses that cannot run without ``column``."""
    return [a.name for a in ANALYSES if column in a.needs]


def select(only: list[str] | None = None) -> list[Analysis]:
    """The analyses named in ``only`` (by name or number prefix: ``02`` or ``02_satisfaction_drivers``), or all.

    Raises
    ------
    ValueError
        For a name that is not registered, listing those that are.
    """
    if not only:
        return list(ANALYSES)
    chosen = []
    for wanted in only:
        matches = [a for a in ANALYSES if a.name == wanted or a.name.split("_", 1)[0] == wanted]
        if not matches:
            raise ValueError(f"unknown analysis '{wanted}' (analyses: {', '.join(a.name for a in ANALYSES)})")
        chosen += [m for m in matches if m not in chosen]
    return chosen
