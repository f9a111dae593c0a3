"""What a feedback analysis returns: one object the notebook shows, the results file saves and the summary reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd

from study.core.accounting import RowLedger
from study.core.bidi import joined
from study.core.findings import Findings
from study.core.results import Estimate, Skipped, Source, format_p
from study.core.tables import numbers_as_text
from study.feedback import findings as words
from study.feedback import prevalence
from study.feedback.association import OUTCOMES
from study.feedback.lexicon import Lexicon

ANALYSIS = "10_feedback"


@dataclass
class FeedbackAnalysis:
    """Themes of the customers' comments, their prevalence and their association with the outcomes.

    Attributes
    ----------
    source : Source
    parameters : dict
    ledger : RowLedger
        Tickets in, tickets without a comment, comments analysed.
    lexicon : Lexicon
    skipped : str
        Why nothing could be analysed ('' when something was).
    comments : pandas.DataFrame or None
        The tickets with a comment.
    themes : pandas.DataFrame or None
        One boolean column per theme, one row per comment: whether the lexicon finds the theme.
    shares : dict
        Theme -> its share of comments (Estimate, Wilson interval).
    by_band, by_resolution : pandas.DataFrame or Skipped
        Long tables of shares by first response band and by resolution (:func:`prevalence.by_group`).
    associations : dict
        Outcome -> theme -> adjusted difference (Estimate with Holm/BH p-values in ``extra``) or Skipped.
    discovery : study.feedback.discover.Discovery, Skipped or None
    """

    name: ClassVar[str] = ANALYSIS

    source: Source
    parameters: dict
    ledger: RowLedger
    lexicon: Lexicon
    skipped: str = ""
    comments: pd.DataFrame | None = None
    themes: pd.DataFrame | None = None
    shares: dict = field(default_factory=dict)
    by_band: object = None
    by_resolution: object = None
    associations: dict = field(default_factory=dict)
    discovery: object = None

    @property
    def alpha(self) -> float:
        return float(self.parameters["alpha"])

    @property
    def rows(self) -> dict:
        return self.ledger.as_dict()

    @property
    def estimates(self) -> list[Estimate]:
        out = list(self.shares.values())
        for by_theme in self.associations.values():
            out += [e for e in by_theme.values() if isinstance(e, Estimate)]
        return out

    def never_found(self) -> list[str]:
        """Themes of the lexicon that no comment names."""
        return [t for t, e in self.shares.items() if e.extra["comments with the theme"] == 0]

    @property
    def notes(self) -> list[str]:
        """Sections skipped with their reasons, then the assumptions."""
        if self.skipped:
            return [f"feedback analysis: skipped, {self.skipped}"]
        return [f"{s.section}: skipped, {s.reason}" for s in self._skips()] + self.assumptions()

    def _skips(self) -> list[Skipped]:
        out = [s for s in (self.by_band, self.by_resolution, self.discovery) if isinstance(s, Skipped)]
        out += [Skipped(f"theme {t.replace('_', ' ')}", "no comment names it: no share, no association")
                for t in self.never_found()]
        if not any(o in self.associations for o in OUTCOMES):
            out.append(Skipped("association of themes with CSAT and repeat purchase",
                               "the data has neither CSAT nor repeat purchase"))
        elif "csat" not in self.associations:
            out.append(Skipped("association of themes with CSAT", "the data has no CSAT"))
        for by_theme in self.associations.values():
            out += [s for t, s in by_theme.items() if isinstance(s, Skipped) and t not in self.never_found()]
        return out

    def assumptions(self) -> list[str]:
        """What the numbers rest on, in words."""
        return words.assumptions(self)

    def findings(self, truth: dict | None = None) -> Findings:
        """Its conclusions in words (:mod:`study.feedback.findings`)."""
        return words.findings(self, truth)

    def table(self) -> pd.DataFrame | Skipped:
        """Each theme's share of comments with its interval, and its association with each outcome."""
        if self.skipped:
            return Skipped("the feedback analysis", self.skipped)
        rows = []
        for theme, e in self.shares.items():
            level = f"{e.ci_level:.0%} CI"
            row = {"theme": theme.replace("_", " "), "comments naming it": e.extra["comments with the theme"],
                   f"share ({level})": f"{e.value:.1%} ({e.ci_low:.1%} to {e.ci_high:.1%})"}
            for outcome, by_theme in self.associations.items():
                a = by_theme.get(theme)
                name = OUTCOMES[outcome][0]
                ok = isinstance(a, Estimate)
                row[f"{name}: difference ({level})"] = words.signed_difference(outcome, a) if ok else "–"
                row[f"{name}: p (Holm)"] = format_p(a.extra["p_holm"]) if ok else ""
            rows.append(row)
        table = pd.DataFrame(rows).set_index("theme")
        return numbers_as_text(table, *[c for c in table.columns if c.endswith(("CI)", "(Holm)"))])

    def band_table(self) -> pd.DataFrame | Skipped:
        """Each theme's share of comments by first response band (with intervals)."""
        return self._wide(self.by_band, "themes by first response time")

    def resolution_table(self) -> pd.DataFrame | Skipped:
        """Each theme's share of comments on resolved and unresolved tickets (with intervals)."""
        return self._wide(self.by_resolution, "themes by resolution")

    def _wide(self, long, section: str) -> pd.DataFrame | Skipped:
        if self.skipped:
            return Skipped(section, self.skipped)
        if isinstance(long, Skipped):
            return long
        return prevalence.wide(long, self.alpha)

    def topics(self) -> pd.DataFrame | Skipped:
        """Discovered topics: top terms, comments whose main topic it is, short examples."""
        if self.skipped:
            return Skipped("themes discovered in the comments", self.skipped)
        return self.discovery if isinstance(self.discovery, Skipped) else self.discovery.topics

    def theme_terms(self) -> pd.DataFrame | Skipped:
        """The lexicon: each theme's terms (where they come from is in :attr:`Lexicon.origin` and the findings)."""
        return pd.DataFrame({"theme": [t.replace("_", " ") for t in self.lexicon.themes],
                             "terms": [joined(v, ", ") for v in self.lexicon.themes.values()]}).set_index("theme")
