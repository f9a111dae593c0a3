"""What a rollout analysis returns: one object the notebook shows, the results file saves and the summary reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd

from study.core.findings import Findings
from study.core.results import Estimate, Skipped, Source
from study.core.tables import numbers_as_text
from study.core.words import points
from study.rollout import findings as words
from study.rollout.did import PreTrend
from study.rollout.panel import OUTCOMES, UNITS, Panel, adoption_summary

ANALYSIS = "07_rollout"


@dataclass
class RolloutAnalysis:
    """The rollout of a service change, each outcome compared naively and against teams not yet adopted.

    Attributes
    ----------
    source : Source
    parameters : dict
    panel : Panel or None
        Team x week cells and the ledger (None when the data has no adoption time at all).
    design : str
        ``staggered`` (DiD against teams not yet adopted) or ``at_once`` (interrupted time series).
    skipped : str
        Why nothing could be analysed ('' when something was).
    naive : dict
        Outcome -> the naive before/after Estimate.
    att : dict
        Outcome -> the DiD average effect on the adopting teams (Estimate) or why not (Skipped).
    events : dict
        Outcome -> event-study table (:func:`study.rollout.did.event_study`).
    pretrend : dict
        Outcome -> :class:`study.rollout.did.PreTrend`, or why no test could be made.
    its : dict
        Outcome -> :class:`study.rollout.its.SegmentedFit` or Skipped.
    did_skipped, its_skipped : str
        Why the staggered comparison or the time series did not run ('' when it did).
    pilot : PilotComparison, Skipped or None
    """

    name: ClassVar[str] = ANALYSIS

    source: Source
    parameters: dict
    panel: Panel | None
    skipped: str = ""
    design: str = ""
    naive: dict = field(default_factory=dict)
    att: dict = field(default_factory=dict)
    events: dict = field(default_factory=dict)
    pretrend: dict = field(default_factory=dict)
    its: dict = field(default_factory=dict)
    did_skipped: str = ""
    its_skipped: str = ""
    pilot: object = None

    @property
    def alpha(self) -> float:
        return float(self.parameters["alpha"])

    @property
    def ledger(self):
        """Tickets in, set aside by reason, used (:class:`study.core.accounting.RowLedger`)."""
        return self.panel.ledger if self.panel is not None else None

    @property
    def rows(self) -> dict:
        if self.panel is None:
            return {"in": self.source.rows, "used": 0,
                    "dropped": {f"the analysis was skipped: {self.skipped}": self.source.rows}}
        return self.panel.ledger.as_dict()

    def effects(self) -> dict[str, Estimate]:
        """Outcome -> the headline estimate: the DiD effect (staggered) or the ITS average effect (at once)."""
        if self.design == "staggered":
            return {o: e for o, e in self.att.items() if isinstance(e, Estimate)}
        return {o: f.average for o, f in self.its.items() if not isinstance(f, Skipped)}

    @property
    def estimates(self) -> list[Estimate]:
        out = list(self.naive.values())
        out += [e for e in self.att.values() if isinstance(e, Estimate)]
        out += [words.pretrend_estimate(o, t, self.att[o]) for o, t in self.pretrend.items() if isinstance(t, PreTrend)]
        for fit in self.its.values():
            if not isinstance(fit, Skipped):
                out += [fit.level, fit.slope, fit.average]
        if self.pilot is not None and not isinstance(self.pilot, Skipped):
            out += [*self.pilot.pilot.values(), *self.pilot.differences.values()]
        return out

    @property
    def notes(self) -> list[str]:
        """Sections skipped with their reasons, then the assumptions."""
        if self.skipped:
            return [f"rollout analysis: skipped, {self.skipped}"]
        out = []
        if self.did_skipped:
            out.append(f"comparison with teams not yet adopted (DiD): skipped, {self.did_skipped}")
        out += [f"{s.section}: skipped, {s.reason}" for s in [*self.att.values(), *self.its.values()] if isinstance(s, Skipped)]
        out += [f"pre-trend test of {o.replace('_', ' ')}: not made, {t}" for o, t in self.pretrend.items() if isinstance(t, str)]
        if self.its_skipped:
            out.append(f"interrupted time series: skipped, {self.its_skipped}")
        if isinstance(self.pilot, Skipped):
            out.append(f"{self.pilot.section}: skipped, {self.pilot.reason}")
        return out + self.assumptions()

    def assumptions(self) -> list[str]:
        """What must hold for the comparison to measure the change's effect, in words about this data."""
        return words.assumptions(self)

    def model_words(self) -> list[str]:
        """How each estimate was computed, in words."""
        return words.model_words(self)

    def findings(self, truth: dict | None = None) -> Findings:
        """Its conclusions in words, the executive sentence first (:mod:`study.rollout.findings`)."""
        return words.findings(self, truth)

    def table(self) -> pd.DataFrame | Skipped:
        """Naive before/after beside the comparison with teams not yet adopted (or the time series), per outcome."""
        if self.skipped:
            return Skipped("the rollout analysis", self.skipped)
        effects = self.effects()
        rows = []
        for outcome in self.panel.outcomes if self.panel else []:
            naive, right = self.naive.get(outcome), effects.get(outcome)
            if naive is None and right is None:
                continue
            test = self.pretrend.get(outcome)
            rows.append({
                "outcome": OUTCOMES[outcome][0],
                "naive before/after": naive.value if naive else None,
                "naive CI": _ci(naive),
                "DiD" if self.design == "staggered" else "time series": right.value if right else None,
                "CI": _ci(right),
                "pre-trend p": test.p_value if isinstance(test, PreTrend) else None,
            })
        if not rows:
            return Skipped("the rollout comparison", self.did_skipped or self.its_skipped or "no outcome could be compared")
        return pd.DataFrame(rows).set_index("outcome")

    def summary(self) -> pd.DataFrame | Skipped:
        """:meth:`table` for a reader: each estimate with its interval in one cell, rates in percentage points
        and the others to two decimals, signed, as the findings quote them."""
        table = self.table()
        if isinstance(table, Skipped):
            return table
        effects, label = self.effects(), "DiD" if self.design == "staggered" else "time series"
        by_label = {OUTCOMES[o][0]: o for o in (self.panel.outcomes if self.panel else [])}
        level = next((f"{e.ci_level:.0%} CI" for e in [*self.naive.values(), *effects.values()] if e is not None), "CI")
        out = pd.DataFrame({
            f"naive before/after ({level})": [_cell(self.naive.get(by_label[o]), by_label[o]) for o in table.index],
            f"{label} ({level})": [_cell(effects.get(by_label[o]), by_label[o]) for o in table.index],
            "pre-trend p": table["pre-trend p"],
        }, index=table.index)
        return numbers_as_text(out, *out.columns[:2])

    def event_table(self, outcome: str = "csat") -> pd.DataFrame | Skipped:
        """Effects by week since adoption of ``outcome`` (week -1 the reference)."""
        if outcome not in self.events:
            return Skipped(f"event study of {outcome.replace('_', ' ')}", self.skipped or self.did_skipped or
                           (self.att[outcome].reason if isinstance(self.att.get(outcome), Skipped) else
                            f"the data has no {outcome.replace('_', ' ')}"))
        return self.events[outcome]

    def pretrend_table(self) -> pd.DataFrame | Skipped:
        """The joint test of the leads per outcome: F, its degrees of freedom and p-value."""
        rows = [{"outcome": OUTCOMES[o][0], "F": t.statistic, "leads tested": t.df_num, "df (teams - leads)": t.df_den,
                 "p-value": t.p_value} for o, t in self.pretrend.items() if isinstance(t, PreTrend)]
        if not rows:
            return Skipped("pre-trend test", self.skipped or self.did_skipped or "no lead could be tested")
        return pd.DataFrame(rows).set_index("outcome")

    def its_table(self) -> pd.DataFrame | Skipped:
        """Level change, slope change and average effect of each outcome's segmented regression."""
        if self.skipped or self.its_skipped:
            return Skipped("interrupted time series", self.skipped or self.its_skipped)
        rows = []
        for outcome, fit in self.its.items():
            if isinstance(fit, Skipped):
                continue
            for e in (fit.level, fit.slope, fit.average):
                rows.append({"outcome": OUTCOMES[outcome][0], "estimate": e.label.split(": ", 1)[1], "value": e.value,
                             "CI low": e.ci_low, "CI high": e.ci_high, "p-value": e.p_value})
        return pd.DataFrame(rows).set_index(["outcome", "estimate"])

    def pilot_table(self) -> pd.DataFrame | Skipped:
        """The pilot's randomized effect beside the rollout's, and their difference."""
        if self.pilot is None or isinstance(self.pilot, Skipped):
            return self.pilot or Skipped("pilot against rollout", self.skipped or "not computed")
        return self.pilot.table()

    def adoption(self) -> pd.DataFrame | Skipped:
        """Teams by adoption week."""
        if self.panel is None:
            return Skipped("adoption", self.skipped)
        return adoption_summary(self.panel)


def _ci(estimate: Estimate | None) -> str:
    return "" if estimate is None else f"{estimate.ci_low:.3f} to {estimate.ci_high:.3f}"


def _cell(estimate: Estimate | None, outcome: str) -> str:
    """'+0.12 (+0.04 to +0.21)', or '+0.7 pp (-2.3 to +3.7)' for a rate: the findings' units and decimals."""
    if estimate is None:
        return "–"
    if UNITS[outcome] == "percentage points":
        return (f"{points(estimate.value)} ({points(estimate.ci_low)[:-3]} to {points(estimate.ci_high)[:-3]})")
    return f"{estimate.value:+.2f} ({estimate.ci_low:+.2f} to {estimate.ci_high:+.2f})"
