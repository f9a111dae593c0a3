"""What a driver analysis returns: one object the notebook shows, the results file saves and the summary reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd

from study.core.accounting import RowLedger
from study.core.findings import Findings
from study.core.results import Estimate, Skipped, Source
from study.drivers import findings as words
from study.drivers.rows import ModelRows
from study.regression.fitting import coefficient_table, comparison_table

ANALYSIS = "06_driver_analysis"


@dataclass
class DriverAnalysis:
    """Naive and adjusted associations of an outcome with a driver, their check, shape and sensitivity.

    Each section is its result, ``None`` where it does not apply (no check for a numeric outcome, no
    curve for a 0/1 driver), or a :class:`study.core.results.Skipped` with the reason it could not run.

    Attributes
    ----------
    source : Source
    parameters : dict
        What the analysis was asked (outcome, driver, controls, cluster, alpha, shape, seed, ...).
    outcome, driver : str
    model : ModelRows
        Rows used, their ledger, the kinds of the outcome and the driver, the controls entered.
    naive, adjusted : Estimate or None
        Least-squares slopes without and with the controls (None when the analysis was skipped).
    fits : dict
        statsmodels results: ``naive``, ``adjusted`` and, where fitted, ``check``.
    check : Estimate, Skipped or None
        Logit average change (0/1 outcome) or ordered logit average change in the expected score (1-5).
    shape : study.drivers.shape.DoseResponse, Skipped or None
    confounding : study.drivers.sensitivity.DriverSensitivity, Skipped or None
    response : Estimate, Skipped or None
        How having an outcome goes with the driver (None when every row has one).
    wild : dict or None
        Wild cluster bootstrap p-value of the adjusted slope, with fewer than 50 clusters.
    survey : bool
        Whether the outcome is a survey answer (the caveat on who answers applies).
    skipped : str
        Why no model could be fitted ("" when they were).
    extra_notes : list of str
    """

    name: ClassVar[str] = ANALYSIS

    source: Source
    parameters: dict
    outcome: str
    driver: str
    model: ModelRows
    naive: Estimate | None = None
    adjusted: Estimate | None = None
    fits: dict = field(default_factory=dict)
    check: Estimate | Skipped | None = None
    shape: object = None
    confounding: object = None
    response: Estimate | Skipped | None = None
    wild: dict | None = None
    survey: bool = False
    skipped: str = ""
    extra_notes: list = field(default_factory=list)

    @property
    def alpha(self) -> float:
        return float(self.parameters["alpha"])

    @property
    def ledger(self) -> RowLedger:
        return self.model.ledger

    @property
    def rows(self) -> dict:
        """Rows in, dropped by reason, used; a skipped analysis uses none (its rows are counted under the reason)."""
        counts = self.model.ledger.as_dict()
        if self.skipped and counts["used"]:
            counts["dropped"][f"the analysis was skipped: {self.skipped}"] = counts["used"]
            counts["used"] = 0
        return counts

    @property
    def estimates(self) -> list[Estimate]:
        out = [e for e in (self.naive, self.adjusted) if e is not None]
        out += [e for e in (self.check, self.response) if isinstance(e, Estimate)]
        if self.has("shape"):
            out += self.shape.estimates
        if self.has("confounding"):
            out += self.confounding.estimates()
        return out

    @property
    def kinds(self) -> list[str]:
        """The outcome's and the driver's kind, and why, in words."""
        m = self.model
        return [f"outcome {m.outcome}: {m.outcome_kind.words}", f"driver {m.driver}: {m.driver_kind.words}"]

    @property
    def caveats(self) -> list[str]:
        return [] if self.skipped else words.caveats(self)

    @property
    def notes(self) -> list[str]:
        """How the columns were read, controls dropped, sections skipped, and the caveats."""
        out = [*self.kinds, *self.model.notes, *self.extra_notes]
        if self.skipped:
            return [*out, f"driver analysis: skipped, {self.skipped}"]
        out += [f"{s.section}: skipped, {s.reason}" for s in (self.check, self.shape, self.confounding, self.response)
                if isinstance(s, Skipped)]
        return out + self.caveats

    def has(self, section: str) -> bool:
        """Whether ``section`` (``check``, ``shape``, ``confounding``, ``response``) ran."""
        value = getattr(self, section)
        return value is not None and not isinstance(value, Skipped) and not self.skipped

    def findings(self, truth: dict | None = None) -> Findings:
        """Its conclusions in words (:mod:`study.drivers.findings`); ``truth``: ``{estimate name: true value}``."""
        return words.findings(self, truth)

    @property
    def digits(self) -> int:
        """Decimals for this analysis's tables: to the first digit of the adjusted slope's standard error, at least 3.

        A driver in small units (minutes, cents) has a slope like 0.0006, which three decimals would show as 0.001.
        """
        from study.drivers.findings import digits_for

        se = self.adjusted.se if isinstance(self.adjusted, Estimate) else None
        return digits_for(se, least=3)

    def table(self) -> pd.DataFrame | Skipped:
        """Naive, adjusted and the check side by side."""
        if self.skipped:
            return Skipped("the driver analysis", self.skipped)
        return comparison_table([e for e in (self.naive, self.adjusted, self.check) if isinstance(e, Estimate)])

    def coefficients(self) -> pd.DataFrame | Skipped:
        """Every coefficient of the adjusted least-squares model."""
        if self.skipped:
            return Skipped("the adjusted model", self.skipped)
        return coefficient_table(self.fits["adjusted"], alpha=self.alpha)

    def responses(self) -> list[Estimate] | Skipped | None:
        """How having an outcome goes with the driver, as a list to show (or why it was skipped, or None)."""
        return [self.response] if isinstance(self.response, Estimate) else self.response

    def curve(self) -> pd.DataFrame | Skipped | None:
        """The dose-response curve's points (driver value, difference from the reference, interval)."""
        return self.shape.curve if self.has("shape") else self.shape
