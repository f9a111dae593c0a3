"""How fragile is the path through CSAT? Imai, Keele & Yamamoto's sensitivity parameter, and the assumptions.

The indirect effect ``a * b`` is causal only under sequential ignorability: among other things,
nothing unmeasured may drive both CSAT and buying again once speed and the controls are held
fixed. Such a factor would make the errors of the mediator model (``csat ~ speed + ...``) and the
outcome model (``repeat ~ speed + csat + ...``) correlated. Imai, Keele & Yamamoto (2010,
*Statistical Science* 25(1), 51-71; R ``mediation::medsens``) express the indirect effect (ACME)
as a function of that correlation ``rho``; for two linear models (their linear structural
equation model) it has a closed form:

    ``ACME(rho) = a * (sigma_1 / sigma_2) * (rho~ - rho * sqrt((1 - rho~^2) / (1 - rho^2)))``

with ``a`` the mediator model's speed coefficient, ``sigma_2`` its residual SD, ``sigma_1`` the
residual SD of the outcome model *without* CSAT (the total-effect model) and ``rho~`` the
correlation of those two models' residuals. At ``rho = 0`` it is ``a * b`` exactly (``b`` is the
regression of the total model's residual on the mediator model's); it is zero at ``rho = rho~``:
the sensitivity parameter, "a hidden factor correlating the two models' errors at ``rho~`` would
erase the path through CSAT". ``rho~^2`` is the product of the shares of the two models' residual
variance such a factor would have to explain (``R^2*_M R^2*_Y`` in the paper); as shares of the
outcomes' total variance it is ``(1 - R^2_M)(1 - R^2_Y) rho~^2``.

Derivation (why the formula holds, not only where it comes from): the total model's error is
``b e_2 + e_3``. Its variance ``sigma_1^2`` and its covariance with ``e_2``,
``rho~ sigma_1 sigma_2``, are identified; fixing ``corr(e_2, e_3) = rho`` leaves two equations in
``b`` and ``sd(e_3)``, whose solution is the ``b(rho)`` above, and ``ACME(rho) = a b(rho)``.
The outcome here is a linear probability model: the formula uses only second moments, so it
applies to it as fitted, with errors that are not normal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from study.regression.fitting import SPEED


@dataclass(frozen=True)
class MediationSensitivity:
    """The pieces of ``ACME(rho)`` for two linear models on the same rows.

    Attributes
    ----------
    a : float
        Speed coefficient of the mediator model.
    sigma_total, sigma_mediator : float
        Residual SDs of the total-effect model and of the mediator model (same divisor).
    rho_at_zero : float
        ``rho~``, the correlation of their residuals: the ``rho`` at which ACME is zero.
    r2_mediator, r2_outcome : float
        R-squared of the mediator model and of the outcome model with CSAT.
    """

    a: float
    sigma_total: float
    sigma_mediator: float
    rho_at_zero: float
    r2_mediator: float
    r2_outcome: float

    def acme(self, rho: npt.ArrayLike) -> np.ndarray | float:
        """``ACME(rho)``, the indirect effect if the two models' errors correlate at ``rho`` (|rho| < 1)."""
        return acme_at(rho, self.a, self.sigma_total, self.sigma_mediator, self.rho_at_zero)

    @property
    def residual_variance_product(self) -> float:
        """``R^2*_M R^2*_Y`` at which ACME is zero: shares of the residual variances, multiplied."""
        return self.rho_at_zero**2

    @property
    def total_variance_product(self) -> float:
        """``R~^2_M R~^2_Y`` at which ACME is zero: shares of the outcomes' total variances, multiplied."""
        return (1 - self.r2_mediator) * (1 - self.r2_outcome) * self.rho_at_zero**2

    def curve(self, rhos: npt.ArrayLike | None = None) -> pd.DataFrame:
        """ACME over a grid of ``rho`` (default -0.9 to 0.9 by 0.05), for a figure or a table."""
        rhos = np.round(np.arange(-0.9, 0.9001, 0.05), 2) if rhos is None else np.asarray(rhos, dtype=float)
        return pd.DataFrame({"rho": rhos, "indirect effect": self.acme(rhos)}).set_index("rho")


def acme_at(rho: npt.ArrayLike, a: float, sigma_total: float, sigma_mediator: float, rho_tilde: float) -> np.ndarray | float:
    """Imai, Keele & Yamamoto's ``ACME(rho)`` for two linear models (see the module docstring).

    Parameters
    ----------
    rho : float or array_like
        Correlation of the mediator and outcome models' errors, in (-1, 1).
    a : float
        Speed coefficient of the mediator model.
    sigma_total, sigma_mediator : float
        Residual SDs of the model without the mediator and of the mediator model.
    rho_tilde : float
        Correlation of those two models' residuals.

    Returns
    -------
    float or numpy.ndarray
    """
    rho = np.asarray(rho, dtype=float)
    value = a * sigma_total / sigma_mediator * (rho_tilde - rho * np.sqrt((1 - rho_tilde**2) / (1 - rho**2)))
    return float(value) if value.ndim == 0 else value


def from_fits(mediator, total, outcome, r2: tuple[float, float] | None = None) -> MediationSensitivity:
    """The sensitivity pieces from fitted OLS models on the same rows.

    Parameters
    ----------
    mediator : statsmodels OLS results
        ``csat ~ speed + controls``.
    total : statsmodels OLS results
        ``repeat ~ speed + controls`` (no CSAT).
    outcome : statsmodels OLS results
        ``repeat ~ speed + csat + controls``.
    r2 : (float, float), optional
        R-squared of the mediator and outcome models, when the fits' own would not be against
        the outcomes' total variation (fits with agents absorbed report the within-agent one).
    """
    e_mediator, e_total = np.asarray(mediator.resid), np.asarray(total.resid)
    # Same rows, same divisor: the ratio of the SDs and the correlation use the plain sums of squares.
    ss_mediator, ss_total = float(e_mediator @ e_mediator), float(e_total @ e_total)
    return MediationSensitivity(
        a=float(mediator.params[SPEED]), sigma_total=np.sqrt(ss_total / len(e_total)),
        sigma_mediator=np.sqrt(ss_mediator / len(e_mediator)),
        rho_at_zero=float(e_mediator @ e_total / np.sqrt(ss_mediator * ss_total)),
        r2_mediator=float(mediator.rsquared) if r2 is None else float(r2[0]),
        r2_outcome=float(outcome.rsquared) if r2 is None else float(r2[1]),
    )


def assumptions(interaction_words: str) -> list[str]:
    """The assumptions under which the split into a path through CSAT and a direct part is causal, in words.

    Parameters
    ----------
    interaction_words : str
        What the data say about a speed x CSAT interaction (its estimate and p-value).
    """
    return [
        ("sequential ignorability: given the controls, nothing unmeasured drives both speed and CSAT, both speed and "
         "buying again, or both CSAT and buying again, and no factor that speed itself changes drives both CSAT and "
         "buying again"),
        (f"no speed x CSAT interaction: a point of CSAT is worth the same in repeat purchase however fast the reply "
         f"({interaction_words})"),
        ("CSAT measured without error: a 1-5 answer is a noisy measure of satisfaction, and measurement error in the "
         "mediator biases the path through CSAT toward zero (and the direct part away from it)"),
        ("respondents only: the split is for customers who answer the survey; answering depends on speed and "
         "resolution, both held fixed, but the split need not be the same for customers who do not answer"),
    ]
