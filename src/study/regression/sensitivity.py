"""How strong would a hidden confounder have to be? Sensitivity of the observational headlines of 02 and 03.

Notebook 02's adjusted OLS slopes (speed and resolution) get Cinelli-Hazlett robustness values and
bounds benchmarked on each measured confounder (:mod:`study.stats.sensitivity`); notebook 03's
logit (average marginal effect of speed on repeat purchase) and Cox hazard ratio get E-values
(:mod:`study.stats.evalues`).

What the numbers assume, in words:

- Robustness value: a single hidden factor (or all of them together) acting linearly; it says how
  much of the residual variance of *both* the exposure and CSAT the factor would have to explain to
  bring the estimate to zero (or to make its interval include zero). It makes no assumption about
  how the factor is distributed.
- Benchmarks: "as strong as issue category" means a hidden factor that explains as much of the
  exposure and of CSAT as the category dummies do, beyond the other controls, and that is unrelated
  to the controls themselves (Cinelli & Hazlett 2020, section 6). A categorical control is
  benchmarked as the group of all its dummies (``sensemakr``'s ``group_partial_r2``).
- Standard errors: the models cluster by customer. Point quantities (partial R², robustness value,
  adjusted estimate) come from the classical OLS t, which the bias formula is exact for; the
  interval-based ones scale the clustered SE (see :mod:`study.stats.sensitivity`).
- E-values: a confounder associated with both the exposure (one doubling of first response time)
  and buying again by the stated risk ratio, above the measured controls. The average marginal
  effect is turned into a risk ratio with the observed repeat rate as baseline; the hazard ratio
  with VanderWeele's conversion when more than 15% bought again (a common outcome).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pandas as pd

from study.core.findings import Finding, Findings, skipped
from study.core.inference import Interval, wald_p_value
from study.core.results import Estimate, Skipped
from study.core.words import number, pct, points
from study.regression.fitting import SPEED
from study.stats import evalues as ev
from study.stats.sensitivity import OLSSensitivity, ols_sensitivity

SECTION = "sensitivity to hidden confounding"
# The adjusted headlines of notebook 02: estimate name -> (model term, the exposure in words, the unit in words).
OLS_HEADLINES = {"csat_per_doubling_adjusted": (SPEED, "first response time", "CSAT points per doubling"),
                 "csat_resolved_adjusted": ("resolved", "resolution", "CSAT points")}
CONTROL_WORDS = {"category": "issue category", "loyalty_tier": "loyalty tier", "agent_id": "agent"}
_CATEGORICAL = re.compile(r"^C\((\w+)\)")


def benchmark_groups(fit) -> dict[str, list[str]]:
    """The categorical controls of a fitted model, ``{name: [its dummy terms]}``, from terms ``C(name)[...]``."""
    groups: dict[str, list[str]] = {}
    for term in fit.model.exog_names:
        match = _CATEGORICAL.match(term)
        if match:
            groups.setdefault(match.group(1), []).append(term)
    return groups


def _words(control: str) -> str:
    return CONTROL_WORDS.get(control, control.replace("_", " "))


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _value(value: float) -> str:
    """A signed estimate with two decimals, or three where two would print zero."""
    return number(value, 2 if abs(value) >= 0.005 else 3, signed=True)


def _share(value: float) -> str:
    """A partial R² as a percentage, with enough digits to stay above zero."""
    return pct(value, 1 if value >= 0.01 or value == 0 else 2 if value >= 0.0001 else 4)


@dataclass
class OLSHeadline:
    """The sensitivity of one adjusted OLS estimate.

    Attributes
    ----------
    estimate : Estimate
        The headline as the model reported it.
    exposure : str
        The exposure in words.
    result : study.stats.sensitivity.OLSSensitivity
        Robustness values, benchmark bounds, the contour grid.
    unit : str
        The estimate's unit in words.
    """

    estimate: Estimate
    exposure: str
    result: OLSSensitivity
    unit: str = "CSAT points"

    @staticmethod
    def benchmark_words(benchmark: str) -> str:
        """A benchmark (a control's column name) in words: ``category`` -> ``issue category``."""
        return _words(benchmark)

    def estimates(self) -> list[Estimate]:
        """Robustness values and the bound at each measured confounder's strength (1x), as estimates."""
        return robustness_estimates(self.estimate, self.result, self.exposure, "CSAT", "clustered", _words)

    def finding(self) -> Finding:
        """One plain sentence: the robustness values and where each measured confounder's strength would move it."""
        e, r = self.estimate, self.result
        level = f"{1 - r.alpha:.0%}"
        text = (f"**How strong a hidden confounder would have to be ({self.exposure}).** A hidden factor would have to "
                f"explain {_share(r.robustness_value)} of the residual variance of both {self.exposure} and CSAT to "
                f"erase the adjusted association of {_value(e.value)} {self.unit} (robustness value)"
                + (f", and {_share(r.robustness_value_alpha)} of both for its {level} interval to include zero."
                   if r.robustness_value_alpha > 0 else f"; its {level} interval already includes zero."))
        ones = self.result.bounds[(self.result.bounds["kd"] == 1) & self.result.bounds["r2dz_x"].notna()]
        if len(ones):
            moved = _listed([f"{_value(row.adjusted_estimate)} ({_words(row.benchmark)})" for row in ones.itertuples()])
            crossing = [_words(row.benchmark) for row in ones.itertuples() if row.ci_low <= 0 <= row.ci_high]
            text += (f" A hidden factor as strong as each measured confounder, on top of them, would move it to {moved}; "
                     + (f"at the strength of {' or '.join(crossing)} its {level} interval would include zero."
                        if crossing else f"each {level} interval would still exclude zero."))
        names = (f"{e.name}_robustness_value", f"{e.name}_robustness_value_alpha")
        return Finding(text, names + tuple(f"{e.name}_bound_1x_{b}" for b in ones["benchmark"]))


@dataclass
class ConfoundingSensitivity:
    """Sensitivity of notebook 02's adjusted headlines (:func:`satisfaction_sensitivity`)."""

    headlines: list[OLSHeadline]
    notes: list[str] = field(default_factory=list)

    def get(self, name: str) -> OLSHeadline:
        """The headline whose estimate is called ``name``."""
        return next(h for h in self.headlines if h.estimate.name == name)

    @property
    def estimates(self) -> list[Estimate]:
        return [e for h in self.headlines for e in h.estimates()]

    def table(self) -> pd.DataFrame:
        """Every benchmark bound of every headline, one row each (multiples 1, 2 and 3)."""
        frames = [h.result.bounds.assign(estimate=h.estimate.name, unadjusted=h.estimate.value) for h in self.headlines]
        if not frames:
            return pd.DataFrame()
        table = pd.concat(frames, ignore_index=True)
        return table[["estimate", "unadjusted", *[c for c in table.columns if c not in ("estimate", "unadjusted")]]]

    def summary(self) -> pd.DataFrame:
        """One row per headline: estimate, partial R², robustness values."""
        return pd.DataFrame([{"association": h.exposure, "value": h.estimate.value, "partial R²": h.result.partial_r2,
                              "robustness value": h.result.robustness_value,
                              f"robustness value ({1 - h.result.alpha:.0%})": h.result.robustness_value_alpha}
                             for h in self.headlines]).set_index("association")

    def findings(self) -> Findings:
        return Findings([h.finding() for h in self.headlines])


def robustness_estimates(e: Estimate, r, exposure: str, outcome: str, se_kind: str,
                         benchmark_words=str, benchmark_key=str) -> list[Estimate]:
    """The robustness values of an adjusted OLS estimate and its bound at each benchmark's strength (1x).

    Parameters
    ----------
    e : Estimate
        The adjusted estimate.
    r : study.stats.sensitivity.OLSSensitivity
        Its sensitivity analysis.
    exposure, outcome : str
        Words for the two variables a hidden factor would have to explain.
    se_kind : str
        How the model's standard error was computed (``clustered``, ``robust``), for the method text.
    benchmark_words, benchmark_key : callable
        A benchmark's column name in words, and as part of a machine name.
    """
    method = (f"Cinelli & Hazlett (2020) omitted-variable sensitivity of {e.name}; point quantities from the "
              f"classical OLS t, significance from the model's {se_kind} SE; observational")
    common = {"n": e.n, "method": method, "ci_level": 1 - r.alpha, "model": e.model}
    out = [
        Estimate(f"{e.name}_robustness_value",
                 f"Robustness value of '{e.label}': partial R² a hidden factor would need with both "
                 f"{exposure} and {outcome} to explain the estimate away", r.robustness_value, None, None, None,
                 None, extra={"q": r.q, "partial_r2": r.partial_r2, "t_classical": r.t, "dof": r.dof}, **common),
        Estimate(f"{e.name}_robustness_value_alpha",
                 f"Robustness value at the {1 - r.alpha:.0%} level of '{e.label}': partial R² a hidden factor would "
                 f"need with both {exposure} and {outcome} for the interval to include zero",
                 r.robustness_value_alpha, None, None, None, None,
                 extra={"q": r.q, "alpha": r.alpha, "se_ratio": r.se_robust / r.se}, **common),
    ]
    for row in r.bounds.itertuples():
        if row.kd != 1 or getattr(row, "ky", 1) != 1 or pd.isna(row.r2dz_x):
            continue
        p = wald_p_value(row.adjusted_estimate, row.adjusted_se, r.dof) if row.adjusted_se > 0 else None
        extra = {name: getattr(row, name) for name in ("benchmark", "kd", "ky", "r2dz_x", "r2yz_dx", "r2dxj_x",
                                                       "r2yxj_dx", "note") if hasattr(row, name)}
        out.append(Estimate(
            f"{e.name}_bound_1x_{benchmark_key(row.benchmark)}",
            f"{e.label}, with a hidden factor as strong as {benchmark_words(row.benchmark)} taken out",
            row.adjusted_estimate, row.adjusted_se, row.ci_low, row.ci_high, p, extra=extra,
            interval=Interval(df=r.dof), **common))
    return out


def satisfaction_sensitivity(drivers, alpha: float = 0.05, kd: tuple[float, ...] = (1.0, 2.0, 3.0)) -> ConfoundingSensitivity | Skipped:
    """Robustness values and benchmark bounds of notebook 02's adjusted OLS headlines.

    Parameters
    ----------
    drivers : study.regression.models.SatisfactionDrivers or Skipped
        Its ``fits["adjusted"]`` is analysed; every categorical control in it (``C(name)`` terms:
        category, channel, loyalty tier, agent where present) is a benchmark.
    alpha : float
        Level of the significance robustness value and of the adjusted intervals.
    kd : tuple of float
        Multiples of each benchmark's strength in the bounds table.

    Returns
    -------
    ConfoundingSensitivity or Skipped
    """
    if isinstance(drivers, Skipped):
        return Skipped(SECTION, drivers.reason)
    fit = drivers.fits["adjusted"]
    groups = benchmark_groups(fit)
    headlines, notes = [], []
    for name, (term, words, unit) in OLS_HEADLINES.items():
        estimate = next((e for e in drivers.adjusted if e.name == name), None)
        if estimate is None or term not in fit.model.exog_names:
            continue
        if not (fit.df_resid > 1 and math.isfinite(float(fit.bse[term])) and float(fit.bse[term]) > 0):
            notes.append(f"{SECTION} of {name}: skipped, its standard error is zero or undefined")
            continue
        headlines.append(OLSHeadline(estimate, words, ols_sensitivity(fit, term, groups, kd=kd, alpha=alpha), unit))
    if not headlines:
        return Skipped(SECTION, notes[0].split(": skipped, ")[1] if notes else "no adjusted headline to analyse")
    return ConfoundingSensitivity(headlines, notes)


# E-values of notebook 03.

@dataclass
class EValueHeadline:
    """E-values of one ratio-type (or risk-difference) headline."""

    estimate: Estimate
    values: ev.EValues
    detail: str

    def estimates(self) -> list[Estimate]:
        e, v = self.estimate, self.values
        method = f"E-value (VanderWeele & Ding 2017) of {e.name}; {v.conversion}; observational"
        common = {"n": e.n, "method": method, "ci_level": e.ci_level, "model": e.model, "extra": v.to_dict()}
        return [
            Estimate(f"{e.name}_evalue", f"E-value of '{e.label}': risk ratio a hidden factor would need with both "
                     "first response time and buying again to explain the association away", v.point, None, None, None,
                     None, **common),
            Estimate(f"{e.name}_evalue_ci", f"E-value of the {e.ci_level:.0%} interval of '{e.label}': risk ratio needed "
                     "for the interval to include no association", v.limit, None, None, None, None, **common),
        ]

    def finding(self, title: str) -> Finding:
        v, level = self.values, f"{self.estimate.ci_level:.0%}"
        tail = (f"its {level} interval already includes no association." if v.limit == 1 else
                f"{number(v.limit, 2)} each would be enough for its {level} interval to include no association.")
        return Finding(
            f"**How strong a hidden confounder would have to be ({title}).** {self.detail} A hidden factor would have "
            f"to be associated with both first response time (per doubling) and buying again by a risk ratio of "
            f"{number(v.point, 2)} each, beyond the measured controls, to explain the association away (E-value); "
            f"{tail}", (f"{self.estimate.name}_evalue", f"{self.estimate.name}_evalue_ci"))


def logit_evalues(logits) -> EValueHeadline | Skipped:
    """E-values of the total average marginal effect of speed on repeat purchase (``repeat_per_doubling_total``).

    The risk difference is turned into a risk ratio ``(p0 + AME) / p0`` with ``p0`` the observed
    repeat rate of the model's rows (:func:`study.stats.evalues.evalues`, measure ``RD``).
    """
    estimate = logits.get("repeat_per_doubling_total")
    if estimate is None or "total" not in logits.fits:
        return Skipped(f"{SECTION} (repeat purchase)", logits.skipped_models.get("without CSAT", "the logit was not fitted"))
    baseline = float(logits.fits["total"].model.endog.mean())
    try:
        values = ev.evalues(estimate.value, estimate.ci_low, estimate.ci_high, "RD", baseline=baseline)
    except ValueError as error:
        return Skipped(f"{SECTION} (repeat purchase)", str(error))
    detail = (f"Each doubling of first response time goes with {points(estimate.value)} in repeat purchase, from an "
              f"observed rate of {pct(baseline)}: a risk ratio of {number(values.rr, 3)}.")
    return EValueHeadline(estimate, values, detail)


def hazard_evalues(survival) -> EValueHeadline | Skipped:
    """E-values of the Cox hazard ratio per doubling (``repurchase_hazard_ratio_per_doubling``).

    The outcome counts as common, and the hazard ratio is converted, when more than 15% of the
    model's tickets were followed by a purchase (``EValue``'s rule).
    """
    if survival.skipped or survival.fit is None:
        return Skipped(f"{SECTION} (time to next purchase)", survival.skipped or "the Cox model was not fitted")
    estimate = survival.get("repurchase_hazard_ratio_per_doubling")
    share = float(pd.Series(survival.fit.model.status).mean())
    rare = share < ev.RARE_BELOW
    values = ev.evalues(estimate.value, estimate.ci_low, estimate.ci_high, "HR", rare=rare)
    detail = (f"The hazard ratio of a next purchase is {number(estimate.value, 3)} per doubling; with "
              f"{pct(share, 0)} of tickets followed by a purchase the outcome is {'rare' if rare else 'common'}, "
              f"so it is read as a risk ratio of {number(values.rr, 3)}.")
    return EValueHeadline(estimate, values, detail)


@dataclass
class RepeatEValues:
    """E-values of notebook 03's observational headlines (:func:`repeat_evalues`)."""

    logit: EValueHeadline | Skipped
    hazard: EValueHeadline | Skipped

    @property
    def estimates(self) -> list[Estimate]:
        return [e for part in (self.logit, self.hazard) if not isinstance(part, Skipped) for e in part.estimates()]

    def table(self) -> pd.DataFrame:
        """One row per headline: its risk ratio, interval and E-values."""
        rows = [{"association": title, "read as risk ratio": part.values.rr, "CI low": part.values.rr_low,
                 "CI high": part.values.rr_high, "E-value": part.values.point, "E-value of the interval": part.values.limit,
                 "conversion": part.values.conversion}
                for part, title in ((self.logit, "repeat purchase per doubling of the wait (logit)"),
                                    (self.hazard, "rate of buying again per doubling of the wait (Cox)"))
                if not isinstance(part, Skipped)]
        return pd.DataFrame(rows).set_index("association") if rows else pd.DataFrame()

    def findings(self) -> Findings:
        out = []
        for part, title in ((self.logit, "repeat purchase"), (self.hazard, "time to next purchase")):
            out.append(skipped(part.section, part.reason) if isinstance(part, Skipped) else part.finding(title))
        return Findings(out)


def repeat_evalues(result) -> RepeatEValues:
    """E-values of the logit's total effect of speed and of the Cox hazard ratio (notebook 03).

    Parameters
    ----------
    result : study.regression.repeat.RepeatStudy
    """
    return RepeatEValues(logit_evalues(result.logits), hazard_evalues(result.survival))

