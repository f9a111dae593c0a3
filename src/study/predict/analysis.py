"""``analyse``: who is likely to buy again after a service contact, judged on later months, and what faster replies would do."""

from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from study.core.inference import percentile_interval
from study.core.results import Skipped
from study.data.dataset import TicketData, from_frame
from study.data.model_features import as_list, check_requested
from study.data.schema import DataError
from study.parameters import ALLOWED
from study.predict import features as feats
from study.predict import metrics, models, scenarios
from study.predict.importance import permutation_auc_drop
from study.predict.result import ModelScore, RepeatModel
from study.predict.split import split, usable

IMPORTANCE_REPEATS = 3  # shuffles per feature: enough to rank features; each costs a prediction of every test ticket


def analyse(data: TicketData | pd.DataFrame, alpha: float = 0.05, test_months: int = 2,
            features: list[str] | str | None = None, sla_minutes: float = 60.0, bootstrap: int = 1000,
            seed: int = 2026) -> RepeatModel:
    """Predict repeat purchase from what is known at the contact; judge it on later months; read scenarios from the causal model.

    Parameters
    ----------
    data : TicketData or pandas.DataFrame
        Tickets with ``repeat_purchase``, ``created_at`` and ``customer_id`` (cap big data at load
        time with ``study.load(..., max_tickets=...)``: whole customers are drawn).
    alpha : float
        1 - the confidence level of every interval, in (0, 0.5] as ``study run`` accepts.
    test_months : int
        The last calendar months the models are judged on (learnt from the months before).
    features : list of str or str, optional
        Features to use instead of every built-in one the data has (:data:`study.predict.features.BUILT_IN`
        names, or columns of the data; one string is one feature); each is screened for leaks.
    sla_minutes : float
        The SLA of the capped-response scenario, in minutes.
    bootstrap : int
        Customer-bootstrap replicates of the AUC intervals.
    seed : int
        Seed of the boosted model, the bootstrap and the permutation importance.

    Returns
    -------
    RepeatModel
        With ``skipped`` set, and the reason, when the data cannot carry the model, or when a requested
        feature is refused on its values (it separates the outcome nearly perfectly on the training
        months, holds times, or is text with so many values it is an identifier).

    Raises
    ------
    study.data.schema.DataError
        A requested feature refused by name (:func:`study.data.model_features.check_requested`).
    ValueError
        A parameter outside the range ``study run`` accepts.
    """
    _check(alpha=alpha, test_months=test_months, sla_minutes=sla_minutes, bootstrap=bootstrap)
    features = as_list(features)
    data = from_frame(data) if isinstance(data, pd.DataFrame) else data
    tickets = data.tickets
    if features is not None:  # a bad name stops here, before any model is fitted
        check_requested(features, list(tickets.columns))
    parameters = {"alpha": alpha, "test_months": int(test_months), "features": features,
                  "sla_minutes": float(sla_minutes), "bootstrap": int(bootstrap), "seed": seed,
                  "model_tickets": data.max_tickets}
    result = RepeatModel(data.source, parameters)
    result.scenarios = scenarios.scenarios(data, sla_minutes, alpha)
    missing = [c for c in ("repeat_purchase", "created_at", "customer_id") if c not in tickets.columns]
    if missing:
        result.skipped = f"the data has no {' and no '.join(missing)} column: the model needs who bought again, when and who"
        return result
    try:
        chosen = feats.requested_features(tickets, features) if features is not None else feats.default_features(tickets)
    except DataError as refused:  # refused on the values (an identifier, times): the page says why
        result.skipped = str(refused)
        return result
    result.features = chosen
    ledger = usable(tickets, data.set_aside)
    result.ledger = ledger
    parts = split(ledger, int(test_months))
    if isinstance(parts, str):
        result.skipped = parts
        return result
    result.split = parts
    x = feats.matrix(tickets, chosen)
    y = tickets["repeat_purchase"].astype("boolean").astype(float)
    chosen = result.features = feats.informative(x.loc[parts.train], chosen)
    if not chosen.names:
        result.skipped = "no feature has more than one value in the training months (see the features left out)"
        return result
    y_train = y.loc[parts.train].to_numpy()
    result.skipped = feats.screen(x.loc[parts.train], y_train, chosen)
    if result.skipped:
        return result
    used = x.loc[parts.train.append(parts.test), chosen.numeric]
    gaps = used.drop(columns=[c for c in feats.MISSING_BY_DESIGN if c in used.columns]).isna().sum()
    result.gaps = {name: int(n) for name, n in gaps.items() if n}
    # One thread: the trees' many small predictions (permutation importance) crawl when threads fight for cores.
    with threadpool_limits(limits=1, user_api="openmp"):
        if chosen.requested and any(n not in feats.BUILT_IN for n in chosen.names):
            result.baseline_auc = _built_in_baseline(tickets, y, parts, seed)
            result.outperformers = feats.outperformers(x.loc[parts.train], y_train, chosen, result.baseline_auc)
        _fit_and_judge(result, chosen, x, y, parts, tickets, alpha, int(bootstrap), seed)
    return result


def _check(**values) -> None:
    """Refuse a parameter outside the range ``study run`` accepts (:data:`study.parameters.ALLOWED`)."""
    for name, value in values.items():
        whole = name in ("test_months", "bootstrap")
        number = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)
        if not number or not ALLOWED[name].admits(value) or (whole and int(value) != value):
            raise ValueError(f"{name} must be {ALLOWED[name].words}, not {value!r}")


def _built_in_baseline(tickets: pd.DataFrame, y: pd.Series, parts, seed: int) -> float:
    """Test-month AUC of the logistic model on the built-in features (0.5, chance, when the data gives none)."""
    built_in = feats.default_features(tickets)
    x = feats.matrix(tickets, built_in)
    built_in = feats.informative(x.loc[parts.train], built_in)
    if not built_in.names:
        return 0.5
    model = models.fit("logistic", built_in, x.loc[parts.train], y.loc[parts.train].to_numpy(), seed)
    return metrics.weighted_auc(y.loc[parts.test].to_numpy(), models.probability(model, "logistic", built_in, x.loc[parts.test]))


def _fit_and_judge(result: RepeatModel, chosen: feats.FeatureSet, x: pd.DataFrame, y: pd.Series, parts,
                   tickets: pd.DataFrame, alpha: float, bootstrap: int, seed: int) -> None:
    x_train, y_train = x.loc[parts.train], y.loc[parts.train].to_numpy()
    x_test, y_test = x.loc[parts.test], y.loc[parts.test].to_numpy()
    rng = np.random.default_rng(seed)
    result.y_test = y_test
    result.test_index = parts.test
    fitted = {}
    for kind in ("logistic", "boosted"):
        model = models.fit(kind, chosen, x_train, y_train, seed)
        fitted[kind] = model, models.probability(model, kind, chosen, x_test)
    # Every replicate's AUC, Brier score and first-tenth share, a block of replicates at a time.
    draws = {kind: ([], [], []) for kind in fitted}
    for weights in metrics.customer_weight_blocks(tickets.loc[parts.test, "customer_id"].to_numpy(), int(bootstrap), rng):
        for kind, (_, p) in fitted.items():
            auc, brier, tenth = draws[kind]
            auc.append(metrics.weighted_auc(y_test, p, weights))
            brier.append(metrics.brier(y_test, p, weights))
            tenth.append(metrics.first_tenth_share(y_test, p, weights))
    for kind, (model, p) in fitted.items():
        auc, brier, tenth = (np.concatenate(d) for d in draws[kind])
        result.models[kind] = ModelScore(
            kind, model, p, metrics.discrimination_of(y_test, p, auc, alpha), metrics.brier(y_test, p),
            _interval(brier, alpha), metrics.first_tenth_share(y_test, p), _interval(tenth, alpha))
    result.importance = _importance(result.models["boosted"].model, models.codes(x_test, chosen), chosen, y_test, seed)


def _interval(draws: np.ndarray, alpha: float) -> tuple[float, float]:
    low, high = percentile_interval(draws[np.isfinite(draws)], alpha)
    return float(low), float(high)


def _importance(model, x: np.ndarray, chosen: feats.FeatureSet, y: np.ndarray, seed: int) -> pd.DataFrame:
    """Drop in test-month AUC when each feature is shuffled (predictive importance, not an effect)."""
    drops = permutation_auc_drop(model, x, y, IMPORTANCE_REPEATS, seed)
    table = pd.DataFrame({"feature": [feats.words(c) for c in chosen.names], "AUC lost when shuffled": drops.mean(axis=1),
                          "sd over shuffles": drops.std(axis=1)})
    return table.sort_values("AUC lost when shuffled", ascending=False).set_index("feature")


def ceilings(result: RepeatModel, per_ticket: pd.DataFrame, tickets: pd.DataFrame) -> pd.DataFrame | Skipped:
    """AUC of the simulator's true probabilities on the same test tickets as the models.

    Parameters
    ----------
    result : RepeatModel
    per_ticket : pandas.DataFrame
        ``SimulatedStudy.per_ticket``, aligned row for row with ``tickets``: ``repeat_probability_at_contact``
        (the best any contact-time model can do) and ``repeat_probability`` (the oracle's).
    tickets : pandas.DataFrame
        The tickets the result was computed on (``data.tickets``).
    """
    if result.skipped:
        return Skipped("the AUC ceilings", result.skipped)
    rows = tickets.index.get_indexer(result.test_index)
    out = {name: metrics.weighted_auc(result.y_test, per_ticket[column].to_numpy()[rows])
           for name, column in (("attainable ceiling (true probability given what is known at contact)",
                                 "repeat_probability_at_contact"),
                                ("oracle (true probability given everything)", "repeat_probability"))
           if column in per_ticket.columns}
    out.update({f"{models.NAMES[k]} (this data)": m.discrimination.auc for k, m in result.models.items()})
    return pd.Series(out, name="AUC on the test tickets").to_frame()
