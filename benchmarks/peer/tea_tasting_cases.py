"""Peer numbers for the A/B engine: tea-tasting on seeded data, written as a test fixture.

Run with a Python that has tea-tasting (kept out of the project's dependencies), e.g. a throwaway
virtual environment with ``pip install tea-tasting`` (on Python 3.11 it resolves to 1.x; pin
``sqlglot<30`` if ibis complains):

    python benchmarks/peer/tea_tasting_cases.py tests/fixtures/peer_tea_tasting.json

The fixture holds the data (rounded, so both engines read the same numbers), each case's
tea-tasting settings and results, and the conventions that differ from ours. The test
``tests/test_peer_tea_tasting.py`` recomputes every case with ``study`` and compares.
"""

from __future__ import annotations

import json
import sys
from importlib.metadata import version

import numpy as np
import pandas as pd
import tea_tasting as tt
from tea_tasting.multiplicity import adjust_fdr, adjust_fwer


def users(seed: int, n: int, lift: float) -> pd.DataFrame:
    """Unit-level table: one row per customer with spend, orders, a purchase flag and pre-period spend."""
    rng = np.random.default_rng(seed)
    variant = (rng.random(n) < 0.5).astype(int)
    pre_spend = np.round(rng.lognormal(3.0, 0.8, n), 2)
    orders = 1 + rng.poisson(1.5 + 0.2 * variant)
    spend = np.round(0.6 * pre_spend + orders * rng.lognormal(2.2, 0.9, n) * (1 + lift * variant), 2)
    bought = (rng.random(n) < 0.30 + 0.03 * variant).astype(int)
    return pd.DataFrame({"variant": variant, "spend": spend, "orders": orders, "bought": bought, "pre_spend": pre_spend})


def surveys(seed: int, n: int, lift: float) -> pd.DataFrame:
    """One row per customer: CSAT sum over answered surveys and the surveys answered, in the experiment
    and in the pre-period; a customer's leaning carries over, so the pre-period ratio predicts the metric."""
    rng = np.random.default_rng(seed)
    variant = (rng.random(n) < 0.5).astype(int)
    leaning = rng.normal(0, 0.8, n)
    columns = {"variant": variant}
    for prefix, shift in (("pre_", 0.0), ("", lift)):
        answered = rng.poisson(1.3, n)
        scores = np.clip(np.round(3.6 + leaning[:, None] + shift * variant[:, None] + rng.normal(0, 0.7, (n, 6))), 1, 5)
        columns[f"{prefix}surveys"] = answered
        columns[f"{prefix}csat_sum"] = np.where(np.arange(6) < answered[:, None], scores, 0).sum(axis=1)
    # Every customer answered at least one survey before (the covariate's denominator is the pre-period's).
    columns["pre_surveys"] = np.maximum(columns["pre_surveys"], 1)
    columns["pre_csat_sum"] = np.where(columns["pre_csat_sum"] == 0, np.round(3.6 + leaning).clip(1, 5), columns["pre_csat_sum"])
    return pd.DataFrame(columns)


def as_dict(result) -> dict:
    return {k: float(v) for k, v in result._asdict().items()}


def main(out: str) -> None:
    large, small = users(11, 3000, 0.08), users(12, 60, 0.10)
    counts = pd.DataFrame({"variant": [0] * 53 + [1] * 47, "bought": [1] * 19 + [0] * 34 + [1] * 13 + [0] * 34})
    datasets = {"large": large, "small": small, "counts_19_53_13_47": counts, "surveys": surveys(13, 2500, 0.08),
                "surveys_small": surveys(14, 120, 0.3)}
    cases = []

    def analyse(name: str, data: str, metric, study: dict, compare: list[str], convention: str) -> None:
        result = tt.Experiment(m=metric).analyze(datasets[data], control=0)["m"]
        cases.append({"case": name, "data": data, "study": study, "compare": compare, "convention": convention,
                      "tea_tasting": as_dict(result)})

    full = ["control", "treatment", "effect_size", "effect_size_ci_lower", "effect_size_ci_upper", "rel_effect_size",
            "rel_effect_size_ci_lower", "rel_effect_size_ci_upper", "pvalue"]
    analyse("mean_welch_t", "large", tt.Mean("spend"), {"kind": "mean", "column": "spend", "reference": "t"}, full,
            "Welch t, Welch-Satterthwaite df; relative CI delta method on log scale with Welch df of the log-scale variances")
    analyse("mean_z", "large", tt.Mean("spend", use_t=False), {"kind": "mean", "column": "spend", "reference": "z"}, full,
            "unequal variances, normal reference")
    analyse("mean_welch_t_small", "small", tt.Mean("spend"), {"kind": "mean", "column": "spend", "reference": "t"}, full,
            "Welch t on 60 units: the df matter")
    analyse("ratio_spend_per_order", "large", tt.RatioOfMeans("spend", "orders"),
            {"kind": "ratio", "column": "spend", "denominator": "orders", "reference": "t"}, full,
            "ratio of means, delta-method variance (n - 1 moments), Welch df")
    analyse("proportion_unpooled", "large", tt.Proportion("bought", method="norm", equal_var=False, correction=False),
            {"kind": "proportion", "column": "bought", "pooled": False, "continuity": False}, full,
            "z-test, unpooled variance for p-value and CI; log-scale CI from (1-p)/(n p)")
    analyse("proportion_pooled", "large", tt.Proportion("bought", method="norm", equal_var=True, correction=False),
            {"kind": "proportion", "column": "bought", "pooled": True, "continuity": False},
            ["control", "treatment", "effect_size", "rel_effect_size", "pvalue"],
            "pooled variance for the p-value; tea-tasting also uses the pooled SE for its CI, study the unpooled Wald CI: CIs not compared")
    analyse("proportion_pooled_cc", "large", tt.Proportion("bought", method="norm"),
            {"kind": "proportion", "column": "bought", "pooled": True, "continuity": True},
            ["control", "treatment", "effect_size", "pvalue"],
            "tea-tasting default (pooled, continuity correction 0.5*(1/n_c+1/n_t)); CIs not compared (pooled vs unpooled SE)")
    analyse("proportion_unpooled_cc", "large", tt.Proportion("bought", method="norm", equal_var=False, correction=True),
            {"kind": "proportion", "column": "bought", "pooled": False, "continuity": True},
            ["control", "treatment", "effect_size", "effect_size_ci_lower", "effect_size_ci_upper", "pvalue"],
            "continuity correction on p-value and difference CI alike; tea-tasting also widens the relative CI by cc/p_control, study does not: relative CI not compared")
    analyse("proportion_19_53_vs_13_47_pooled_cc", "counts_19_53_13_47", tt.Proportion("bought", method="norm"),
            {"kind": "proportion", "column": "bought", "pooled": True, "continuity": True}, ["control", "treatment", "pvalue"],
            "the PITFALLS example: p = 0.508 pooled with continuity correction")
    analyse("proportion_19_53_vs_13_47_unpooled", "counts_19_53_13_47",
            tt.Proportion("bought", method="norm", equal_var=False, correction=False),
            {"kind": "proportion", "column": "bought", "pooled": False, "continuity": False}, full,
            "the PITFALLS example, unpooled: p = 0.377")
    analyse("cuped_mean", "large", tt.Mean("spend", "pre_spend"),
            {"kind": "mean", "column": "spend", "covariate": "pre_spend"},
            ["control", "treatment", "effect_size", "effect_size_ci_lower", "effect_size_ci_upper", "pvalue"],
            "CUPED. tea-tasting: theta from both arms pooled (between-arm difference included), variance of y - theta*x "
            "per arm treated as known, Welch df. study: OLS slope within arms, exact HC1 sandwich, t with n - 3 df. "
            "Asymptotically equal; compared with a tolerance")
    # Pooled-theta CUPED (study.ab.cuped_pooled): the same formula as tea-tasting, compared to 1e-9.
    pooled = "CUPED with theta = cov(y, x) / var(x) over both arms together, theta treated as known, Welch df"
    analyse("cuped_pooled_mean_t", "large", tt.Mean("spend", "pre_spend"),
            {"kind": "cuped_pooled", "column": "spend", "covariate": "pre_spend", "reference": "t"}, full, pooled)
    analyse("cuped_pooled_mean_z", "large", tt.Mean("spend", "pre_spend", use_t=False),
            {"kind": "cuped_pooled", "column": "spend", "covariate": "pre_spend", "reference": "z"}, full,
            pooled.replace("Welch df", "normal reference"))
    analyse("cuped_pooled_mean_t_small", "small", tt.Mean("spend", "pre_spend"),
            {"kind": "cuped_pooled", "column": "spend", "covariate": "pre_spend", "reference": "t"}, full,
            pooled + "; 60 units")
    ratio_cuped = ("RatioOfMeans with numer_covariate / denom_covariate: delta-method theta from both arms together, "
                   "adjusted ratio R - theta (Q - Q_both), per-arm delta variance of R - theta Q, Welch df")
    ratio_spec = {"kind": "cuped_ratio", "column": "csat_sum", "denominator": "surveys", "covariate": "pre_csat_sum",
                  "covariate_denominator": "pre_surveys"}
    analyse("cuped_ratio_csat_t", "surveys", tt.RatioOfMeans("csat_sum", "surveys", "pre_csat_sum", "pre_surveys"),
            {**ratio_spec, "reference": "t"}, full, ratio_cuped)
    analyse("cuped_ratio_csat_z", "surveys",
            tt.RatioOfMeans("csat_sum", "surveys", "pre_csat_sum", "pre_surveys", use_t=False),
            {**ratio_spec, "reference": "z"}, full, ratio_cuped.replace("Welch df", "normal reference"))
    analyse("cuped_ratio_csat_t_small", "surveys_small",
            tt.RatioOfMeans("csat_sum", "surveys", "pre_csat_sum", "pre_surveys"),
            {**ratio_spec, "reference": "t"}, full, ratio_cuped + "; 120 customers")
    analyse("ratio_csat_unadjusted", "surveys", tt.RatioOfMeans("csat_sum", "surveys"),
            {"kind": "ratio", "column": "csat_sum", "denominator": "surveys", "reference": "t"}, full,
            "the same CSAT ratio without its covariate, for the variance reduction")

    # One-sided tests: the bound on the tested side at q(1 - alpha), the other infinite. tea-tasting's open
    # relative bound is -inf for means and ratios (study: -100%, the limit of an exponentiated interval) and
    # +-1 for a difference in proportions (study too); the open bounds are compared only where they agree.
    lower = ["control", "treatment", "effect_size", "effect_size_ci_lower", "effect_size_ci_upper",
             "rel_effect_size", "rel_effect_size_ci_lower", "rel_effect_size_ci_upper", "pvalue"]
    upper = [f for f in lower if f != "rel_effect_size_ci_lower"]
    one_sided = "one-sided: p = P(T >= t) ('greater') or P(T <= t) ('less'); interval [low, inf) or (-inf, high]"
    for alternative in ("greater", "less"):
        fields = lower if alternative == "greater" else upper
        analyse(f"mean_welch_t_{alternative}", "large", tt.Mean("spend", alternative=alternative),
                {"kind": "mean", "column": "spend", "reference": "t", "alternative": alternative}, fields, one_sided)
        analyse(f"mean_welch_t_small_{alternative}", "small", tt.Mean("spend", alternative=alternative),
                {"kind": "mean", "column": "spend", "reference": "t", "alternative": alternative}, fields, one_sided)
        analyse(f"ratio_spend_per_order_{alternative}", "large",
                tt.RatioOfMeans("spend", "orders", alternative=alternative),
                {"kind": "ratio", "column": "spend", "denominator": "orders", "reference": "t",
                 "alternative": alternative}, fields, one_sided)
        analyse(f"proportion_unpooled_{alternative}", "large",
                tt.Proportion("bought", method="norm", equal_var=False, correction=False, alternative=alternative),
                {"kind": "proportion", "column": "bought", "pooled": False, "continuity": False,
                 "alternative": alternative}, fields, one_sided + "; the open difference bound is the limit +-1")
        analyse(f"proportion_unpooled_cc_{alternative}", "large",
                tt.Proportion("bought", method="norm", equal_var=False, correction=True, alternative=alternative),
                {"kind": "proportion", "column": "bought", "pooled": False, "continuity": True,
                 "alternative": alternative},
                ["control", "treatment", "effect_size", "effect_size_ci_lower", "effect_size_ci_upper", "pvalue"],
                one_sided + "; continuity correction towards zero on the tested side, never past it; the relative "
                "bound is not corrected in study: not compared")
        analyse(f"cuped_pooled_mean_t_{alternative}", "large", tt.Mean("spend", "pre_spend", alternative=alternative),
                {"kind": "cuped_pooled", "column": "spend", "covariate": "pre_spend", "reference": "t",
                 "alternative": alternative}, fields, pooled + "; " + one_sided)
        analyse(f"cuped_ratio_csat_t_{alternative}", "surveys",
                tt.RatioOfMeans("csat_sum", "surveys", "pre_csat_sum", "pre_surveys", alternative=alternative),
                {**ratio_spec, "reference": "t", "alternative": alternative}, fields, ratio_cuped + "; " + one_sided)
    analyse("proportion_19_53_vs_13_47_pooled_cc_less", "counts_19_53_13_47",
            tt.Proportion("bought", method="norm", alternative="less"),
            {"kind": "proportion", "column": "bought", "pooled": True, "continuity": True, "alternative": "less"},
            ["control", "treatment", "effect_size", "pvalue"],
            "the PITFALLS example, one-sided: pooled variance with continuity correction; CIs not compared (pooled SE)")
    analyse("mann_whitney", "large", tt.MannWhitneyU("spend", method="asymptotic"),
            {"kind": "mann_whitney", "column": "spend"}, ["treatment", "pvalue"],
            "asymptotic, continuity and tie corrections; treatment = U / (n_c n_t)")

    # Power: tea-tasting takes the variance of the whole sample (both arms together) and n_obs = total units.
    for name, use_t, parameter, settings in [
        ("power_n_obs_t", True, "n_obs", {"rel_effect_size": 0.05}),
        ("power_n_obs_z", False, "n_obs", {"rel_effect_size": 0.05}),
        ("power_mde_t", True, "effect_size", {"n_obs": 4000}),
        ("power_mde_z_ratio_2", False, "effect_size", {"n_obs": 9000, "ratio": 2}),
        ("power_power_t", True, "power", {"effect_size": 1.0, "n_obs": 5000}),
    ]:
        metric = tt.Mean("spend", use_t=use_t, **settings)
        (result,) = metric.solve_power(large, parameter)
        cases.append({"case": name, "data": "large", "compare": ["power", "effect_size", "n_obs"],
                      "study": {"kind": "power", "column": "spend", "test": "t" if use_t else "z", "solve": parameter,
                                **settings, "variance_of": "all units, both arms together"},
                      "convention": "n_obs is the total over both arms; ratio = treatment / control; tea-tasting rounds "
                                    "n_obs up; t power uses Welch df at equal variances (= n - 2 when ratio = 1)",
                      "tea_tasting": as_dict(result)})

    # Multiple testing over the p-values of the comparisons above.
    results = tt.Experiment(**{f"m{i}": m for i, m in enumerate(
        [tt.Mean("spend"), tt.Mean("orders"), tt.Mean("bought"), tt.Mean("pre_spend"), tt.RatioOfMeans("spend", "orders")])}
    ).analyze(large, control=0)
    p_values = [float(results[f"m{i}"].pvalue) for i in range(5)]
    bh = adjust_fdr(results, [f"m{i}" for i in range(5)])
    holm = adjust_fwer(results, [f"m{i}" for i in range(5)], arbitrary_dependence=True, method="bonferroni")
    key = next(iter(bh.keys()))
    cases.append({"case": "multiplicity", "data": None, "compare": ["benjamini_hochberg", "holm"],
                  "study": {"kind": "multiplicity", "p_values": p_values},
                  "convention": "adjust_fdr (arbitrary_dependence=False) is Benjamini-Hochberg; adjust_fwer with "
                                "arbitrary_dependence=True, method='bonferroni' is Holm (its default is Hochberg-Sidak)",
                  "tea_tasting": {"benjamini_hochberg": [float(bh[key][f"m{i}"]["pvalue_adj"]) for i in range(5)],
                                  "holm": [float(holm[key][f"m{i}"]["pvalue_adj"]) for i in range(5)]}})

    payload = {
        "peer": "tea-tasting", "peer_version": version("tea-tasting"),
        "made_by": "benchmarks/peer/tea_tasting_cases.py",
        "arms": {"control": 0, "treatment": 1},
        "data": {name: frame.to_dict(orient="list") for name, frame in datasets.items()},
        "cases": cases,
    }
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=1)
        handle.write("\n")
    print(f"{len(cases)} cases written to {out}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/peer_tea_tasting.json")
