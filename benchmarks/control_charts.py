"""Benchmark: false-alarm and detection rates of the monitoring charts, each against its theory.

    .venv/bin/python benchmarks/control_charts.py [--runs 2000] [--ticket-runs 200] [--workers 2]

1. Known standards (center and sigma given), 3-sigma limits: the p-chart's rate per point equals the exact
   binomial tail P(X > n UCL) + P(X < n LCL), the X-bar chart's 2 Phi(-3) = 0.27%.
2. Center and sigma from the first m = 8 of 26 weeks, as the analysis does (study.monitoring.weekly_chart,
   from weekly aggregates, the textbook chart forced): a later week's distance from the estimated center has
   variance (1 + 1/m) se^2, so it falls outside 2 Phi(-3 / sqrt(1 + 1/m)) = 0.47% of the time; a baseline week
   (which is part of its own center) 2 Phi(-3 / sqrt(1 - 1/m)) = 0.13%.
   The EWMA's limits allow for the center's error by default (study.monitoring.charts.ewma(baseline=...)): its
   distance from the estimated center is normal with exactly that variance, so a stable later week lies outside
   2 Phi(-3) = 0.27% of the time; Montgomery's limits for a known center are printed beside it.
3. The analysis as it runs (Laney's chart when the baseline's dispersion test rejects at 5%): the test
   rejects in 5% of stable series (the chi-square and F tests are exact or nearly), and the Shewhart rate per
   later week stays at or below the textbook one; the EWMA's chance of any false alarm in 18 later weeks is
   printed.
4. Detection: one week shifted by 3 SE is flagged with chance Phi(0) ~ 1/2, by 5 SE Phi(2 / sqrt(1 + 1/m));
   a sustained shift of 1 and 1.5 SE from week 12: how often it is caught by week 26 by the EWMA (with the
   allowance, and with Montgomery's limits) and by the Shewhart chart (asserted at 1.5 SE: EWMA ahead).
5. Ticket level: stable simulated tickets through ``study.monitoring.analyse`` end to end (five indicators);
   the Shewhart rate per later week of each chart against (2)'s theory, pooled over indicators.

Every rate must lie within 3 Monte-Carlo standard errors of its theory (one-sided where a bound is
asserted), else the script exits with an error.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

WEEKS, M, N = 26, 8, 1_000


def _calendar(weeks):
    return pd.DataFrame({"days": 7, "partial": False, "volume": "", "event": ""}, index=weeks)


def series_run(seed: int, mode: str) -> dict:
    """One simulated series of weekly aggregates through the analysis's chart (rates and means)."""
    from study.monitoring.indicators import BY_NAME
    from study.monitoring.weekly_chart import Settings, from_weeks

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(seed)
    weeks = pd.date_range("2026-01-05", periods=WEEKS, freq="7D", name="week")
    settings = {"textbook": Settings(alpha=1e-12), "auto": Settings(),
                "montgomery ewma": Settings(alpha=1e-12, allow_for_baseline=False)}[mode]
    out = {}
    n = rng.integers(800, 1200, WEEKS)
    events = rng.binomial(n, 0.3)
    rate = from_weeks(BY_NAME["repeat_purchase_rate"], pd.DataFrame(
        {"n": n, "value": events / n, "sd": np.nan, "events": events}, index=weeks), _calendar(weeks), settings)
    means = rng.normal(0, 1 / np.sqrt(n))
    sd = np.sqrt(rng.chisquare(n - 1) / (n - 1))
    mean = from_weeks(BY_NAME["csat"], pd.DataFrame({"n": n, "value": means, "sd": sd, "events": means * n}, index=weeks),
                      _calendar(weeks), settings)
    for name, chart in (("rate", rate), ("mean", mean)):
        t = chart.table
        later, base = t[~t["baseline"]], t[t["baseline"]]
        out[name] = {"later_out": int((later["signal"] != "").sum()), "later": len(later),
                     "base_out": int((base["signal"] != "").sum()), "base": len(base),
                     "laney": chart.overdispersed, "ewma_any": bool((later["ewma_signal"] != "").any()),
                     "ewma_out": int((later["ewma_signal"] != "").sum())}
    if mode != "auto":
        for shift in (3.0, 5.0):
            shifted = means.copy()
            shifted[M + 1] += shift / np.sqrt(n[M + 1])
            chart = from_weeks(BY_NAME["csat"], pd.DataFrame({"n": n, "value": shifted, "sd": sd, "events": shifted * n},
                                                            index=weeks), _calendar(weeks), settings)
            out[f"shift {shift:g}"] = chart.table["signal"].iloc[M + 1] == "above"
        for size in (1.0, 1.5):
            sustained = means + np.where(np.arange(WEEKS) >= 12, size / np.sqrt(n), 0.0)
            chart = from_weeks(BY_NAME["csat"], pd.DataFrame({"n": n, "value": sustained, "sd": sd,
                                                              "events": sustained * n}, index=weeks),
                               _calendar(weeks), settings)
            after = chart.table.iloc[12:]
            out[f"sustained {size:g} ewma"] = bool((after["ewma_signal"] == "above").any())
            out[f"sustained {size:g} shewhart"] = bool((after["signal"] == "above").any())
    return out


def ticket_run(seed: int) -> dict:
    """Stable tickets (26 full weeks, 1,500 a week) through ``analyse``: later weeks out of Shewhart limits."""
    from study.monitoring import analyse

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(seed)
    rows = WEEKS * 1_500
    created = pd.Timestamp("2026-01-05") + pd.to_timedelta(np.sort(rng.uniform(0, WEEKS * 7 * 86_400, rows)), unit="s")
    resolved = rng.random(rows) < 0.77
    frame = pd.DataFrame({
        "created_at": created, "first_response_minutes": rng.gamma(1.5, 50.0, rows),
        "resolution_minutes": np.where(resolved, rng.gamma(2.0, 130.0, rows), np.nan),
        "resolved": resolved.astype(float), "repeat_purchase": (rng.random(rows) < 0.41).astype(float),
        "csat": np.where(rng.random(rows) < 0.3, rng.choice([1, 2, 3, 4, 5], rows, p=[0.1, 0.1, 0.2, 0.3, 0.3]), np.nan),
    })
    result = analyse(frame, alpha=1e-12)  # textbook charts: (2)'s theory applies
    out, points = 0, 0
    for chart in result.charted:
        later = chart.table[~chart.table["baseline"]]
        out += int((later["signal"] != "").sum())
        points += len(later)
    return {"out": out, "points": points}


def check(label: str, hits: float, total: int, theory: float, failures: list, bound: str = "two-sided") -> None:
    rate = hits / total
    se = math.sqrt(theory * (1 - theory) / total)
    z = (rate - theory) / se
    ok = abs(z) <= 3 if bound == "two-sided" else z <= 3
    print(f"  {label:62s} {rate:8.4%}  theory {theory:7.4%}  (MC SE {se:.4%}, {total:,} points, z {z:+.2f})  "
          f"{'ok' if ok else 'FAILS'}")
    if not ok:
        failures.append(label)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2_000)
    parser.add_argument("--ticket-runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    from study.monitoring import charts

    failures: list[str] = []
    started = time.perf_counter()
    rng = np.random.default_rng(2026)
    points = 2_000_000
    print(f"1. known standards, {points:,} points each")
    limits = charts.p_chart(0.3, np.array([N]))
    x = rng.binomial(N, 0.3, points)
    exact = stats.binom.sf(math.floor(N * limits.upper[0]), N, 0.3) + stats.binom.cdf(math.ceil(N * limits.lower[0]) - 1, N, 0.3)
    check("p-chart, p = 0.3, n = 1,000", int(((x / N > limits.upper[0]) | (x / N < limits.lower[0])).sum()), points, exact,
          failures)
    xbar = charts.xbar_chart(0.0, 1.0, np.array([N]))
    means = rng.normal(0, 1 / math.sqrt(N), points)
    check("X-bar chart, normal", int(((means > xbar.upper[0]) | (means < xbar.lower[0])).sum()), points,
          2 * stats.norm.sf(3), failures)

    with ProcessPoolExecutor(args.workers) as pool:
        textbook = list(pool.map(series_run, range(args.runs), ["textbook"] * args.runs, chunksize=50))
        auto = list(pool.map(series_run, range(10_000, 10_000 + args.runs), ["auto"] * args.runs, chunksize=50))
        montgomery = list(pool.map(series_run, range(args.runs), ["montgomery ewma"] * args.runs, chunksize=50))
        tickets = list(pool.map(ticket_run, range(20_000, 20_000 + args.ticket_runs), chunksize=5))
    later_theory = 2 * stats.norm.sf(3 / math.sqrt(1 + 1 / M))
    base_theory = 2 * stats.norm.sf(3 / math.sqrt(1 - 1 / M))
    print(f"2. center and sigma from {M} baseline weeks, textbook charts, {args.runs:,} series of {WEEKS} weeks")
    for kind in ("rate", "mean"):
        check(f"{kind}: later weeks outside the limits", sum(r[kind]["later_out"] for r in textbook),
              sum(r[kind]["later"] for r in textbook), later_theory, failures)
        check(f"{kind}: baseline weeks outside their own limits", sum(r[kind]["base_out"] for r in textbook),
              sum(r[kind]["base"] for r in textbook), base_theory, failures)
    print("2b. EWMA (lambda 0.2, L 3) after the baseline, same series")
    for kind in ("rate", "mean"):
        check(f"{kind}: EWMA outside limits allowing for the center's error", sum(r[kind]["ewma_out"] for r in textbook),
              sum(r[kind]["later"] for r in textbook), 2 * stats.norm.sf(3), failures)
        rate = sum(r[kind]["ewma_out"] for r in montgomery) / sum(r[kind]["later"] for r in montgomery)
        print(f"  {kind}: EWMA outside Montgomery's limits (center taken as known): {rate:.2%} per later week; "
              f"any in {WEEKS - M} weeks: {np.mean([r[kind]['ewma_any'] for r in montgomery]):.1%} of series, against "
              f"{np.mean([r[kind]['ewma_any'] for r in textbook]):.1%} with the allowance")
    print(f"3. the analysis as it runs (Laney's chart when the dispersion test rejects at 5%), {args.runs:,} series")
    for kind in ("rate", "mean"):
        check(f"{kind}: dispersion test rejects (Laney's chart used)", sum(r[kind]["laney"] for r in auto), args.runs, 0.05,
              failures)
        check(f"{kind}: later weeks outside the limits (at most textbook)", sum(r[kind]["later_out"] for r in auto),
              sum(r[kind]["later"] for r in auto), later_theory, failures, bound="upper")
        any_ewma = np.mean([r[kind]["ewma_any"] for r in auto])
        print(f"  {kind}: EWMA false alarm anywhere in the {WEEKS - M} later weeks: {any_ewma:.2%} of series")
    print(f"4. detection, {args.runs:,} series")
    for shift in (3.0, 5.0):
        check(f"one week shifted by {shift:g} SE is flagged", sum(r[f"shift {shift:g}"] for r in textbook), args.runs,
              stats.norm.cdf((shift - 3) / math.sqrt(1 + 1 / M)), failures)
    for size in (1.0, 1.5):
        ewma_rate = np.mean([r[f"sustained {size:g} ewma"] for r in textbook])
        shewhart_rate = np.mean([r[f"sustained {size:g} shewhart"] for r in textbook])
        known = np.mean([r[f"sustained {size:g} ewma"] for r in montgomery])
        print(f"  sustained {size:g}-SE shift from week 12, caught by week {WEEKS}: EWMA {ewma_rate:.1%} (Montgomery's "
              f"limits: {known:.1%}), Shewhart {shewhart_rate:.1%}")
        if size == 1.5:
            ahead = ewma_rate > shewhart_rate + 3 * math.sqrt(0.5 / args.runs)
            print(f"    EWMA ahead of Shewhart by more than 3 MC SE: {'ok' if ahead else 'FAILS'}")
            failures += [] if ahead else ["sustained shift: EWMA not ahead of Shewhart"]
    print(f"5. stable tickets through analyse, {args.ticket_runs} runs x 5 indicators")
    check("later weeks outside the Shewhart limits, all indicators", sum(r["out"] for r in tickets),
          sum(r["points"] for r in tickets), later_theory, failures)
    print(f"{time.perf_counter() - started:.0f} s")
    if failures:
        raise SystemExit(f"rates off their theory: {', '.join(failures)}")


if __name__ == "__main__":
    main()
