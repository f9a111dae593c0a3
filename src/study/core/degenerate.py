"""Can this be estimated on these rows? Each check returns the reason it cannot, in words, or ``None``.

Degenerate data (one customer, an outcome with one value, a handful of rows) must not crash an
analysis or turn into a meaningless number such as "0.0 pp (95% CI 0.0 to 0.0)". The analyses ask
these questions before fitting and skip the section with the reason instead
(:class:`study.core.results.Skipped`, shown by :func:`study.report.display.show`).

Typical use::

    reason = degenerate.first(
        degenerate.constant(rows, "csat"),
        degenerate.too_few_clusters(rows, "customer_id"),
        degenerate.too_few_rows(rows, degenerate.parameters(rows, ["response_log2_hours"], ["category"])),
    )
    if reason:
        return Skipped("the adjusted model", reason)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

WORDS = {
    "csat": "CSAT", "repeat_purchase": "repeat purchase", "response_log2_hours": "first response time",
    "resolved": "resolution", "agent_id": "agent", "customer_id": "customer", "next_spend": "follow-up spend",
}
PLURALS = {"customer_id": "customers", "agent_id": "agents"}


def words(column: str) -> str:
    """A column in words: ``csat`` -> ``CSAT``."""
    return WORDS.get(column, column.replace("_", " "))


def first(*reasons: str | None) -> str | None:
    """The first reason that is not ``None`` (checks in order of what a reader should hear first)."""
    return next((r for r in reasons if r), None)


def _value_words(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "true" if value else "false"
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def no_rows(rows: pd.DataFrame, what: str = "rows") -> str | None:
    """``"no rows left to analyse"`` when ``rows`` is empty."""
    return f"no {what} left to analyse" if len(rows) == 0 else None


def constant(rows: pd.DataFrame, column: str, consequence: str = "nothing to explain") -> str | None:
    """The outcome takes a single value on the rows analysed (or none at all).

    >>> constant(frame_with_every_csat_4, "csat")
    'CSAT has one value (4) in the rows analysed: nothing to explain'
    """
    if column == "repeat_purchase":
        return bought_again(rows)
    values = rows[column].dropna() if column in rows.columns else pd.Series(dtype=float)
    if values.empty:
        return f"{words(column)} has no value in the rows analysed"
    unique = values.unique()
    if len(unique) < 2:
        return f"{words(column)} has one value ({_value_words(unique[0])}) in the rows analysed: {consequence}"
    return None


def bought_again(rows: pd.DataFrame, column: str = "repeat_purchase") -> str | None:
    """Repeat purchase never (or always) happened on the rows analysed: nothing to compare."""
    values = rows[column].dropna().astype(bool) if column in rows.columns else pd.Series(dtype=bool)
    if values.empty:
        return "no ticket with a known repeat purchase in the rows analysed"
    if not values.any():
        return "no customer bought again: repeat purchase is false on every ticket analysed"
    if values.all():
        return "every customer bought again: repeat purchase is true on every ticket analysed"
    return None


def too_few_clusters(rows: pd.DataFrame, column: str = "customer_id", need: int = 2,
                     purpose: str = "standard errors clustered by customer") -> str | None:
    """Fewer than ``need`` distinct values of the cluster column (e.g. one customer).

    >>> too_few_clusters(one_customer_rows)
    'one customer: standard errors clustered by customer need at least two'
    """
    count = int(rows[column].nunique()) if column in rows.columns else 0
    if count >= need:
        return None
    plural = PLURALS.get(column, f"values of {column}")
    have = f"one {words(column)}" if count == 1 else f"{'no' if count == 0 else count} {plural}"
    verb = "need" if purpose.startswith("standard errors") or " and " in purpose else "needs"
    return f"{have}: {purpose} {verb} at least {_number_words(need)}"


def _number_words(n: int) -> str:
    return {2: "two", 3: "three"}.get(n, str(n))


def parameters(rows: pd.DataFrame, numeric: list[str], categorical: list[str] = (), intercept: bool = True) -> int:
    """Coefficients of a linear model: intercept, one per numeric term, levels - 1 per categorical term."""
    return int(intercept) + len(numeric) + sum(max(int(rows[c].nunique()) - 1, 0) for c in categorical)


def too_few_rows(rows: pd.DataFrame, k: int, what: str = "rows", spare: int = 2) -> str | None:
    """Fewer rows than the model's ``k`` coefficients plus ``spare`` (no degrees of freedom left for its error).

    >>> too_few_rows(three_rows, 12, "answered surveys")
    'only 3 answered surveys for a model with 12 coefficients'
    """
    if len(rows) >= k + spare:
        return None
    return f"only {len(rows):,} {what} for a model with {k} coefficients"


def no_variation(rows: pd.DataFrame, column: str) -> str | None:
    """An explanatory variable that does not vary (a slope needs two values)."""
    values = rows[column].dropna() if column in rows.columns else pd.Series(dtype=float)
    if values.nunique() < 2:
        return f"{words(column)} does not vary in the rows analysed: no association with it can be estimated"
    return None


def model(rows: pd.DataFrame, outcome: str, numeric: list[str], categorical: list[str] = (),
          cluster: str | None = "customer_id", what: str = "rows") -> str | None:
    """Everything a regression of ``outcome`` needs: rows, an outcome that varies, a varying first
    regressor, at least two clusters, and more rows than coefficients. The first problem found, or ``None``."""
    return first(
        no_rows(rows, what),
        constant(rows, outcome),
        no_variation(rows, numeric[0]) if numeric else None,
        too_few_clusters(rows, cluster) if cluster else None,
        too_few_rows(rows, parameters(rows, numeric, categorical), what),
    )


def arms(counts: dict, need: int = 2, units: str = "customers") -> str | None:
    """Each of the compared arms needs at least ``need`` units.

    >>> arms({"control": 3, "treatment": 0})
    'customers per arm: control 3, treatment 0; a comparison needs at least two in each arm'
    """
    if counts and all(n >= need for n in counts.values()):
        return None
    listed = ", ".join(f"{arm} {n:,}" for arm, n in counts.items()) or "none"
    return f"{units} per arm: {listed}; a comparison needs at least {_number_words(need)} in each arm"


def events(rows: pd.DataFrame, column: str, k: int, what: str = "tickets") -> str | None:
    """A logit needs more of its rarer outcome than coefficients (else it separates the data perfectly
    and reports a probability change of exactly zero with no width).

    >>> events(twelve_tickets, "repeat_purchase", 8)
    'only 5 of the 12 tickets bought again: too few for a logit with 8 coefficients'
    """
    values = rows[column].dropna().astype(bool)
    rarer = int(min(values.sum(), (~values).sum()))
    if rarer >= k + 2:
        return None
    outcome = "bought again" if values.sum() == rarer else "did not buy again"
    return f"only {rarer:,} of the {len(values):,} {what} {outcome}: too few for a logit with {k} coefficients"


def separated(fit) -> str | None:
    """A fitted logit that did not converge or predicts some rows with certainty (perfect separation)."""
    converged = bool(getattr(fit, "mle_retvals", {}).get("converged", True))
    predicted = np.asarray(fit.predict())
    if converged and predicted.size and 1e-8 < predicted.min() and predicted.max() < 1 - 1e-8:
        return None
    return "the logit separates the data perfectly (some groups all bought again, or none did): its effects are not estimable"
