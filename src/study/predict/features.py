"""What is known when a customer contacts service: the features of the repeat-purchase model, and the leak screen.

A feature may use the ticket itself (its service experience, the customer's survey answer where
given) and the customer's *earlier* tickets in the data (strictly earlier ``created_at``), never
the follow-up window (whether and when the customer bought again, what they spent) nor any later
ticket. History is computed from the rows alone, so altering a later ticket cannot move an earlier
ticket's features (tested).

A requested feature list is checked by name first (:func:`study.data.model_features.check_requested`,
which ``study run`` also calls before any notebook starts: an empty list, a follow-up-window column, an
identifier, a time, an unknown name). On the data, :func:`screen` refuses a column that, on its own,
separates the outcome on the training months nearly perfectly (single-feature training AUC above
:data:`LEAK_AUC`): a copy or a function of the outcome, which no feature known at the contact can be on
this data. Text with more distinct values than :data:`MAX_LEVELS` is refused as an identifier. These
refusals depend on the values, so the model is skipped with the reason (the page says why; no traceback).

The screen is not complete: it cannot tell a column recorded after the contact that predicts well but
not perfectly (a noisy or partial copy of the outcome, later spend with gaps) from an honest strong
feature. :func:`outperformers` adds a warning, not a refusal, for a requested column that on its own
ranks the training months better than the built-in features' logistic model ranks the test months, by
more than :data:`OUTPERFORM_MARGIN`: nothing known at the contact is expected to beat everything else
known at the contact by that much. A leak weaker than that passes unnoticed.

A feature with no value, or one value, in every training ticket is left out with the reason
(:func:`informative`): the model cannot learn from it (and the trees' binning fails on it).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from study.data.model_features import (
    BUILT_IN,
    FOLLOW_UP,
    OUTCOME,
    as_list,
    check_requested,
)
from study.data.schema import DataError

__all__ = ["BUILT_IN", "FOLLOW_UP", "OUTCOME", "FeatureSet", "default_features", "history", "informative", "matrix",
           "outperformers", "requested_features", "screen", "single_feature_auc", "words"]

LEAK_AUC = 0.95  # single-feature AUC on the training months above which a column is read as a copy of the outcome
OUTPERFORM_MARGIN = 0.1  # single-feature training AUC above the built-in logistic model's test AUC by more: a warning
# Missing by design, each with a partner saying why: no answer (csat_answered), not resolved (resolved), no earlier ticket.
MISSING_BY_DESIGN = ("csat", "resolution_log2_hours", "days_since_previous")
MAX_LEVELS = 50  # text columns with more distinct values are identifiers, not features
HISTORY = ("earlier_tickets", "days_since_previous")


@dataclass(frozen=True)
class FeatureSet:
    """The features a model uses.

    Attributes
    ----------
    numeric, categorical : list of str
        Feature names by kind (categorical: text levels, one-hot in the logistic model).
    left_out : list of str
        Features left out, each as "words: reason" (built-in ones the data cannot give; any with no value or one
        value in every training ticket).
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
        absent = [c for c in sources if c not in tickets.columns]
        empty = [c for c in sources if c in tickets.columns and tickets[c].notna().sum() == 0]
        if absent:
            left_out.append(f"{words(name)}: the data has no {', '.join(absent)}")
        elif empty:
            left_out.append(f"{words(name)}: {' and '.join(empty)} {'has' if len(empty) == 1 else 'have'} no value")
        elif kind == "categorical" and tickets[name].nunique() < 2:
            left_out.append(f"{words(name)}: one value in every ticket")
        else:
            (categorical if kind == "categorical" else numeric).append(name)
    return FeatureSet(numeric, categorical, left_out)


def requested_features(tickets: pd.DataFrame, features: list[str] | str) -> FeatureSet:
    """A user's feature list, each name a built-in feature or a column of the data (one string is one feature).

    Raises
    ------
    study.data.schema.DataError
        A name refused by :func:`study.data.model_features.check_requested`, a column holding times, or text
        with more than :data:`MAX_LEVELS` distinct values (an identifier).
    """
    check_requested(features, list(tickets.columns))
    numeric, categorical = [], []
    for name in as_list(features):
        if name in BUILT_IN:
            (categorical if BUILT_IN[name][1] == "categorical" else numeric).append(name)
            continue
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


def informative(x_train: pd.DataFrame, chosen: FeatureSet) -> FeatureSet:
    """``chosen`` without the features that have no value, or a single value, in every training ticket.

    Each one left out is named with the reason; the customer history is said in words (on data where every
    customer is seen once, no training ticket has an earlier one).
    """
    # With no earlier ticket anywhere, both history features are empty for one reason: say it once, in words.
    no_history = all(x_train[n].fillna(0).eq(0).all() if n == "earlier_tickets" else x_train[n].isna().all()
                     for n in HISTORY if n in chosen.names)
    dropped = {}
    for name in chosen.names:
        values = x_train[name]
        if name in HISTORY and no_history:
            dropped[name] = "no customer has an earlier ticket in the training months"
        elif values.isna().all():
            dropped[name] = "no value in the training months"
        elif values.nunique(dropna=False) < 2:
            dropped[name] = "one value in every training ticket"
    if not dropped:
        return chosen
    return FeatureSet([n for n in chosen.numeric if n not in dropped], [n for n in chosen.categorical if n not in dropped],
                      [*chosen.left_out, *(f"{words(n)}: {why}" for n, why in dropped.items())], chosen.requested)


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


def screen(features: pd.DataFrame, outcome: np.ndarray, chosen: FeatureSet) -> str:
    """Why a requested feature list is refused on the training months ('' when it is not).

    A feature is refused when on its own it separates the outcome nearly perfectly (single-feature AUC
    above :data:`LEAK_AUC`). This catches copies and functions of the outcome, not a column recorded after
    the contact that predicts well but not perfectly: :func:`outperformers` warns of those it can, and a
    weaker leak passes unnoticed.

    Returns
    -------
    str
        One line naming the feature, its single-feature AUC and the rows it was measured on, or ''.
    """
    if not chosen.requested:
        return ""
    for name in chosen.names:
        auc = single_feature_auc(features[name], outcome)
        if auc > LEAK_AUC:
            return (f"feature {name!r} is refused: on its own it separates repeat purchase nearly perfectly on the "
                    f"{len(outcome):,} training tickets (AUC {auc:.3f} > {LEAK_AUC}), so it looks like a leak: measured "
                    "after the contact, or a copy of the outcome")
    return ""


def outperformers(features: pd.DataFrame, outcome: np.ndarray, chosen: FeatureSet, baseline: float) -> dict[str, float]:
    """Requested columns (not built-in) that alone rank the training months better than ``baseline`` + :data:`OUTPERFORM_MARGIN`.

    Parameters
    ----------
    features, outcome
        The training months' features and 0/1 outcome.
    chosen : FeatureSet
    baseline : float
        The test-month AUC of the logistic model on the built-in features (0.5 when there are none).

    Returns
    -------
    dict
        Feature -> its single-feature training AUC, for each one that ranks suspiciously well.
    """
    if not chosen.requested:
        return {}
    out = {}
    for name in chosen.names:
        if name not in BUILT_IN:
            auc = single_feature_auc(features[name], outcome)
            if auc > baseline + OUTPERFORM_MARGIN:
                out[name] = auc
    return out
