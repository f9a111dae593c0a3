"""Least squares with one set of fixed effects absorbed: the within transformation.

A model with a dummy per group (per agent) has as many columns as groups; with thousands of agents
the dense design no longer fits in memory. By the Frisch-Waugh-Lovell theorem the other
coefficients are those of the regression of the outcome's deviations from its group means on the
regressors' deviations from theirs, and the residuals are the same. So is every robust covariance
built from the rows' scores (HC0, CR0: the rows of ``(X'X)^-1 X'`` that belong to the other
coefficients are those of the demeaned design); only the small-sample factors count columns, and
they must count the absorbed groups too. :func:`fit_absorbed` gives statsmodels' results for the
demeaned design with the residual degrees of freedom ``n - k - G`` and with the CR1 factor
``G_c / (G_c - 1) * (n - 1) / (n - k - G)`` of the dummy model, so its coefficients, standard
errors, intervals and p-values are those of statsmodels' OLS with ``C(group)`` dummies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from study.stats.ols import CholeskyOLS

# A column whose deviations from its group means keep less than this share of its variation is
# constant within every group: the fixed effects absorb it and it has no coefficient of its own.
_ABSORBED = 1e-10


def group_demean(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Each column of ``values`` minus its mean within the group ``codes`` (integers 0 .. G - 1)."""
    values = np.asarray(values, dtype=float)
    counts = np.bincount(codes)
    if values.ndim == 1:
        return values - (np.bincount(codes, values, counts.size) / counts)[codes]
    out = np.empty_like(values)
    for j in range(values.shape[1]):
        out[:, j] = values[:, j] - (np.bincount(codes, values[:, j], counts.size) / counts)[codes]
    return out


def absorbed_model(outcome: pd.Series, design: pd.DataFrame, groups: np.ndarray, formula: str = "") -> tuple[CholeskyOLS, list[str]]:
    """The demeaned least-squares model of an OLS with a fixed effect per group, to be fitted by :func:`fit_absorbed`.

    Returns
    -------
    model : CholeskyOLS
        On the demeaned data, with ``df_resid`` and ``df_model`` of the dummy model and the number
        of absorbed groups in ``model.absorbed_groups``.
    absorbed : list of str
        Columns of ``design`` constant within every group, left out (the fixed effects hold them).
    """
    codes, levels = pd.factorize(np.asarray(groups))
    n_groups = len(levels)
    design = design.drop(columns=[c for c in design.columns if c == "Intercept"])
    within = group_demean(design.to_numpy(dtype=float), codes)
    spread = ((design - design.mean()) ** 2).sum().to_numpy()
    kept = (within**2).sum(axis=0) > _ABSORBED * np.maximum(spread, 1e-300)
    absorbed = [c for c, keep in zip(design.columns, kept) if not keep]
    exog = pd.DataFrame(within[:, kept], columns=design.columns[kept], index=design.index)
    endog = pd.Series(group_demean(outcome.to_numpy(dtype=float), codes), index=outcome.index, name=outcome.name)
    # No constant by construction: telling statsmodels spares its rank check for a hidden one.
    model = CholeskyOLS(endog, exog, hasconst=False)
    n, k = exog.shape
    # The dummy model's rank: k regressors and one level per group (its intercept among them).
    model.df_resid = float(n - k - n_groups)
    model.df_model = float(k + n_groups - 1)
    model.formula = formula
    model.absorbed_groups = n_groups
    return model, absorbed


def fit_absorbed(model: CholeskyOLS, cov_type: str = "cluster", cov_kwds: dict | None = None, use_t: bool | None = None):
    """Fit a model of :func:`absorbed_model` with statsmodels' covariance ``cov_type``, counting the absorbed groups.

    HC1 and the classical covariance take the residual degrees of freedom from the model; the
    clustered ones (one or two ways) count the columns they see, so their CR1 factor is corrected
    from ``(n - 1) / (n - k)`` to the dummy model's ``(n - 1) / (n - k - G)``.
    """
    fit = model.fit(cov_type=cov_type, cov_kwds=cov_kwds, use_t=use_t)
    if cov_type == "cluster":
        n, k = model.exog.shape
        fit._results.cov_params_default = fit._results.cov_params_default * (n - k) / (n - k - model.absorbed_groups)
    return fit
