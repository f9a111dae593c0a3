"""How strong a hidden confounder would have to be to erase the scenario model's speed slope (Cinelli & Hazlett 2020).

The adjusted slope of repeat purchase on log2 first response hours gets the robustness values of
:mod:`study.stats.sensitivity`: ``RV`` is the partial R² a hidden factor would need with both speed
and repeat purchase (after the variables held fixed) to bring the slope to zero, ``RV_alpha`` the
strength at which its interval would include zero. Each variable held fixed (a text one as the
group of its dummies) is a benchmark: "a hidden factor as strong as <it>, on top of it, would move
the slope to ...", and the strongest of them (the one whose bound moves the slope most) is named.
Assumptions as in :mod:`study.stats.sensitivity`: the hidden factor acts linearly; point quantities
come from the classical OLS t, the interval from the customer-clustered SE.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from study.core.results import Estimate, Skipped
from study.regression.fitting import SPEED, term
from study.stats.sensitivity import OLSSensitivity, ols_sensitivity

SECTION = "sensitivity of the adjusted slope to hidden confounding"


def benchmarks(fit, held: list[str]) -> dict[str, list[str]]:
    """Each held-fixed variable's terms in the fit: its own term (a flag or number) or its dummies (text)."""
    names = list(fit.model.exog_names)
    out = {}
    for column in held:
        own = term(column)
        dummies = [n for n in names if n.startswith(f"C({own})[")]
        terms = [own] if own in names else dummies
        if terms:
            out[column] = terms
    return out


def _key(name: str) -> str:
    return re.sub(r"\W+", "_", name).strip("_") or "control"


@dataclass
class SlopeSensitivity:
    """Robustness values of the adjusted slope and its benchmark bounds."""

    slope: Estimate
    result: OLSSensitivity

    @property
    def strongest(self) -> pd.Series | None:
        """The benchmark (1x) that moves the slope most, or None when no benchmark could be bounded."""
        ones = self.result.bounds[(self.result.bounds["kd"] == 1) & self.result.bounds["r2dz_x"].notna()]
        if not len(ones):
            return None
        return ones.loc[(ones["adjusted_estimate"] - self.slope.value).abs().idxmax()]

    @property
    def estimates(self) -> list[Estimate]:
        from study.regression.sensitivity import robustness_estimates

        return robustness_estimates(self.slope, self.result, "first response speed", "repeat purchase", "clustered",
                                    benchmark_words=lambda b: b.replace("_", " "), benchmark_key=_key)

    def table(self) -> pd.DataFrame:
        """The robustness values, then the slope with a hidden factor as strong as each held-fixed variable taken out."""
        r = self.result
        level = f"{1 - r.alpha:.0%}"
        rows = [{"what": "adjusted slope (per doubling)", "value": self.slope.value, "CI": _ci(self.slope.ci_low, self.slope.ci_high)},
                {"what": "partial R² of speed with repeat purchase", "value": r.partial_r2, "CI": ""},
                {"what": "robustness value: erases the slope", "value": r.robustness_value, "CI": ""},
                {"what": f"robustness value: its {level} interval reaches zero", "value": r.robustness_value_alpha, "CI": ""}]
        for row in r.bounds.itertuples():
            if row.kd == 1 and not pd.isna(row.r2dz_x):
                rows.append({"what": f"slope with a hidden factor as strong as {row.benchmark.replace('_', ' ')} taken out",
                             "value": row.adjusted_estimate, "CI": _ci(row.ci_low, row.ci_high)})
        return pd.DataFrame(rows).set_index("what")


def _ci(low: float, high: float) -> str:
    return f"{low:+.4f} to {high:+.4f}"


def sensitivity(fit, slope: Estimate, held: list[str], alpha: float = 0.05) -> SlopeSensitivity | Skipped:
    """Cinelli-Hazlett sensitivity of the scenario model's speed slope.

    Parameters
    ----------
    fit : statsmodels RegressionResults
        The adjusted model of :func:`study.predict.scenarios.scenarios`.
    slope : Estimate
        Its speed slope.
    held : list of str
        The variables it holds fixed (the benchmarks).
    alpha : float
    """
    se = float(fit.bse[SPEED])
    if not (fit.df_resid > 1 and math.isfinite(se) and se > 0):
        return Skipped(SECTION, "the adjusted slope's standard error is zero or undefined")
    return SlopeSensitivity(slope, ols_sensitivity(fit, SPEED, benchmarks(fit, held), kd=(1.0,), alpha=alpha))
