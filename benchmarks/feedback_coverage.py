"""Benchmark: the feedback analysis's intervals and multiple-testing control on simulated comments.

    .venv/bin/python benchmarks/feedback_coverage.py [--runs 400] [--tickets 3000]

Each run draws tickets of customers who come back several times (a customer effect on CSAT, so errors
clustered by customer matter), a category that raises both the chance of a slow-reply comment and CSAT (a
confounder the adjustment must remove), and comments whose themes are Bernoulli draws with known chances.
CSAT is continuous here so that the adjusted difference has a closed-form truth: -0.8 for slow reply, 0
for the four other themes. Per run it records:

- whether the Wilson interval of the praise share covers its true chance among comments (0.15);
- whether the adjusted, customer-clustered interval of slow reply's CSAT difference covers -0.8, and
  whether the unadjusted difference's interval does (it must not: the category confounds it);
- whether Holm's adjustment rejects any of the four null themes at 5% (the family-wise error rate).

Coverage must lie within 0.95 +/- 3 Monte-Carlo standard errors, Holm's family-wise error at most
0.05 + 3 MC SE, the naive coverage below 0.5; the script prints the rates and exits with an error otherwise.
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

THEMES = ("slow_reply", "unresolved", "rude_agent", "refund_delay", "praise")
PRAISE = 0.15
SLOW_EFFECT = -0.8


def one_run(run: int, n: int) -> dict[str, bool]:
    from study.feedback import association, prevalence

    rng = np.random.default_rng([20_261, run])
    customers = n // 3
    customer = rng.integers(0, customers, n)
    customer_effect = rng.normal(0, 0.7, customers)[customer]
    category = rng.choice(["billing", "shipping", "returns"], n)
    hard = category == "returns"
    themes = pd.DataFrame({
        "slow_reply": rng.random(n) < np.where(hard, 0.5, 0.2),
        "unresolved": rng.random(n) < 0.2,
        "rude_agent": rng.random(n) < 0.1,
        "refund_delay": rng.random(n) < 0.08,
        "praise": rng.random(n) < PRAISE,
    })
    csat = 3.5 + SLOW_EFFECT * themes["slow_reply"] - 0.9 * hard + customer_effect + rng.normal(0, 0.8, n)
    comments = pd.DataFrame({"customer_id": customer.astype(str), "category": category, "csat": csat,
                             "channel": rng.choice(["chat", "email"], n)})
    out = {}
    share = prevalence.share(themes["praise"], 0.05, "praise", "praise")
    out["praise share covers its chance"] = share.covers(PRAISE)
    fitted = association.associations(comments, themes, 0.05)["csat"]
    out["slow reply adjusted CI covers -0.8"] = fitted["slow_reply"].covers(SLOW_EFFECT)
    naive = association.theme_effect(comments[["csat"]], themes["slow_reply"], "csat", 0.05, "naive", "slow reply")
    out["slow reply unadjusted CI covers -0.8"] = naive.covers(SLOW_EFFECT)
    out["Holm rejects a null theme"] = any(fitted[t].extra["p_holm"] < 0.05 for t in THEMES if t != "slow_reply")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=400)
    parser.add_argument("--tickets", type=int, default=3000)
    args = parser.parse_args()
    gc.collect = lambda *a: 0  # statsmodels' multipletests collects garbage on every call
    rows = pd.DataFrame([one_run(run, args.tickets) for run in range(args.runs)])
    rates = rows.mean()
    mc = lambda p: 3 * np.sqrt(p * (1 - p) / args.runs)  # noqa: E731
    print(f"{args.runs} runs of {args.tickets} commented tickets")
    for name, rate in rates.items():
        print(f"  {name}: {rate:.3f}")
    failures = []
    for name in ("praise share covers its chance", "slow reply adjusted CI covers -0.8"):
        if abs(rates[name] - 0.95) > mc(0.95):
            failures.append(f"{name}: {rates[name]:.3f} outside 0.95 +/- {mc(0.95):.3f}")
    if rates["Holm rejects a null theme"] > 0.05 + mc(0.05):
        failures.append(f"Holm's family-wise error {rates['Holm rejects a null theme']:.3f} above 0.05 + {mc(0.05):.3f}")
    if rates["slow reply unadjusted CI covers -0.8"] > 0.5:
        failures.append("the unadjusted interval covers the truth: the confounding the benchmark plants is too weak")
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))
    print("all rates within their Monte-Carlo bands")


if __name__ == "__main__":
    main()
