"""What is known when a customer contacts service: the features of the repeat-purchase model, and the leak screen.

A feature may use the ticket itself (its service experience, the customer's survey answer where
given) and the customer's *earlier* tickets in the data (strictly earlier ``created_at``), never
the follow-up window (whether and when the customer bought again, what they spent) nor any later
ticket. History is computed from the rows alone, so altering a later ticket cannot move an earlier
ticket's features (tested).

A requested feature list is screened before any model sees it (:func:`screen`): a follow-up-window
column is refused by name; any other column is refused when, on its own, it separates the outcome
on the training months nearly perfectly (single-feature training AUC above :data:`LEAK_AUC`): a
copy or a function of the outcome, which no feature known at the contact can be on this data. An
identifier (text with more distinct values than :data:`MAX_LEVELS`) is refused as well: each of its
values is a single ticket or customer, and the model would memorise them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.data.schema import DataError

OUTCOME = "repeat_purchase"
# The follow-up window: what happened after the contact. Never a feature.
FOLLOW_UP = ("repeat_purchase", "days_to_next_purchase", "next_spend")
LEAK_AUC = 0.95  # single-feature AUC on the training months above which a column is read as a copy of the outcome
# Missing by design, each with a partner saying why: no answer (csat_answered), not resolved (resolved), no earlier ticket.
MISSING_BY_DESIGN = ("csat", "resolution_log2_hours", "days_since_previous")
MAX_LEVELS = 50  # text columns with more distinct values are identifiers, not features

# Built-in features: name -> (the contract columns it is made from, kind, words).
BUILT_IN = {
    "response_log2_hours": (("first_response_minutes",), "numeric", "first response time (log2 hours)"),
    "resolved": (("resolved",), "numeric", "resolved"),
    "reopened": (("reopened",), "numeric", "reopened"),
    "contacts": (("contacts",), "numeric", "contacts"),
    "resolution_log2_hours": (("resolution_minutes",), "numeric", "resolution time where resolved (log2 hours)"),
    "quality_score": (("quality_score",), "numeric", "quality score"),
    "earlier_tickets": (("customer_id", "created_at"), "numeric", "the customer's earlier tickets"),
    "days_since_previous": (("customer_id", "created_at"), "numeric", "days since the customer's previous ticket"),
    "tenure_days": (("tenure_days",), "numeric", "tenure (days)"),
    "prior_orders": (("prior_orders",), "numeric", "prior orders"),
    "log_pre_spend": (("pre_spend",), "numeric", "pre-period spend (log)"),
    "loyalty_tier": (("loyalty_tier",), "categorical", "loyalty tier"),
    "category": (("category",), "categorical", "category"),
    "channel": (("channel",), "categorical", "channel"),
    "csat": (("csat",), "numeric", "CSAT where answered"),
    "csat_answered": (("csat",), "numeric", "survey answered"),
}


@dataclass(frozen=True)
class FeatureSet:
    """The features a model uses.

    Attributes
    ----------
    numeric, categorical : list of str
        Feature names by kind (categorical: text levels, one-hot in the logistic model).
    left_out : list of str
        Built-in features the data cannot give, each with the reason.
    requested : bool
        Whether the list came from the user.
    """

    numeric: list[str]
    categorical: list[str]
    left_out: list[str]
    requested: bool = False

    @property
    def names(self) -> list[str]:
        return [*self.numeric, *self.categorical]


def words(name: str) -> str:
    """A feature in words."""
    return BUILT_IN[name][2] if name in BUILT_IN else name.replace("_", " ")


def history(tickets: pd.DataFrame) -> pd.DataFrame:
    """Each ticket's customer history from that customer's strictly earlier tickets only.

    Returns
    -------
    pandas.DataFrame
        ``earlier_tickets`` (tickets of the same customer created strictly before) and
        ``days_since_previous`` (days since the latest of them; NaN without one), on ``tickets``' index.
    """
    created = pd.to_datetime(tickets["created_at"])
    frame = pd.DataFrame({"c": tickets["customer_id"].astype("string"), "t": created}, index=tickets.index)
    frame = frame.sort_values(["c", "t"], kind="stable")
    earlier = frame.groupby("c", sort=False)["t"].rank(method="min") - 1
    previous = frame.groupby("c", sort=False)["t"].shift(1)
    # A tie shares its time: the previous ticket of every tied row is the one before the whole tie.
    previous = previous.where(previous != frame["t"])
    previous = previous.groupby([frame["c"], frame["t"]], sort=False).transform("first")
    days = (frame["t"] - previous).dt.total_seconds() / 86400.0
    return pd.DataFrame({"earlier_tickets": earlier.astype(float), "days_since_previous": days}).reindex(tickets.index)


def _log2_hours(minutes: pd.Series) -> pd.Series:
    values = pd.to_numeric(minutes, errors="coerce").astype(float)
    return np.log2(values.where(values > 0) / 60.0)


def _built(tickets: pd.DataFrame, name: str, past: pd.DataFrame | None) -> pd.Series:
    if name in ("earlier_tickets", "days_since_previous"):
        return past[name]
    if name == "response_log2_hours":
        return _log2_hours(tickets["first_response_minutes"])
    if name == "resolution_log2_hours":
        return _log2_hours(tickets["resolution_minutes"])
    if name == "log_pre_spend":
        return np.log1p(pd.to_numeric(tickets["pre_spend"], errors="coerce").astype(float).clip(lower=0))
    if name == "csat_answered":
        return tickets["csat"].notna().astype(float)
    if BUILT_IN[name][1] == "categorical":
        return _text(tickets[name])
    return pd.to_numeric(tickets[name].astype("Float64"), errors="coerce").astype(float)


def _text(values: pd.Series) -> pd.Series:
    """Text as categories; missing is a level of its own (whether it is missing is known at the contact), and
    beyond :data:`MAX_LEVELS` the rarest levels are pooled as ``(other)`` (the trees take at most 255)."""
    text = values.astype("string").fillna("(missing)")
    counts = text.value_counts()
    if len(counts) > MAX_LEVELS:
        text = text.where(text.isin(counts.index[:MAX_LEVELS - 1]), "(other)")
    return text.astype("category")


def default_features(tickets: pd.DataFrame) -> FeatureSet:
    """Every built-in feature whose columns the data has with a value."""
    numeric, categorical, left_out = [], [], []
    for name, (sources, kind, _) in BUILT_IN.items():
        absent = [c for c in sources if c not in tickets.columns or tickets[c].notna().sum() == 0]
        if absent:
            left_out.append(f"{words(name)}: the data has no {', '.join(absent)}")
        elif kind == "categorical" and tickets[name].nunique() < 2:
            left_out.append(f"{words(name)}: one value in every ticket")
        else:
            (categorical if kind == "categorical" else numeric).append(name)
    return FeatureSet(numeric, categorical, left_out)


def requested_features(tickets: pd.DataFrame, features: list[str]) -> FeatureSet:
    """A user's feature list, each name a built-in feature or a column of the data.

    Raises
    ------
    study.data.schema.DataError
        A follow-up-window column, a name that is neither, or an identifier.
    """
    if not features:
        raise DataError("features: the list is empty; give at least one feature or None for the default set")
    numeric, categorical = [], []
    for name in dict.fromkeys(features):
        if name in FOLLOW_UP:
            raise DataError(f"feature {name!r} is refused: it is measured in the follow-up window after the contact "
                            f"(whether and when the customer bought again), so it leaks the outcome")
        if name in BUILT_IN:
            absent = [c for c in BUILT_IN[name][0] if c not in tickets.columns]
            if absent:
                raise DataError(f"feature {name!r} needs column {absent[0]!r}, which the data does not have")
            (categorical if BUILT_IN[name][1] == "categorical" else numeric).append(name)
            continue
        if name not in tickets.columns:
            raise DataError(f"feature {name!r} is neither a column of the data nor one of the built-in features "
                            f"({', '.join(BUILT_IN)})")
        values = tickets[name]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
            numeric.append(name)
        elif pd.api.types.is_datetime64_any_dtype(values):
            raise DataError(f"feature {name!r} is a time; give a number made from it (days since ...) instead")
        else:
            levels = int(values.nunique())
            if levels > MAX_LEVELS:
                raise DataError(f"feature {name!r} is refused: it has {levels:,} distinct values in {len(values):,} rows, "
                                f"an identifier rather than a feature (at most {MAX_LEVELS})")
            categorical.append(name)
    return FeatureSet(numeric, categorical, [], requested=True)


def matrix(tickets: pd.DataFrame, chosen: FeatureSet) -> pd.DataFrame:
    """The feature columns of every ticket (numbers as float, text as categories), on ``tickets``' index."""
    past = history(tickets) if {"earlier_tickets", "days_since_previous"} & set(chosen.names) else None
    out = {}
    for name in chosen.names:
        if name in BUILT_IN:
            out[name] = _built(tickets, name, past)
        elif name in chosen.categorical:
            out[name] = _text(tickets[name])
        else:
            out[name] = pd.to_numeric(tickets[name].astype("Float64"), errors="coerce").astype(float)
    return pd.DataFrame(out, index=tickets.index)


def single_feature_auc(values: pd.Series, outcome: np.ndarray) -> float:
    """How well one feature alone separates the outcome: max(AUC, 1 - AUC) of its values (numbers) or of its
    levels' outcome rates (text); missing values count as a level of their own."""
    from sklearn.metrics import roc_auc_score

    if isinstance(values.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(values):
        key = values.astype("string").fillna("(missing)")
        score = pd.Series(outcome, index=values.index).groupby(key).transform("mean").to_numpy(dtype=float)
    else:
        numbers = values.astype(float)
        # Missing as its own value below the range: a feature missing exactly when the outcome is 1 separates.
        score = numbers.fillna(numbers.min() - 1 if numbers.notna().any() else 0.0).to_numpy()
    if len(np.unique(outcome)) < 2:
        return float("nan")
    auc = float(roc_auc_score(outcome, score))
    return max(auc, 1 - auc)


def screen(features: pd.DataFrame, outcome: np.ndarray, chosen: FeatureSet) -> None:
    """Refuse a requested feature that separates the outcome nearly perfectly on the training months.

    Raises
    ------
    study.data.schema.DataError
        Naming the feature, its single-feature AUC and the rows it was measured on.
    """
    if not chosen.requested:
        return
    for name in chosen.names:
        auc = single_feature_auc(features[name], outcome)
        if auc > LEAK_AUC:
            raise DataError(f"feature {name!r} is refused: on its own it separates repeat purchase nearly perfectly on "
                            f"the {len(outcome):,} training tickets (AUC {auc:.3f} > {LEAK_AUC}), so it must be measured "
                            "after the contact or be a copy of the outcome")
