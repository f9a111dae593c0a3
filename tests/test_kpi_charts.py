"""Control limits against the textbook formulas computed here independently, and their false-alarm and detection rates.

References: Montgomery, *Introduction to Statistical Quality Control* (7th ed.): p-chart with variable
sample size (7.2.2), X-bar chart with variable sample size and s-bar pooled (6.3.1), c4 (Appendix VI
formula), EWMA limits (9.2); Laney (2002) for the p' chart; scipy for the dispersion tests; a Newey-West
sandwich written out for the trend. Monte-Carlo rates carry a tolerance of 3 MC standard errors and state
their number of points; the 1,000-run versions are in benchmarks/control_charts.py.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from study.monitoring import charts
from study.monitoring.indicators import BY_NAME
from study.monitoring.trend import weekly_trend
from study.monitoring.weekly_chart import Settings, from_weeks

L, LAM = 3.0, 0.2


def c4_reference(n: int) -> float:
    return math.sqrt(2 / (n - 1)) * math.exp(math.lgamma(n / 2) - math.lgamma((n - 1) / 2))


def calendar_of(weeks: pd.DatetimeIndex) -> pd.DataFrame:
    return pd.DataFrame({"days": 7, "partial": False, "volume": "", "event": ""}, index=weeks)


def week_index(k: int) -> pd.DatetimeIndex:
    return pd.date_range("2026-01-05", periods=k, freq="7D", name="week")


def test_c4_matches_its_table_values():
    # Montgomery Appendix VI: c4(2) = 0.7979, c4(5) = 0.9400, c4(25) = 0.9896
    assert [round(charts.c4(n), 4) for n in (2, 5, 25)] == [0.7979, 0.9400, 0.9896]
    assert charts.c4(7) == pytest.approx(c4_reference(7), rel=1e-12)


def test_p_chart_limits_are_montgomerys_with_variable_n():
    rng = np.random.default_rng(1)
    n = rng.integers(800, 1200, 12)
    events = rng.binomial(n, 0.3)
    table = pd.DataFrame({"n": n, "value": events / n, "sd": np.nan, "events": events}, index=week_index(12))
    chart = from_weeks(BY_NAME["repeat_purchase_rate"], table, calendar_of(table.index), Settings())
    assert not chart.overdispersed and chart.chart == "p-chart"
    p_bar = events[:8].sum() / n[:8].sum()
    half = 3 * np.sqrt(p_bar * (1 - p_bar) / n)
    np.testing.assert_allclose(chart.table["center"], p_bar)
    np.testing.assert_allclose(chart.table["upper"], p_bar + half, rtol=1e-12)
    np.testing.assert_allclose(chart.table["lower"], p_bar - half, rtol=1e-12)
    np.testing.assert_allclose(chart.table["se"], np.sqrt(events / n * (1 - events / n) / n), rtol=1e-12)


def test_xbar_limits_use_the_pooled_within_week_sd_and_each_weeks_n():
    rng = np.random.default_rng(2)
    n = rng.integers(40, 90, 11)
    samples = [rng.normal(3.6, 1.1, k) for k in n]
    table = pd.DataFrame({"n": n, "value": [s.mean() for s in samples], "sd": [s.std(ddof=1) for s in samples],
                          "events": [s.sum() for s in samples]}, index=week_index(11))
    chart = from_weeks(BY_NAME["csat"], table, calendar_of(table.index), Settings())
    assert chart.chart == "X-bar chart"
    base = samples[:8]
    center = np.concatenate(base).mean()
    df = sum(len(s) - 1 for s in base)
    s_bar = math.sqrt(sum((len(s) - 1) * s.var(ddof=1) for s in base) / df)
    sigma = s_bar / c4_reference(df + 1)
    np.testing.assert_allclose(chart.table["upper"], center + 3 * sigma / np.sqrt(n), rtol=1e-10)
    np.testing.assert_allclose(chart.table["lower"], center - 3 * sigma / np.sqrt(n), rtol=1e-10)


def test_ewma_and_its_limits_equal_the_closed_forms_with_a_constant_n():
    rng = np.random.default_rng(3)
    n, mu, sigma, k = 50, 10.0, 2.0, 30
    x = rng.normal(mu, sigma / math.sqrt(n), k)
    z, low, high = charts.ewma(x, np.full(k, n), mu, sigma, LAM, L)
    t = np.arange(1, k + 1)
    half = L * sigma * np.sqrt(LAM / (2 - LAM) * (1 - (1 - LAM) ** (2 * t))) / math.sqrt(n)
    np.testing.assert_allclose(high, mu + half, rtol=1e-12)
    np.testing.assert_allclose(low, mu - half, rtol=1e-12)
    direct = [sum(LAM * (1 - LAM) ** (s - i) * x[i - 1] for i in range(1, s + 1)) + (1 - LAM) ** s * mu for s in t]
    np.testing.assert_allclose(z, direct, rtol=1e-12)


def test_ewma_variance_with_varying_n_is_the_weighted_sum():
    n = np.array([30, 60, 45, 90, 20])
    _, _, high = charts.ewma(np.zeros(5), n, 0.0, 1.5, LAM, L)
    var = [sum(LAM**2 * (1 - LAM) ** (2 * (t - i)) * 1.5**2 / n[i - 1] for i in range(1, t + 1)) for t in range(1, 6)]
    np.testing.assert_allclose(high, L * np.sqrt(var), rtol=1e-12)


def test_ewma_limits_allowing_for_the_estimated_center_are_the_exact_variance_of_the_distance():
    # z_t - c_hat with c_hat = sum_j w_j x_j over the baseline: its variance written out term by term.
    rng = np.random.default_rng(10)
    n = rng.integers(20, 80, 12).astype(float)
    w = np.where(np.arange(12) < 8, n, 0) / n[:8].sum()
    sigma = 1.3
    _, low, high = charts.ewma(np.zeros(12), n, 0.0, sigma, LAM, L, baseline=w)
    for t in range(1, 13):
        coefficient = [(LAM * (1 - LAM) ** (t - i) if i <= t else 0.0) - (1 - (1 - LAM) ** t) * w[i - 1]
                       for i in range(1, 13)]
        var = sum(c**2 * sigma**2 / n[i] for i, c in enumerate(coefficient))
        assert high[t - 1] == pytest.approx(L * math.sqrt(var), rel=1e-12) and low[t - 1] == pytest.approx(-L * math.sqrt(var))


def test_the_analysis_uses_montgomerys_ewma_limits_when_asked_and_wider_ones_after_the_baseline_by_default():
    n, weeks = 60, 14
    rng = np.random.default_rng(11)
    samples = [rng.normal(4.0, 1.0, n) for _ in range(weeks)]
    table = pd.DataFrame({"n": n, "value": [s.mean() for s in samples], "sd": [s.std(ddof=1) for s in samples],
                          "events": [s.sum() for s in samples]}, index=week_index(weeks))
    textbook = from_weeks(BY_NAME["csat"], table, calendar_of(table.index), Settings(allow_for_baseline=False))
    t = np.arange(1, weeks + 1)
    sigma = textbook.limits.sigma
    half = L * sigma * np.sqrt(LAM / (2 - LAM) * (1 - (1 - LAM) ** (2 * t))) / math.sqrt(n)
    np.testing.assert_allclose(textbook.table["ewma_upper"], textbook.limits.center + half, rtol=1e-12)
    allowed = from_weeks(BY_NAME["csat"], table, calendar_of(table.index), Settings())
    wider = (allowed.table["ewma_upper"] - allowed.limits.center).to_numpy() > half
    # inside the baseline z_t and the center share their weeks (narrower); weeks later the center's error adds (wider)
    assert not wider[:8].any() and wider[-3:].all()


def test_dispersion_tests_equal_scipys():
    rng = np.random.default_rng(4)
    n = rng.integers(200, 400, 8)
    events = rng.binomial(n, rng.uniform(0.25, 0.35, 8))
    ours = charts.rate_dispersion(events, n)
    chi2, p, df, _ = stats.chi2_contingency(np.vstack([events, n - events]), correction=False)
    assert (ours.statistic, ours.p_value, ours.df) == (pytest.approx(chi2, rel=1e-10), pytest.approx(p, rel=1e-8), df)
    samples = [rng.normal(rng.normal(0, 0.3), 1, k) for k in rng.integers(20, 50, 8)]
    ours = charts.mean_dispersion([len(s) for s in samples], [s.mean() for s in samples], [s.std(ddof=1) for s in samples])
    f = stats.f_oneway(*samples)
    assert (ours.statistic, ours.p_value) == (pytest.approx(f.statistic, rel=1e-10), pytest.approx(f.pvalue, rel=1e-8))


def test_overdispersed_rates_get_laneys_chart_with_its_sigma_z():
    rng = np.random.default_rng(5)
    n = np.full(14, 5_000)
    events = rng.binomial(n, np.clip(rng.normal(0.3, 0.02, 14), 0, 1))  # weekly rates vary beyond binomial
    table = pd.DataFrame({"n": n, "value": events / n, "sd": np.nan, "events": events}, index=week_index(14))
    chart = from_weeks(BY_NAME["resolution_rate"], table, calendar_of(table.index), Settings())
    assert chart.overdispersed and chart.chart == "Laney p' chart"
    p_bar = events[:8].sum() / n[:8].sum()
    se = math.sqrt(p_bar * (1 - p_bar) / 5_000)
    z = (events[:8] / n[:8] - p_bar) / se
    sigma_z = np.abs(np.diff(z)).mean() / 1.128
    assert chart.limits.sigma_z == pytest.approx(sigma_z, rel=1e-12) and sigma_z > 1
    np.testing.assert_allclose(chart.table["upper"], p_bar + 3 * sigma_z * se, rtol=1e-12)


def _flat_week(mu: float, s: float, n: int) -> np.ndarray:
    """n values with mean exactly mu and population sd exactly s."""
    return np.r_[np.full(n // 2, mu - s), np.full(n // 2, mu + s)]


@pytest.mark.parametrize("shift, flagged", [(3.02, True), (2.98, False), (-3.02, True), (-2.98, False)])
def test_a_three_se_shift_in_one_week_is_flagged_at_the_limit(shift, flagged):
    n, weeks = 100, 14
    samples = [_flat_week(5.0, 1.0, n) for _ in range(weeks)]
    sigma = math.sqrt(n / (n - 1)) / c4_reference(8 * (n - 1) + 1)  # pooled sd of the flat weeks, c4-corrected
    samples[11] = samples[11] + shift * sigma / math.sqrt(n)
    table = pd.DataFrame({"n": n, "value": [s.mean() for s in samples], "sd": [s.std(ddof=1) for s in samples],
                          "events": [s.sum() for s in samples]}, index=week_index(weeks))
    chart = from_weeks(BY_NAME["response_hours"], table, calendar_of(table.index), Settings())
    expected = ("above" if shift > 0 else "below") if flagged else ""
    assert chart.table["signal"].iloc[11] == expected
    assert (chart.table["signal"].drop(chart.table.index[11]) == "").all()


def test_a_simulated_three_se_shift_is_flagged_about_half_the_time_and_five_se_nearly_always():
    # The limit lies 3 SE from the estimated center, so a week shifted by `shift` SE lies beyond it with chance
    # Phi((shift - 3) / sqrt(1 + 1/m)) (the center's own error from m weeks): ~1/2 at 3 SE, ~0.98 at 5 SE.
    # 150 simulated series each, through the analysis's own chart; alpha tiny keeps the textbook chart in every run.
    rng = np.random.default_rng(6)
    runs, n, m = 150, 400, 8
    weeks = week_index(m + 2)
    settings = Settings(alpha=1e-12)
    for shift in (3.0, 5.0):
        hits = 0
        for _ in range(runs):
            means = rng.normal(2.0, 1 / math.sqrt(n), m + 2)
            means[m + 1] += shift / math.sqrt(n)
            table = pd.DataFrame({"n": n, "value": means, "sd": np.sqrt(rng.chisquare(n - 1, m + 2) / (n - 1)),
                                  "events": means * n}, index=weeks)
            chart = from_weeks(BY_NAME["response_hours"], table, calendar_of(weeks), settings)
            hits += chart.table["signal"].iloc[-1] == "above"
        expected = stats.norm.cdf((shift - 3) / math.sqrt(1 + 1 / m))
        assert abs(hits / runs - expected) <= 3 * math.sqrt(expected * (1 - expected) / runs), (shift, hits)


def test_stable_binomial_weeks_fall_outside_known_limits_at_the_exact_binomial_rate():
    # Standards given (p known): the rate per point is P(X > n UCL) + P(X < n LCL), ~0.27% (100,000 points).
    rng = np.random.default_rng(7)
    n, p, points = 1_000, 0.3, 100_000
    limits = charts.p_chart(p, np.array([n]))
    x = rng.binomial(n, p, points) / n
    rate = float(((x > limits.upper[0]) | (x < limits.lower[0])).mean())
    exact = stats.binom.sf(math.floor(n * limits.upper[0]), n, p) + stats.binom.cdf(math.ceil(n * limits.lower[0]) - 1, n, p)
    assert 0.0020 < exact < 0.0035
    assert abs(rate - exact) <= 3 * math.sqrt(exact * (1 - exact) / points)


def test_stable_normal_weeks_flag_at_0_27_percent_with_known_and_the_estimation_rate_with_baseline_limits():
    # Known center and sigma: 2 Phi(-3) = 0.27% per point. Center and sigma from m = 8 baseline weeks: a later
    # week's distance from the center has variance (1 + 1/m) se^2, so 2 Phi(-3 / sqrt(1 + 1/m)) = 0.47%.
    rng = np.random.default_rng(8)
    series, m, later, n = 5_000, 8, 18, 500
    means = rng.normal(0.0, 1 / math.sqrt(n), (series, m + later))
    sds = np.sqrt(rng.chisquare(n - 1, (series, m + later)) / (n - 1))
    known = charts.xbar_chart(0.0, 1.0, np.full(m + later, n))
    rate_known = float(((means > known.upper) | (means < known.lower)).mean())
    nominal = 2 * stats.norm.sf(3)
    assert abs(rate_known - nominal) <= 3 * math.sqrt(nominal * (1 - nominal) / means.size)
    outside = 0
    for i in range(series):
        sigma = charts.pooled_sd(np.full(m, n), sds[i, :m])
        limits = charts.xbar_chart(means[i, :m].mean(), sigma, np.full(later, n))
        outside += int(((means[i, m:] > limits.upper) | (means[i, m:] < limits.lower)).sum())
    points = series * later
    theory = 2 * stats.norm.sf(3 / math.sqrt(1 + 1 / m))
    assert abs(outside / points - theory) <= 3 * math.sqrt(theory * (1 - theory) / points)


def test_trend_is_ols_with_a_newey_west_sandwich_written_out():
    rng = np.random.default_rng(9)
    t = np.arange(26.0)
    e = np.zeros(26)
    for i in range(1, 26):
        e[i] = 0.5 * e[i - 1] + rng.normal(0, 0.05)
    y = 3.6 - 0.004 * t + e
    trend = weekly_trend(t, y)
    X = np.column_stack([np.ones(26), t])
    beta = np.linalg.solve(X.T @ X, X.T @ y)
    u = y - X @ beta
    lags = math.floor(4 * (26 / 100) ** (2 / 9))
    S = (X * u[:, None]).T @ (X * u[:, None])
    for lag in range(1, lags + 1):
        w = 1 - lag / (lags + 1)
        G = (X[lag:] * u[lag:, None]).T @ (X[:-lag] * u[:-lag, None])
        S += w * (G + G.T)
    bread = np.linalg.inv(X.T @ X)
    se = math.sqrt((bread @ S @ bread)[1, 1] * 26 / (26 - 2))
    assert trend.maxlags == lags == 2
    assert trend.slope == pytest.approx(beta[1], rel=1e-10) and trend.se == pytest.approx(se, rel=1e-10)
    q = stats.t.ppf(0.975, 24)
    assert (trend.ci_low, trend.ci_high) == (pytest.approx(beta[1] - q * se), pytest.approx(beta[1] + q * se))
    assert trend.over_period()[0] == pytest.approx(25 * beta[1])
