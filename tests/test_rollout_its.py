"""The interrupted time series against statsmodels fitted directly on weekly means built by hand."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import study.rollout
from study.rollout import its
from tests.fixtures.rollout_generator import simulate


@pytest.fixture(scope="module")
def at_once():
    tickets, truth = simulate(seed=21, teams=10, weeks=30, per_cell=6, staggered=False)
    return tickets.drop(columns="team"), truth


def test_segmented_regression_is_statsmodels_wls_with_newey_west(at_once):
    tickets, _ = at_once
    result = study.rollout.analyse(tickets)
    assert result.design == "at_once" and not result.its_skipped
    fit = result.its["csat"]
    answered = tickets[tickets["csat"].notna()]
    week = (answered["created_at"] - pd.Timestamp("2026-07-06")).dt.days // 7
    weekly = answered.groupby(week)["csat"].agg(["mean", "count"])
    start = int((answered["adopted_at"].iloc[0] - pd.Timestamp("2026-07-06")).days // 7)
    t = weekly.index.to_numpy(dtype=float)
    after = (t >= start).astype(float)
    # Weeks of unusual volume get a level of their own (3 robust SDs from the median count of tickets).
    volume = tickets.groupby((tickets["created_at"] - pd.Timestamp("2026-07-06")).dt.days // 7).size().reindex(weekly.index)
    spread = 3 * max(1.4826 * (volume - volume.median()).abs().median(), np.sqrt(volume.median()))
    peaks = [np.asarray(weekly.index == w, dtype=float) for w in volume.index[(volume - volume.median()).abs() > spread]]
    x = np.column_stack([np.ones_like(t), t, after, after * (t - start), *peaks])
    lags = int(np.floor(4 * (len(t) / 100) ** (2 / 9)))
    direct = sm.WLS(weekly["mean"].to_numpy(), x, weights=weekly["count"].to_numpy()).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags, "use_correction": True}, use_t=True)
    assert fit.maxlags == lags == 3
    assert fit.level.value == pytest.approx(direct.params[2], abs=1e-10)
    assert fit.slope.value == pytest.approx(direct.params[3], abs=1e-10)
    assert fit.level.se == pytest.approx(direct.bse[2], rel=1e-10)
    assert (fit.level.ci_low, fit.level.ci_high) == pytest.approx(tuple(direct.conf_int()[2]), rel=1e-10)
    contrast = np.array([0, 0, 1, (t[after == 1] - start).mean()] + [0] * len(peaks))
    average = direct.t_test(contrast)
    assert fit.average.value == pytest.approx(float(average.effect[0]), abs=1e-10)
    assert fit.average.se == pytest.approx(float(average.sd[0, 0]), rel=1e-10)
    assert fit.average.p_value == pytest.approx(float(average.pvalue), rel=1e-8)
    assert not fit.seasonal  # 30 weeks: no yearly season can be told from the trend


def test_a_year_of_weeks_gets_season_terms():
    weekly = pd.DataFrame({"period": np.arange(60), "treat": (np.arange(60) >= 40).astype(int),
                           "week": pd.date_range("2026-01-05", periods=60, freq="7D"), "tickets": 500})
    weekly.loc[50, "tickets"] = 1500  # a sale week: a level of its own
    x, seasonal = its.design(weekly)
    assert seasonal and list(x.columns) == ["const", "trend", "level", "slope", "peak 2026-12-21", "sin", "cos"]
    assert x["peak 2026-12-21"].sum() == 1 and x["peak 2026-12-21"].iloc[50] == 1
    assert x["slope"].iloc[45] == 5 and x["slope"].iloc[39] == 0


def test_staggered_data_skips_the_time_series_with_its_reason():
    result = study.rollout.analyse(simulate(seed=22, teams=12, weeks=16, per_cell=3)[0])
    assert result.design == "staggered" and "different weeks" in result.its_skipped
    assert result.its_table().reason == result.its_skipped
