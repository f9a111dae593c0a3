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
    ``first_reply_at`` instead of minutes, and four optional columns (the comments among them) left out. Mapped back with
    ``data/examples/tickets_columns.yml`` it gives the original tickets.
    """
    out = tickets.drop(columns=["order_value", "experiment_id", "resolution_minutes", "comment"], errors="ignore")
    out["first_reply_at"] = out["created_at"] + pd.to_timedelta(np.round(out["first_response_minutes"] * 60), unit="s")
    out = out.drop(columns="first_response_minutes")
    out["resolved"] = np.where(out["resolved"], "Solved", "Open")
    out["repeat_purchase"] = np.where(out["repeat_purchase"], "Y", "N")
    out["variant"] = out["variant"].map({"control": "A", "treatment": "B"})
    out["csat"] = out["csat"] * 2
    return out.rename(columns=EXPORT_NAMES)


HOURS_EXPORT_NAMES = {
    "ticket_id": "ticket", "customer_id": "customer", "agent_id": "agent", "created_at": "opened",
    "resolved": "status", "repeat_purchase": "bought_again",
}
# A 1-5 answer written on 0-10: any of the answers the map's 0-10 scale bins back onto it.
ZERO_TO_TEN = {1: (0, 1), 2: (2, 3), 3: (4, 5), 4: (6, 7), 5: (8, 9, 10)}
QA_CUSTOMER = "QA-TEST"


def hours_export(tickets: pd.DataFrame, qa_tickets: int = 24, seed: int = 11) -> pd.DataFrame:
    """The same tickets as a team exports them with response times in hours and CSAT on 0-10.

    For trying the column map's units, scale, date format, missing code and filter
    (``data/examples/tickets_hours_columns.yml``): ``first_reply_hours`` and ``resolution_hours``
    (hours, 4 decimals), ``csat_0_10`` (a 1-5 answer ``c`` written as one of :data:`ZERO_TO_TEN`'s
    answers for ``c``, drawn at random; ``-`` when the customer did not answer), ``opened`` written
    day first (``31/01/2026 14:05:09``), status Solved/Open, bought_again 1/0, other names
    (:data:`HOURS_EXPORT_NAMES`), five optional columns (the comments among them) left out, and ``qa_tickets`` test tickets of
    the customer :data:`QA_CUSTOMER` mixed in, which the map's filter excludes. Mapped back, the
    other rows give the original tickets.
    """
    rng = np.random.default_rng(seed)
    out = tickets.drop(columns=["order_value", "experiment_id", "quality_score", "next_spend", "comment"], errors="ignore").copy()
    out["created_at"] = out["created_at"].dt.strftime("%d/%m/%Y %H:%M:%S")
    for minutes, hours in (("first_response_minutes", "first_reply_hours"), ("resolution_minutes", "resolution_hours")):
        out[minutes] = np.round(out[minutes] / 60, 4)
        out = out.rename(columns={minutes: hours})
    answers = out["csat"].astype("Float64")
    drawn = [str(rng.choice(ZERO_TO_TEN[int(a)])) if pd.notna(a) else "-" for a in answers]
    out = out.drop(columns="csat").assign(csat_0_10=drawn)
    out["resolved"] = np.where(out["resolved"], "Solved", "Open")
    out["repeat_purchase"] = out["repeat_purchase"].astype(int)
    out = out.rename(columns=HOURS_EXPORT_NAMES)
    qa = out.sample(qa_tickets, random_state=seed).assign(customer=QA_CUSTOMER)
    qa["ticket"] = [f"QA{i:04d}" for i in range(1, qa_tickets + 1)]
    # The test tickets sit at random places among the others, as they would in an export by time.
    keys = np.concatenate([np.arange(len(out), dtype=float), rng.uniform(0, len(out), qa_tickets)])
    return pd.concat([out, qa], ignore_index=True).iloc[np.argsort(keys, kind="stable")].reset_index(drop=True)
