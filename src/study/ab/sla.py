"""The faster-response SLA experiment of notebook 04: its metrics, comparisons, effects, power and tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from study.ab import abtest, aggregate, bayes, bounds, findings, roles
from study.ab.aggregate import Aggregates
from study.ab.customers import PRE_PERIOD_COVARIATES, customer_table
from study.ab.design import (
    SampleRatioCheck,
    srm_check,
    srm_estimate,
    srm_table,
    standardized_mean_differences,
)
from study.ab.effect_tables import bayes_summary, cuped_details, effects_summary, power_summary
from study.ab.sla_comparisons import (
    LIFT_METRICS,
    SHARE_METRICS,
    Effects,
    robust_spend_effects,
    robust_spend_table,
    segment_table,
    sla_effects,
    sla_notes,
    sla_power,
    sla_unit_metrics,
)
from study.ab.sla_engine import experiment_scan, file_dtypes
from study import config
from study.analyses import AB_TEST
from study.core.findings import Findings
from study.core.results import Estimate, Skipped, Source
from study.data.dataset import TicketData, is_prepared
from study.data.experiment import (
    ExperimentUnits,
    experiment_rows,
)
from study.engine import DEFAULT_MASTER

# What the SLA experiment reads of a ticket table: a 10M-ticket run loads these, not every column.
TICKET_COLUMNS = [
    "customer_id", "variant", "experiment_id", "created_at", "channel", *PRE_PERIOD_COVARIATES,
    "response_log2_hours", "csat", "csat_answered", "repeat_purchase", "next_spend",
]


# From this many tickets in the copy, DuckDB scans it for 04 instead of pandas reading it (see sla_columns).
SCAN_MIN_TICKETS = 1_000_000


def sla_columns(engine: str = "duckdb", data_path: str | Path | None = None) -> list[str]:
    """The columns the SLA analysis reads into memory: none when the engine scans the copy, else all it uses.

    On Spark, and on DuckDB for a copy of :data:`SCAN_MIN_TICKETS` tickets or more, the experiment's rows and
    customer table come from the engine's scan of the copy ``study run`` writes (:func:`sla_experiment`).
    Measured alone in one process (2 cores): at 10M tickets 62 s and 4.2 GB peak with the scan against 75 s and
    4.5 GB with the tickets in memory (in whole runs, two notebooks at once, alternating: 04 70-77 s against
    84-89 s, the run's peak 5.8-6.0 GB against 6.6 GB); at 1M 5.3-5.8 s against 5.7-6.9 s; on the
    40,000-ticket sample the tickets in memory are about a second quicker. Both give the same bytes.

    Parameters
    ----------
    engine : {"duckdb", "spark"}
    data_path : str or Path, optional
        The data the notebook reads; without it (or for a file other than the copy), DuckDB reads in memory.

    Returns
    -------
    list of str
        The ``needed`` argument of :func:`study.load` for notebook 04.
    """
    if engine != "duckdb":
        return []
    path = config.input_path(data_path) if data_path is not None else None
    if path is not None and is_prepared(path):
        import pyarrow.parquet as pq

        if pq.read_metadata(path).num_rows >= SCAN_MIN_TICKETS:
            return []
    return list(TICKET_COLUMNS)


@dataclass
class SlaExperiment:
    """The faster-response SLA experiment of a ticket table, analysed once for notebook 04.

    Attributes
    ----------
    experiment : study.data.experiment.ExperimentUnits
        Tickets of customers with one known arm, one row per customer, and the rows set aside (its
        ``rows`` are ``None`` when the engine aggregated the validated copy).
    covariates : list of str
        Pre-period covariates present (balance and CUPED).
    srm : study.ab.design.SampleRatioCheck
    customers : pandas.DataFrame
        One row per randomized customer (:func:`study.ab.customers.customer_table`).
    metrics : list of Metric
    aggregates : study.ab.aggregate.Aggregates
    effects : Effects
        Customer-level comparisons with lifts, CUPED and adjusted p-values.
    source : Source
    parameters : dict
        ``alpha``, ``treatment_share``, ``srm_alpha``, ``relative_mde`` and ``segments``.
    untimed : int
        Experiment tickets without a first response time (left out of its comparison).
    """

    name: ClassVar[str] = AB_TEST
    experiment: ExperimentUnits
    covariates: list[str]
    srm: SampleRatioCheck
    customers: pd.DataFrame
    metrics: list
    aggregates: Aggregates
    effects: Effects
    source: Source
    parameters: dict = field(default_factory=dict)
    csat_bounds: bounds.LeeBounds | None = None
    spend_robust: list | Skipped = field(default_factory=list)
    untimed: int = 0

    @property
    def estimates(self) -> list[Estimate]:
        """The sample-ratio test, every customer-level effect with its lift, and each one's minimum detectable effect."""
        return ([srm_estimate(self.srm)] + abtest.estimates(self.effects)
                + abtest.mde_estimates(self.effects, self.parameters.get("relative_mde", 0.05))
                + ([bounds_estimate(self.csat_bounds)] if self.csat_bounds else []))

    @property
    def rows(self) -> dict:
        return self.experiment.ledger.as_dict()

    @property
    def notes(self) -> list[str]:
        return sla_notes(self.untimed, self.effects)

    def findings(self, truth: dict | None = None) -> Findings:
        """The experiment in words: the design check, whether the SLA was delivered, its effects (see :meth:`study.core.results.AnalysisResult.findings`)."""
        return findings.ab_test(self.srm, self.effects, truth, self.csat_bounds, self.spend_robust)

    def srm_sentence(self) -> str:
        """The sample-ratio test in one sentence, with its alarm level."""
        return findings.srm(self.srm)

    def assignment_sentence(self) -> str:
        """What the assignment check found and what was done with it."""
        return findings.assignment(self.experiment)

    @property
    def lifts(self) -> list:
        """The effects whose relative lift the report draws."""
        return [e for e in self.effects if e.metric in LIFT_METRICS]

    def srm_table(self) -> pd.DataFrame:
        """Units per arm against the planned split (:func:`study.ab.design.srm_table`)."""
        return srm_table(self.srm)

    def effects_summary(self) -> pd.DataFrame | Skipped:
        """One row per customer-level effect (:func:`study.ab.abtest.effects_summary`)."""
        return effects_summary(self.effects, SHARE_METRICS)

    def cuped_details(self):
        """The comparisons adjusted for pre-period spend beside their unadjusted estimates (:func:`study.ab.effect_tables.cuped_details`)."""
        return cuped_details(self.effects, SHARE_METRICS)

    def balance(self) -> pd.DataFrame:
        """Standardized mean differences of the pre-period covariates between the arms."""
        return standardized_mean_differences(self.experiment.units, "variant", "treatment", self.covariates)

    def power(self):
        """Power of this experiment and the sample the next one needs (see :func:`sla_power`)."""
        table = sla_power(self.aggregates, self.effects, relative_mde=self.parameters["relative_mde"],
                          alpha=self.parameters["alpha"])
        labels = {m.label or m.name for m in self.metrics if m.name in SHARE_METRICS}
        return table if isinstance(table, Skipped) else power_summary(table, labels)

    def robust_spend(self):
        """Follow-up spend compared by methods robust to heavy tails (:func:`robust_spend_table`)."""
        return robust_spend_table(self.spend_robust)

    def bayes(self):
        """A Bayesian reading of the primary metric (:func:`study.ab.bayes.bayes_table`); not the verdict's rule."""
        labels = {m.label or m.name for m in self.metrics if m.name in SHARE_METRICS}
        return bayes_summary(bayes.bayes_table(self.effects, primary_only=True), labels)

    def segment_table(self):
        """Exploratory effects by segment (:func:`segment_table`)."""
        return segment_table(self.customers, self.metrics, self.parameters["segments"], alpha=self.parameters["alpha"])


def sla_experiment(data: TicketData, alpha: float = 0.05, treatment_share: float = 0.5, srm_alpha: float = 0.001,
                   relative_mde: float = 0.05, segments: list[str] = ("loyalty_tier", "first_channel"),
                   repeat_margin: float = 0.01, spend_margin: float = 2.0, response_margin: float = 0.02,
                   engine: str = "duckdb", spark_master: str = DEFAULT_MASTER, source=None) -> SlaExperiment:
    """Analyse the SLA experiment of a ticket table: design checks, ticket- and customer-level comparisons.

    The experiment's rows and the customer table come from the engine when ``data`` is the copy
    ``study run`` writes loaded without columns (``needed=[]``): the tickets stay in the file
    (:func:`study.ab.sla_engine.experiment_scan`). Tickets in memory are analysed in pandas
    (:func:`study.data.experiment.experiment_rows`, :func:`study.ab.customers.customer_table`); both
    give the same bytes.

    Parameters
    ----------
    data : TicketData
        Tickets with ``variant``: the copy loaded with ``needed=[]``, or tickets in memory (loaded with
        ``needed=TICKET_COLUMNS``).
    alpha : float
        1 - confidence level.
    treatment_share : float
        Planned share of customers in the treatment arm.
    srm_alpha : float
        Sample-ratio-mismatch alarm threshold.
    relative_mde : float
        Relative lift the next experiment should detect, for its sample-size plan.
    segments : list of str
        Customer-level columns of the exploratory segments.
    repeat_margin, spend_margin, response_margin : float
        Non-inferiority margins of the guardrails (:func:`study.ab.roles.sla_roles`): the loss in repeat
        purchase (a share: 0.01 is one percentage point), in follow-up spend per customer (money) and in
        the survey response rate (a share) that still counts as no harm.
    engine : {"duckdb", "spark"}
        Engine that scans the copy (:func:`study.engine.open_source`).
    spark_master : str
        Spark master URL for ``engine="spark"``.
    source : object, optional
        A source of the copy to scan instead (one Parquet file, its rows in the tickets' order).
    """
    if source is not None or _in_file(data):
        if source is None:
            from study.engine import check_engine, open_source

            check_engine(engine, spark_master)
            source = open_source(data.prepared, engine, spark_master)
        scanned = experiment_scan(source, set_aside=data.set_aside,
                                  dtypes=file_dtypes(data.prepared) if data.prepared is not None else None)
        experiment, customers, untimed, covariates = (scanned.experiment, scanned.customers, scanned.untimed,
                                                      scanned.covariates)
    else:
        if engine != "duckdb":
            raise ValueError(f"engine {engine} scans the validated copy that study run writes; these tickets are in "
                             "memory (run the notebook with study run --engine spark, or load the copy with needed=[])")
        covariates = [c for c in PRE_PERIOD_COVARIATES if data.has(c)]
        experiment = experiment_rows(data.tickets, unit_columns=covariates, set_aside=data.set_aside)
        customers = customer_table(experiment.rows, unit_codes=experiment.unit_codes)
        rows = experiment.rows
        untimed = int(rows["response_log2_hours"].isna().sum()) if "response_log2_hours" in rows.columns else 0
    srm = srm_check(experiment.units["variant"], {"control": 1 - treatment_share, "treatment": treatment_share},
                    alpha=srm_alpha)
    metrics = sla_unit_metrics(customers)
    aggregates = aggregate.aggregate_frame(customers, metrics)
    parameters = {"alpha": alpha, "treatment_share": treatment_share, "srm_alpha": srm_alpha,
                  "relative_mde": relative_mde, "segments": list(segments), "repeat_margin": repeat_margin,
                  "spend_margin": spend_margin, "response_margin": response_margin}
    effects = sla_effects(aggregates, alpha=alpha)
    tagged = Effects(roles.tag(effects, roles.sla_roles(repeat_margin, spend_margin, response_margin)), effects.skipped)
    return SlaExperiment(experiment, covariates, srm, customers, metrics, aggregates, tagged, data.source, parameters,
                         csat_bounds(customers, alpha), robust_spend_effects(customers, alpha), untimed)


def _in_file(data: TicketData) -> bool:
    """Whether ``data`` is the copy study run writes, loaded without the columns the experiment reads."""
    return data.prepared is not None and "variant" not in data.tickets.columns


def csat_bounds(customers: pd.DataFrame, alpha: float = 0.05) -> bounds.LeeBounds | None:
    """Lee bounds of the SLA's effect on a customer's mean CSAT, for customers who would answer a survey
    under either arm (:func:`study.ab.bounds.lee_bounds`); ``None`` when an arm has no respondent.

    CSAT is seen only for customers who answered; the SLA may change who does, and then the arms'
    respondents are different people. Customers are the randomized units, so the bounds are taken
    over customers (their mean CSAT over answered surveys), not over tickets.
    """
    mean = (customers["csat_sum"] / customers["surveys"]).where(customers["surveys"] > 0)
    arms = customers["variant"].astype(str)
    control, treatment = (mean[arms == a].to_numpy(dtype=float) for a in ("control", "treatment"))
    if not (np.isfinite(control).sum() >= 2 and np.isfinite(treatment).sum() >= 2):
        return None
    return bounds.lee_bounds(control, treatment, alpha=alpha)


def bounds_estimate(lee: bounds.LeeBounds) -> Estimate:
    """The bounds for the results file: the Imbens-Manski interval as the interval, the bounds in ``extra``."""
    return Estimate(
        "csat_lee_bounds_treatment_vs_control",
        "CSAT, a customer's mean over answered surveys: effect for customers who would answer under either arm "
        "(Lee bounds; value the middle of the bounds)",
        (lee.lower + lee.upper) / 2, None, lee.ci_low, lee.ci_high, None, lee.n_control + lee.n_treatment, lee.method,
        1 - lee.alpha,
        {"metric": "csat", "arms": {"control": "control", "treatment": "treatment"}, "segment": {}, "kind": "lee_bounds",
         "lower": lee.lower, "upper": lee.upper, "se_lower": lee.se_lower, "se_upper": lee.se_upper,
         "trimmed_arm": lee.trimmed_arm, "trim_share": lee.trim_share, "naive_difference": lee.naive_difference,
         "response_by_arm": {"control": lee.response_control, "treatment": lee.response_treatment}},
    )
