"""Can a data set carry an analysis? What each needs, why it is skipped, and the stop a notebook makes.

The runner skips an analysis with :func:`skip_reason` before its notebook starts; a notebook run by hand
stops with the same reason (:func:`require`); ``study validate`` and ``study map`` say it per analysis.
"""

from __future__ import annotations

from dataclasses import dataclass

from study.analyses import ANALYSES, DRIVER_SETTINGS, Analysis, missing_for, select
from study.data import schema
from study.data.driver_settings import settings
from study.data.schema import DataError

# Columns every ticket table gets from a contract column (study.data.features.derive): an analysis may
# name them (the driver analysis's default driver is response_hours), and a reason names their source.
DERIVED = {"response_hours": "first_response_minutes", "response_log2_hours": "first_response_minutes",
           "response_band": "first_response_minutes", "csat_answered": "csat", "csat_top2": "csat"}


# What a missing column is, where the name alone does not say how to supply it.
SUPPLY = {"adopted_at": "adopted_at (when each team adopted the change: a column, or a rollout table named by the column map)"}


def with_derived(present) -> set[str]:
    """``present`` and the columns derived from them (:data:`DERIVED`), for data not derived yet (``study validate``)."""
    have = set(present)
    return have | {derived for derived, source in DERIVED.items() if source in have}


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
        For a bad driver-analysis parameter (:func:`study.data.driver_settings.settings`).
    study.data.schema.DataError
        For a bad ``drivers`` section of the column map.
    """
    if analysis.kind != "drivers":
        return list(analysis.needs), None
    given = {k: v for k, v in (params or {}).items() if k in DRIVER_SETTINGS}
    chosen = settings(columns_path, **given)
    return chosen.needed, chosen


def skip_reason(analysis: Analysis, present, constant: dict | None = None, needs: list[str] | None = None) -> str:
    """Why ``analysis`` cannot run on a ticket table, or ``""`` when it can.

    Parameters
    ----------
    analysis : Analysis
    present : iterable of str
        Columns of the table with at least one value.
    constant : dict, optional
        Column -> its one value, for columns without variation (:func:`only_value`). For an analysis whose
        needs depend on its settings (the driver analysis), an outcome or driver with one value cannot carry
        it; the ticket analyses skip the sections such a column cannot carry themselves.
    needs : list of str, optional
        What it needs, when that depends on its settings (:func:`needs_of`); default ``analysis.needs``.
    """
    constant = constant or {}
    settled = needs is not None
    needs = list(analysis.needs if needs is None else needs)
    have = set(present)
    missing = list(dict.fromkeys(DERIVED.get(c, c) for c in needs if c not in have))  # the column to supply
    # The ticket analyses run on a column without variation and skip, each with its reason, the sections it
    # cannot carry (a placeholder repeat_purchase still leaves 04's CSAT comparison); a driver analysis whose
    # outcome or driver does not vary has nothing to show.
    flat = [c for c in needs if c in constant and c not in ("ticket_id", "variant")] if settled else []
    return "; ".join(([f"data has no {', '.join(SUPPLY.get(c, c) for c in missing)}"] if missing else [])
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
    analysis = select([name])[0]
    tickets = data.tickets
    # A column left in the file (not read: the engine scans it) counts when it has a value somewhere.
    present = [c for c in tickets.columns if tickets[c].notna().any()] + [c for c, share in data.missing.items() if share < 1]
    reason = skip_reason(analysis, present)
    if reason:
        raise DataError(f"{analysis.title} cannot run on {data.source.name}: {reason}")


@dataclass(frozen=True)
class Readiness:
    """Whether an analysis can run on some data, and if not, why.

    Attributes
    ----------
    name : str
        The analysis (:data:`study.analyses.ANALYSES`).
    missing : tuple of str
        Contract columns it needs that the data lacks.
    other : str
        Any other reason it cannot run (no experiment section, a missing arm, a column with one value).
    """

    name: str
    missing: tuple[str, ...] = ()
    other: str = ""

    @property
    def runs(self) -> bool:
        """Whether nothing stops it."""
        return not self.missing and not self.other

    def reason(self, describe=str) -> str:
        """``needs csat, resolved; variant has no control rows``; ``describe`` words each missing column."""
        parts = [f"needs {', '.join(describe(c) for c in self.missing)}"] if self.missing else []
        return "; ".join(parts + ([self.other] if self.other else []))


def analysis_status(columns, arms=None, experiment: list[str] | None = None, has_experiment_map: bool = False,
                    constant: dict[str, str] | None = None) -> list[Readiness]:
    """Whether each registered analysis runs on data with these contract columns, and if not, why.

    Reads :data:`study.analyses.ANALYSES` (and its ``missing_for`` and, where it has one,
    ``skip_reason``) when called, so it follows their requirements as they change.

    Parameters
    ----------
    columns : iterable of str
        Contract columns present with at least one value.
    arms : iterable of str, optional
        The ``variant`` values, when known: an A/B analysis needs a control and a treatment arm.
    experiment : list of str, optional
        Columns an ``experiment`` section names that the data lacks.
    has_experiment_map : bool
        Whether a column map with an ``experiment`` section was given.
    constant : dict, optional
        Column -> its one value, for columns without variation: a driver analysis whose outcome or driver is
        such a placeholder is skipped (the ticket analyses skip such sections themselves).

    Returns
    -------
    list of Readiness
        One per registered analysis, in the registry's order.
    """
    present = set(columns)
    status = []
    for analysis in ANALYSES:
        if analysis.kind == "experiment":
            status.append(Readiness(analysis.name, other="" if has_experiment_map and not experiment else
                                    f"data has no {', '.join(experiment)}" if has_experiment_map
                                    else "needs a column map with an 'experiment' section"))
            continue
        if analysis.kind == "drivers":  # the default question, CSAT on the first response time, unless a map names another
            needs = needs_of(analysis)[0]
            derived = with_derived(present)
            status.append(Readiness(analysis.name, tuple(dict.fromkeys(DERIVED.get(c, c) for c in needs
                                                                       if c not in derived)),
                                    skip_reason(analysis, derived | set(needs), constant or {}, needs=needs)))
            continue
        missing = tuple(missing_for(analysis, present))
        others = []
        if not missing and "variant" in analysis.needs and arms is not None:
            absent = [a for a in ("control", "treatment") if a not in set(arms)]
            if absent:
                others.append(f"variant has no {' or '.join(absent)} rows; map the arm names under values")
        status.append(Readiness(analysis.name, missing, "; ".join(o for o in others if o)))
    return status


def needed_columns() -> list[str]:
    """Contract columns some tickets analysis or the file itself needs, in the contract's order."""
    wanted = set(schema.REQUIRED) | {c for a in ANALYSES if a.kind != "experiment" for c in a.needs}
    return [c.name for c in schema.COLUMNS if c.name in wanted]
