"""Design matrices and formula models against patsy and statsmodels' formula interface called directly."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf
from patsy import dmatrix

from study.regression.fitting import SPEED, formula, model_frame
from study.regression.models import csat_sample
from study.stats.design import design_matrix, formula_model

CONTROLS = ["category", "channel", "loyalty_tier"]


@pytest.fixture(scope="module")
def frame(small_data):
    rows, _, flags, controls = csat_sample(small_data, extra=["agent_id"])
    assert flags == ["resolved", "reopened"] and controls == CONTROLS
    return model_frame(rows, ["csat", "repeat_purchase", SPEED, *flags, *controls, "agent_id", "response_band"], "customer_id")


FORMULAS = [
    formula("csat", [SPEED, "resolved", "reopened"], CONTROLS),
    formula("csat", [SPEED, "resolved", "reopened"], [*CONTROLS, "agent_id"]),
    formula("csat", ["resolved", "reopened"], CONTROLS, splines={SPEED: 4}),
    formula("csat", ["resolved", "reopened"], [*CONTROLS, "response_band"]),  # ordered categories keep their order
    formula("csat", [SPEED, "resolved", "reopened"], CONTROLS, interactions=[(SPEED, "resolved")]),
    formula("csat", [SPEED]),
    formula("csat", []),
    "csat ~ 0 + C(channel) + C(category) + resolved",  # the first term with a dummy for every level
]


@pytest.mark.parametrize("text", FORMULAS)
def test_design_matrix_is_patsys_value_for_value(frame, text):
    rhs = text.split("~", 1)[1]
    ours, direct = design_matrix(frame, rhs), dmatrix(rhs, frame, return_type="dataframe")
    assert list(ours.columns) == list(direct.columns)
    assert ours.index.equals(direct.index)
    assert np.array_equal(ours.to_numpy(), direct.to_numpy())
    assert ours.design_info.column_names == direct.design_info.column_names


def test_text_is_categorical_with_the_levels_patsy_gives_strings(frame, small_data):
    """model_frame's sorted categories reproduce the dummies of the same column as plain strings."""
    as_strings = frame.assign(**{c: frame[c].astype(str) for c in CONTROLS})
    rhs = FORMULAS[0].split("~", 1)[1]
    direct = dmatrix(rhs, as_strings, return_type="dataframe")
    ours = design_matrix(frame, rhs)
    assert list(ours.columns) == list(direct.columns)
    assert np.array_equal(ours.to_numpy(), direct.to_numpy())
    # A text column that is not categorical falls back to patsy for the whole design.
    fallback = design_matrix(as_strings, rhs)
    assert np.array_equal(fallback.to_numpy(), direct.to_numpy())


def test_missing_values_are_left_to_patsy_which_drops_the_rows(frame):
    rhs = FORMULAS[0].split("~", 1)[1]
    gaps = frame.copy()
    gaps.loc[gaps.index[:3], SPEED] = np.nan
    gaps.loc[gaps.index[5:7], "channel"] = np.nan
    ours, direct = design_matrix(gaps, rhs), dmatrix(rhs, gaps, return_type="dataframe")
    assert len(ours) == len(frame) - 5 and ours.index.equals(direct.index)
    assert np.array_equal(ours.to_numpy(), direct.to_numpy())


@pytest.mark.parametrize("text", [FORMULAS[0], FORMULAS[2], FORMULAS[4], FORMULAS[6]])
def test_ols_from_the_design_is_the_formula_interfaces_fit(frame, text):
    groups = {"groups": frame["_cluster"].to_numpy()}
    ours = formula_model(sm.OLS, text, frame).fit(cov_type="cluster", cov_kwds=groups)
    direct = smf.ols(text, frame).fit(cov_type="cluster", cov_kwds=groups)
    pd.testing.assert_series_equal(ours.params, direct.params, check_exact=True)
    pd.testing.assert_series_equal(ours.bse, direct.bse, check_exact=True)
    assert ours.model.formula == direct.model.formula == text
    assert ours.model.endog_names == direct.model.endog_names
    assert ours.model.data.model_spec.column_names == direct.model.data.model_spec.column_names
    assert ours.nobs == direct.nobs and ours.df_resid == direct.df_resid


def test_logit_wls_and_cox_from_the_design_match_the_formula_interface(frame, small_data):
    groups = frame["_cluster"].to_numpy()
    text = formula("repeat_purchase", [SPEED, "csat", "resolved"], CONTROLS)
    ours = formula_model(sm.Logit, text, frame).fit(disp=0, cov_type="cluster", cov_kwds={"groups": groups})
    direct = smf.logit(text, frame).fit(disp=0, cov_type="cluster", cov_kwds={"groups": groups})
    pd.testing.assert_series_equal(ours.params, direct.params, check_exact=True)
    pd.testing.assert_series_equal(ours.bse, direct.bse, check_exact=True)

    weights = np.linspace(0.5, 2.0, len(frame))
    text = formula("csat", [SPEED, "resolved"], CONTROLS)
    ours = formula_model(sm.WLS, text, frame, weights=weights).fit(cov_type="cluster", cov_kwds={"groups": groups})
    direct = smf.wls(text, frame, weights=weights).fit(cov_type="cluster", cov_kwds={"groups": groups})
    pd.testing.assert_series_equal(ours.params, direct.params, check_exact=True)
    pd.testing.assert_series_equal(ours.bse, direct.bse, check_exact=True)

    tickets = small_data.tickets
    cox_frame = model_frame(tickets, ["days_to_next_purchase", "repeat_purchase", SPEED, *CONTROLS], None)
    text = formula("days_to_next_purchase", [SPEED], CONTROLS)
    status = cox_frame["repeat_purchase"].to_numpy()
    ours = formula_model(sm.PHReg, text, cox_frame, drop_intercept=True, status=status, ties="breslow").fit()
    direct = smf.phreg(text, cox_frame, status=status, ties="breslow").fit()
    assert ours.model.exog_names == direct.model.exog_names and "Intercept" not in ours.model.exog_names
    assert ours.model.data.model_spec.term_names == direct.model.data.model_spec.term_names
    np.testing.assert_array_equal(ours.params, direct.params)
    np.testing.assert_array_equal(ours.bse, direct.bse)


def test_typed_text_gets_the_categories_and_codes_of_the_same_text_as_python_strings():
    values = ["b", "B", "é", "a", "Z", "ß", "a b", "a", "Ä", "z", "10", "9", "", "日本"] * 3
    typed = pd.DataFrame({"text": pd.array(values, dtype="str"), "y": 1.0})
    plain = pd.DataFrame({"text": pd.Series(values, dtype=object), "y": 1.0})
    assert isinstance(typed["text"].dtype, pd.StringDtype) and not isinstance(plain["text"].dtype, pd.StringDtype)
    fast, reference = model_frame(typed, ["text", "y"], None)["text"], model_frame(plain, ["text", "y"], None)["text"]
    assert list(fast.cat.categories) == list(reference.cat.categories) == sorted(set(values))
    np.testing.assert_array_equal(fast.cat.codes, reference.cat.codes)


def test_only_a_coding_with_at_most_one_1_per_row_is_written_by_its_ones():
    from patsy.contrasts import Sum, Treatment

    from study.stats.design import _the_one_of_each_row

    levels = ["a", "b", "c"]
    np.testing.assert_array_equal(_the_one_of_each_row(Treatment().code_without_intercept(levels).matrix), [-1, 0, 1])
    np.testing.assert_array_equal(_the_one_of_each_row(Treatment().code_with_intercept(levels).matrix), [0, 1, 2])
    assert _the_one_of_each_row(Sum().code_without_intercept(levels).matrix) is None  # -1 in its last row
    assert _the_one_of_each_row(np.array([[1.0, 1.0], [0.0, 1.0]])) is None
