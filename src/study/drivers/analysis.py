"""``analyse``: how an outcome goes with a driver, on any table, with the checks a reader needs beside it."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from statsmodels.tools.sm_exceptions import SingularMatrixWarning

from study.core import degenerate
from study.core.results import Skipped
from study.data.dataset import TicketData, frame_source
from study.drivers import models
from study.drivers.findings import is_survey
from study.drivers.result import DriverAnalysis
from study.drivers.rows import ModelRows, model_rows
from study.drivers.sensitivity import sensitivity
from study.drivers.shape import dose_response

SHAPES = ("auto", "spline", "linear")
MIN_ROWS = 20  # below this many rows no slope, interval or check is worth reporting


def problem(m: ModelRows) -> str | None:
    """Why no model can be fitted on these rows, or ``None`` (the first problem a reader should hear)."""
    rows = m.rows
    reason = degenerate.first(
        degenerate.no_rows(rows, "rows with an outcome, a driver and every control"),
        f"only {len(rows):,} rows have an outcome, a driver and every control: the analysis needs at least {MIN_ROWS}"
        if len(rows) < MIN_ROWS else None,
        degenerate.constant(rows, m.outcome),
        degenerate.no_variation(rows, m.driver),
    )
    if reason:
        return reason
    if m.driver_kind.kind == "binary":
        counts = rows[m.driver].value_counts()
        small = [f"{int(v)}" for v in (0.0, 1.0) if counts.get(v, 0) < 2]
        if small:
            return (f"only {int(counts.get(float(small[0]), 0))} row{'s' if counts.get(float(small[0]), 0) != 1 else ''} "
                    f"{'has' if counts.get(float(small[0]), 0) == 1 else 'have'} {m.driver} = {small[0]}: a comparison needs "
                    "at least two on each side")
    return degenerate.first(
        degenerate.too_few_clusters(rows, m.cluster, purpose=f"standard errors clustered by {m.cluster}") if m.cluster else None,
        degenerate.too_few_rows(rows, degenerate.parameters(rows, [m.driver, *m.numeric], m.categorical)),
        models.unidentified(m),
    )


def analyse(
    data: pd.DataFrame | TicketData,
    outcome: str,
    driver: str,
    controls: list[str] | tuple[str, ...] = (),
    cluster: str | None = None,
    alpha: float = 0.05,
    shape: str = "auto",
    seed: int = 2026,
    set_aside: dict[str, int] | None = None,
    *,
    values: dict[str, dict] | None = None,
    reference: float | None = None,
    outcome_kind: str = "auto",
    survey: bool | None = None,
    name: str = "in-memory table",
) -> DriverAnalysis:
    """How ``outcome`` goes with ``driver``, naive and with ``controls`` held fixed, on any table.

    The outcome's kind is read from its values (0/1; whole numbers 1-5 with three or more values: an
    ordered score; else numeric) and said with the reason. The headline is least squares in every
    case (:mod:`study.drivers.models`): naive and adjusted slopes on the same rows, HC1 standard
    errors, or CR1 clustered by ``cluster``. Beside it: a logit (0/1 outcome) or ordered logit (1-5)
    check, the shape of a numeric driver's association (:mod:`study.drivers.shape`), the sensitivity to
    a hidden confounder (Cinelli-Hazlett), how having an outcome goes with the driver, and the
    observational caveats. Every row that leaves is counted in the ledger.

    Parameters
    ----------
    data : pandas.DataFrame or TicketData
        Any table (one row per unit), or loaded tickets, whose ``set_aside`` rows are counted too.
    outcome, driver : str
        Columns: the outcome (numeric, 0/1 or a 1-5 score) and the driver (numeric or 0/1; yes/no text
        is read as 1/0; other two-valued text needs ``values``).
    controls : list of str
        Columns held fixed: text as dummies (``C()``), numbers as straight-line terms. A control with
        one value on the rows used is dropped with a note.
    cluster : str, optional
        Column grouping rows that are not independent (a customer's orders): CR1 standard errors,
        t(G - 1) intervals with fewer than 50 groups, and a wild cluster bootstrap p-value then.
    alpha : float
        1 - the confidence level of every interval.
    shape : {"auto", "spline", "linear"}
        ``auto`` and ``spline`` draw the curve of a numeric driver; ``linear`` only the slope.
    seed : int
        Seed of the wild cluster bootstrap draws (used only with few clusters).
    set_aside : dict, optional
        Rows of the source left out before ``data`` (reason -> count), added to a TicketData's own.
    values : dict, optional
        ``{column: {stored value: number}}`` for text with two values, e.g. ``{"late": {"yes": 1, "no": 0}}``.
    reference : float, optional
        Driver value the curve is measured against (default: 0 when usual, else the median).
    outcome_kind : {"auto", "numeric", "binary", "ordinal"}
        Override the detected kind (a kind the values contradict is refused).
    survey : bool, optional
        Whether the outcome is a survey answer (default: from its name: csat, review, rating, score, ...).
    name : str
        How results name an in-memory table.

    Returns
    -------
    DriverAnalysis
        With ``skipped`` set (and no model) when the rows cannot support one: no rows, an outcome with
        one value, a driver that does not vary, one cluster, too few rows, a driver the controls determine.

    Raises
    ------
    study.data.schema.DataError
        A column that is not in the data, or whose values cannot be read as a driver or outcome.
    ValueError
        A bad argument (alpha, shape, a column in two roles), naming it.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, not {alpha!r}")
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {', '.join(SHAPES)}, not {shape!r}")
    if isinstance(controls, str):
        raise ValueError(f"controls must be a list of column names, not the text {controls!r}")
    if isinstance(data, TicketData):
        frame, source = data.tickets, data.source
        set_aside = {**data.set_aside, **(set_aside or {})}
        model_tickets = data.max_tickets
    elif isinstance(data, pd.DataFrame):
        frame, source, model_tickets = data, frame_source(data, name), None
    else:
        raise TypeError(f"data must be a pandas DataFrame or TicketData, not {type(data).__name__}")
    m = model_rows(frame, outcome, driver, list(controls), cluster or None, set_aside, values, outcome_kind)
    parameters = {"outcome": outcome, "driver": driver, "controls": list(controls), "cluster": cluster or None,
                  "alpha": alpha, "shape": shape, "seed": seed, "model_tickets": model_tickets}
    result = DriverAnalysis(source, parameters, outcome, driver, m, survey=is_survey(outcome, survey))
    reason = problem(m)
    if reason:
        result.skipped = reason
        return result
    with warnings.catch_warnings():
        # Overlapping controls make statsmodels warn on every fit; the notes say it once, in words (collinear_note).
        warnings.simplefilter("ignore", SingularMatrixWarning)
        _fit(result, m, alpha, shape, seed, reference)
    return result


def from_settings(data: pd.DataFrame | TicketData, settings, alpha: float = 0.05, seed: int = 2026,
                  shape: str = "auto") -> DriverAnalysis:
    """:func:`analyse` with a driver analysis's settings, their defaults resolved on ``data`` and said in the notes.

    Parameters
    ----------
    data : pandas.DataFrame or TicketData
    settings : study.data.driver_settings.DriverSettings
        From :func:`study.data.driver_settings.settings` (parameters, the column map's ``drivers`` section, defaults).
    alpha, seed, shape
        As :func:`analyse`.

    Returns
    -------
    DriverAnalysis
    """
    controls, cluster, notes = settings.resolve(data.tickets if isinstance(data, TicketData) else data)
    result = analyse(data, settings.outcome, settings.driver, controls, cluster, alpha=alpha, shape=shape, seed=seed)
    result.extra_notes[:0] = notes
    result.parameters["settings_from"] = dict(settings.sources)
    return result


def _determined(fit) -> bool:
    """Whether a least-squares fit leaves (numerically) nothing unexplained."""
    return fit.ssr <= 1e-12 * max(fit.centered_tss, 1e-300)


def _determined_reason(m: ModelRows) -> str:
    # Nothing is left once the driver and controls are known: no interval, curve or check can say anything.
    return (f"the outcome {m.outcome} is determined by the driver {m.driver} and the controls on these rows (nothing "
            "varies around the fit): it is a definition, not an association to estimate")


def _fit(result: DriverAnalysis, m: ModelRows, alpha: float, shape: str, seed: int, reference: float | None) -> None:
    """Every model of the analysis, into ``result``."""
    result.naive, result.adjusted, result.fits = models.headline(m, alpha)
    if _determined(result.fits["adjusted"]):
        result.skipped = _determined_reason(m)
        return
    note = models.collinear_note(result.fits["adjusted"])
    if note:
        result.extra_notes.append(note)
    check = {"binary": models.logit_check, "ordinal": models.ordered_check}.get(m.outcome_kind.kind)
    if check is not None:
        try:
            result.check, result.fits["check"] = check(m, alpha)
        except (np.linalg.LinAlgError, ValueError) as error:
            # A few rows with rare levels or a control that pins an outcome level: the check cannot be fitted,
            # the least-squares headline stands on its own.
            section = "logit check" if m.outcome_kind.kind == "binary" else "ordered logit check"
            result.check = Skipped(section, f"it cannot be fitted on these rows ({str(error).splitlines()[0][:120]})")
    if m.driver_kind.kind == "numeric" and shape != "linear":
        result.shape = dose_response(m, alpha, reference)
        if not isinstance(result.shape, Skipped) and _determined(result.shape.fit):  # e.g. late = delay > 0
            result.skipped = _determined_reason(m)
            return
    elif m.driver_kind.kind == "numeric":
        result.extra_notes.append("shape of the association not drawn: shape='linear' was asked")
    result.confounding = sensitivity(m, result.fits["adjusted"], result.adjusted, alpha)
    result.response = models.response_slope(m, alpha)
    result.wild = models.wild_bootstrap(m, result.fits["adjusted"], seed)
    if result.wild and "problem" in result.wild:
        result.extra_notes.append(f"wild cluster bootstrap: skipped, {result.wild['problem']}")

