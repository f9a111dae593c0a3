"""How strong a hidden confounder would have to be to erase the adjusted association (Cinelli & Hazlett 2020).

The adjusted least-squares slope gets the robustness values of :mod:`study.stats.sensitivity` and
bounds benchmarked on each control (a text control as the group of its dummies, a numeric one as its
own term): "a hidden factor as strong as <control>, on top of the controls, would move the slope to
...". The assumptions are those of :mod:`study.regression.sensitivity`: the factor acts linearly;
point quantities come from the classical OLS t, intervals from the model's robust or clustered SE.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from study.core.findings import Finding
from study.core.results import Estimate, Skipped
from study.core.words import pct, text
from study.drivers.findings import Scale
from study.drivers.rows import ModelRows
from study.regression.fitting import term
from study.stats.sensitivity import OLSSensitivity, ols_sensitivity

SECTION = "sensitivity to hidden confounding"


def benchmarks(fit, m: ModelRows) -> dict[str, list[str]]:
    """Each control's terms in the adjusted fit: its dummies (text) or its own term (numbers)."""
    names = list(fit.model.exog_names)
    out = {c: [term(c)] for c in m.numeric if term(c) in names}
    for control in m.categorical:
        prefix = f"C({term(control)})["
        dummies = [n for n in names if n.startswith(prefix)]
        if dummies:
            out[control] = dummies
    return out


def _key(name: str) -> str:
    """A control's name as part of an estimate's machine name (letters, digits, underscores)."""
    return re.sub(r"\W+", "_", name).strip("_") or "control"


def _share(value: float) -> str:
    return pct(value, 1 if value >= 0.01 or value == 0 else 2 if value >= 0.0001 else 4)


@dataclass
class DriverSensitivity:
    """Robustness values and benchmark bounds of the adjusted slope."""

    estimate: Estimate
    result: OLSSensitivity
    driver: str
    outcome: str
    scale: Scale

    def estimates(self) -> list[Estimate]:
        """Robustness values, and the slope with a hidden factor as strong as each control (1x) taken out."""
        from study.regression.sensitivity import robustness_estimates

        return robustness_estimates(self.estimate, self.result, self.driver, self.outcome, "robust", benchmark_key=_key)

    def summary(self) -> pd.DataFrame:
        """One row: the adjusted slope, its partial R² and robustness values."""
        r = self.result
        return pd.DataFrame([{"adjusted slope": self.estimate.value, "partial R²": r.partial_r2,
                              "robustness value": r.robustness_value,
                              f"robustness value ({1 - r.alpha:.0%})": r.robustness_value_alpha}])

    def table(self) -> pd.DataFrame:
        """The slope with a hidden factor 1, 2 and 3 times as strong as each control taken out."""
        columns = ["benchmark", "kd", "r2dz_x", "r2yz_dx", "adjusted_estimate", "ci_low", "ci_high", "note"]
        return self.result.bounds[columns].rename(columns={"kd": "times as strong"})

    def finding(self) -> Finding:
        """The robustness values in words, and where a factor as strong as each control would move the slope."""
        e, r = self.estimate, self.result
        level = f"{1 - r.alpha:.0%}"
        driver, outcome = text(self.driver), text(self.outcome)
        sentence = (f"**How strong a hidden confounder would have to be.** A hidden factor would have to explain "
                    f"{_share(r.robustness_value)} of the residual variance of both {driver} and {outcome} to erase the "
                    f"adjusted association (robustness value)"
                    + (f", and {_share(r.robustness_value_alpha)} of both for its {level} interval to include zero."
                       if r.robustness_value_alpha > 0 else f"; its {level} interval already includes zero."))
        ones = r.bounds[(r.bounds["kd"] == 1) & r.bounds["r2dz_x"].notna()]
        if len(ones):
            moved = "; ".join(f"{self.scale(row.adjusted_estimate)}{self.scale.suffix} ({text(row.benchmark)})"
                              for row in ones.itertuples())
            crossing = [text(row.benchmark) for row in ones.itertuples() if row.ci_low <= 0 <= row.ci_high]
            sentence += (f" A hidden factor as strong as each control, on top of the controls, would move the slope to "
                         f"{moved}; " + (f"at the strength of {' or '.join(crossing)} its {level} interval would include zero."
                                         if crossing else f"each {level} interval would still exclude zero."))
        names = (f"{e.name}_robustness_value", f"{e.name}_robustness_value_alpha")
        return Finding(sentence, names + tuple(f"{e.name}_bound_1x_{_key(b)}" for b in ones["benchmark"]))


def sensitivity(m: ModelRows, fit, estimate: Estimate, alpha: float) -> DriverSensitivity | Skipped:
    """Cinelli-Hazlett sensitivity of the adjusted slope; Skipped when its standard error is zero or undefined."""
    driver = term(m.driver)
    se = float(fit.bse[driver])
    if not (fit.df_resid > 1 and math.isfinite(se) and se > 0):
        return Skipped(SECTION, "the adjusted slope's standard error is zero or undefined")
    result = ols_sensitivity(fit, driver, benchmarks(fit, m), alpha=alpha)
    scale = Scale(m.outcome_kind.kind == "binary", estimate.se)
    return DriverSensitivity(estimate, result, m.driver, m.outcome, scale)
