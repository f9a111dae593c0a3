"""Every model of ``03_repeat_purchase``, run once: logits, mediation through CSAT, time to next purchase."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from study.analyses import REPEAT
from study.core.findings import Findings
import numpy as np
import pandas as pd

from study.core.results import Estimate, Skipped, Source
from study.data.dataset import TicketData
from study.regression import findings, mediation, models, repeat_sentences, sensitivity, survival


@dataclass
class RepeatStudy:
    """Repeat-purchase models on one data set.

    Attributes
    ----------
    logits : study.regression.models.RepeatPurchase
        Average marginal effects with and without CSAT in the model.
    mediation : study.regression.mediation.SpeedMediation
        Speed's effect split into the part through CSAT and the rest.
    survival : study.regression.survival.TimeToNextPurchase
        Hazard ratios of buying again (or why it was skipped).
    evalues : study.regression.sensitivity.RepeatEValues or None
        How strongly a hidden confounder would have to go with both speed and buying again to explain
        the logit's and the Cox model's associations away (E-values).
    source : Source
    parameters : dict
        ``alpha``, ``replicates``, ``seed`` and the ``model_tickets`` the data was loaded with.
    """

    name: ClassVar[str] = REPEAT
    logits: models.RepeatPurchase
    mediation: mediation.SpeedMediation
    survival: survival.TimeToNextPurchase
    source: Source | None = None
    parameters: dict = field(default_factory=dict)
    evalues: sensitivity.RepeatEValues | None = None

    @property
    def estimates(self) -> list[Estimate]:
        """Every key estimate, for the results file."""
        found = [*self.logits.estimates, *self.mediation.estimates, *self.survival.estimates]
        return found + (self.evalues.estimates if self.evalues is not None else [])

    def findings(self, truth: dict | None = None) -> Findings:
        """Repeat purchase in words; a skipped model says so, with its reason (see :meth:`study.core.results.AnalysisResult.findings`)."""
        return findings.repeat_purchase(self, truth)

    def proportional_hazards(self) -> pd.DataFrame | Skipped:
        """The proportional-hazards check of the Cox model's headline terms: drift, p-value, verdict."""
        if self.survival.skipped:
            return Skipped("the proportional-hazards check", self.survival.skipped)
        return repeat_sentences.proportional_hazards_table(self.survival)

    def mediation_sensitivity(self) -> pd.DataFrame | Skipped:
        """The path through CSAT at each error correlation rho from -0.9 to 0.9 in steps of 0.1 (Imai, Keele and Yamamoto)."""
        if self.mediation.skipped or self.mediation.sensitivity is None:
            return Skipped("the sensitivity of the mediation", self.mediation.skipped or "not estimated on this data")
        return self.mediation.sensitivity.curve(np.round(np.arange(-0.9, 0.91, 0.1), 1))

    @property
    def notes(self) -> list[str]:
        """Skipped sections and caveats, in words, without repeats."""
        notes = list(self.logits.notes)
        for part, result in (("mediation", self.mediation), ("time to next purchase", self.survival)):
            if result.skipped:
                notes.append(f"{part}: skipped, {result.skipped}")
            notes += [n for n in result.notes if n not in notes]
        return notes

    @property
    def rows(self) -> dict:
        """Row accounting of each model."""
        rows = {f"logit {name}": ledger.as_dict() for name, ledger in self.logits.ledgers.items()}
        rows["mediation"] = self.mediation.ledger.as_dict()
        rows["time to next purchase"] = self.survival.ledger.as_dict()
        return rows


def study(data: TicketData, alpha: float = 0.05, replicates: int = 2000, seed: int = 2026) -> RepeatStudy:
    """Run every repeat-purchase model (see :class:`RepeatStudy`).

    Parameters
    ----------
    data : TicketData
    alpha : float
        1 - confidence level.
    replicates : int
        Customer-bootstrap replicates of the mediation intervals.
    seed : int
        Seed of the bootstrap.
    """
    result = RepeatStudy(
        logits=models.repeat_purchase(data, alpha),
        mediation=mediation.speed_through_satisfaction(data, alpha=alpha, replicates=replicates, seed=seed),
        survival=survival.time_to_next_purchase(data, alpha=alpha),
        source=data.source,
        parameters={"alpha": alpha, "replicates": replicates, "seed": seed, "model_tickets": data.max_tickets},
    )
    result.evalues = sensitivity.repeat_evalues(result)
    return result
