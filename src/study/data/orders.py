"""An orders export with a known truth: delivery delay, review scores, and the regions and categories behind both.

The table looks like a public marketplace's orders export (one row per order): ``order_id``,
``customer_unique_id`` (some customers order several times), ``order_status`` (only delivered
orders have a delivery time; a few delivered ones lack it), ``purchased_at``,
``estimated_delivery_at`` (a date), ``delivered_at``, ``review_score`` (1-5, some missing),
``category``, ``state``, ``freight_value`` and ``price``.

How the review score is made (the truth). For a delivered order with delay ``d`` days (delivered
minus the estimated date; negative is early), its customer's lean ``u`` (uniform, -0.2 to 0.2),
its state's and category's shifts ``a_s`` and ``b_c``::

    m = 4.4 + a_s + b_c + u + h(d),  h(d) = -0.005 d          when d <= 0 (early: flat-ish)
                                     h(d) = -0.8 - 0.04 d      when d > 0 (late: a step, then a drop per day)

and the score is, with probability 0.2, a draw from a fixed mix (10% 1s, 58% 5s: reviews that say
nothing of the delivery), else ``floor(m)`` or ``floor(m) + 1`` with the chance that makes its mean
``m``. ``m`` stays within 1 to 5 by construction, so the expected score given the order is exactly
``0.2 * 4.12 + 0.8 * (m - u)``: additive, with the curve ``0.8 h(d)`` (a step of -0.64 when late,
-0.032 per day late, +0.004 per day early). Deliveries are at most 30 days late and, arriving at
least a day after the purchase, at most 36 days early, which keeps ``m`` within 1 to 5. Remote states (north and northeast) and bulky categories
(furniture, garden tools) are late more often *and* score lower whatever the delay: they confound
the naive association, and holding ``category`` and ``state`` fixed removes it.

Who reviews depends on what is recorded (late orders are reviewed more often, remote states less),
so the reviewed orders are a selected but known slice; the population estimands in :func:`truth`
weight by the chance of a review. They are the coefficients a least-squares fit of the score on
the delay (or on lateness), with and without ``category`` and ``state``, would have on unlimited data:
computed on a large draw from the same process with the expected score in place of the score, so
nothing but that draw's covariates is random in them.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

DGP_VERSION = "orders-1"
EXAMPLE_ORDERS, EXAMPLE_SEED = 4_000, 2026
TRUTH_ORDERS, TRUTH_SEED = 400_000, 99_991
CONTROLS = ["category", "state"]

BASE, CUSTOMER_LEAN = 4.4, 0.2
EARLY_SLOPE, LATE_STEP, LATE_SLOPE = 0.005, 0.8, 0.04
LATEST, EARLIEST = 30.0, 36.0  # days late at most; days early at most (promised at most 37 days, delivered after a day)
NOISE_SHARE = 0.2
NOISE_SCORES = np.array([0.10, 0.04, 0.08, 0.20, 0.58])  # P(1) .. P(5) of a review that says nothing of the delivery

# state: (share of orders, remoteness 0-3)
STATES = {
    "SP": (0.42, 0), "RJ": (0.13, 1), "MG": (0.12, 0), "RS": (0.055, 1), "PR": (0.05, 0), "SC": (0.036, 1),
    "BA": (0.034, 2), "DF": (0.021, 1), "GO": (0.02, 1), "ES": (0.02, 1), "PE": (0.017, 2), "CE": (0.013, 2),
    "PA": (0.01, 3), "MA": (0.008, 3), "AM": (0.006, 3),
}
REMOTE = {  # remoteness: (score shift, chance of a late delivery, mean days early when on time, estimated days)
    0: (0.05, 0.05, 11.0, 18.0), 1: (-0.15, 0.12, 11.5, 23.0), 2: (-0.35, 0.22, 12.0, 28.0), 3: (-0.50, 0.35, 12.5, 33.0),
}
# category: (share of orders, bulky, score shift, typical price)
CATEGORIES = {
    "bed_bath_table": (0.11, False, 0.00, 90), "health_beauty": (0.10, False, 0.10, 120),
    "sports_leisure": (0.09, False, 0.05, 110), "furniture_decor": (0.09, True, -0.35, 95),
    "computers_accessories": (0.08, False, -0.05, 150), "housewares": (0.07, False, 0.00, 80),
    "watches_gifts": (0.06, False, 0.05, 200), "telephony": (0.05, False, -0.05, 70),
    "garden_tools": (0.05, True, -0.20, 110), "auto": (0.05, False, 0.00, 130), "toys": (0.05, False, 0.05, 100),
    "office_furniture": (0.03, True, -0.50, 160), "cool_stuff": (0.04, False, 0.05, 160),
    "perfumery": (0.04, False, 0.10, 120), "baby": (0.04, False, 0.00, 130),
}
BULKY_LATE = 2.5  # bulky orders are late this many times as often
# status: share of orders (only delivered orders reach the customer)
STATUSES = {"delivered": 0.965, "shipped": 0.012, "canceled": 0.007, "unavailable": 0.006, "processing": 0.004,
            "invoiced": 0.004, "approved": 0.002}
UNDELIVERED_SCORES = np.array([0.60, 0.10, 0.10, 0.07, 0.13])
NO_DELIVERY_TIME = 0.003  # delivered orders whose delivery time the export lost
ORDERS_PER_CUSTOMER = {1: 0.90, 2: 0.075, 3: 0.02, 4: 0.005}
START, END = pd.Timestamp("2017-01-05"), pd.Timestamp("2018-08-20")
COLUMNS = ["order_id", "customer_unique_id", "order_status", "purchased_at", "estimated_delivery_at", "delivered_at",
           "review_score", "category", "state", "freight_value", "price"]


def curve(delay: np.ndarray) -> np.ndarray:
    """``h(d)``: the latent score's shift with the delivery delay in days (module docstring)."""
    d = np.asarray(delay, dtype=float)
    return np.where(d <= 0, -EARLY_SLOPE * d, -LATE_STEP - LATE_SLOPE * d)


def true_curve(delay: np.ndarray, reference: float = 0.0) -> np.ndarray:
    """The expected review score at each delay minus at ``reference``, everything else the same: ``0.8 (h(d) - h(ref))``."""
    return (1 - NOISE_SHARE) * (curve(delay) - curve(np.array([reference]))[0])


def latent_bounds() -> tuple[float, float]:
    """The smallest and largest latent mean ``m`` the parameters allow (both within 1 to 5, so no score is clipped)."""
    state_shifts = [REMOTE[r][0] for _, r in STATES.values()]
    category_shifts = [c[2] for c in CATEGORIES.values()]
    low = BASE + min(state_shifts) + min(category_shifts) - CUSTOMER_LEAN - LATE_STEP - LATE_SLOPE * LATEST
    high = BASE + max(state_shifts) + max(category_shifts) + CUSTOMER_LEAN + EARLY_SLOPE * EARLIEST
    return low, high


@dataclass(frozen=True)
class Orders:
    """A simulated orders export and what is known about each row.

    Attributes
    ----------
    export : pandas.DataFrame
        The export's columns (:data:`COLUMNS`), as a team would receive them.
    hidden : pandas.DataFrame
        Row by row: ``delay_days`` (delivered minus estimated, from the exported times), ``expected_score``
        (given everything but the customer's lean; NaN for undelivered orders) and ``review_chance``.
    truth : dict
        :func:`truth`.
    """

    export: pd.DataFrame
    hidden: pd.DataFrame
    truth: dict


def _ids(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` distinct 10-digit hex identifiers."""
    while True:
        values = rng.integers(0, 16**10, size=count)
        ordered = np.sort(values)
        if not np.any(ordered[1:] == ordered[:-1]):
            digits = (values[:, None] >> (4 * np.arange(9, -1, -1))) & 15
            return np.array(list("0123456789abcdef"))[digits].view("<U10").ravel()


def _draw(orders: int, rng: np.random.Generator) -> pd.DataFrame:
    """Every column of ``orders`` orders, hidden ones included, in purchase order."""
    sizes = np.array(list(ORDERS_PER_CUSTOMER))
    per_customer = rng.choice(sizes, size=orders, p=np.array(list(ORDERS_PER_CUSTOMER.values())))
    per_customer = per_customer[: np.searchsorted(np.cumsum(per_customer), orders) + 1]
    customer = np.repeat(np.arange(len(per_customer)), per_customer)[:orders]
    names = _ids(rng, len(per_customer))
    shares = np.array([s for s, _ in STATES.values()])
    state = rng.choice(len(STATES), size=len(per_customer), p=shares / shares.sum())[customer]  # a customer's home state
    remote = np.array([r for _, r in STATES.values()])[state]
    by_remote = np.array([REMOTE[r] for r in sorted(REMOTE)])[remote]  # score shift, late chance, days early, days promised
    lean = rng.uniform(-CUSTOMER_LEAN, CUSTOMER_LEAN, size=len(per_customer))[customer]
    table = list(CATEGORIES.values())
    weights = np.array([c[0] for c in table])
    category = rng.choice(len(table), size=orders, p=weights / weights.sum())
    bulky = np.array([c[1] for c in table])[category]
    status = pd.Categorical.from_codes(rng.choice(len(STATUSES), size=orders, p=np.array(list(STATUSES.values()))),
                                       list(STATUSES))
    span = (END - START).total_seconds() / 60
    purchased = START + pd.to_timedelta(np.floor(rng.uniform(0, span, size=orders)), unit="min")
    promised = by_remote[:, 3] + rng.integers(-4, 5, size=orders)
    estimated = (purchased + pd.to_timedelta(promised, unit="D")).normalize()
    late = rng.random(orders) < by_remote[:, 1] * np.where(bulky, BULKY_LATE, 1.0)
    offset = np.where(late, 0.5 + np.minimum(rng.gamma(1.3, 6.0, size=orders), LATEST - 0.5),
                      -rng.gamma(3.0, by_remote[:, 2] / 3.0))
    delivered = estimated + pd.to_timedelta(np.round(offset * 24 * 60), unit="min")
    # No parcel arrives within a day of the purchase: such draws become a delivery one to three days after it.
    too_soon = delivered < purchased + pd.Timedelta(days=1)
    delivered = delivered.where(~too_soon, purchased + pd.to_timedelta(np.round(rng.uniform(1, 3, orders) * 1440), unit="min"))
    delay = np.asarray((delivered - estimated) / pd.Timedelta(days=1))
    mean = BASE + by_remote[:, 0] + np.array([c[2] for c in table])[category] + curve(delay)
    latent = mean + lean
    floor = np.floor(latent)
    rounded = floor + (rng.random(orders) < latent - floor)
    noise = rng.choice(np.arange(1, 6), size=orders, p=NOISE_SCORES)
    score = np.where(rng.random(orders) < NOISE_SHARE, noise, rounded)
    review_chance = 0.95 + 0.04 * (delay > 0) - 0.03 * (remote == 3)
    delivered_ok = np.asarray(status == "delivered")
    undelivered_score = rng.choice(np.arange(1, 6), size=orders, p=UNDELIVERED_SCORES)
    score = np.where(delivered_ok, score, undelivered_score).astype(float)
    reviewed = rng.random(orders) < np.where(delivered_ok, review_chance, 0.6)
    score[~reviewed] = np.nan
    lost_time = delivered_ok & (rng.random(orders) < NO_DELIVERY_TIME)
    price = np.round(np.exp(np.log(np.array([c[3] for c in table], dtype=float))[category] + rng.normal(0, 0.6, orders)), 2)
    freight = np.round(np.exp(np.log(12 + 6 * remote + 18 * bulky) + rng.normal(0, 0.3, orders)), 2)
    frame = pd.DataFrame({
        "order_id": _ids(rng, orders), "customer_unique_id": names[customer], "order_status": status,
        "purchased_at": purchased, "estimated_delivery_at": estimated,
        "delivered_at": pd.Series(delivered).where(delivered_ok & ~lost_time).to_numpy(),
        "review_score": score, "category": pd.Categorical.from_codes(category, list(CATEGORIES)),
        "state": pd.Categorical.from_codes(state, list(STATES)),
        "freight_value": freight, "price": price,
        "delay_days": np.where(delivered_ok & ~lost_time, delay, np.nan),
        "expected_score": np.where(delivered_ok, NOISE_SHARE * expected_noise() + (1 - NOISE_SHARE) * mean, np.nan),
        "review_chance": np.where(delivered_ok, review_chance, 0.6),
    })
    return frame.sort_values("purchased_at", kind="stable").reset_index(drop=True)


def expected_noise() -> float:
    """Mean of the scores that say nothing of the delivery (4.12)."""
    return float(NOISE_SCORES @ np.arange(1, 6))


def simulate(orders: int = EXAMPLE_ORDERS, seed: int = EXAMPLE_SEED) -> Orders:
    """An orders export of ``orders`` rows drawn with ``seed`` (the same seed gives the same table), with its truth.

    Parameters
    ----------
    orders : int
    seed : int

    Returns
    -------
    Orders
    """
    if orders < 1:
        raise ValueError(f"orders must be at least 1, not {orders}")
    frame = _draw(orders, np.random.default_rng(seed))
    export = frame[COLUMNS].astype({c: object for c in ("order_status", "category", "state")})
    return Orders(export, frame[["delay_days", "expected_score", "review_chance"]], truth())


def analysis_frame(orders: Orders) -> tuple[pd.DataFrame, dict[str, int]]:
    """The delivered orders as the example's column map reads them, derived in pandas, and the rows filtered out.

    ``delivery_delay_days`` is ``delivered_at - estimated_delivery_at`` in days (negative: early),
    ``late`` whether it is positive; the other columns keep their export names, plus ``expected_score``.

    Returns
    -------
    frame : pandas.DataFrame
    set_aside : dict
        ``{"excluded by the column map's filter: order_status = 'delivered'": count}``.
    """
    export = orders.export
    kept = export["order_status"] == "delivered"
    frame = export[kept].copy()
    frame["delivery_delay_days"] = (frame["delivered_at"] - frame["estimated_delivery_at"]) / pd.Timedelta(days=1)
    frame["late"] = (frame["delivered_at"] > frame["estimated_delivery_at"]).astype("boolean").where(
        frame["delivered_at"].notna())
    frame["expected_score"] = orders.hidden.loc[kept, "expected_score"]
    return frame.reset_index(drop=True), {"excluded by the column map's filter: order_status = 'delivered'": int((~kept).sum())}


def population_estimands(frame: pd.DataFrame, weights: np.ndarray | None = None) -> dict:
    """Least-squares coefficients of the expected score on the delay and on lateness, with and without the controls.

    Parameters
    ----------
    frame : pandas.DataFrame
        Delivered orders with ``delay_days``, ``expected_score``, ``category``, ``state``.
    weights : numpy.ndarray, optional
        Each row's chance of a review (the rows a fit on reviewed orders would use, in expectation).

    Returns
    -------
    dict
        ``{"delivery_delay_days": {"driver_adjusted": ..., "driver_naive": ...}, "late": {...}}``.
    """
    y = frame["expected_score"].to_numpy(dtype=float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    dummies = pd.get_dummies(frame[CONTROLS], drop_first=True, dtype=float).to_numpy()
    out = {}
    for name, x in (("delivery_delay_days", frame["delay_days"].to_numpy(dtype=float)),
                    ("late", (frame["delay_days"].to_numpy(dtype=float) > 0).astype(float))):
        slopes = {}
        for key, design in (("driver_naive", np.column_stack([np.ones(len(x)), x])),
                            ("driver_adjusted", np.column_stack([np.ones(len(x)), x, dummies]))):
            weighted = design * w[:, None]
            slopes[key] = float(np.linalg.solve(weighted.T @ design, weighted.T @ y)[1])
        out[name] = slopes
    return out


@functools.lru_cache(maxsize=1)
def truth() -> dict:
    """The true values of the process (module docstring), the same for every seed and size.

    Returns
    -------
    dict
        ``dgp_version``; ``score_curve`` (the expected score's shape in delay: per day early, the step when
        late, per day late, the caps); ``delivery_delay_days`` and ``late``: the population least-squares
        slopes (``driver_adjusted``: ``category`` and ``state`` held fixed; ``driver_naive``: nothing) of the
        expected score among reviewed delivered orders; how the population was drawn.
    """
    frame = _draw(TRUTH_ORDERS, np.random.default_rng(TRUTH_SEED))
    delivered = frame[frame["delay_days"].notna()]
    estimands = population_estimands(delivered, delivered["review_chance"].to_numpy())
    scale = 1 - NOISE_SHARE
    return {
        "dgp_version": DGP_VERSION,
        "description": ("Review score of delivered orders against the delivery delay (delivered minus estimated date, in "
                        "days; negative: early). Expected score = 0.824 + 0.8 (4.4 + state shift + category shift + h(delay)); "
                        "remote states and bulky categories are late more often and score lower: they confound the naive "
                        "association."),
        "controls": CONTROLS,
        "score_curve": {"per_day_early": round(scale * EARLY_SLOPE, 12), "step_when_late": round(-scale * LATE_STEP, 12),
                        "per_day_late": round(-scale * LATE_SLOPE, 12), "most_days_late": LATEST, "most_days_early": EARLIEST},
        **estimands,
        "population": {"orders": TRUTH_ORDERS, "seed": TRUTH_SEED, "weighted_by": "chance of a review"},
    }


def truth_values(driver: str) -> dict[str, float]:
    """``{estimate name: true value}`` of a driver analysis of ``review_score`` on ``driver`` (delay or lateness)."""
    found = truth().get("delivery_delay_days" if driver in ("delivery_delay_days", "delay_days") else driver)
    return dict(found) if isinstance(found, dict) else {}


def export_csv(orders: Orders) -> str:
    """The export as CSV text: times to the minute, the estimated delivery as a date, empty cells for missing values."""
    out = orders.export.copy()
    out["purchased_at"] = out["purchased_at"].dt.strftime("%Y-%m-%d %H:%M")
    out["delivered_at"] = out["delivered_at"].dt.strftime("%Y-%m-%d %H:%M")
    out["estimated_delivery_at"] = out["estimated_delivery_at"].dt.strftime("%Y-%m-%d")
    out["review_score"] = out["review_score"].astype("Int64")
    return out.to_csv(index=False, lineterminator="\n")


def write_example(folder: str | Path, orders: int = EXAMPLE_ORDERS, seed: int = EXAMPLE_SEED) -> tuple[Path, Path]:
    """Write ``orders_export.csv`` and ``orders_truth.json`` into ``folder`` (the worked example of data/examples/).

    A file of those names is replaced only when it is an earlier example of ours (a truth file that says it
    was built here, beside it); anything else is refused.

    Returns
    -------
    tuple of Path
        The export and the truth file.

    Raises
    ------
    FileExistsError
        When either file exists and is not an earlier example.
    """
    folder = Path(folder)
    export, truth_file = folder / "orders_export.csv", folder / "orders_truth.json"
    ours = truth_file.is_file() and '"built_by": "study.data.orders.write_example"' in truth_file.read_text(encoding="utf-8")
    for path in (export, truth_file):
        if (path.exists() or path.is_symlink()) and not ours:
            raise FileExistsError(f"{path} exists and is not an earlier example of ours; choose another folder")
    drawn = simulate(orders, seed)
    export.write_text(export_csv(drawn), encoding="utf-8")
    record = {**drawn.truth, "example": {"orders": orders, "seed": seed, "built_by": "study.data.orders.write_example"}}
    truth_file.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return export, truth_file
