"""Any A/B experiment table (one row per randomized unit), described by a column map.

The column map is a YAML file whose ``experiment`` section names the table's columns and arms::

    experiment:
      unit: user_id                # the randomized unit
      arm: group                   # its arm
      control: control             # the control arm's value; every other value is a treatment arm
      metrics: [converted, spend]  # 0/1 columns are proportions, others means; the first is primary
      # or, with roles (study.ab.roles): {converted: {role: primary}, spend: {role: guardrail, margin: 2.0}}
      covariate: pre_spend         # optional: pre-period covariate for CUPED
      segments: [device]           # optional: exploratory breakdowns
      planned_shares: {control: 0.5, treatment: 0.5}   # optional: the planned split (default equal)
      exposure:                    # optional: a column that must agree with the arm
        column: landing_page
        expected: {control: old_page, treatment: new_page}
      plan: {units: 20000, looks: 5}  # optional: read before the end (study.ab.monitoring)

Nothing in the map is evaluated: names are looked up, and SQL identifiers are quoted. A key the
section does not know is an error naming the nearest known key (a misspelt ``covariate`` would
otherwise switch CUPED off without a word). Planned shares are positive numbers summing to 1.
:func:`check_table` checks a table against its map (the control arm and the planned arms are in
the data) before anything is computed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import pandas as pd

from study.ab import (
    abtest,
    aggregate,
    bayes,
    design,
    findings,
    monitoring,
    robust,
    roles,
    unit_checks,
)
from study.ab.effect_tables import bayes_summary, cuped_details, effects_summary, power_summary
from study.ab.sufficient import Metric
from study.analyses import EXPERIMENT
from study.core.accounting import RowLedger
from study.core.findings import Findings
from study.core.methods import method_name
from study.core.results import Skipped, Source
from study.data.column_map import check_keys, nearest, read_yaml_section, scalar_text
from study.data.convert import short
from study.data.schema import DataError

EXPERIMENT_KEYS = ("unit", "arm", "control", "metrics", "covariate", "segments", "planned_shares", "exposure", "plan")
EXPOSURE_KEYS = ("column", "expected")
SHARE_TOLERANCE = 0.01  # planned shares written to two decimals (0.33 three times) still sum to 1


@dataclass(frozen=True)
class ExperimentMap:
    """What the columns of an experiment table mean (see the module docstring)."""

    unit: str
    arm: str
    control: str
    metrics: list[str]
    covariate: str | None = None
    roles: dict[str, dict] = field(default_factory=dict)  # metric -> study.ab.roles.MetricRole fields
    plan: dict | None = None  # study.ab.monitoring.Plan fields: how often and how long it is read
    segments: list[str] = field(default_factory=list)
    planned_shares: dict[str, float] | None = None
    exposure_column: str | None = None
    exposure_expected: dict[str, str] | None = None

    @property
    def columns(self) -> list[str]:
        """Every column the map names."""
        named = [self.unit, self.arm, *self.metrics, *self.segments]
        named += [c for c in (self.covariate, self.exposure_column) if c]
        return list(dict.fromkeys(named))

    def missing(self, columns) -> list[str]:
        """Columns the map names that the data does not have."""
        return [c for c in self.columns if c not in set(columns)]


def read_map(path: str | Path) -> ExperimentMap:
    """Read the ``experiment`` section of a column map.

    Raises
    ------
    DataError
        When the file is missing or not YAML, lacks a required key, has a key it does not know
        (naming the nearest known one), a name that is not a single name, or planned shares that are
        not positive numbers summing to 1; the message names it.
    """
    path = Path(path)
    name = path.name
    section = read_yaml_section(path, "experiment")
    if section is None:
        raise DataError(f"{name}: no 'experiment' section")
    check_keys(section, EXPERIMENT_KEYS, "the experiment section", name)
    absent = [key for key in ("unit", "arm", "control", "metrics") if section.get(key) in (None, "", [])]
    if absent:
        raise DataError(f"{name}: the experiment section lacks {', '.join(repr(k) for k in absent)}")
    exposure = section.get("exposure") or {}
    if not isinstance(exposure, dict):
        raise DataError(f"{name}: exposure must be a mapping with 'column' and 'expected', not {short(exposure)}")
    check_keys(exposure, EXPOSURE_KEYS, "exposure", name)
    expected = exposure.get("expected") or {}
    if not isinstance(expected, dict):
        raise DataError(f"{name}: exposure: expected must map each arm to what it saw, not {short(expected)}")
    metric_roles = roles.parse_metrics(section["metrics"], name)
    return ExperimentMap(
        unit=scalar_text(section["unit"], "unit", name), arm=scalar_text(section["arm"], "arm", name),
        control=scalar_text(section["control"], "control", name),
        metrics=[r.metric for r in metric_roles],
        roles={r.metric: r.to_dict() for r in metric_roles},
        plan=plan.to_dict() if (plan := monitoring.parse_plan(section.get("plan"), name)) else None,
        covariate=scalar_text(section["covariate"], "covariate", name) if section.get("covariate") is not None else None,
        segments=_names(section.get("segments"), "segments", name),
        planned_shares=_planned_shares(section.get("planned_shares"), name),
        exposure_column=scalar_text(exposure["column"], "exposure: column", name) if exposure.get("column") is not None else None,
        exposure_expected={scalar_text(k, "an arm of exposure: expected", name): scalar_text(v, f"exposure: expected: {short(k)}", name)
                           for k, v in expected.items()} or None,
    )


def _names(value, what: str, name: str) -> list[str]:
    """One name or a list of names."""
    if value is None:
        return []
    return [scalar_text(v, f"an entry of {what}", name) for v in (value if isinstance(value, list) else [value])]


def _planned_shares(value, name: str) -> dict[str, float] | None:
    """Planned shares by arm: positive numbers summing to 1 (to :data:`SHARE_TOLERANCE`)."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise DataError(f"{name}: planned_shares maps each arm to its planned share "
                        f"(e.g. {{control: 0.5, treatment: 0.5}}), not {short(value)}")
    shares = {}
    for arm, share in value.items():
        arm = scalar_text(arm, "an arm of planned_shares", name)
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not math.isfinite(share):
            raise DataError(f"{name}: planned_shares: {short(arm)} is {short(share)}, not a number")
        if share <= 0:
            raise DataError(f"{name}: planned_shares: {short(arm)} is {share:g}; every planned share is above 0 "
                            "(leave an arm that got no units out of the plan)")
        shares[arm] = float(share)
    total = sum(shares.values())
    if abs(total - 1) > SHARE_TOLERANCE:
        raise DataError(f"{name}: planned_shares sum to {total:g}, not 1 ({', '.join(f'{a}: {v:g}' for a, v in list(shares.items())[:6])})")
    return shares


def _arms_list(arms: list[str]) -> str:
    return ", ".join(short(a, 40) for a in arms[:8]) + (", ..." if len(arms) > 8 else "")


def _did_you_mean(value: str, options: list[str]) -> str:
    close = nearest(value, options)
    return f"; did you mean {close!r}?" if close else ""


def check_table(frame: pd.DataFrame, mapping: ExperimentMap, source: str = "data") -> None:
    """Check that an experiment table fits its map, before anything is computed.

    Every column the map names is present; the arm column has at least two arms, one of them the
    control arm; planned shares (if any) name exactly the arms of the data; the exposure's expected
    values name arms of the data. Arms are compared as text.

    Parameters
    ----------
    frame : pandas.DataFrame
        The experiment table as read (:func:`study.data.io.load`).
    mapping : ExperimentMap
    source : str
        The table's name, for messages.

    Raises
    ------
    DataError
        One line naming what does not fit, e.g. ``control arm 'ctrl' is not in column 'group'
        (arms: 'a', 'b')``.
    """
    missing = mapping.missing(frame.columns)
    if missing:
        raise DataError(f"{source}: the column map names columns the data lacks: {', '.join(short(c) for c in missing)}")
    check_arms({str(a) for a in pd.unique(frame[mapping.arm].dropna())}, mapping, source)


def check_arms(found, mapping: ExperimentMap, source: str = "data") -> None:
    """:func:`check_table`'s checks of the arms, given the arms of the data as text (an engine finds them)."""
    arms = sorted(found)
    column = f"column {mapping.arm!r}"
    if not arms:
        raise DataError(f"{source}: {column} has no arm in any row")
    if mapping.control not in arms:
        raise DataError(f"{source}: control arm {short(mapping.control)} is not in {column} "
                        f"(arms: {_arms_list(arms)}{_did_you_mean(mapping.control, arms)})")
    if len(arms) < 2:
        raise DataError(f"{source}: {column} holds only the control arm {short(mapping.control)}: there is no treatment to compare")
    if mapping.planned_shares:
        unplanned = [a for a in arms if a not in mapping.planned_shares]
        absent = [a for a in mapping.planned_shares if a not in arms]
        if absent:
            raise DataError(f"{source}: planned_shares names {_arms_list(absent)}, not an arm in {column} "
                            f"(arms: {_arms_list(arms)}{_did_you_mean(absent[0], unplanned or arms)})")
        if unplanned:
            raise DataError(f"{source}: {column} has arm(s) {_arms_list(unplanned)} that planned_shares does not name "
                            f"(planned: {_arms_list(list(mapping.planned_shares))})")
    if mapping.exposure_expected:
        absent = [a for a in mapping.exposure_expected if a not in arms]
        if absent:
            raise DataError(f"{source}: exposure: expected names {_arms_list(absent)}, not an arm in {column} "
                            f"(arms: {_arms_list(arms)}{_did_you_mean(absent[0], arms)})")


@dataclass
class ExperimentResult:
    """An experiment table analysed: what was set aside, the design checks, every comparison.

    ``source`` and ``parameters`` (``alpha``, ``srm_alpha``, ``relative_mde``, the column map) are
    set by :func:`study.ab.experiment_engine.from_files`, which reads the table and its map.
    """

    name: ClassVar[str] = EXPERIMENT
    mapping: ExperimentMap
    ledger: RowLedger
    exposure_mismatches: int
    checks: unit_checks.UnitChecks
    srm: design.SampleRatioCheck
    aggregates: aggregate.Aggregates
    effects: list
    segment_effects: list
    source: Source | None = None
    robust_effects: list = field(default_factory=list)
    itt_effects: list = field(default_factory=list)
    parameters: dict = field(default_factory=dict)

    @property
    def rows(self) -> dict:
        return self.ledger.as_dict()

    @property
    def notes(self) -> list[str]:
        return []

    def findings(self, truth: dict | None = None) -> Findings:
        """The experiment table in words: design checks and every comparison (``truth`` is not used)."""
        return findings.experiment_table(self)

    def srm_sentence(self) -> str:
        """The sample-ratio test in one sentence, with its alarm level."""
        return findings.srm(self.srm)

    def unit_checks_sentence(self) -> str:
        """What the unit checks found (:meth:`study.ab.unit_checks.UnitChecks.summary`), data text escaped."""
        return findings.unit_checks(self)

    def srm_table(self) -> pd.DataFrame:
        """Units per arm against the planned split."""
        return design.srm_table(self.srm)

    @property
    def shares(self) -> set[str]:
        """The 0/1 metrics: their tables show percentages and differences in percentage points."""
        return {metric.name for metric in self.aggregates.metrics if metric.kind == "proportion"}

    def effects_summary(self) -> pd.DataFrame | Skipped:
        """One row per comparison of a treatment arm with control on a metric."""
        return effects_summary(self.effects, self.shares)

    def cuped_details(self) -> pd.DataFrame | Skipped:
        """The comparisons adjusted for the covariate beside their unadjusted estimates."""
        return cuped_details(self.effects, self.shares)

    def power(self) -> pd.DataFrame:
        """Power of each comparison and the units the next experiment needs, one row per metric."""
        table = abtest.power_table(self.aggregates, control=self.mapping.control,
                                   relative_mde=self.parameters.get("relative_mde", 0.05),
                                   alpha=self.parameters.get("alpha", 0.05)).set_index("metric")
        return power_summary(table, {m.label or m.name for m in self.aggregates.metrics if m.name in self.shares})

    def intention_to_treat(self) -> pd.DataFrame | Skipped:
        """Every unit as assigned, beside the per-protocol effects, when rows were set aside for their exposure."""
        if not self.itt_effects:
            return Skipped("intention-to-treat comparison", "no row was set aside for its exposure, so every unit is "
                           "already analysed as assigned")
        return effects_summary(self.itt_effects, self.shares)

    def bayes(self) -> pd.DataFrame | Skipped:
        """A Bayesian reading of the primary metric per arm (:func:`study.ab.bayes.bayes_table`); not the verdict's rule."""
        labels = {m.label or m.name for m in self.aggregates.metrics if m.name in self.shares}
        return bayes_summary(bayes.bayes_table(self.effects, primary_only=True), labels)

    def robust(self) -> pd.DataFrame | Skipped:
        """The metrics marked ``robust: true``: Welch beside winsorized, trimmed, Mann-Whitney and bootstrap."""
        if not self.robust_effects:
            return Skipped("heavy-tail comparisons", "no metric is marked robust: true in the column map, and none "
                           f"has an excess kurtosis above {robust.HEAVY_TAIL_KURTOSIS:g}")
        columns = ["metric", "comparison", "method", "control", "treatment", "estimate", "CI low", "CI high", "p-value"]
        table = abtest.effects_table(self.robust_effects)[columns]
        return table.assign(method=table["method"].map(method_name)).set_index(["metric", "comparison", "method"])

    def segments(self) -> pd.DataFrame | Skipped:
        """Exploratory comparisons by segment, or why there are none."""
        if not self.segment_effects:
            return Skipped("segment breakdown", "the column map names no segment")
        return effects_summary(self.segment_effects, self.shares, methods=False)

    @property
    def estimates(self) -> list:
        """Every comparison and the sample-ratio test, for the results file."""
        return [design.srm_estimate(self.srm), *abtest.estimates(self.effects), *abtest.estimates(self.segment_effects),
                *abtest.mde_estimates(self.effects, self.parameters.get("relative_mde", 0.05)),
                *[dataclasses.replace(e, name=findings.itt_name(e.name), label=f"{e.label} (intention to treat)")
                  for e in abtest.estimates(self.itt_effects)]]


def metric_specs(frame: pd.DataFrame, mapping: ExperimentMap) -> list[Metric]:
    """One metric per mapped column: a proportion if its values are only 0 and 1, a mean otherwise."""
    specs = []
    for column in mapping.metrics:
        values = pd.to_numeric(frame[column], errors="coerce")
        if values.isna().all():
            raise DataError(f"metric column '{column}' has no numeric value")
        kind = "proportion" if set(values.dropna().unique()) <= {0, 1} else "mean"
        specs.append(Metric(column, column, kind, covariate=mapping.covariate))
    return specs


def analyse(frame: pd.DataFrame, mapping: ExperimentMap, alpha: float = 0.05, srm_alpha: float = 0.001) -> ExperimentResult:
    """Clean, check and compare: exposure agreement, unit checks, sample ratio, every metric and segment.

    Rows whose exposure disagrees with their arm are set aside first (what the unit saw is not what
    it was assigned); then rows without an arm or unit, exact copies, and units in several arms or with
    conflicting rows (:mod:`study.ab.unit_checks`). Every row set aside is counted with its reason.
    """
    check_table(frame, mapping)
    ledger = RowLedger(frame)
    mismatches = 0
    if mapping.exposure_column and mapping.exposure_expected:
        inconsistent = unit_checks.inconsistent_assignment(frame, mapping.arm, mapping.exposure_column, mapping.exposure_expected)
        mismatches = int(inconsistent.sum())
        ledger.keep(~inconsistent, f"{mapping.arm} and {mapping.exposure_column} disagree")
    checks = unit_checks.check_units(ledger.frame, unit=mapping.unit, arm=mapping.arm)
    clean = ledger.absorb(unit_checks.drop_flagged_units(ledger.frame, mapping.unit, mapping.arm)[1])
    if mapping.control not in {str(a) for a in pd.unique(clean[mapping.arm].dropna())}:
        raise DataError(f"no row of the control arm {short(mapping.control)} is left once the rows that cannot be "
                        f"trusted are set aside ({', '.join(f'{k}: {v:,}' for k, v in ledger.as_dict()['dropped'].items())})")
    metrics = metric_specs(clean, mapping)
    segment_aggregates = [aggregate.aggregate_frame(clean, metrics, arm=mapping.arm, segments=[segment])
                          for segment in mapping.segments]
    robust_metrics = [m for m in mapping.metrics if mapping.roles.get(m, {}).get("robust") or robust.heavy_tailed(clean[m])]
    return compare(mapping, ledger, mismatches, checks, aggregate.aggregate_frame(clean, metrics, arm=mapping.arm),
                   segment_aggregates, robust.robust_comparisons(clean, robust_metrics, mapping.arm, mapping.control, alpha),
                   _as_assigned(frame, mapping, alpha) if mismatches else [], alpha, srm_alpha)


def compare(mapping: ExperimentMap, ledger: RowLedger, mismatches: int, checks: unit_checks.UnitChecks,
            aggregates: aggregate.Aggregates, segment_aggregates: list, robust_effects: list, itt_effects: list,
            alpha: float = 0.05, srm_alpha: float = 0.001) -> ExperimentResult:
    """The design check and every comparison from the sufficient statistics, whatever computed them
    (:func:`analyse` in pandas, :func:`study.ab.experiment_engine.analyse_source` on an engine)."""
    srm = design.srm_from_counts(aggregates.unit_counts(), mapping.planned_shares, srm_alpha)
    metric_roles = {m: roles.MetricRole(**spec) for m, spec in mapping.roles.items()}
    effects = roles.tag(abtest.adjust_p_values(abtest.compare_metrics(aggregates, control=mapping.control, alpha=alpha)),
                        metric_roles)
    primary = next((m for m, r in metric_roles.items() if r.role == roles.PRIMARY), None)
    effects = monitoring.tag(effects, monitoring.Plan(**mapping.plan) if mapping.plan else None, primary, alpha)
    segment_effects = []
    for segmented in segment_aggregates:
        segment_effects += abtest.compare_metrics(segmented, control=mapping.control, alpha=alpha)
    return ExperimentResult(mapping, ledger, mismatches, checks, srm, aggregates, effects,
                            abtest.adjust_p_values(segment_effects), robust_effects=robust_effects,
                            itt_effects=itt_effects)


def _as_assigned(frame: pd.DataFrame, mapping: ExperimentMap, alpha: float) -> list:
    """Intention to treat: every unit in the arm it was assigned, whatever it was exposed to (the unit
    checks still apply: a unit's assignment must be knowable)."""
    rows = unit_checks.drop_flagged_units(frame, mapping.unit, mapping.arm)[0]
    aggregates = aggregate.aggregate_frame(rows, metric_specs(rows, mapping), arm=mapping.arm)
    return abtest.adjust_p_values(abtest.compare_metrics(aggregates, control=mapping.control, alpha=alpha))
