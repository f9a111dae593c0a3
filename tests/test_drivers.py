"""The driver analysis against statsmodels called directly (same formula, HC1 or clustered), its kinds, its
degenerate cases (skipped with the reason, never a number), its ledger, settings, words and results file."""

import json
import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from statsmodels.miscmodels.ordinal_model import OrderedModel

import study
from study.core.results import Skipped, save
from study.data import column_map
from study.data.dataset import TicketData
from study.data.io import Source
from study.data.schema import DataError
from study.drivers import analyse, from_settings, settings
from study.drivers.shape import basis

CAUSAL = re.compile(
    r"\b(lowers|raises|costs|changes? (?:CSAT|it|the)|(?:is )?worth|drives?|driven|effects?|multipl(?:ies|y)|"
    r"pays?|increases|decreases|reduces|boosts?|hurts?|harms?|improves|leads? to|impacts?|matters?)\b", re.IGNORECASE)


def _frame(n=1_500, seed=4, customers=600):
    """A table with a confounder (region goes with both wait and outcome), a numeric control, missing values."""
    rng = np.random.default_rng(seed)
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.2, 0.3, 0.3, 0.2])
    wait = rng.gamma(2.0, 3.0, n) + 3 * (region == "north")
    size = rng.normal(50, 10, n)
    lean = rng.normal(0, 0.5, customers)
    customer = rng.integers(0, customers, n)
    latent = 4.0 - 0.12 * wait - 0.6 * (region == "north") + 0.01 * size + lean[customer] + rng.normal(0, 1, n)
    frame = pd.DataFrame({
        "spend": latent * 10, "bought": (latent + rng.normal(0, 1, n) > 3).astype(float),
        "score": np.clip(np.round(latent), 1, 5), "wait": wait, "late": (wait > 8).astype(int), "region": region,
        "size": size, "customer": [f"c{c}" for c in customer],
    })
    for column, share in (("spend", 0.05), ("bought", 0.05), ("score", 0.3), ("wait", 0.02), ("region", 0.01)):
        frame.loc[rng.random(n) < share, column] = np.nan
    return frame


FRAME = _frame()


def _direct(frame, outcome, driver, controls, cluster, use_t=False):
    rows = frame.dropna(subset=[outcome, driver, *controls, *([cluster] if cluster else [])])
    terms = " + ".join([driver, *[f"C({c})" if rows[c].dtype == object else c for c in controls]])
    cov = {"cov_type": "HC1"}
    if cluster:
        cov = {"cov_type": "cluster", "cov_kwds": {"groups": pd.factorize(rows[cluster])[0]}}
        if use_t:
            cov["use_t"] = True
    return rows, smf.ols(f"{outcome} ~ {driver}", rows).fit(**cov), smf.ols(f"{outcome} ~ {terms}", rows).fit(**cov)


def _agree(estimate, fit, term, atol=1e-10):
    low, high = fit.conf_int().loc[term]
    assert estimate.value == pytest.approx(fit.params[term], abs=atol)
    assert estimate.se == pytest.approx(fit.bse[term], abs=atol)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((low, high), abs=atol)
    assert estimate.p_value == pytest.approx(fit.pvalues[term], rel=1e-8, abs=1e-14)
    assert estimate.n == int(fit.nobs)


@pytest.mark.parametrize("cluster", [None, "customer"])
@pytest.mark.parametrize("outcome, kind", [("spend", "numeric"), ("bought", "binary"), ("score", "ordinal")])
def test_naive_and_adjusted_are_statsmodels_ols_called_directly(outcome, kind, cluster):
    """Numeric, 0/1 and 1-5 outcomes alike: the least-squares headline is statsmodels' OLS, HC1 or CR1, to 1e-10."""
    result = analyse(FRAME, outcome, "wait", ["region", "size"], cluster=cluster)
    rows, naive, adjusted = _direct(FRAME, outcome, "wait", ["region", "size"], cluster)
    assert result.model.outcome_kind.kind == kind
    assert result.ledger.rows_used == len(rows)
    _agree(result.naive, naive, "wait")
    _agree(result.adjusted, adjusted, "wait")
    assert ("clustered by customer" in result.adjusted.method) == bool(cluster)
    assert "HC1" in result.adjusted.method or cluster


def test_few_clusters_take_t_of_g_minus_one_as_statsmodels_does_and_add_the_wild_bootstrap():
    frame = _frame(n=400, customers=12)
    result = analyse(frame, "spend", "wait", ["region"], cluster="customer")
    _, _, adjusted = _direct(frame, "spend", "wait", ["region"], "customer", use_t=True)
    _agree(result.adjusted, adjusted, "wait")
    assert "t(11) critical values" in result.adjusted.method
    assert result.wild["clusters"] == 12 and result.wild["enumerated"] and 0 <= result.wild["p_value"] <= 1
    assert any(f.text.startswith("**Few clusters.**") for f in result.findings())


@pytest.mark.parametrize("driver", ["wait", "late"])
def test_the_logit_check_is_statsmodels_average_marginal_effect(driver):
    result = analyse(FRAME, "bought", driver, ["region"], cluster="customer")
    rows = FRAME.dropna(subset=["bought", driver, "region"])
    direct = smf.logit(f"bought ~ {driver} + C(region)", rows).fit(
        disp=0, cov_type="cluster", cov_kwds={"groups": pd.factorize(rows["customer"])[0]})
    margins = direct.get_margeff(at="overall", dummy=True).summary_frame().loc[driver]
    assert result.check.value == pytest.approx(margins["dy/dx"], abs=1e-9)
    assert result.check.se == pytest.approx(margins["Std. Err."], rel=1e-6)
    assert result.model.driver_kind.kind == ("binary" if driver == "late" else "numeric")


def _expected_score(params, model, exog, levels):
    probabilities = model.predict(params, exog=exog)
    return float(np.mean(probabilities @ levels))


@pytest.mark.parametrize("driver", ["wait", "late"])
def test_the_ordered_logit_check_is_the_average_change_in_statsmodels_expected_score(driver):
    """Fit as statsmodels' OrderedModel on the same design; the average change in E[score] by finite differences
    (a 0/1 driver: set to 1 and to 0), its SE by the delta method with a numerical gradient."""
    result = analyse(FRAME, "score", driver, ["region"], cluster="customer")
    rows = FRAME.dropna(subset=["score", driver, "region"])
    exog = pd.get_dummies(rows[["region"]], drop_first=True, dtype=float)  # patsy's order: dummies, then the driver
    exog[driver] = rows[driver].astype(float)
    j = exog.shape[1] - 1
    levels = np.sort(rows["score"].unique())
    model = OrderedModel(pd.Categorical(rows["score"], categories=levels, ordered=True), exog, distr="logit")
    fit = model.fit(method="bfgs", disp=False, maxiter=5000, gtol=1e-7, cov_type="cluster",
                    cov_kwds={"groups": pd.factorize(rows["customer"])[0]})
    x = exog.to_numpy()

    def change(params):
        if driver == "late":
            on, off = x.copy(), x.copy()
            on[:, j], off[:, j] = 1.0, 0.0
            return _expected_score(params, model, on, levels) - _expected_score(params, model, off, levels)
        step = 1e-4
        up, down = x.copy(), x.copy()
        up[:, j] += step
        down[:, j] -= step
        return (_expected_score(params, model, up, levels) - _expected_score(params, model, down, levels)) / (2 * step)

    # Both at the maximum: ours by Newton with exact derivatives, statsmodels' by BFGS run to a tight gradient.
    params = np.asarray(result.fits["check"].params)
    np.testing.assert_allclose(params, fit.params.to_numpy(), rtol=1e-5, atol=1e-6)
    gradient = np.array([(change(params + h) - change(params - h)) / 2e-4 for h in np.eye(len(params)) * 1e-4])
    assert result.check.value == pytest.approx(change(params), rel=1e-7)
    # The delta method with our fit's covariance (exact derivatives); statsmodels' own differs by its numerical Hessian.
    ours = np.asarray(result.fits["check"].cov_params())
    assert result.check.se == pytest.approx(float(np.sqrt(gradient @ ours @ gradient)), rel=1e-4)
    np.testing.assert_allclose(ours, fit.cov_params().to_numpy(), rtol=1e-3, atol=1e-6)
    assert result.check.extra["log_odds"] == pytest.approx(fit.params[driver], rel=1e-5)


def test_kinds_are_detected_and_said_with_the_reason():
    frame = FRAME.assign(flag=FRAME["late"].map({1: "yes", 0: "no"}), on_time=FRAME["late"] == 0)
    assert "takes only the values 0 and 1" in analyse(frame, "bought", "wait").kinds[0]
    assert "whole numbers between 1 and 5" in analyse(frame, "score", "wait").kinds[0]
    assert analyse(frame, "spend", "wait").model.outcome_kind.kind == "numeric"
    yes_no = analyse(frame, "spend", "flag")
    assert yes_no.model.driver_kind.kind == "binary" and "yes/no text read as 1/0" in yes_no.kinds[1]
    boolean = analyse(frame, "spend", "on_time")
    assert boolean.adjusted.value == pytest.approx(-analyse(frame, "spend", "late").adjusted.value, rel=1e-10)
    assert analyse(frame.assign(score=frame["score"].clip(4, 5)), "score", "wait").model.outcome_kind.kind == "numeric"
    with pytest.raises(ValueError, match="outcome_kind 'binary' needs values 0 and 1"):
        analyse(frame, "score", "wait", outcome_kind="binary")


def test_a_text_driver_with_two_values_needs_a_mapping_and_works_with_one():
    frame = FRAME.assign(speed=np.where(FRAME["late"] == 1, "slow", "fast"))
    with pytest.raises(DataError, match=r"column 'speed' is text with two values \('fast', 'slow'\).*values=\{'speed'"):
        analyse(frame, "spend", "speed")
    mapped = analyse(frame, "spend", "speed", values={"speed": {"slow": 1, "fast": 0}})
    assert mapped.adjusted.value == pytest.approx(analyse(frame, "spend", "late").adjusted.value, rel=1e-12)
    with pytest.raises(DataError, match=r"column 'speed' has 1 value that is not in its value mapping .* row"):
        analyse(frame.assign(speed=frame["speed"].where(frame.index != 7, "unknown")), "spend", "speed",
                values={"speed": {"slow": 1, "fast": 0}})


@pytest.mark.parametrize("column, values, message", [
    ("region", None, "column 'region' is text with 4 values"),
    ("when", pd.Timestamp("2024-01-01"), "holds dates or times"),
    ("wait", np.inf, "has 1 value that is infinite"),
])
def test_a_driver_that_cannot_be_numbers_is_refused_in_one_line(column, values, message):
    frame = FRAME.copy()
    if column == "when":
        frame["when"] = values
    elif values is not None:
        frame.loc[3, column] = values
    with pytest.raises(DataError, match=message) as raised:
        analyse(frame, "spend", column)
    assert "\n" not in str(raised.value)


def test_names_and_roles_are_checked_before_anything_is_fitted():
    with pytest.raises(DataError, match=r"the driver column 'wiat' is not in the data \(did you mean 'wait'\?\)"):
        analyse(FRAME, "spend", "wiat")
    with pytest.raises(ValueError, match="control 'wait' is also the driver"):
        analyse(FRAME, "spend", "wait", ["wait"])
    with pytest.raises(ValueError, match="same column"):
        analyse(FRAME, "wait", "wait")
    with pytest.raises(ValueError, match="controls must be a list"):
        analyse(FRAME, "spend", "wait", "region")
    with pytest.raises(ValueError, match="shape must be one of"):
        analyse(FRAME, "spend", "wait", shape="wiggly")


SMALL = FRAME.dropna().head(200)


@pytest.mark.parametrize("frame, arguments, reason", [
    (SMALL.assign(wait=5.0), {}, "wait does not vary in the rows analysed"),
    (SMALL.assign(spend=3.0), {}, "spend has one value (3) in the rows analysed"),
    (SMALL.head(12), {}, "only 12 rows have an outcome, a driver and every control: the analysis needs at least 20"),
    (SMALL.assign(spend=np.nan), {}, "no rows with an outcome, a driver and every control left to analyse"),
    (SMALL.assign(customer="c1"), {"cluster": "customer"}, "one customer: standard errors clustered by customer need at least two"),
    (SMALL.assign(late=(SMALL.index == SMALL.index[0]).astype(int)), {"driver": "late"},
     "only 1 row has late = 1: a comparison needs at least two on each side"),
    (SMALL.assign(wait=SMALL["region"].map({"north": 1.0, "south": 2.0, "east": 3.0, "west": 4.0})),
     {"controls": ["region"]}, "wait does not vary once region is held fixed"),
])
def test_degenerate_data_is_skipped_with_its_reason_and_states_no_number(frame, arguments, reason, tmp_path):
    arguments = {"driver": "wait", **arguments}
    result = analyse(frame, "spend", **arguments)
    assert reason in result.skipped
    assert result.estimates == [] and result.naive is None
    [finding] = result.findings()
    assert finding.kind == "skipped" and not re.search(r"\d\.\d", finding.text)
    payload = save(result, tmp_path)
    assert payload["estimates"] == [] and any(reason in note for note in payload["notes"])
    assert isinstance(result.table(), Skipped)


def test_a_constant_control_is_dropped_with_a_note_and_the_rest_runs():
    result = analyse(SMALL.assign(country="BR"), "spend", "wait", ["country", "region"])
    assert result.model.controls == ["region"]
    assert any("control country dropped: it has one value" in note for note in result.notes)
    direct = smf.ols("spend ~ wait + C(region)", SMALL).fit(cov_type="HC1")
    assert result.adjusted.value == pytest.approx(direct.params["wait"], abs=1e-10)


def test_overlapping_controls_are_said_and_the_driver_is_still_estimated():
    frame = FRAME.assign(area=FRAME["region"].map({"north": "n", "south": "s", "east": "e", "west": "w"}))
    result = analyse(frame, "spend", "wait", ["region", "area"])
    assert any("the controls overlap" in note for note in result.notes)
    _, _, direct = _direct(FRAME, "spend", "wait", ["region"], None)
    assert result.adjusted.value == pytest.approx(direct.params["wait"], abs=1e-8)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), shares=st.tuples(*[st.floats(0, 0.6)] * 5),
       aside=st.dictionaries(st.sampled_from(["filtered", "outside the sample"]), st.integers(0, 500), max_size=2))
def test_every_row_is_counted_once_whatever_is_missing(seed, shares, aside):
    """rows in = rows used + every reason's count; each reason counts the rows that first lack its column."""
    rng = np.random.default_rng(seed)
    frame = FRAME.head(300).copy()
    columns = ["spend", "wait", "region", "size", "customer"]
    for column, share in zip(columns, shares):
        frame.loc[rng.random(len(frame)) < share, column] = None
    result = analyse(frame, "spend", "wait", ["region", "size"], cluster="customer", set_aside=aside, shape="linear")
    rows = result.rows
    assert rows["in"] == len(frame) + sum(aside.values())
    assert rows["in"] == rows["used"] + sum(rows["dropped"].values())
    remaining = frame
    for column, reason in [("wait", "missing wait"), ("region", "missing region"), ("size", "missing size"),
                           ("customer", "missing customer"), ("spend", "missing spend (the outcome)")]:
        lacking = int(remaining[column].isna().sum())
        assert rows["dropped"].get(reason, 0) == lacking
        remaining = remaining[remaining[column].notna()]
    skipped = {reason: n for reason, n in rows["dropped"].items() if reason.startswith("the analysis was skipped")}
    assert rows["used"] + sum(skipped.values()) == len(remaining)
    assert (rows["used"] == 0) == bool(result.skipped) or len(remaining) == 0


def test_ticket_data_set_aside_rows_are_counted_and_parameters_recorded(tmp_path):
    data = TicketData(FRAME, Source("orders.csv", "0" * 16, len(FRAME) + 40, list(FRAME.columns)),
                      set_aside={"excluded by the column map's filter: order_status = 'delivered'": 40}, max_tickets=0)
    result = analyse(data, "score", "wait", ["region"], cluster="customer", alpha=0.1, seed=7)
    assert result.rows["in"] == len(FRAME) + 40
    assert result.rows["dropped"]["excluded by the column map's filter: order_status = 'delivered'"] == 40
    payload = study.save(result, tmp_path)
    written = json.loads((tmp_path / "06_driver_analysis.json").read_text())
    assert written == payload and written["analysis"] == "06_driver_analysis"
    assert written["parameters"] == {"outcome": "score", "driver": "wait", "controls": ["region"], "cluster": "customer",
                                     "alpha": 0.1, "shape": "auto", "seed": 7, "model_tickets": 0}
    assert written["data"]["file"] == "orders.csv"
    names = {e["name"] for e in written["estimates"]}
    for finding in written["findings"]:
        assert set(finding["estimates"]) <= names, finding
    assert result.adjusted.ci_level == pytest.approx(0.9)


@pytest.mark.parametrize("outcome, driver", [("score", "wait"), ("bought", "late"), ("spend", "wait")])
def test_findings_speak_of_associations_and_say_what_is_not_held_fixed(outcome, driver):
    result = analyse(FRAME, outcome, driver, ["region"], cluster="customer")
    found = result.findings()
    assert found[0].headline and "observational association" in found[0].text
    for finding in found:
        assert not CAUSAL.search(finding.text), finding.text
    caveats = next(f.text for f in found if f.text.startswith("**What this shows and does not show.**"))
    assert "Not held fixed" in caveats and "Direction" in caveats
    assert ("survey answer" in caveats) == (outcome == "score")


def test_a_sign_that_the_interval_cannot_tell_is_said_as_such():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"y": rng.normal(size=300), "x": rng.normal(size=300)})
    headline = analyse(frame, "y", "x").findings()[0].text
    assert "the interval includes zero" in headline and "lower by" not in headline and "higher by" not in headline


def test_the_restricted_cubic_spline_basis_is_harrells_formula():
    knots = np.array([-10.0, -4.0, 0.0, 3.0, 12.0])
    x = np.array([-20.0, -7.0, -1.0, 2.0, 8.0, 30.0])
    ours = basis(x, knots)

    def plus(v):
        return max(v, 0.0) ** 3

    t = knots
    for i, value in enumerate(x):
        for j in range(3):
            expected = (plus(value - t[j]) - plus(value - t[3]) * (t[4] - t[j]) / (t[4] - t[3])
                        + plus(value - t[4]) * (t[3] - t[j]) / (t[4] - t[3])) / (t[4] - t[0]) ** 2
            assert ours[i, j] == pytest.approx(expected, rel=1e-12, abs=1e-12)
    # Linear beyond the last knot: equal second differences vanish.
    far = basis(np.array([20.0, 25.0, 30.0]), knots)
    np.testing.assert_allclose(far[2] - 2 * far[1] + far[0], 0.0, atol=1e-9)


def test_the_curve_recovers_a_known_bent_shape_with_a_step_exactly_without_noise():
    """No noise: the spline (with the step and kink at zero a signed driver gets) reproduces a piecewise-linear truth."""
    rng = np.random.default_rng(2)
    x = np.concatenate([-rng.gamma(3.0, 4.0, 1_800), rng.gamma(1.3, 5.0, 200) + 0.1])
    group = rng.choice(["a", "b"], len(x))
    truth = np.where(x <= 0, -0.01 * x, -0.7 - 0.05 * x)
    frame = pd.DataFrame({"y": 3 + truth + 0.2 * (group == "b"), "x": x, "g": group})
    shape = analyse(frame, "y", "x", ["g"]).shape
    for value in (-20.0, -5.0, 3.0, 15.0):
        expected = (-0.01 * value) if value <= 0 else (-0.7 - 0.05 * value)
        assert shape.at(value).value == pytest.approx(expected, abs=1e-8)
    assert shape.jump().value == pytest.approx(-0.7, abs=1e-8)
    curve = shape.curve.set_index("value")
    assert curve.loc[0.0, "difference"] == pytest.approx(0.0, abs=1e-12)


def test_a_straight_line_passes_the_linearity_test_and_a_curve_fails_it():
    rng = np.random.default_rng(8)
    x = rng.uniform(0, 10, 3_000)
    straight = analyse(pd.DataFrame({"y": 0.3 * x + rng.normal(size=x.size), "x": x}), "y", "x").shape
    bent = analyse(pd.DataFrame({"y": (x - 5) ** 2 / 5 + rng.normal(size=x.size), "x": x}), "y", "x").shape
    assert straight.step is None and straight.nonlinearity_p > 0.001
    assert bent.nonlinearity_p < 1e-10


def test_settings_take_parameters_then_the_map_then_the_defaults(tmp_path, monkeypatch):
    if "drivers" not in column_map.SECTIONS:  # the drivers section of column map v2 (read here before it is merged)
        monkeypatch.setattr(column_map, "SECTIONS", (*column_map.SECTIONS, "drivers"))
    path = tmp_path / "map.yml"
    path.write_text("drivers:\n  outcome: csat\n  driver: delivery_delay_days\n  controls: [category, state]\n")
    from_map = settings(path)
    assert (from_map.outcome, from_map.driver, from_map.controls) == ("csat", "delivery_delay_days", ("category", "state"))
    assert from_map.cluster == "customer_id" and from_map.cluster_default
    assert from_map.needed == ["csat", "delivery_delay_days", "category", "state"]
    assert from_map.sources == {"outcome": "column map", "driver": "column map", "controls": "column map", "cluster": "default"}
    given_ = settings(path, driver="late", controls=[], cluster="")
    assert (given_.driver, given_.controls, given_.cluster) == ("late", (), None)
    default = settings()
    assert (default.outcome, default.driver, default.controls) == ("csat", "response_hours", None)
    controls, cluster, notes = default.resolve(pd.DataFrame({"category": ["a", "b"], "channel": ["x", "x"]}))
    assert controls == ["category"] and cluster is None and "not clustered" in notes[-1]
    path.write_text("drivers:\n  outcom: csat\n")
    with pytest.raises(DataError, match=r"unknown key 'outcom' in the drivers section \(did you mean 'outcome'\?\)"):
        settings(path)
    path.write_text("drivers:\n  controls: category\n")
    with pytest.raises(DataError, match=r"map.yml: drivers.controls must be a list of column names"):
        settings(path)


@pytest.mark.parametrize("arguments, message", [
    ({"controls": "category"}, "parameter controls must be a list of column names"),
    ({"outcome": ""}, "parameter outcome must be a column name"),
    ({"driver": 3}, "parameter driver must be a column name"),
    ({"driver": "csat"}, "driver and outcome are the same column"),
    ({"controls": ["category", "category"]}, "parameter controls lists 'category' twice"),
    ({"controls": ["response_hours"]}, "controls: 'response_hours' is also the driver"),
])
def test_a_bad_parameter_is_a_value_error_naming_it(arguments, message):
    with pytest.raises(ValueError, match=message):
        settings(None, **arguments)


def test_settings_run_the_analysis_on_ticket_data_with_the_defaults_said(small_data):
    result = from_settings(small_data, settings())
    assert result.model.controls == [c for c in ("category", "channel", "loyalty_tier") if c in small_data.tickets]
    assert result.model.cluster == "customer_id"
    assert result.notes[2].startswith("controls by default: the known confounders present")
    assert result.parameters["settings_from"]["driver"] == "default"


def test_the_figure_draws_both_sides_of_a_step_and_the_truth():
    import matplotlib

    matplotlib.use("Agg")
    from study.drivers import plots

    rng = np.random.default_rng(3)
    x = np.concatenate([-rng.gamma(3.0, 4.0, 600), rng.gamma(1.3, 5.0, 100) + 0.1])
    frame = pd.DataFrame({"y": np.where(x <= 0, 0.0, -0.7) + rng.normal(0, 0.5, x.size), "x": x})
    result = analyse(frame, "y", "x")
    figure = plots.dose_response(result, truth=lambda v: np.where(v <= 0, 0.0, -0.7))
    labels = [line.get_label() for line in figure.axes[0].lines]
    assert labels.count("curve (spline, adjusted)") == 1 and "true curve (simulation)" in labels
    assert len([line for line in figure.axes[0].lines if line.get_color() == "black"]) == 2  # truth on each side


def test_notebook_06_is_thin_and_takes_the_agreed_parameters():
    """Thin cells, one import, and the parameters the runner and the README name."""
    import nbformat
    import papermill

    from study import config

    path = config.NOTEBOOKS / "06_driver_analysis.ipynb"
    notebook = nbformat.read(path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    imports = [line for c in code for line in c.source.splitlines() if line.startswith(("import ", "from "))]
    assert [line for line in imports if "study" in line] == ["import study"]
    assert [len(c.source.splitlines()) for c in code if len(c.source.splitlines()) > 6] == []
    assert list(papermill.inspect_notebook(str(path))) == [
        "data_path", "columns_path", "alpha", "results_dir", "outcome", "driver", "controls", "cluster", "model_tickets",
        "seed"]


def test_small_orders_exports_never_crash_the_analysis():
    """A few dozen orders: rare score levels and controls that pin one make the checks unfittable, not a traceback."""
    import warnings

    from study.data import orders

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for seed in range(12):
            frame, _ = orders.analysis_frame(orders.simulate(50, seed))
            for driver in ("delivery_delay_days", "late"):
                result = analyse(frame, "review_score", driver, ["category", "state"])
                text = " ".join(f.text for f in result.findings())
                assert not re.search(r"\bnan\b|\(95% CI [+-]?0\.0+ to [+-]?0\.0+\)", text), text


def test_an_outcome_the_driver_defines_is_skipped_not_estimated():
    delay = np.random.default_rng(1).normal(0, 3, 300)
    result = analyse(pd.DataFrame({"delay": delay, "late": (delay > 0).astype(int)}), "late", "delay")
    assert result.skipped.startswith("the outcome late is determined by the driver delay and the controls")
    assert [f.kind for f in result.findings()] == ["skipped"]


def test_a_driver_in_small_units_is_printed_to_its_first_significant_digit():
    rng = np.random.default_rng(1)
    milliseconds = rng.uniform(1e5, 5e6, 400)
    frame = pd.DataFrame({"wait_ms": milliseconds, "y": 3 - 2e-7 * milliseconds + rng.normal(0, 0.5, 400)})
    result = analyse(frame, "y", "wait_ms")
    assert result.digits >= 8
    assert "lower by 0.00000022" in result.findings()[0].text or "lower by 0.0000002" in result.findings()[0].text
