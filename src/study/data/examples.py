"""The example files of data/examples/: an experiment table and the sample as another team exports it."""

from __future__ import annotations

import numpy as np
import pandas as pd


def experiment_table(units: int = 10_000, seed: int = 7) -> pd.DataFrame:
    """A unit-level experiment table with the mess real exports have, for trying the experiment path.

    One row per user: ``user_id``, ``group`` (control, treatment_a, treatment_b; planned 50/25/25),
    ``page`` (the page the user saw), ``device``, ``pre_spend``, ``converted`` (0/1) and ``spend``.
    True effects: treatment_a raises conversion from 10% to 11% (so spend per user rises with it; spend
    per buyer is unchanged); treatment_b changes nothing. The mess: 40 users appear in two groups, 25 rows are exact copies, and 60 rows
    show the page of the other group.
    """
    rng = np.random.default_rng(seed)
    group = rng.choice(["control", "treatment_a", "treatment_b"], size=units, p=[0.5, 0.25, 0.25])
    propensity = rng.normal(0, 1, units)
    pre_spend = np.round(np.exp(3.5 + 0.6 * propensity + rng.normal(0, 0.5, units)), 2)
    converted = rng.random(units) < np.where(group == "treatment_a", 0.11, 0.10)
    spend = np.where(converted, np.round(np.exp(3.8 + 0.5 * propensity + rng.normal(0, 0.9, units)), 2), 0.0)
    pages = {"control": "old", "treatment_a": "new_a", "treatment_b": "new_b"}
    table = pd.DataFrame({
        "user_id": [f"U{i:06d}" for i in range(units)], "group": group, "page": pd.Series(group).map(pages).to_numpy(),
        "device": rng.choice(["mobile", "desktop"], size=units, p=[0.6, 0.4]), "pre_spend": pre_spend,
        "converted": converted.astype(int), "spend": spend,
    })
    wrong_page = rng.choice(units, 60, replace=False)
    table.loc[wrong_page, "page"] = table.loc[wrong_page, "group"].map({"control": "new_a", "treatment_a": "old", "treatment_b": "old"})
    switched = table.sample(40, random_state=seed).assign(group=lambda t: t["group"].map(
        {"control": "treatment_a", "treatment_a": "control", "treatment_b": "control"}))
    switched["page"] = switched["group"].map(pages)
    copies = table.sample(25, random_state=seed + 1)
    return pd.concat([table, switched, copies], ignore_index=True).sample(frac=1, random_state=seed).reset_index(drop=True)


EXPORT_NAMES = {
    "ticket_id": "case_number", "customer_id": "account_id", "agent_id": "agent", "created_at": "opened_at",
    "resolved": "status", "csat": "satisfaction_1_10", "repeat_purchase": "bought_again", "variant": "sla_group",
}


def export_like(tickets: pd.DataFrame) -> pd.DataFrame:
    """The same tickets as another team's export would hold them, for trying column maps.

    Other names (:data:`EXPORT_NAMES`), other codes (status Solved/Open, bought_again Y/N,
    sla_group A/B), CSAT on a 1-10 scale (twice the 1-5 answer), the first reply as a timestamp
    ``first_reply_at`` instead of minutes, and three optional columns left out. Mapped back with
    ``data/examples/tickets_columns.yml`` it gives the original tickets.
    """
    out = tickets.drop(columns=["order_value", "experiment_id", "resolution_minutes"])
    out["first_reply_at"] = out["created_at"] + pd.to_timedelta(np.round(out["first_response_minutes"] * 60), unit="s")
    out = out.drop(columns="first_response_minutes")
    out["resolved"] = np.where(out["resolved"], "Solved", "Open")
    out["repeat_purchase"] = np.where(out["repeat_purchase"], "Y", "N")
    out["variant"] = out["variant"].map({"control": "A", "treatment": "B"})
    out["csat"] = out["csat"] * 2
    return out.rename(columns=EXPORT_NAMES)
