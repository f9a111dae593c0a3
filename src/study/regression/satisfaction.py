"""Every model of ``02_satisfaction_drivers``, run once on the same rows: the result notebook 02 reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import pandas as pd

from study.analyses import DRIVERS
from study.core.findings import Findings
from study.core.results import Estimate, Skipped, Source
from study.data.dataset import TicketData
from study.regression import agents, causal, findings, fitting, iv_checks, iv_findings, key_drivers, models, nonresponse, sensitivity
from study.regression.csat import (
    DoseResponse,
    OrderedLogit,
    csat_sample,
    dose_response,
    ordered_logit_or_skipped,
    speed_by_resolution,
    standard_error_sensitivity,
    standardized_effects,
    variance_inflation,
)


@dataclass
class SatisfactionStudy:
    """Every model of ``02_satisfaction_drivers``, run once.

    Each section is its result, or a :class:`study.core.results.Skipped` with the reason it could not
    run on this data (one customer, CSAT with one value, too few answers, ...).

    Attributes
    ----------
    drivers : study.regression.models.SatisfactionDrivers or Skipped
        Naive and adjusted OLS.
    randomized : Estimate or None
        The SLA experiment's per-doubling effect (None without an experiment, or when skipped).
    without_agents : list of Estimate or Skipped
        The adjusted effects with agents not held fixed, and how far holding them fixed moved each
        (:func:`study.regression.agents.without_agents`).
    ordered : OrderedLogit or Skipped
    dose : DoseResponse or Skipped
    interaction : list of Estimate or Skipped
    standard_errors : pandas.DataFrame or Skipped
    importance : study.regression.key_drivers.KeyDrivers or Skipped
    nonresponse : study.regression.nonresponse.SurveyNonresponse
        Who answers the survey; complete-case versus inverse-probability-weighted CSAT.
    skipped : list of Skipped
    ledger : RowLedger
        Rows of the models: answered surveys with every model variable, each row left out counted.
    inflation, standardized : pandas.DataFrame or Skipped
        Variance inflation factors of the adjusted model's design; standardized effect sizes.
    source : Source
        The data the models were fitted on.
    parameters : dict
        ``alpha``, ``bootstrap``, ``seed`` and the ``model_tickets`` the data was loaded with.
    iv : study.regression.causal.RandomizedSpeed or None
        The randomized estimate with its first stage and Anderson–Rubin set (None when not estimated).
    side_effects : study.regression.iv_checks.SideEffects, Skipped or None
        The SLA's effect on the other channels: the check of the exclusion restriction.
    confounding : study.regression.sensitivity.ConfoundingSensitivity or Skipped
        How strong a hidden confounder would have to be to erase the adjusted speed and resolution
        associations (robustness values, bounds benchmarked on the measured confounders).
    longest_wait_hours : float or None
        The longest first response among the models' rows: a contrast beyond it (24 hours against 1) would
        be an extrapolation, and the findings do not quote it.
    """

    name: ClassVar[str] = DRIVERS

    drivers: object
    randomized: Estimate | None
    without_agents: list | Skipped
    ordered: OrderedLogit | Skipped
    dose: DoseResponse | Skipped
    interaction: list[Estimate] | Skipped
    standard_errors: pd.DataFrame | Skipped
    importance: object
    nonresponse: object
    skipped: list[Skipped]
    ledger: object = None
    inflation: pd.DataFrame | Skipped | None = None
    standardized: pd.DataFrame | Skipped | None = None
    source: Source | None = None
    parameters: dict = field(default_factory=dict)
    iv: causal.RandomizedSpeed | None = None
    side_effects: iv_checks.SideEffects | Skipped | None = None
    confounding: sensitivity.ConfoundingSensitivity | Skipped | None = None
    longest_wait_hours: float | None = None

    def speed_effects(self, truth_slope: float | dict | None = None) -> pd.DataFrame | Skipped:
        """Naive, adjusted and randomized slopes in one table (:func:`study.regression.causal.speed_effects`)."""
        return causal.speed_effects(self.drivers, self.randomized, truth_slope)

    def randomized_findings(self, truth_slope: float | None = None) -> list:
        """The randomized estimate in sentences, with its assumptions' checks (:func:`study.regression.iv_findings.randomized_findings`)."""
        by_name = {} if isinstance(self.drivers, Skipped) else {e.name: e for e in self.drivers.estimates}
        return iv_findings.randomized_findings(self.iv, by_name.get(causal.TOTAL_ADJUSTED),
                                               by_name.get("csat_per_doubling_adjusted"), self.side_effects, truth_slope)

    def randomized_assumptions(self) -> list[str]:
        """What the randomized estimate assumes, in words (:func:`study.regression.iv_findings.assumptions`)."""
        return iv_findings.assumptions(self.iv, self.side_effects)

    def agents_table(self) -> pd.DataFrame | Skipped:
        """Each adjusted effect without and with agents held fixed (:func:`study.regression.agents.comparison_table`)."""
        return agents.comparison_table(self.without_agents)

    def agents_findings(self) -> list:
        """What the adjusted model holds fixed, direct versus total speed, what agents moved (:func:`study.regression.agents.findings`)."""
        return agents.findings(self.drivers, self.without_agents)

    def importance_table(self) -> pd.DataFrame | Skipped:
        """The key drivers' shares of explained variance (:func:`study.regression.key_drivers.summary_table`)."""
        return key_drivers.summary_table(self.importance)

    @property
    def rows(self) -> dict:
        """Row accounting of the models (:attr:`ledger`)."""
        return self.ledger.as_dict()

    @property
    def estimates(self) -> list[Estimate]:
        """Every key estimate, for the results file."""
        out = [] if isinstance(self.drivers, Skipped) else list(self.drivers.estimates)
        out += [self.randomized] if self.randomized is not None else []
        out += [self.iv.first_stage] if self.iv is not None else []
        out += self.side_effects.estimates if isinstance(self.side_effects, iv_checks.SideEffects) else []
        out += self.confounding.estimates if isinstance(self.confounding, sensitivity.ConfoundingSensitivity) else []
        out += self.without_agents if isinstance(self.without_agents, list) else []
        out += [] if isinstance(self.ordered, Skipped) else self.ordered.effects
        out += self.interaction if isinstance(self.interaction, list) else []
        out += [] if isinstance(self.importance, Skipped) else self.importance.estimates
        return out + self.nonresponse.estimates

    def findings(self, truth: dict | None = None) -> Findings:
        """Speed, resolution and satisfaction, in words; a skipped section says so, with its reason (see :meth:`study.core.results.AnalysisResult.findings`)."""
        return findings.satisfaction(self, truth)

    def has(self, section: str) -> bool:
        """Whether ``section`` (an attribute: ``"drivers"``, ``"dose"``, ...) ran rather than being skipped."""
        return not isinstance(getattr(self, section), Skipped)

    def coefficients(self, alpha: float = 0.05) -> pd.DataFrame | Skipped:
        """Every coefficient of the adjusted model, or why it was skipped."""
        if isinstance(self.drivers, Skipped):
            return Skipped("the adjusted model", self.drivers.reason)
        return fitting.coefficient_table(self.drivers.fits["adjusted"], alpha=alpha)

    @property
    def notes(self) -> list[str]:
        """What was skipped and why, in words."""
        notes = [f"{s.section}: skipped, {s.reason}" for s in self.skipped]
        if self.nonresponse.skipped:
            notes.append(f"survey non-response: skipped, {self.nonresponse.skipped}")
        if isinstance(self.side_effects, iv_checks.SideEffects):
            notes += self.side_effects.notes
        return notes + [n for n in self.nonresponse.notes if n not in notes]


def study(data: TicketData, alpha: float = 0.05, bootstrap: int = 500, seed: int = 2026) -> SatisfactionStudy:
    """Run every satisfaction model on the same rows (see :class:`SatisfactionStudy`).

    Parameters
    ----------
    data : TicketData
    alpha : float
        1 - confidence level.
    bootstrap : int
        Bootstrap replicates of the key-driver intervals.
    seed : int
        Seed of the bootstrap.
    """
    skipped = []
    iv = causal.randomized_speed(data, alpha)
    randomized = iv.estimate if isinstance(iv, causal.RandomizedSpeed) else iv
    if randomized is None:
        skipped.append(Skipped("randomized estimate", "the data has no experiment (no variant column)"))
    elif isinstance(randomized, Skipped):
        skipped.append(randomized)
        randomized = None
    agent_effects = agents.without_agents(data, alpha)
    if isinstance(agent_effects, Skipped):
        skipped.append(agent_effects)
    rows_and_ledger = csat_sample(data)
    result = SatisfactionStudy(
        drivers=models.satisfaction_drivers(data, alpha),
        randomized=randomized,
        without_agents=agent_effects,
        ordered=ordered_logit_or_skipped(data, alpha),
        dose=dose_response(data, alpha),
        interaction=speed_by_resolution(data, alpha),
        standard_errors=standard_error_sensitivity(data, alpha),
        importance=key_drivers.key_drivers_or_skipped(data, n_boot=bootstrap, seed=seed, alpha=alpha),
        nonresponse=nonresponse.survey_nonresponse(data, alpha=alpha),
        skipped=skipped,
        ledger=rows_and_ledger[1],
        inflation=variance_inflation(data),
        source=data.source,
        parameters={"alpha": alpha, "bootstrap": bootstrap, "seed": seed, "model_tickets": data.max_tickets},
        iv=iv if isinstance(iv, causal.RandomizedSpeed) else None,
        side_effects=iv_checks.sla_side_effects(data, alpha),
    )
    # The sections that could not run, after the two above, in the order of the report.
    for part in (result.drivers, result.ordered, result.dose, getattr(result.dose, "bands", None),
                 result.standard_errors, result.importance, result.side_effects):
        if isinstance(part, Skipped):
            skipped.append(part)
    if isinstance(result.interaction, Skipped) and not result.interaction.reason.startswith("every answered case"):
        skipped.append(result.interaction)
    result.standardized = standardized_effects(data, result.drivers)
    waits = rows_and_ledger[0]["response_hours"]
    result.longest_wait_hours = float(waits.max()) if len(waits) else None
    result.confounding = sensitivity.satisfaction_sensitivity(result.drivers, alpha)
    return result
