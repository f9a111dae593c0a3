"""Sensitivity to hidden confounding: Cinelli-Hazlett against sensemakr, E-values against EValue, the OVB algebra.

References
----------
- R ``sensemakr``'s own test suite (tests/testthat/test-02-darfur.R, test-07-bounds.R) and its Python
  port ``PySensemakr`` 0.0.8, on the Darfur example ``peacefactor ~ directlyharmed + age + farmer_dar
  + herder_dar + pastvoted + hhsize_darfur + female + village`` (792 rows, 783 residual df). The data
  are not copied here: the tests start from the regression statistics PySensemakr reports (t of the
  treatment and of ``female`` in the outcome model, t of ``female`` in the treatment model, Wald F
  of groups) and check that the formulas give the published outputs.
- R ``EValue``'s documented examples (reference pages of ``evalues.RR``, ``evalues.OR``,
  ``evalues.HR`` and the "unmeasured confounding" vignette), to the printed digits.
"""

from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import statsmodels.formula.api as smf  # noqa: E402
from scipy import optimize, stats  # noqa: E402

from study.core.results import Estimate, Skipped  # noqa: E402
from study.regression import models, sensitivity, survival  # noqa: E402
from study.report import plots  # noqa: E402
from study.stats import evalues as ev  # noqa: E402
from study.stats import sensitivity as s  # noqa: E402

# Darfur, from PySensemakr 0.0.8 (statsmodels OLS of the published model).
ESTIMATE, SE, T, DOF = 0.09731581928495575, 0.023256537809811115, 4.184449984808213, 783
T_FEMALE_Y, T_FEMALE_D, DOF_D = -9.788837042331943, -2.6804478643016485, 784


def test_darfur_sensitivity_statistics_are_sensemakrs():
    assert s.partial_r2(T, DOF) == pytest.approx(0.021873093341109522, abs=1e-12)  # published 0.02187309
    assert s.robustness_value(T, DOF) == pytest.approx(0.1387763538935877, abs=1e-12)  # published 0.1387764
    assert s.robustness_value(T, DOF, alpha=0.05) == pytest.approx(0.07625796554485662, abs=1e-10)  # 0.07625797
    assert s.robustness_value(T, DOF, q=0.5, alpha=0.05) == pytest.approx(0.004562760814388618, abs=1e-10)
    assert abs(ESTIMATE / SE - T) < 1e-12


def test_darfur_adjusted_estimate_se_and_t_are_sensemakrs():
    # sensemakr's documented example: r2dz_x = r2yz_dx = 0.05 gives 0.06393, 0.02327, 2.74724.
    assert s.adjusted_estimate(ESTIMATE, SE, DOF, 0.05, 0.05) == pytest.approx(0.06393214421078162, abs=1e-12)
    assert s.adjusted_se(SE, DOF, 0.05, 0.05) == pytest.approx(0.02327140296812651, abs=1e-12)
    assert s.adjusted_t(ESTIMATE, SE, DOF, 0.05, 0.05) == pytest.approx(2.7472406497513613, abs=1e-10)
    assert s.adjusted_estimate(ESTIMATE, SE, DOF, 0.1, 0.2) == pytest.approx(0.00030510861007394807, abs=1e-12)


def test_darfur_bounds_on_female_are_sensemakrs():
    r2y, r2d = s.partial_r2(T_FEMALE_Y, DOF), s.partial_r2(T_FEMALE_D, DOF_D)
    # R sensemakr's test-02-darfur.R, kd = 1:3 (its numbers are printed to 15 digits).
    published = {
        1: (0.00916428667504862, 0.12464092303637, 0.0752202712144491, 0.0218733277437572, 3.43890386024675,
            0.032282966, 0.11815758),
        2: (0.0183285733500972, 0.249324064199975, 0.0529151723844518, 0.0203500620779637, 2.60024623913809,
            0.012968035, 0.09286231),
        3: (0.0274928600251459, 0.374050471038094, 0.0303960234641548, 0.0186700648170924, 1.62806202131271,
            -0.006253282, 0.06704533),
    }
    for kd, (r2dz, r2yz, adjusted, adjusted_se, adjusted_t, low, high) in published.items():
        bound = s.benchmark_bounds(r2d, r2y, kd)
        assert bound[0] == pytest.approx(r2dz, abs=1e-12) and bound[1] == pytest.approx(r2yz, abs=1e-12)
        assert not bound[2]
        assert s.adjusted_estimate(ESTIMATE, SE, DOF, *bound[:2]) == pytest.approx(adjusted, abs=1e-12)
        assert s.adjusted_se(SE, DOF, *bound[:2]) == pytest.approx(adjusted_se, abs=1e-12)
        assert s.adjusted_t(ESTIMATE, SE, DOF, *bound[:2]) == pytest.approx(adjusted_t, abs=1e-10)
        interval = s.adjusted_interval(ESTIMATE, SE, DOF, *bound[:2], alpha=0.05)
        assert interval == pytest.approx((low, high), abs=1e-8)
    # test-07-bounds.R: the 1x female interval at alpha = 0.2, and a degenerate one at alpha -> 1.
    bound = s.benchmark_bounds(r2d, r2y, 1)
    assert s.adjusted_interval(ESTIMATE, SE, DOF, *bound[:2], alpha=0.2) == pytest.approx(
        (0.0471648038348768, 0.103275738594021), abs=1e-12)
    # A negative estimate is mirrored (R's "darfur sensemakr but negative").
    assert s.adjusted_estimate(-ESTIMATE, SE, DOF, *bound[:2]) == pytest.approx(-0.0752202712144491, abs=1e-12)


def test_darfur_group_benchmarks_are_sensemakrs():
    # female + pastvoted as one group: Wald F in the outcome and treatment models (PySensemakr).
    r2y = s.group_partial_r2(51.78086112993474, 2, DOF)
    r2d = s.group_partial_r2(3.9798724821222526, 2, DOF_D)
    assert (r2y, r2d) == pytest.approx((0.11681276064557344, 0.010050693882937032), abs=1e-12)  # published 0.11681
    r2dz, r2yz, _ = s.benchmark_bounds(r2d, r2y, 1)
    assert (r2dz, r2yz) == pytest.approx((0.010152735923779915, 0.13497593966636998), abs=1e-12)
    assert s.adjusted_estimate(ESTIMATE, SE, DOF, r2dz, r2yz) == pytest.approx(0.07310209603314768, abs=1e-12)
    # village, 485 dummies: half its strength already implies r2yz_dx > 1, which is capped at 1.
    r2y, r2d = s.group_partial_r2(1.1898082871293532, 485, DOF), s.group_partial_r2(1.155874575508333, 485, DOF_D)
    assert (r2y, r2d) == pytest.approx((0.4242888431050271, 0.4169266068249873), abs=1e-12)
    r2dz, r2yz, clipped = s.benchmark_bounds(r2d, r2y, 0.5)
    assert (r2dz, r2yz, clipped) == (pytest.approx(0.3575249803071053, abs=1e-12), 1.0, True)
    assert s.adjusted_estimate(ESTIMATE, SE, DOF, r2dz, r2yz) == pytest.approx(-0.3881414576967162, abs=1e-12)
    assert s.benchmark_bounds(r2d, r2y, 3) is None  # 3 x village would explain more than all of the treatment


def test_robustness_value_is_the_strength_that_reaches_its_target():
    # The defining property (R's test "darfur adjusted estimates"): at (RV, RV) the estimate is zero,
    # at (RV_a, RV_a) the adjusted t is t(0.975, dof - 1).
    rv = s.robustness_value(T, DOF)
    assert s.adjusted_estimate(ESTIMATE, SE, DOF, rv, rv) == pytest.approx(0, abs=1e-14)
    rv_a = s.robustness_value(T, DOF, alpha=0.05)
    assert s.adjusted_t(ESTIMATE, SE, DOF, rv_a, rv_a) == pytest.approx(stats.t.ppf(0.975, DOF - 1), abs=1e-10)
    # And the same value by root-finding on the diagonal.
    root = optimize.brentq(lambda r: s.adjusted_estimate(ESTIMATE, SE, DOF, r, r) - 0.4 * ESTIMATE, 0, 0.99, xtol=1e-15)
    assert s.robustness_value(T, DOF, q=0.6) == pytest.approx(root, abs=1e-12)


def test_robustness_value_off_the_diagonal_and_with_a_robust_se():
    # PySensemakr's values: on the diagonal (t = 40, t = 3), off it (t = 4 on 5 df: the cheapest
    # confounder has r2yz_dx < r2dz_x), and zero where the interval already includes half the estimate.
    assert s.robustness_value(40.0, 100, alpha=0.05) == pytest.approx(0.9389624626913138, abs=1e-12)
    assert s.robustness_value(40.0, 100) == pytest.approx(0.9442719099991592, abs=1e-12)
    assert s.robustness_value(3.0, 50, alpha=0.05) == pytest.approx(0.12809477862100618, abs=1e-12)
    assert s.robustness_value(4.0, 5, alpha=0.05) == pytest.approx(0.30305670106090526, abs=1e-12)
    assert s.robustness_value(2.5, 1000, q=0.5, alpha=0.1) == 0.0
    assert s.robustness_value(0.0, 100) == 0.0
    # Off the diagonal: at r2dz_x = RV_a the best r2yz_dx = x / (x + f_crit^2) is below x and the interval just reaches 0.
    x = s.robustness_value(4.0, 5, alpha=0.05)
    f_crit = stats.t.ppf(0.975, 4) / 2
    y = x / (x + f_crit**2)
    assert y <= x and s.adjusted_t(4.0, 1.0, 5, x, y) == pytest.approx(stats.t.ppf(0.975, 4), abs=1e-9)
    # A clustered SE 1.7 times the classical one: at (RV_a, RV_a) the robust adjusted t is the critical value.
    rv_a = s.robustness_value(T, DOF, alpha=0.05, se_ratio=1.7)
    assert s.adjusted_t(ESTIMATE, SE, DOF, rv_a, rv_a, se_robust=1.7 * SE) == pytest.approx(
        stats.t.ppf(0.975, DOF - 1), abs=1e-10)
    assert rv_a < s.robustness_value(T, DOF, alpha=0.05)


@pytest.mark.parametrize("t, dof, se_ratio", [(T, DOF, 1.0), (4.0, 5, 1.0), (3.0, 50, 1.0), (T, DOF, 1.7)])
def test_robustness_value_is_the_weakest_confounder_on_a_grid(t, dof, se_ratio):
    # RV_{1,alpha} = the smallest max(r2dz_x, r2yz_dx) of a confounder that brings the interval to zero,
    # found by brute force over a grid of strengths (so the grid's minimum lies within one step above it).
    grid = np.linspace(0, 0.999, 1001)
    x, y = np.meshgrid(grid, grid)
    adjusted = s.adjusted_estimate(t, 1.0, dof, x, y)
    half = stats.t.ppf(0.975, dof - 1) * s.adjusted_se(se_ratio, dof, x, y)
    weakest = np.maximum(x, y)[(adjusted <= half)].min()
    rv = s.robustness_value(t, dof, alpha=0.05, se_ratio=se_ratio)
    assert rv - 1e-12 <= weakest <= rv + grid[1]


def test_bias_adjusted_estimate_is_the_estimate_with_the_confounder_included():
    # The OVB formula is exact in the sample: omit a confounder Z of known partial R2s and the
    # adjusted estimate and SE of the short model are the long model's coefficient and classical SE.
    rng = np.random.default_rng(11)
    n = 500
    frame = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    frame["d"] = 0.5 * frame.x + 0.8 * frame.z + rng.normal(size=n)
    frame["y"] = 0.3 * frame.d + 0.2 * frame.x + 0.7 * frame.z + rng.normal(size=n)
    short, long = smf.ols("y ~ d + x", frame).fit(), smf.ols("y ~ d + x + z", frame).fit()
    r2yz_dx = s.partial_r2(long.tvalues["z"], long.df_resid)
    r2dz_x = s.partial_r2(smf.ols("d ~ x + z", frame).fit().tvalues["z"], long.df_resid + 1)
    estimate, se, dof = short.params["d"], short.bse["d"], short.df_resid
    assert abs(estimate) > abs(long.params["d"])  # Z pushes the short estimate away from zero
    assert s.adjusted_estimate(estimate, se, dof, r2dz_x, r2yz_dx) == pytest.approx(long.params["d"], abs=1e-10)
    assert s.adjusted_se(se, dof, r2dz_x, r2yz_dx) == pytest.approx(long.bse["d"], abs=1e-10)
    # Omitting a confounder that hides part of the effect: the long estimate is the short one moved away from zero.
    frame["y2"] = 0.3 * frame.d + 0.2 * frame.x - 0.2 * frame.z + rng.normal(size=n)
    short, long = smf.ols("y2 ~ d + x", frame).fit(), smf.ols("y2 ~ d + x + z", frame).fit()
    assert 0 < short.params["d"] < long.params["d"]
    r2yz_dx = s.partial_r2(long.tvalues["z"], long.df_resid)
    assert s.adjusted_estimate(short.params["d"], short.bse["d"], short.df_resid, r2dz_x, r2yz_dx,
                               reduce=False) == pytest.approx(long.params["d"], abs=1e-10)


def _synthetic(seed: int = 2020, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, 4, n)
    x = rng.normal(size=n)
    d = 0.5 * x + 0.6 * (group == 2) - 0.3 * (group == 3) + rng.normal(size=n)
    y = 0.25 * d + 0.4 * x - 0.5 * (group == 1) + 0.3 * (group == 3) + rng.normal(size=n)
    return pd.DataFrame({"y": y, "d": d, "x": x, "group": pd.Categorical(group), "cluster": np.arange(n) // 4})


def test_from_a_fit_it_matches_pysensemakr_on_a_synthetic_regression():
    frame = _synthetic()
    assert frame.y.iloc[0] == pytest.approx(0.29354605667567485, abs=1e-15)  # the data PySensemakr saw
    fit = smf.ols("y ~ d + x + C(group)", frame).fit()
    groups = {"group": [t for t in fit.model.exog_names if t.startswith("C(group)")]}
    result = s.ols_sensitivity(fit, "d", groups, kd=(1, 2))
    # PySensemakr: sensitivity_stats and ovb_bounds(benchmark_covariates={"group": [...]}, kd=[1, 2]).
    assert result.partial_r2 == pytest.approx(0.09103227874132638, abs=1e-12)
    assert result.robustness_value == pytest.approx(0.27032604944384947, abs=1e-12)
    assert result.robustness_value_alpha == pytest.approx(0.19496187905194617, abs=1e-12)
    bounds = result.bounds.set_index("kd")
    assert bounds["r2dz_x"].tolist() == pytest.approx([0.05169191424199145, 0.1033838284839829], abs=1e-12)
    assert bounds["r2yz_dx"].tolist() == pytest.approx([0.08085792659131746, 0.16262687125621184], abs=1e-12)
    assert bounds["adjusted_estimate"].tolist() == pytest.approx([0.2482960774772916, 0.17825045661639644], abs=1e-12)
    assert bounds["adjusted_se"].tolist() == pytest.approx([0.04930845861620463, 0.04840174916958458], abs=1e-12)
    assert bounds["ci_low"].tolist() == pytest.approx([0.15135548998425513, 0.08309246279810824], abs=1e-10)
    assert bounds["ci_high"].tolist() == pytest.approx([0.34523666497032807, 0.27340845043468465], abs=1e-10)
    # A single covariate with different multiples for treatment and outcome (kd = 1, ky = 2).
    row = s.ols_sensitivity(fit, "d", {"x": ["x"]}, kd=(1,), ky=(2,)).bounds.iloc[0]
    assert (row.r2dz_x, row.r2yz_dx) == pytest.approx((0.2620136253000387, 0.22183502723538423), abs=1e-12)
    assert row.adjusted_estimate == pytest.approx(0.035566594968047316, abs=1e-12)
    assert row.label == "1/2x x"


def test_treatment_partial_r2_from_the_outcome_fit_is_the_treatment_regression():
    frame = _synthetic(seed=5)
    fit = smf.ols("y ~ d + x + C(group)", frame).fit()
    direct = smf.ols("d ~ x + C(group)", frame).fit()
    names = [t for t in fit.model.exog_names if t.startswith("C(group)")]
    wald = direct.wald_test(" = 0, ".join(names) + " = 0", scalar=True)
    expected = s.group_partial_r2(wald.statistic, len(names), direct.df_resid)
    assert s.treatment_partial_r2(fit, "d", names) == pytest.approx(expected, abs=1e-12)
    assert s.treatment_partial_r2(fit, "d", ["x"]) == pytest.approx(s.partial_r2(direct.tvalues["x"], direct.df_resid), abs=1e-12)
    with pytest.raises(ValueError):
        s.treatment_partial_r2(fit, "d", ["d"])


def test_clustered_fit_keeps_the_point_quantities_and_widens_the_intervals():
    frame = _synthetic()
    classical = smf.ols("y ~ d + x + C(group)", frame).fit()
    clustered = smf.ols("y ~ d + x + C(group)", frame).fit(cov_type="cluster", cov_kwds={"groups": frame.cluster})
    groups = {"group": [t for t in classical.model.exog_names if t.startswith("C(group)")]}
    a, b = s.ols_sensitivity(classical, "d", groups), s.ols_sensitivity(clustered, "d", groups)
    assert b.robustness_value == a.robustness_value and b.partial_r2 == a.partial_r2
    assert b.bounds["adjusted_estimate"].tolist() == a.bounds["adjusted_estimate"].tolist()
    ratio = clustered.bse["d"] / classical.bse["d"]
    assert b.robustness_value_alpha == pytest.approx(s.robustness_value(a.t, a.dof, alpha=0.05, se_ratio=ratio), abs=1e-14)
    assert b.bounds["adjusted_se"].to_numpy() == pytest.approx(a.bounds["adjusted_se"].to_numpy() * ratio, rel=1e-12)


def test_contour_grid_is_the_adjusted_estimate():
    result = s.ols_sensitivity(smf.ols("y ~ d + x", _synthetic()).fit(), "d")
    x, y, values = result.contour(limit=0.5, points=11)
    assert values.shape == (11, 11) and x[-1] == 0.5
    assert values[3, 7] == pytest.approx(s.adjusted_estimate(result.estimate, result.se, result.dof, x[7], y[3]), abs=1e-15)
    assert values[0, 0] == pytest.approx(result.estimate, abs=1e-15)
    _, _, t = result.contour(limit=0.5, points=11, statistic="t")
    assert t[0, 0] == pytest.approx(result.estimate / result.se_robust * np.sqrt((result.dof - 1) / result.dof), abs=1e-12)


# E-values: EValue's printed outputs, and the closed form.

def _printed(text: str):
    """A number as R printed it: equal to within half a unit of its last printed digit."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return pytest.approx(float(text), abs=0.5 * 10**-decimals + 1e-12)


@pytest.mark.parametrize("call, expected", [
    # evalues.RR(0.80, 0.71, 0.91): breastfeeding and leukemia, VanderWeele & Ding (2017).
    (dict(estimate=0.80, low=0.71, high=0.91), ("0.800000", "1.809017", "1.428571")),
    # evalues.RR(10.73, 8.02, 14.36): smoking and lung cancer (vignette).
    (dict(estimate=10.73, low=8.02, high=14.36), ("10.73000", "20.94777", "15.52336")),
    # evalues.OR(3.9, 1.8, 8.7, rare = TRUE): formula feeding and infant death, the paper's example (7.26 and 3.0).
    (dict(estimate=3.9, low=1.8, high=8.7, measure="OR", rare=True), ("3.900000", "7.263034", "3.0")),
    # evalues.HR(0.56, 0.46, 0.69, rare = FALSE) and evalues.OR(0.86, 0.75, 0.99, rare = FALSE): reference pages.
    (dict(estimate=0.56, low=0.46, high=0.69, measure="HR", rare=False), ("0.670084", "2.349531", "1.9080039")),
    (dict(estimate=0.86, low=0.75, high=0.99, measure="OR", rare=False), ("0.9273618", "1.3689529", "1.0761939")),
])
def test_evalues_are_evalues_published_outputs(call, expected):
    result = ev.evalues(**call)
    rr, point, limit = expected
    assert result.rr == _printed(rr)
    assert result.point == _printed(point)
    assert result.limit == _printed(limit)


def test_evalue_closed_forms():
    for rr in (1.0, 1.3, 2.5, 10.0):
        assert ev.evalue(rr) == pytest.approx(rr + np.sqrt(rr * (rr - 1)), abs=1e-12)
        assert ev.evalue(1 / rr) == pytest.approx(ev.evalue(rr), abs=1e-12)
    assert ev.evalue(2.5, true=1.5) == pytest.approx(2.720759, abs=1e-6)  # EValue vignette, a non-null E-value
    assert ev.evalues(1.2, 0.9, 1.6).limit == 1.0  # the interval includes 1
    assert ev.rr_from_or(4.0, rare=False) == 2.0 and ev.rr_from_or(4.0, rare=True) == 4.0
    hr = 0.7
    assert ev.rr_from_hr(hr, rare=False) == pytest.approx((1 - 0.5 ** np.sqrt(hr)) / (1 - 0.5 ** np.sqrt(1 / hr)), abs=1e-15)
    # Risk difference with a baseline risk: RR = (p0 + RD) / p0, each limit likewise.
    result = ev.evalues(-0.02, -0.03, -0.01, "RD", baseline=0.4)
    assert (result.rr, result.rr_low, result.rr_high) == pytest.approx((0.95, 0.925, 0.975), abs=1e-12)
    assert result.point == pytest.approx(ev.evalue(0.95), abs=1e-12) and result.limit == pytest.approx(ev.evalue(0.975), abs=1e-12)
    for bad in (dict(estimate=0.0), dict(estimate=1.2, measure="HR"), dict(estimate=-0.5, measure="RD", baseline=0.4),
                dict(estimate=0.1, measure="RD", baseline=1.0), dict(estimate=1.2, measure="XX")):
        with pytest.raises(ValueError):
            ev.evalues(**bad)


# Applied to the study.

def test_satisfaction_sensitivity_on_the_study_model(small_data):
    drivers = models.satisfaction_drivers(small_data)
    result = sensitivity.satisfaction_sensitivity(drivers)
    fit = drivers.fits["adjusted"]
    # Independent reference: the same model (agents as dummies, not absorbed) fitted by statsmodels with
    # classical standard errors.
    rows, _, held = models.csat_rows(small_data)
    terms = ["response_log2_hours", *held.flags, *(f"C({c})" for c in [*held.controls, *held.fixed_effects])]
    frame = rows.assign(**{c: rows[c].astype(float) for c in ["csat", *held.flags]})
    classical = smf.ols("csat ~ " + " + ".join(terms), frame).fit()
    assert held.fixed_effects == ["agent_id"] and classical.df_resid == fit.df_resid
    speed = result.get("csat_per_doubling_adjusted").result
    t = classical.tvalues["response_log2_hours"]
    assert speed.robustness_value == pytest.approx(s.robustness_value(t, classical.df_resid), abs=1e-8)
    assert speed.robustness_value_alpha == pytest.approx(s.robustness_value(
        t, classical.df_resid, alpha=0.05, se_ratio=fit.bse["response_log2_hours"] / classical.bse["response_log2_hours"]),
        abs=1e-8)
    assert set(speed.bounds["benchmark"]) == {"category", "channel", "loyalty_tier"}
    names = {e.name for e in result.estimates}
    assert {"csat_per_doubling_adjusted_robustness_value", "csat_resolved_adjusted_robustness_value_alpha",
            "csat_per_doubling_adjusted_bound_1x_category"} <= names
    bound = next(e for e in result.estimates if e.name == "csat_per_doubling_adjusted_bound_1x_category")
    row = speed.bounds.query("benchmark == 'category' and kd == 1").iloc[0]
    assert bound.value == row.adjusted_estimate and bound.ci_low == row.ci_low
    text = result.findings()[0].text
    assert f"{speed.robustness_value:.1%}" in text and "issue category" in text and "CSAT" in text
    assert len(result.table()) == 2 * 3 * 3 and list(result.summary().index) == [words for _, words, _ in sensitivity.OLS_HEADLINES.values()]


def test_benchmarks_follow_the_categorical_controls_of_the_fit():
    fit = SimpleNamespace(model=SimpleNamespace(exog_names=[
        "Intercept", "C(category)[T.b]", "C(category)[T.c]", "C(agent_id)[T.a2]", "response_log2_hours", "resolved"]))
    assert sensitivity.benchmark_groups(fit) == {"category": ["C(category)[T.b]", "C(category)[T.c]"],
                                                 "agent_id": ["C(agent_id)[T.a2]"]}


def test_repeat_evalues_on_the_study_models(small_data):
    logits = models.repeat_purchase(small_data)
    cox = survival.time_to_next_purchase(small_data)
    result = sensitivity.repeat_evalues(SimpleNamespace(logits=logits, survival=cox))
    total = logits.get("repeat_per_doubling_total")
    p0 = small_data.tickets.loc[logits.fits["total"].model.data.row_labels, "repeat_purchase"].astype(float).mean()
    rr = (p0 + total.value) / p0
    assert result.logit.values.point == pytest.approx(ev.evalue(rr), abs=1e-12)
    hr = cox.get("repurchase_hazard_ratio_per_doubling")
    rare = cox.fit.model.status.mean() < 0.15
    assert result.hazard.values.point == pytest.approx(ev.evalue(ev.rr_from_hr(hr.value, rare)), abs=1e-12)
    assert [e.name for e in result.estimates] == [
        "repeat_per_doubling_total_evalue", "repeat_per_doubling_total_evalue_ci",
        "repurchase_hazard_ratio_per_doubling_evalue", "repurchase_hazard_ratio_per_doubling_evalue_ci"]
    texts = [f.text for f in result.findings()]
    assert f"{result.logit.values.point:.2f}" in texts[0] and "E-value" in texts[1]


def test_skipped_models_give_skipped_sensitivity():
    assert isinstance(sensitivity.satisfaction_sensitivity(Skipped("naive and adjusted models", "one customer")), Skipped)
    logits = SimpleNamespace(get=lambda name: None, fits={}, skipped_models={"without CSAT": "nobody bought again"})
    cox = SimpleNamespace(skipped="the data has no days_to_next_purchase column", fit=None)
    result = sensitivity.repeat_evalues(SimpleNamespace(logits=logits, survival=cox))
    assert result.estimates == [] and [f.kind for f in result.findings()] == ["skipped", "skipped"]
    assert "nobody bought again" in result.findings()[0].text.lower()


def test_contour_plot_marks_zero_and_the_benchmarks(small_data):
    result = sensitivity.satisfaction_sensitivity(models.satisfaction_drivers(small_data))
    headline = result.get("csat_per_doubling_adjusted")
    figure = plots.sensitivity_contour(headline)
    legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert any(text.startswith("as strong as issue category") for text in legend)
    assert any(text.startswith("robustness value") for text in legend) or headline.result.robustness_value > 0.4
    assert f"{headline.result.robustness_value:.1%}" in figure.axes[0].get_title()
    matplotlib.pyplot.close(figure)


def test_sentences_say_when_the_interval_already_includes_no_effect():
    frame = _synthetic()
    frame["y"] = 0.02 * frame.d + frame.y - 0.25 * frame.d  # a weak slope: |t| < 2
    fit = smf.ols("y ~ d + x + C(group)", frame).fit()
    assert abs(fit.tvalues["d"]) < 1.9
    estimate = Estimate("slope", "slope", fit.params["d"], fit.bse["d"], *fit.conf_int().loc["d"], fit.pvalues["d"],
                        400, "OLS")
    headline = sensitivity.OLSHeadline(estimate, "d", s.ols_sensitivity(fit, "d", {"group": [
        t for t in fit.model.exog_names if t.startswith("C(group)")]}))
    assert headline.result.robustness_value_alpha == 0.0
    assert "its 95% interval already includes zero" in headline.finding().text
    # A hazard ratio whose interval includes 1, on a rare outcome (10% bought again): no conversion, E-value limit 1.
    ratio = Estimate("repurchase_hazard_ratio_per_doubling", "HR", 0.95, 0.03, 0.90, 1.01, 0.1, 10, "Cox")
    cox = SimpleNamespace(skipped=None, fit=SimpleNamespace(model=SimpleNamespace(status=np.array([1.0] + [0.0] * 9))),
                          get=lambda name: ratio)
    result = sensitivity.hazard_evalues(cox)
    assert result.values.rr == 0.95 and result.values.point == pytest.approx(ev.evalue(0.95), abs=1e-12)
    assert result.values.limit == 1.0 and "already includes no association" in result.finding("t").text
    assert "rare" in result.detail
