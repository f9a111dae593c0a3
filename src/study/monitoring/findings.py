"""The monitoring analysis in words: a status per indicator, each out-of-control week, trends and caveats.

Charts say when an indicator moved beyond what week-to-week sampling explains, never why: the words
say "fell below its lower limit in the week of 9 Nov 2026", name a high-volume week or a known event
beside it, and leave the cause to what else is known about that week.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from study.core.findings import Finding, Findings, skipped
from study.core.inference import WALD
from study.core.results import Estimate, Skipped, format_p
from study.core.words import text
from study.monitoring.indicators import INDICATORS, Indicator

LABELS = {i.name: i.label[:1].upper() + i.label[1:] for i in INDICATORS}
MOST_LISTED = 4  # weeks named in a status sentence before "and N more"


def label(indicator: Indicator) -> str:
    return LABELS[indicator.name]


def day(week: pd.Timestamp, year: bool = True) -> str:
    """'9 Nov 2026' (or '9 Nov')."""
    return f"{week.day} {week:%b %Y}" if year else f"{week.day} {week:%b}"


def value(indicator: Indicator, x: float) -> str:
    """A weekly value in its unit: '41.3%', '1.27 hours', '4.05'."""
    if indicator.rate:
        return f"{x * 100:.1f}%"
    return f"{x:.2f}{' hours' if indicator.unit == 'hours' else ''}"


def _digits(se: float) -> int:
    """Decimals to the second significant digit of a standard error, between 2 and 4."""
    # one digit beyond the standard error's first, so that a small slope does not print as 0.000
    return 2 if not math.isfinite(se) or se <= 0 else int(min(4, max(2, 1 - math.floor(math.log10(se)))))


def change_unit(indicator: Indicator) -> str:
    return "percentage points" if indicator.rate else indicator.unit


def _weeks_phrase(weeks: list[pd.Timestamp], tags: dict) -> str:
    """'the week of 9 Nov 2026', 'the weeks of 2 Nov (a high-volume week) and 9 Nov 2026', '... and 3 more'."""
    shown = weeks[:MOST_LISTED]
    parts = [day(w, year=(i == len(shown) - 1)) + (f" ({tags[w]})" if tags.get(w) else "") for i, w in enumerate(shown)]
    more = f" and {len(weeks) - len(shown)} more" if len(weeks) > len(shown) else ""
    if len(parts) == 1:
        return f"the week of {parts[0]}{more}"
    joined = ", ".join(parts[:-1]) + (", " if more else " and ") + parts[-1]
    return f"the weeks of {joined}{more}"


def _tags(chart) -> dict:
    """Week -> 'a high-volume week' / the known event, for weeks where that is worth saying beside a signal."""
    table = chart.table
    return {w: (f"known event: {e}" if e else f"a {v}") for w, v, e in zip(table.index, table["volume"], table["event"]) if v or e}


def _runs(weeks: list[pd.Timestamp]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Consecutive weeks grouped into (first, last) runs."""
    runs = []
    for w in weeks:
        if runs and (w - runs[-1][1]).days == 7:
            runs[-1] = (runs[-1][0], w)
        else:
            runs.append((w, w))
    return runs


def status(chart) -> str:
    """'CSAT: in control for 24 of 26 weeks; fell below its lower limit in the week of 9 Nov 2026; trend ...'."""
    t, ind = chart.table, chart.indicator
    calm = int(((t["signal"] == "") & (t["ewma_signal"] == "")).sum())
    parts = [f"{label(ind)}: in control for {calm} of {len(t)} weeks"]
    tags = _tags(chart)
    for direction, verb in (("below", "fell below its lower limit"), ("above", "rose above its upper limit")):
        weeks = list(t.index[t["signal"] == direction])
        if weeks:
            parts.append(f"{verb} in {_weeks_phrase(weeks, tags)}")
    for direction in ("below", "above"):
        runs = _runs(list(t.index[t["ewma_signal"] == direction]))
        if runs:
            spans = [f"the week of {day(a)}" if a == b else f"the weeks of {day(a, a.year != b.year)} to {day(b)}"
                     for a, b in runs[:3]]
            more = f" and {len(runs) - 3} more stretches" if len(runs) > 3 else ""
            joined = spans[0] if len(spans) == 1 else ", ".join(spans[:-1]) + (", " if more else " and ") + spans[-1]
            parts.append(f"its smoothed level (EWMA) was {direction} its {'lower' if direction == 'below' else 'upper'} "
                         f"limit in {joined}{more}")
    tr = chart.trend
    d = _digits(tr.se * (100 if ind.rate else 1))
    scale = 100 if ind.rate else 1
    unit = "percentage points" if ind.rate else ind.unit
    parts.append(f"trend {tr.slope * scale:+.{d}f} {unit} a week ({tr.level:.0%} CI {tr.ci_low * scale:+.{d}f} to "
                 f"{tr.ci_high * scale:+.{d}f})")
    return "; ".join(parts) + "."


def not_charted(indicator: Indicator, reason: str) -> str:
    return f"{label(indicator)}: not charted, {reason}."


def signal_rows(chart) -> list[dict]:
    """One row per Shewhart or EWMA signal of a chart, with the sentence that says it."""
    rows, ind, tags = [], chart.indicator, _tags(chart)
    who = "" if chart.unit == "all tickets" else f" ({chart.unit})"
    for week, r in chart.table.iterrows():
        tag = f" ({tags[week]})" if week in tags else ""
        for kind, signal, x, low, high in (("shewhart", r["signal"], r["value"], r["lower"], r["upper"]),
                                           ("ewma", r["ewma_signal"], r["ewma"], r["ewma_lower"], r["ewma_upper"])):
            if not signal:
                continue
            limit = low if signal == "below" else high
            verb = "fell below its lower limit" if signal == "below" else "rose above its upper limit"
            subject = label(ind) if kind == "shewhart" else f"{label(ind)}'s smoothed level (EWMA)"
            sentence = (f"{subject}{who} {verb} in the week of {day(week)}{tag}: {value(ind, x)} against "
                        f"{value(ind, limit)}")
            rows.append({"week": week, "indicator": label(ind), "unit": chart.unit,
                         "chart": chart.chart if kind == "shewhart" else "EWMA", "value": value(ind, x),
                         "limit": value(ind, limit), "direction": signal, "in words": sentence + "."})
    return rows


def trend_row(chart) -> dict:
    tr, ind = chart.trend, chart.indicator
    scale = 100 if ind.rate else 1
    total, _, low, high = tr.over_period()
    return {"indicator": label(ind), "unit": change_unit(ind), "per week": tr.slope * scale,
            "per week low": tr.ci_low * scale, "per week high": tr.ci_high * scale, "p-value": format_p(tr.p_value),
            "weeks": tr.weeks, f"over {tr.span} weeks": total * scale, "over the period low": low * scale,
            "over the period high": high * scale, "Newey-West lags": tr.maxlags}


def _why(chart) -> str:
    d = chart.dispersion
    spread = "binomial sampling" if chart.indicator.rate else "within-week variation"
    if chart.overdispersed and chart.limits.sigma_z > 1.0:
        return (f"the baseline weeks vary {d.ratio:.1f} times as much as {spread} allows ({d.test}, p {format_p(d.p_value)}): "
                f"limits widened by Laney's sigma_z = {chart.limits.sigma_z:.2f}")
    if chart.overdispersed:
        return (f"the baseline weeks vary {d.ratio:.1f} times as much as {spread} allows ({d.test}, p {format_p(d.p_value)}), "
                f"but from week to week no more than sampling (Laney's sigma_z {d.sigma_z:.2f}): a drift or step inside "
                "the baseline, not noise; textbook limits")
    return f"the baseline weeks vary as {spread} allows ({d.test}, p {format_p(d.p_value)}): textbook limits"


def choice_row(chart) -> dict:
    d = chart.dispersion
    base = chart.table.index[chart.table["baseline"]]
    return {"indicator": label(chart.indicator), "chart": chart.chart, "center": value(chart.indicator, chart.limits.center),
            "baseline": f"{day(base[0])} to {day(base[-1])}", "dispersion test": d.test,
            "spread / sampling": round(d.ratio, 2), "p-value": format_p(d.p_value),
            "sigma_z": round(chart.limits.sigma_z, 2), "why": _why(chart)}


def team_cell(chart) -> str:
    if isinstance(chart, Skipped):
        return "left out"
    t = chart.table
    calm = int(((t["signal"] == "") & (t["ewma_signal"] == "")).sum())
    return f"{calm} of {len(t)} in control"


def estimates(chart) -> list[Estimate]:
    """Trend per week and over the period, weeks out of control and the latest week, for the results file."""
    ind, tr, t = chart.indicator, chart.trend, chart.table
    unit = "share (0.01 = 1 percentage point)" if ind.rate else ind.unit
    method = (f"OLS of the {tr.weeks} weekly values on the week number; Newey-West HAC standard errors "
              f"(Bartlett, {tr.maxlags} lags); t({tr.df}) interval")
    total, se_total, low, high = tr.over_period()
    latest, last = t.iloc[-1], t.index[-1]
    flagged = chart.flagged
    level = 1 - chart.settings.alpha
    latest_low, latest_high = WALD.bounds(float(latest["value"]), float(latest["se"]), chart.settings.alpha)
    return [
        Estimate(f"kpi_trend_{ind.name}", f"{label(ind)}: change per week ({unit})", tr.slope, tr.se, tr.ci_low,
                 tr.ci_high, tr.p_value, chart.rows_used, method, tr.level, {"weeks": tr.weeks}, interval=tr.interval()),
        Estimate(f"kpi_change_{ind.name}", f"{label(ind)}: change over the {tr.span} weeks of the trend ({unit})", total,
                 se_total, low, high, tr.p_value, chart.rows_used, method, tr.level, {"weeks": tr.weeks},
                 interval=tr.interval()),
        Estimate(f"kpi_out_of_control_{ind.name}", f"{label(ind)}: weeks out of control (Shewhart or EWMA)",
                 float(len(flagged)), None, None, None, None, chart.rows_used,
                 f"{chart.chart} and EWMA (lambda {chart.settings.lam:g}, L {chart.settings.ewma_width:g})", level,
                 {"weeks charted": len(t), "shewhart": int((t["signal"] != "").sum()),
                  "ewma": int((t["ewma_signal"] != "").sum()), "weeks": [f"{w:%Y-%m-%d}" for w in flagged.index]}),
        Estimate(f"kpi_latest_{ind.name}", f"{label(ind)} in the week of {day(last)} ({unit})", float(latest["value"]),
                 float(latest["se"]), latest_low, latest_high, None, int(latest["n"]),
                 "weekly value; within-week standard error" + (" (binomial)" if ind.rate else "") + "; normal interval",
                 level, {"center": chart.limits.center, "lower": float(latest["lower"]), "upper": float(latest["upper"])},
                 interval=WALD),
    ]


def team_estimates(result) -> list[Estimate]:
    out = []
    for ind in INDICATORS:
        charts = [c[ind.name] for c in result.team_charts.values() if ind.name in c and not isinstance(c[ind.name], Skipped)]
        if not charts:
            continue
        counts = {c.unit: len(c.flagged) for c in charts}
        out.append(Estimate(f"kpi_team_out_of_control_{ind.name}", f"{label(ind)}: team charts with a week out of control",
                            float(sum(v > 0 for v in counts.values())), None, None, None, None,
                            sum(c.rows_used for c in charts), "per-team Shewhart and EWMA charts", 1 - result.settings.alpha,
                            {"team charts": len(charts), "weeks out per team": counts}))
    return out


def false_alarm_rate(width: float, baseline_weeks: int) -> float:
    """Chance that a stable week after the baseline falls outside -/+ width limits whose center comes from
    ``baseline_weeks`` weeks of the same size: its distance from the estimated center has variance (1 + 1/m) se^2."""
    return float(2 * stats.norm.sf(width / math.sqrt(1 + 1 / baseline_weeks)))


def method_notes(result) -> list[str]:
    s, cal = result.settings, result.calendar
    out = []
    partial = cal[cal["partial"]]
    if len(partial):
        listed = ", ".join(f"{day(w)} ({d} of 7 days)" for w, d in zip(partial.index, partial["days"]))
        out.append(f"partial weeks, listed but not charted (their values mix weekdays differently from a full week): {listed}")
    out.append("weeks start on Monday; a full week holds every weekday, so day-of-week seasonality cancels in its value")
    busy = cal[cal["volume"] != ""]
    if len(busy):
        listed = ", ".join(f"{day(w)} ({v}, {n:,} tickets)" for w, v, n in zip(busy.index, busy["volume"], busy["tickets"]))
        out.append(f"weeks whose ticket volume lies beyond 3 spreads of the baseline weeks' (a sale peak, a holiday): {listed}; "
                   "a signal in such a week may come from who writes in and how loaded the agents are")
    if s.events:
        out.append("known events, kept out of the baseline: " + ", ".join(f"{day(w)}: {e}" for w, e in s.events.items()))
    rate = false_alarm_rate(s.width, s.baseline_weeks)
    out.append(f"center and sigma come from the first {s.baseline_weeks} full weeks; with them estimated, a stable later week "
               f"falls outside {s.width:g}-sigma limits about {rate:.2%} of the time (0.27% with known values)")
    out.append(f"EWMA with lambda {s.lam:g} and limits at L = {s.ewma_width:g} exact (time-varying) standard deviations"
               + (" of its distance from the estimated center (the center's own error included: an EWMA averages about "
                  f"{(2 - s.lam) / s.lam:.0f} weeks, as many as the baseline holds, and with textbook limits a stable series "
                  "would cross them several times as often as nominal)" if s.allow_for_baseline
                  else " for a known center (Montgomery's limits; the center's own error is not allowed for)"))
    points = sum(c.weeks for c in result.charted)
    if points:
        out.append(f"{len(result.charted)} charts of all tickets hold {points} weekly points: about "
                   f"{points * rate:.1f} would fall outside their Shewhart limits by chance alone")
    team_points = sum(c.weeks for c in result.team_charted())
    if team_points:
        out.append(f"{len(result.team_charted())} team charts hold {team_points:,} weekly points: about "
                   f"{team_points * rate:.0f} would fall outside their Shewhart limits by chance alone")
    out.append("trends: least squares on the week number with Newey-West errors; with a few dozen weeks and "
               "autocorrelated weeks such intervals run somewhat narrow")
    out.append("the charts say when an indicator moved, not why: a signal coincides with whatever else changed that week "
               "(a sale, staffing, the mix of tickets); CSAT counts answered surveys, and who answers can change too")
    return out


def findings(result) -> Findings:
    if result.skipped:
        return Findings([skipped("key indicators", result.skipped, headline=True)])
    charted = result.charted
    lines = []
    if charted:
        weeks = max(c.weeks for c in charted)
        first, last = min(c.table.index[0] for c in charted), max(c.table.index[-1] for c in charted)
        out = [c for c in charted if len(c.flagged)]
        calm = [label(c.indicator) for c in charted if not len(c.flagged)]
        moved = ", ".join(f"{c.indicator.label} ({_flag_count(c)})" for c in out)
        sentence = (f"Over {weeks} full weeks (weeks of {day(first)} to {day(last)}), "
                    f"{len(calm)} of {len(charted)} indicators stayed within their control limits every week"
                    + (f"; {moved} had weeks out of control" if out else "") + ".")
        names = tuple(f"kpi_out_of_control_{c.indicator.name}" for c in charted)
        lines.append(Finding("**Key indicators, week by week.** " + text(sentence), names, headline=True, section="Status of each indicator"))
    for c in charted:
        lines.append(Finding(text(status(c)), (f"kpi_trend_{c.indicator.name}", f"kpi_out_of_control_{c.indicator.name}")))
    for c in result.charts.values():
        if isinstance(c, Skipped):
            lines.append(skipped(c.section, c.reason))
    if charted:
        lines.append(Finding("**Chart choice.** " + text("; ".join(f"{label(c.indicator)}: {c.chart}, {_why(c)}" for c in charted))
                             + ".", kind="check"))
    if result.team is not None:
        lines.append(Finding(f"**Per {text(result.team)}.** " + text(_team_sentence(result))))
    elif result.team_skipped:
        lines.append(skipped("per-team charts", result.team_skipped))
    lines.append(Finding("**What the charts do not say.** They say when an indicator moved beyond week-to-week sampling, "
                         "not why: a signal coincides with whatever else changed that week. CSAT counts answered surveys "
                         "only, and who answers can change from week to week."))
    return Findings(lines)


def _flag_count(chart) -> str:
    """'3 weeks' or '3 weeks, 2 of them high-volume or known-event weeks'."""
    flagged = chart.flagged
    unusual = int(((flagged["volume"] != "") | (flagged["event"] != "")).sum())
    words = f"{len(flagged)} week{'s' if len(flagged) != 1 else ''}"
    if unusual == 1:
        words += ", a high-volume or known-event week" if len(flagged) == 1 else ", one of them a high-volume or known-event week"
    elif unusual:
        words += f", {'all' if unusual == len(flagged) else unusual} of them high-volume or known-event weeks"
    return words


def _team_sentence(result) -> str:
    charts = result.team_charted()
    teams = len(result.team_charts)
    left = result.teams_left_out()
    flagged = [c for c in charts if len(c.flagged)]
    sentence = (f"{len(charts)} charts of {teams} teams; {len(flagged)} have a week out of control" if charts
                else f"no team chart of the {teams} teams could be drawn")
    if len(left):
        reasons = left.groupby("indicator")["team"].count()
        sentence += "; left out for too few weeks with enough rows: " + ", ".join(
            f"{n} {LABELS[i]} chart{'s' if n != 1 else ''}" for i, n in reasons.items())
    return sentence + "."
