"""Any column of any frame in the study's models: names that are not identifiers, that read as code, or are
keywords give the fits statsmodels gives on the same data under plain names (OLS, logit, ordered logit, Cox,
the customer bootstrap), and no name is ever run as code."""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.miscmodels.ordinal_model import OrderedModel

from study.regression import fitting
from study.stats.bootstrap_ols import cluster_bootstrap_ols
from study.stats.cox import BreslowPHReg
from study.stats.design import design_matrix, formula_model
from study.stats.ordinal import OrderedLogitModel

# Export-style names -> the plain names statsmodels is called with directly.
ODD = {"review score (1-5)": "y", "days late": "x", "class": "k", "__import__('os').system('exit 3')": "z",
       "região": "region", "it's \"odd\"": "segment", "cust-id": "cust"}


@pytest.fixture(scope="module")
def frames():
    rng = np.random.default_rng(11)
    n = 900
    region = rng.choice(["norte", "sul", "leste"], n)
    x = rng.normal(size=n) + (region == "norte")
    segment = rng.choice(["a", "b"], n)
    y = 3 - 0.4 * x + 0.3 * (segment == "b") + rng.normal(size=n)
    plain = pd.DataFrame({"y": y, "x": x, "k": rng.normal(size=n), "z": rng.normal(size=n), "region": region,
                          "segment": segment, "cust": rng.integers(0, 300, n).astype(str)})
    return plain.rename(columns={v: k for k, v in ODD.items()}), plain


def _same(ours, direct, atol=1e-10):
    direct_names = [n for n in direct.params.index]
    np.testing.assert_allclose(ours.params.to_numpy(), direct.params[direct_names].to_numpy(), rtol=0, atol=atol)
    np.testing.assert_allclose(ours.bse.to_numpy(), direct.bse[direct_names].to_numpy(), rtol=0, atol=atol)
    np.testing.assert_allclose(ours.pvalues.to_numpy(), direct.pvalues[direct_names].to_numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("cluster", [None, "cust-id"])
def test_fit_ols_on_any_names_is_statsmodels_on_plain_names(frames, cluster):
    odd, plain = frames
    ours = fitting.fit_ols(odd, "review score (1-5)", ["days late", "class", "__import__('os').system('exit 3')"],
                           ["região", "it's \"odd\""], cluster=cluster)
    cov = ({"cov_type": "cluster", "cov_kwds": {"groups": pd.factorize(plain["cust"])[0]}} if cluster else {"cov_type": "HC1"})
    direct = smf.ols("y ~ x + k + z + C(region) + C(segment)", plain).fit(**cov)
    _same(ours, direct)
    # Coefficients keep the export's names: numeric terms quoted, dummies as C(Q('...'))[T.level].
    assert list(ours.params.index[:3]) == ["Intercept", "C(Q('região'))[T.norte]", "C(Q('região'))[T.sul]"]
    assert fitting.term_label("C(Q('região'))[T.norte]") == "região: norte"
    assert fitting.term_label("Q('days late')") == "days late"


@pytest.mark.parametrize("cluster", [None, "cust-id"])
def test_fit_logit_on_any_names_is_statsmodels_on_plain_names(frames, cluster):
    odd, plain = frames
    odd = odd.assign(**{"score ≥ 3": (odd["review score (1-5)"] >= 3).astype(float)})
    plain = plain.assign(top=(plain["y"] >= 3).astype(float))
    ours = fitting.fit_logit(odd, "score ≥ 3", ["days late", "class"], ["região"], cluster=cluster)
    cov = ({"cov_type": "cluster", "cov_kwds": {"groups": pd.factorize(plain["cust"])[0]}} if cluster else {"cov_type": "HC1"})
    direct = smf.logit("top ~ x + k + C(region)", plain).fit(disp=0, **cov)
    _same(ours, direct, atol=1e-8)


def test_a_name_that_reads_as_code_is_looked_up_never_run(tmp_path):
    marker = tmp_path / "ran"
    name = f"__import__('pathlib').Path({str(marker)!r}).touch()"
    frame = pd.DataFrame({"y": np.arange(20.0) % 7, name: np.arange(20.0)})
    fit = fitting.fit_ols(frame, "y", [name], cluster=None)
    assert not marker.exists()
    assert fitting.term(name) in fit.params.index
    assert fitting.column_of(fitting.term(name)) == name


@pytest.mark.parametrize("name", ["C", "Q", "cr", "I", "_cluster"])
def test_names_that_would_hide_a_formula_function_are_refused_with_the_reason(name):
    with pytest.raises(ValueError, match="name of a formula function"):
        fitting.term(name)


@pytest.mark.parametrize("name, written", [("csat", "csat"), ("class", "Q('class')"), ("a b", "Q('a b')"), ("True", "Q('True')"),
                                          ("x\ny", "Q('x\\ny')"), ("1st", "Q('1st')")])
def test_term_writes_identifiers_bare_and_everything_else_quoted(name, written):
    assert fitting.term(name) == written
    assert fitting.column_of(written) == name


def test_the_categorical_fast_path_builds_quoted_names_as_patsy_does(frames):
    import patsy

    odd, _ = frames
    frame = fitting.model_frame(odd, list(odd.columns), None)
    rhs = fitting.formula("review score (1-5)", ["days late"], ["região", "it's \"odd\""]).split("~", 1)[1]
    ours = design_matrix(frame, rhs)
    direct = patsy.dmatrix(rhs, frame, return_type="dataframe")
    assert list(ours.columns) == list(direct.columns)
    np.testing.assert_array_equal(ours.to_numpy(), direct.to_numpy())


def test_ordered_logit_on_any_names_is_statsmodels_ordered_model_on_plain_names(frames):
    odd, plain = frames
    score = np.clip(np.round(odd["review score (1-5)"]), 1, 5)
    odd, plain = odd.assign(**{"review score (1-5)": score}), plain.assign(y=score)
    frame = fitting.model_frame(odd, ["review score (1-5)", "days late", "região"], "cust-id")
    design = design_matrix(frame, fitting.formula("review score (1-5)", ["days late"], ["região"]).split("~", 1)[1])
    levels = pd.Categorical(frame["review score (1-5)"], ordered=True)
    ours = OrderedLogitModel(levels, design.drop(columns="Intercept")).fit(
        method="bfgs", disp=False, maxiter=2000, cov_type="cluster", cov_kwds={"groups": frame["_cluster"].to_numpy()})
    exog = pd.get_dummies(plain[["region"]], drop_first=True, dtype=float).assign(x=plain["x"])[["region_norte", "region_sul", "x"]]
    direct = OrderedModel(pd.Categorical(plain["y"], ordered=True), exog, distr="logit").fit(
        method="bfgs", disp=False, maxiter=2000, cov_type="cluster", cov_kwds={"groups": pd.factorize(plain["cust"])[0]})
    np.testing.assert_allclose(ours.params.to_numpy(), direct.params.to_numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.bse.to_numpy(), direct.bse.to_numpy(), rtol=1e-4)
    assert "Q('days late')" in ours.params.index


def test_cox_on_any_names_is_phreg_on_plain_names(frames):
    odd, plain = frames
    rng = np.random.default_rng(5)
    days = np.ceil(rng.exponential(30 / np.exp(0.3 * plain["x"].to_numpy())))
    status = (days <= 60).astype(float)
    odd = odd.assign(**{"days to next order": np.minimum(days, 60.0)})
    plain = plain.assign(t=np.minimum(days, 60.0))
    frame = fitting.model_frame(odd, ["days to next order", "days late", "região"], "cust-id")
    ours = formula_model(BreslowPHReg, fitting.formula("days to next order", ["days late"], ["região"]), frame,
                         drop_intercept=True, status=status, ties="breslow").fit(groups=frame["_cluster"].to_numpy())
    direct = PHReg.from_formula("t ~ x + C(region)", plain, status=status, ties="breslow").fit(
        groups=pd.factorize(plain["cust"])[0])
    np.testing.assert_allclose(ours.params, direct.params, rtol=1e-9)
    np.testing.assert_allclose(ours.bse, direct.bse, rtol=1e-9)
    assert ours.model.exog_names[0] == "C(Q('região'))[T.norte]"


def test_customer_bootstrap_of_a_design_with_any_names_is_that_of_plain_names(frames):
    odd, plain = frames
    frame = fitting.model_frame(odd, ["review score (1-5)", "days late", "região"], "cust-id")
    design = design_matrix(frame, fitting.formula("review score (1-5)", ["days late"], ["região"]).split("~", 1)[1])
    plain_design = design_matrix(fitting.model_frame(plain, ["y", "x", "region"], None), "x + C(region)")
    np.testing.assert_array_equal(design.to_numpy(), plain_design.to_numpy())
    codes = pd.factorize(plain["cust"], sort=True)[0]
    ours = cluster_bootstrap_ols([(design.to_numpy(), frame["review score (1-5)"].to_numpy())], codes, 50, 3)[0]
    direct = cluster_bootstrap_ols([(plain_design.to_numpy(), plain["y"].to_numpy())], codes, 50, 3)[0]
    np.testing.assert_array_equal(ours, direct)
    # One replicate by hand: customers drawn with the same generator, rows repeated, least squares.
    rng = np.random.default_rng(3)
    counts = np.bincount(rng.integers(0, codes.max() + 1, codes.max() + 1), minlength=codes.max() + 1)
    weights = counts[codes]
    x, y = plain_design.to_numpy(), plain["y"].to_numpy()
    by_hand = np.linalg.solve((x * weights[:, None]).T @ x, (x * weights[:, None]).T @ y)
    np.testing.assert_allclose(ours[0], by_hand, rtol=1e-9)
