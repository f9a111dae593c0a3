"""``analyse``: who is likely to buy again after a service contact, judged on later months, and what faster replies would do."""

from __future__ import annotations

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from study.core.inference import percentile_interval
from study.core.results import Skipped
from study.data.dataset import TicketData, from_frame
from study.predict import features as feats
from study.predict import metrics, models, scenarios
from study.predict.importance import permutation_auc_drop
from study.predict.result import ModelScore, RepeatModel
from study.predict.split import split, usable

IMPORTANCE_REPEATS = 3  # shuffles per feature: enough to rank features; each costs a prediction of every test ticket


def analyse(data: TicketData | pd.DataFrame, alpha: float = 0.05, test_months: int = 2,
            features: list | None = None, sla_minutes: float = 60.0, bootstrap: int = 1000,
            seed: int = 2026) -> RepeatModel:
    """Predict repeat purchase from what is known at the contact; judge it on later months; read scenarios from the causal model.

    Parameters
    ----------
    data : TicketData or pandas.DataFrame
        Tickets with ``repeat_purchase``, ``created_at`` and ``customer_id`` (cap big data at load
        time with ``study.load(..., max_tickets=...)``: whole customers are drawn).
    alpha : float
        1 - the confidence level of every interval.
    test_months : int
        The last calendar months the models are judged on (learnt from the months before).
    features : list of str, optional
        Features to use instead of every built-in one the data has (:data:`study.predict.features.BUILT_IN`
        names, or columns of the data); each is screened for leaks.
    sla_minutes : float
        The SLA of the capped-response scenario, in minutes.
    bootstrap : int
        Customer-bootstrap replicates of the AUC intervals.
    seed : int
        Seed of the boosted model, the bootstrap and the permutation importance.

    Returns
    -------
    RepeatModel
        With ``skipped`` set, and the reason, when the data cannot carry the model.

    Raises
    ------
    study.data.schema.DataError
        A requested feature that leaks the outcome, is unknown or is an identifier.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, not {alpha!r}")
    if int(test_months) != test_months or test_months < 1:
        raise ValueError(f"test_months must be a whole number of months, 1 or more, not {test_months!r}")
    if not sla_minutes > 0:
        raise ValueError(f"sla_minutes must be a positive number of minutes, not {sla_minutes!r}")
    if int(bootstrap) != bootstrap or bootstrap < 10:
        raise ValueError(f"bootstrap must be a whole number of replicates, 10 or more, not {bootstrap!r}")
    data = from_frame(data) if isinstance(data, pd.DataFrame) else data
    parameters = {"alpha": alpha, "test_months": int(test_months), "features": list(features) if features is not None else None,
                  "sla_minutes": float(sla_minutes), "bootstrap": int(bootstrap), "seed": seed,
                  "model_tickets": data.max_tickets}
    result = RepeatModel(data.source, parameters)
    tickets = data.tickets
    result.scenarios = scenarios.scenarios(data, sla_minutes, alpha)
    missing = [c for c in ("repeat_purchase", "created_at", "customer_id") if c not in tickets.columns]
    if missing:
        result.skipped = f"the data has no {' and no '.join(missing)} column: the model needs who bought again, when and who"
        return result
    chosen = feats.requested_features(tickets, features) if features is not None else feats.default_features(tickets)
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
    feats.screen(x.loc[parts.train], y.loc[parts.train].to_numpy(), chosen)
    used = x.loc[parts.train.append(parts.test), chosen.numeric]
    gaps = used.drop(columns=[c for c in feats.MISSING_BY_DESIGN if c in used.columns]).isna().sum()
    result.gaps = {name: int(n) for name, n in gaps.items() if n}
    # One thread: the trees' many small predictions (permutation importance) crawl when threads fight for cores.
    with threadpool_limits(limits=1, user_api="openmp"):
        _fit_and_judge(result, chosen, x, y, parts, tickets, alpha, int(bootstrap), seed)
    return result


def _fit_and_judge(result: RepeatModel, chosen: feats.FeatureSet, x: pd.DataFrame, y: pd.Series, parts,
                   tickets: pd.DataFrame, alpha: float, bootstrap: int, seed: int) -> None:
    x_train, y_train = x.loc[parts.train], y.loc[parts.train].to_numpy()
    x_test, y_test = x.loc[parts.test], y.loc[parts.test].to_numpy()
    rng = np.random.default_rng(seed)
    weights = metrics.customer_weights(tickets.loc[parts.test, "customer_id"].to_numpy(), int(bootstrap), rng)
    result.y_test = y_test
    result.test_index = parts.test
    for kind in ("logistic", "boosted"):
        model = models.fit(kind, chosen, x_train, y_train, seed)
        p = models.probability(model, kind, chosen, x_test)
        result.models[kind] = ModelScore(
            kind, model, p, metrics.discrimination(y_test, p, weights, alpha), metrics.brier(y_test, p),
            _interval(metrics.brier(y_test, p, weights), alpha), metrics.first_tenth_share(y_test, p),
            _interval(metrics.first_tenth_share(y_test, p, weights), alpha))
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
