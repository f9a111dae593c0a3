"""The orders simulator: an export that looks like one, a truth that holds, the committed example reproduced, and
the driver analysis recovering that truth within its standard errors."""

import json
import math

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
import yaml

from study import config
from study.data import orders
from study.drivers import analyse

EXAMPLES = config.DATA / "examples"


@pytest.fixture(scope="module")
def drawn():
    return orders.simulate()


def test_the_same_seed_gives_the_same_export_and_another_seed_another(drawn):
    pd.testing.assert_frame_equal(orders.simulate().export, drawn.export)
    assert not orders.simulate(seed=1).export["order_id"].equals(drawn.export["order_id"])


def test_the_export_looks_like_a_marketplace_orders_export(drawn):
    export = drawn.export
    assert list(export.columns) == orders.COLUMNS and len(export) == 4_000
    assert export["order_id"].is_unique and export["order_id"].str.fullmatch(r"[0-9a-f]{10}").all()
    per_customer = export["customer_unique_id"].value_counts()
    assert per_customer.max() >= 3 and (per_customer > 1).sum() > 100
    delivered = export["order_status"] == "delivered"
    assert set(export["order_status"]) == set(orders.STATUSES) and 0.9 < delivered.mean() < 0.99
    assert export.loc[~delivered, "delivered_at"].isna().all()
    lost = export.loc[delivered, "delivered_at"].isna().sum()
    assert 1 <= lost <= 40  # a few delivered orders without a delivery time
    scores = export["review_score"].dropna()
    assert set(scores) <= {1.0, 2.0, 3.0, 4.0, 5.0} and 0.02 < export["review_score"].isna().mean() < 0.15
    assert (export["estimated_delivery_at"] == export["estimated_delivery_at"].dt.normalize()).all()
    assert (export["delivered_at"].dropna() > export.loc[export["delivered_at"].notna(), "purchased_at"]).all()
    assert export["purchased_at"].is_monotonic_increasing
    late = drawn.hidden["delay_days"] > 0
    assert 0.05 < late.mean() < 0.2


def test_the_latent_mean_stays_within_the_score_range_so_no_score_is_clipped():
    low, high = orders.latent_bounds()
    assert 1 <= low < high <= 5
    wide = orders._draw(50_000, np.random.default_rng(3))
    delay = wide["delay_days"].dropna()
    assert delay.max() <= orders.LATEST + 1e-9 and delay.min() >= -orders.EARLIEST - 1e-9


def test_the_expected_score_is_the_mean_of_the_scores():
    """Among delivered, reviewed orders score - expected score averages zero, and regresses on the expected score
    with slope one (tolerance: 4 standard errors of each, from 200,000 orders)."""
    big = orders._draw(200_000, np.random.default_rng(17))
    rows = big[big["order_status"].astype(str).eq("delivered") & big["review_score"].notna()]
    gap = rows["review_score"] - rows["expected_score"]
    assert abs(gap.mean()) < 4 * gap.std() / math.sqrt(len(gap))
    fit = smf.ols("review_score ~ expected_score", rows).fit(cov_type="HC1")
    assert abs(fit.params["expected_score"] - 1) < 4 * fit.bse["expected_score"]


def test_the_true_curve_and_the_truth_file_agree_with_the_process():
    truth = orders.truth()
    curve = truth["score_curve"]
    assert orders.true_curve(np.array([5.0]))[0] == pytest.approx(curve["step_when_late"] + 5 * curve["per_day_late"])
    assert orders.true_curve(np.array([-10.0]))[0] == pytest.approx(10 * curve["per_day_early"])  # 10 days early
    assert curve == {"per_day_early": 0.004, "step_when_late": -0.64, "per_day_late": -0.032, "most_days_late": 30.0,
                     "most_days_early": 36.0}
    # Confounding: remote states and bulky categories are late more often and score lower, so the naive association
    # is more negative than the adjusted one, for the delay and for lateness.
    for driver in ("delivery_delay_days", "late"):
        assert truth[driver]["driver_naive"] < truth[driver]["driver_adjusted"] < 0
    assert truth["late"]["driver_adjusted"] - truth["late"]["driver_naive"] > 0.1


def test_population_estimands_are_weighted_least_squares_of_the_expected_score():
    """Written out with statsmodels' WLS on a small draw: the same four numbers."""
    draw = orders._draw(5_000, np.random.default_rng(4))
    delivered = draw[draw["delay_days"].notna()].assign(late=lambda f: (f["delay_days"] > 0).astype(float))
    ours = orders.population_estimands(delivered, delivered["review_chance"].to_numpy())
    for driver, column in (("delivery_delay_days", "delay_days"), ("late", "late")):
        adjusted = smf.wls(f"expected_score ~ {column} + C(category) + C(state)", delivered,
                           weights=delivered["review_chance"]).fit()
        naive = smf.wls(f"expected_score ~ {column}", delivered, weights=delivered["review_chance"]).fit()
        assert ours[driver]["driver_adjusted"] == pytest.approx(adjusted.params[column], abs=1e-10)
        assert ours[driver]["driver_naive"] == pytest.approx(naive.params[column], abs=1e-10)


def test_the_committed_example_is_what_write_example_builds(tmp_path):
    export, truth_file = orders.write_example(tmp_path)
    committed = pd.read_csv(EXAMPLES / "orders_export.csv", keep_default_na=False, na_values=[""])
    rebuilt = pd.read_csv(export, keep_default_na=False, na_values=[""])
    text = ["order_id", "customer_unique_id", "order_status", "purchased_at", "estimated_delivery_at", "delivered_at",
            "category", "state", "review_score"]
    pd.testing.assert_frame_equal(committed[text], rebuilt[text])
    # Money is rounded to cents: a last-digit difference in exp() between platforms may move a cent, never more.
    np.testing.assert_allclose(committed[["freight_value", "price"]], rebuilt[["freight_value", "price"]], rtol=0, atol=0.0101)
    assert (EXAMPLES / "orders_export.csv").stat().st_size < 500_000
    written, fresh = json.loads((EXAMPLES / "orders_truth.json").read_text()), json.loads(truth_file.read_text())
    assert written.keys() == fresh.keys() and written["score_curve"] == fresh["score_curve"]
    for driver in ("delivery_delay_days", "late"):
        for key in ("driver_naive", "driver_adjusted"):
            assert written[driver][key] == pytest.approx(fresh[driver][key], rel=1e-9)


def test_the_example_column_map_says_what_the_tests_derive_in_pandas():
    """orders_columns.yml in column map v2 (read by the map's own tests); its drivers section read by the analysis."""
    content = yaml.safe_load((EXAMPLES / "orders_columns.yml").read_text())
    tickets = content["tickets"]
    assert tickets["derive"] == {"delivery_delay_days": "days(delivered_at - estimated_delivery_at)",
                                 "late": "delivered_at > estimated_delivery_at"}
    assert tickets["filter"] == ["order_status = 'delivered'"]
    assert tickets["columns"] == {"ticket_id": "order_id", "customer_id": "customer_unique_id", "csat": "review_score",
                                  "created_at": "purchased_at"}
    assert content["drivers"] == {"outcome": "csat", "driver": "delivery_delay_days", "controls": ["category", "state"],
                                  "cluster": "customer_id"}
    frame, aside = orders.analysis_frame(orders.simulate())
    assert aside == {"excluded by the column map's filter: order_status = 'delivered'": 130}
    assert set(content["drivers"]["controls"]) <= set(frame.columns)


def _three_se(estimate, truth):
    return abs(estimate.value - truth) < 3 * estimate.se, (estimate.name, estimate.value, estimate.se, truth)


@pytest.mark.parametrize("seed", [2026, 7])
def test_the_analysis_recovers_the_truth_within_three_standard_errors(seed):
    """Naive and adjusted slopes of the delay, and of lateness, against the population truth; the curve's step at
    zero and its value 10 days late against 10 days early (true -0.64 - 10 x 0.032 - 10 x 0.004)."""
    frame, aside = orders.analysis_frame(orders.simulate(orders=8_000, seed=seed))
    truth = orders.truth()
    delay = analyse(frame, "review_score", "delivery_delay_days", ["category", "state"], cluster="customer_unique_id",
                    set_aside=aside)
    late = analyse(frame, "review_score", "late", ["category", "state"], cluster="customer_unique_id", set_aside=aside)
    for result, driver in ((delay, "delivery_delay_days"), (late, "late")):
        for estimate in (result.naive, result.adjusted):
            ok, detail = _three_se(estimate, truth[driver][estimate.name])
            assert ok, detail
    ok, detail = _three_se(delay.shape.jump(), truth["score_curve"]["step_when_late"])
    assert ok, detail
    ok, detail = _three_se(delay.shape.difference(-10, 10), float(orders.true_curve(np.array([10.0]), -10.0)[0]))
    assert ok, detail
    # Confounding is visible: the adjusted estimate's interval excludes the naive truth for lateness.
    assert not late.adjusted.covers(truth["late"]["driver_naive"])


def test_the_adjusted_slope_covers_its_estimand_on_these_very_rows():
    """Conditional on the rows, least squares is unbiased for the fit of the expected score on the same design:
    that exact target, within three standard errors, for the delay and for lateness."""
    frame, aside = orders.analysis_frame(orders.simulate())
    for driver in ("delivery_delay_days", "late"):
        result = analyse(frame, "review_score", driver, ["category", "state"], cluster="customer_unique_id", set_aside=aside)
        rows = result.model.rows.join(frame[["expected_score"]])
        target = smf.ols(f"expected_score ~ {driver} + C(category) + C(state)", rows.astype({driver: float})).fit()
        ok, detail = _three_se(result.adjusted, target.params[driver])
        assert ok, detail


def test_the_findings_check_the_truth_and_count_the_filtered_orders(drawn):
    frame, aside = orders.analysis_frame(drawn)
    result = analyse(frame, "review_score", "delivery_delay_days", ["category", "state"], cluster="customer_unique_id",
                     set_aside=aside)
    found = result.findings(orders.truth_values("delivery_delay_days"))
    truth = next(f for f in found if f.kind == "truth")
    assert "the adjusted interval covers it" in truth.text
    assert result.rows["in"] == 4_000
    assert result.rows["dropped"]["excluded by the column map's filter: order_status = 'delivered'"] == 130
    assert result.model.outcome_kind.kind == "ordinal" and result.shape.step is not None


def test_write_example_replaces_only_an_earlier_example_of_its_own(tmp_path):
    import pytest

    orders.write_example(tmp_path, orders=200)
    orders.write_example(tmp_path, orders=200)  # an earlier example: replaced
    other = tmp_path / "other"
    other.mkdir()
    (other / "orders_export.csv").write_text("somebody's orders\n")
    with pytest.raises(FileExistsError, match="not an earlier example of ours"):
        orders.write_example(other, orders=200)
    assert (other / "orders_export.csv").read_text() == "somebody's orders\n"
