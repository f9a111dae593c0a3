"""Average marginal effects of a logit with their exact delta-method gradient.

What ``LogitResults.get_margeff(at="overall", method="dydx", dummy=True).summary_frame(alpha)``
reports, for the requested terms only: statsmodels computes the effect of every column and
differentiates each effect numerically (complex step) with a pass over the data per parameter,
which on a million tickets costs more than the fit. Here, with ``p_i = F(x_i'b)`` (F logistic,
``f = F (1 - F)``):

- a continuous column j: ``mean f(x_i'b) * b_j``, gradient
  ``b_j * mean f(x_i'b) (1 - 2 p_i) x_i + e_j * mean f(x_i'b)``;
- a 0/1 column (statsmodels' test: minimum 0, maximum 1, whole numbers): the average change
  ``mean F(x_i1'b) - F(x_i0'b)`` with column j set to 1 and to 0, gradient
  ``mean f(x_i1'b) x_i1 - f(x_i0'b) x_i0``;

and the standard error ``sqrt(g' V g)`` with the fit's covariance V (clustered, if it is).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

from study.core.inference import critical_value, wald_p_value

COLUMNS = ["dy/dx", "Std. Err.", "z", "Pr(>|z|)", "Conf. Int. Low", "Cont. Int. Hi."]


def is_binary(column: np.ndarray) -> bool:
    """statsmodels' test for a dummy column: minimum 0, maximum 1, whole numbers only."""
    return bool(column.min() == 0 and column.max() == 1 and np.all(column % 1.0 == 0))


def logit_effect(params: np.ndarray, exog: np.ndarray, column: int) -> tuple[float, np.ndarray]:
    """Average marginal effect of one column of a logit and its gradient in ``params``.

    Parameters
    ----------
    params : numpy.ndarray, (k,)
    exog : numpy.ndarray, (n, k)
    column : int

    Returns
    -------
    value : float
    gradient : numpy.ndarray, (k,)
    """
    linear = exog @ params
    n = len(exog)
    if is_binary(exog[:, column]):
        off = linear - exog[:, column] * params[column]
        on = off + params[column]
        density_on, density_off = expit(on) * expit(-on), expit(off) * expit(-off)
        gradient = (density_on - density_off) @ exog / n
        gradient[column] = density_on.mean()  # the column is 1 and 0 in the two designs
        return float(np.mean(expit(on) - expit(off))), gradient
    probability = expit(linear)
    density = probability * expit(-linear)
    gradient = params[column] * ((density * (1 - 2 * probability)) @ exog) / n
    gradient[column] += density.mean()
    return float(density.mean() * params[column]), gradient


def logit_marginal_effects(fit, terms: list[str], alpha: float = 0.05) -> pd.DataFrame:
    """Average marginal effects of ``terms`` in a fitted statsmodels ``Logit``, by the delta method.

    Parameters
    ----------
    fit : statsmodels LogitResults
    terms : list of str
        Names of columns of the model's design.
    alpha : float
        1 - confidence level of the interval.

    Returns
    -------
    pandas.DataFrame
        Indexed by term, with the columns of statsmodels' margins ``summary_frame``:
        ``dy/dx``, ``Std. Err.``, ``z``, ``Pr(>|z|)``, ``Conf. Int. Low``, ``Cont. Int. Hi.``.
    """
    params, exog = np.asarray(fit.params, dtype=float), np.asarray(fit.model.exog, dtype=float)
    cov = np.asarray(fit.cov_params())
    names = list(fit.model.exog_names)
    crit = critical_value(alpha)
    rows = []
    for term in terms:
        value, gradient = logit_effect(params, exog, names.index(term))
        se = float(np.sqrt(gradient @ cov @ gradient))
        z = value / se
        rows.append([value, se, z, wald_p_value(value, se), value - crit * se, value + crit * se])
    return pd.DataFrame(rows, index=pd.Index(terms), columns=COLUMNS)
