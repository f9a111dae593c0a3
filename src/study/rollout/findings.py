"""A rollout analysis in words: the executive sentence, each outcome, the pre-trend checks, the pilot, the assumptions."""

from __future__ import annotations

from study.core.findings import Finding, Findings, skipped
from study.core.results import Estimate, Skipped, format_p
from study.rollout import pilot as pilots
from study.rollout.did import PreTrend
from study.rollout.panel import OUTCOMES, UNITS

# The heading of 07's section that shows the effects (the index links to it).
SECTION = "Naive before/after beside the right comparison"
HEADLINE_ORDER = ("csat", "log2_response_hours", "resolution_rate", "repeat_purchase", "log2_resolution_hours")
# What comes faster or slower, for a time compared on the log scale.
TIMED = {"log2_response_hours": "first replies came", "log2_resolution_hours": "resolved cases were closed"}
RATES = ("resolution_rate", "repeat_purchase")


def _number(value: float, digits: int, signed: bool) -> str:
    """``value`` to ``digits`` decimals, or to two significant digits where those would show a zero (never "+0.0")."""
    value = value if signed else abs(value)
    text = f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    if value and float(text) == 0:
        text = f"{value:+.2g}" if signed else f"{value:.2g}"
    return text


def amount(outcome: str, value: float, signed: bool = False) -> str:
    """A change in the outcome's unit: ``0.08 points``, ``1.2 hours``, ``2.1 percentage points``."""
    scale, digits = (100, 1) if outcome in RATES else (1, 2)
    return f"{_number(value * scale, digits, signed)} {UNITS[outcome]}"


def interval(outcome: str, e: Estimate) -> str:
    scale, digits = (100, 1) if outcome in RATES else (1, 2)
    return f"{e.ci_level:.0%} CI {_number(e.ci_low * scale, digits, True)} to {_number(e.ci_high * scale, digits, True)}"


def _times(value: float) -> str:
    """A change of log2 hours as a factor: -0.52 -> ``1.43 times as fast``; +0.3 -> ``1.23 times as slow``."""
    return f"{2 ** abs(value):.2f} times as {'fast' if value < 0 else 'slow'}"


def _unclear(e: Estimate) -> str:
    return "; not distinguishable from no change" if e.ci_low is not None and e.ci_low <= 0 <= e.ci_high else ""


def effect_sentence(result, outcome: str) -> str:
    """One outcome's estimate in words, as a comparison (observational), with the naive comparison it corrects."""
    e = result.effects()[outcome]
    short = OUTCOMES[outcome][1]
    naive = result.naive.get(outcome)
    staggered = result.design == "staggered"
    against = "the teams not yet adopted imply" if staggered else "the trend of the weeks before implies"
    method = "difference in differences" if staggered else "interrupted time series"
    if outcome in TIMED:
        said = f"; a naive before/after comparison would have said {_times(naive.value)}" if naive else ""
        return (f"{'In the teams that adopted, a' if staggered else 'A'}fter go-live {TIMED[outcome]} {_times(e.value)} "
                f"as {against} ({method}: {e.value:+.2f} log2 hours, {interval(outcome, e)}{_unclear(e)}){said}.")
    said = f"; a naive before/after comparison would have said {amount(outcome, naive.value, signed=True)}" if naive else ""
    where = " in the teams that adopted" if staggered else ""
    return (f"After go-live, {short}{where} was {amount(outcome, e.value)} {'higher' if e.value > 0 else 'lower'} than "
            f"{against} ({method}, {interval(outcome, e)}{_unclear(e)}){said}.")


def findings(result, truth: dict | None = None) -> Findings:
    """The executive sentence first, then each outcome, the checks, the pilot and the truth (simulations)."""
    if result.skipped:
        return Findings([skipped("rollout analysis", result.skipped, headline=True)])
    out = []
    effects = result.effects()
    ordered = [o for o in HEADLINE_ORDER if o in effects]
    for i, outcome in enumerate(ordered):
        e = effects[outcome]
        names = (e.name, *((result.naive[outcome].name,) if outcome in result.naive else ()))
        out.append(Finding(effect_sentence(result, outcome), names, headline=i == 0, section=SECTION))
    if result.did_skipped and result.design == "staggered":
        out.append(skipped("comparison with teams not yet adopted", result.did_skipped, headline=not ordered))
    elif result.its_skipped and result.design == "at_once":
        out.append(skipped("interrupted time series", result.its_skipped, headline=not ordered))
    out += [skipped(s.section, s.reason) for s in [*result.att.values(), *result.its.values()] if isinstance(s, Skipped)]
    for outcome, test in result.pretrend.items():
        if isinstance(test, PreTrend):
            out.append(_pretrend(outcome, test, result.alpha))
    if result.design == "at_once" and not result.its_skipped:
        out.append(Finding("The time series assumes the trend of the weeks before would have continued without the "
                           "change; a sale peak or another change in the same weeks is read as part of the effect.",
                           kind="warning"))
    out += _pilot(result)
    out += _truth(result, truth or {})
    return Findings(out)


def _pretrend(outcome: str, test: PreTrend, alpha: float) -> Finding:
    short = OUTCOMES[outcome][1]
    name = f"rollout_pretrend_p_{outcome}"
    if test.p_value >= alpha:
        return Finding(f"Before adopting, the adopting teams' {short} moved like the other teams' (joint test of "
                       f"{test.df_num} weeks before adoption, {_p(test.p_value)}): no sign against parallel "
                       "trends, which a test cannot prove.", (name,), kind="check")
    return Finding(f"Before adopting, the adopting teams' {short} already drifted away from the other teams' (joint test "
                   f"of {test.df_num} weeks before adoption, {_p(test.p_value)}): parallel trends look doubtful, "
                   f"so read the effect on {short} with care.", (name,), kind="warning")


def _pilot(result) -> list[Finding]:
    comparison = result.pilot
    if comparison is None:
        return []
    if isinstance(comparison, Skipped):
        return [skipped(comparison.section, comparison.reason)]
    out = []
    for outcome, diff in comparison.differences.items():
        p, r = comparison.pilot[outcome], comparison.rollout[outcome]
        word = pilots.verdict(p, r, diff, result.alpha)
        short = OUTCOMES[outcome][1]
        out.append(Finding(
            f"The pilot's effect on {short} {word} at scale: {amount(outcome, p.value, True)} in the randomized pilot "
            f"({interval(outcome, p)}), {amount(outcome, r.value, True)} in the rollout ({interval(outcome, r)}); "
            f"difference {amount(outcome, diff.value, True)} ({_p(diff.p_value)}).",
            (p.name, r.name, diff.name)))
    return out


def _truth(result, truth: dict) -> list[Finding]:
    out = []
    for outcome, e in result.effects().items():
        key = f"rollout_att_{outcome}"
        if key in truth:
            value = float(truth[key])
            covers = "covers" if e.covers(value) else "misses"
            out.append(Finding(f"Simulation: the true average effect on {OUTCOMES[outcome][1]} is "
                               f"{amount(outcome, value, True)}; the interval {covers} it.", (e.name,), kind="truth"))
    return out


def pretrend_estimate(outcome: str, test: PreTrend, att: Estimate) -> Estimate:
    """The pre-trend test for the results file: its p-value as the value, F and degrees of freedom in ``extra``."""
    return Estimate(f"rollout_pretrend_p_{outcome}", f"{OUTCOMES[outcome][0]}: p-value of the joint test that the "
                    "adopting teams moved like the others in the weeks before adopting", test.p_value, None, None, None,
                    test.p_value, att.n, "joint Wald test of the event-study leads, Hotelling's T² as F(leads, teams - leads), team-clustered",
                    att.ci_level, {"F": test.statistic, "df_num": test.df_num, "df_den": test.df_den,
                                   "leads": test.leads})


def assumptions(result) -> list[str]:
    """The identifying assumptions, in words about this rollout."""
    if result.skipped:
        return []
    survey = ("CSAT counts answered surveys only: if the change altered who answers, the CSAT comparison mixes the "
              "change in satisfaction with the change in who reports it.")
    if result.design == "at_once":
        return [("Continued trend: without the change, each indicator would have kept the trend of the weeks before "
                 "(no other change, staffing shift or sale peak began at go-live)."),
                "No anticipation: the weeks before go-live were not already affected by preparing for it.", survey]
    return [("Parallel trends: teams that adopted later would have followed the same path as the early adopters, had "
             "the early adopters not made the change; differences in level between teams are allowed, differences in "
             "direction are not."),
            ("No anticipation: a team's indicators did not move in the weeks before its own go-live (training, "
             "announcements); the pre-trend test looks for this."),
            "Nothing else changed at each team's go-live: no new staff, tool or policy arrived in the same week.",
            ("Common shocks: sale peaks and seasons hit adopting and not-yet-adopting teams alike (the week effects "
             "absorb them only if so)."),
            ("Response time: sale peaks and growth usually multiply waiting times by a factor, which leaves fast and "
             "slow teams parallel in log hours but not in hours; where the two scales disagree, read the log scale."),
            survey]


def model_words(result) -> list[str]:
    """The models in words."""
    out = [("Unit of analysis: team x week cells (weeks start on Monday), each outcome's cell mean weighted by its "
            "number of tickets (answered surveys for CSAT), which reproduces the ticket-level estimate.")]
    if result.design == "staggered" and not result.did_skipped:
        out.append("Comparison with teams not yet adopted: Gardner's two-stage difference-in-differences (pyfixest.did2s, "
                   "the imputation estimator): team and week effects are fitted on the cells of teams that had not yet "
                   "adopted; each adopted cell's outcome without the change is imputed from them; the effect is the "
                   "ticket-weighted mean difference over the adopted cells. Early and late adopters are never compared "
                   "after both adopted, so effects that differ between cohorts or grow with time do not bias it.")
        out.append("Uncertainty: the leave-one-team-out jackknife (each team dropped in turn and the effect estimated "
                   "again), with Student's t on teams - 1 degrees of freedom; with a few dozen teams the usual "
                   "clustered sandwich understates the variance. The pre-trend test regresses the outcome of the cells "
                   "not yet adopted on team and week effects and the weeks before go-live (standard errors clustered "
                   "by team), read as Hotelling's T² with the number of teams.")
        out.append(f"Event study: after go-live, the same two stages with one effect per week since adoption; before "
                   f"go-live, the pre-trend regression's estimates against week -1; weeks beyond "
                   f"{result.parameters['window']} pooled into the last one on each side.")
    if result.design == "at_once" and not result.its_skipped:
        out.append("Interrupted time series: weekly means regressed on a trend, a jump at go-live and a change of slope "
                   "after it (yearly season terms with a year of data or more), Newey-West standard errors.")
    out.append("Naive before/after: the adopting teams' mean after adoption minus their mean before, nothing else "
               "held fixed; it is shown only to say how much the trend, the seasons and who adopted first move it.")
    return out


def _p(p: float | None) -> str:
    """``p = 0.034`` or ``p < 0.001``."""
    words = format_p(p)
    return f"p {words[0]} {words[1:]}" if words.startswith("<") else f"p = {words}"
