"""Any A/B experiment table (one row per randomized unit), described by a column map.

The column map is a YAML file whose ``experiment`` section names the table's columns and arms::

    experiment:
      unit: user_id                # the randomized unit
      arm: group                   # its arm
      control: control             # the control arm's value; every other value is a treatment arm
      metrics: [converted, spend]  # 0/1 columns are proportions, others means
      covariate: pre_spend         # optional: pre-period covariate for CUPED
      segments: [device]           # optional: exploratory breakdowns
      planned_shares: {control: 0.5, treatment: 0.5}   # optional: the planned split (default equal)
      exposure:                    # optional: a column that must agree with the arm
        column: landing_page
        expected: {control: old_page, treatment: new_page}

Nothing in the map is evaluated: names are looked up, and SQL identifiers are quoted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from study import abtest, aggregate, experiments, unit_checks
from study.column_map import read_yaml_section
from study.accounting import RowLedger
from study.schema import DataError
from study.sufficient import Metric


@dataclass(frozen=True)
class ExperimentMap:
    """What the columns of an experiment table mean (see the module docstring)."""

    unit: str
    arm: str
    control: str
    metrics: list[str]
    covariate: str | None = None
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
        When the file is missing, not YAML, or lacks a required key; the message names it.
    """
    path = Path(path)
    section = read_yaml_section(path, "experiment")
    if section is None:
        raise DataError(f"{path.name}: no 'experiment' section")
    absent = [key for key in ("unit", "arm", "control", "metrics") if not section.get(key)]
    if absent:
        raise DataError(f"{path.name}: the experiment section lacks {', '.join(repr(k) for k in absent)}")
    exposure = section.get("exposure") or {}
    metrics = section["metrics"]
    return ExperimentMap(
        unit=str(section["unit"]), arm=str(section["arm"]), control=str(section["control"]),
        metrics=[str(m) for m in (metrics if isinstance(metrics, list) else [metrics])],
        covariate=str(section["covariate"]) if section.get("covariate") else None,
        segments=[str(s) for s in section.get("segments") or []],
        planned_shares={str(k): float(v) for k, v in section["planned_shares"].items()} if section.get("planned_shares") else None,
        exposure_column=str(exposure["column"]) if exposure.get("column") else None,
        exposure_expected={str(k): str(v) for k, v in (exposure.get("expected") or {}).items()} or None,
    )


@dataclass
class ExperimentResult:
    """An experiment table analysed: what was set aside, the design checks, every comparison."""

    mapping: ExperimentMap
    ledger: RowLedger
    exposure_mismatches: int
    checks: unit_checks.UnitChecks
    srm: experiments.SampleRatioCheck
    aggregates: aggregate.Aggregates
    effects: list
    segment_effects: list

    @property
    def estimates(self) -> list:
        """Every comparison and the sample-ratio test, for the results file."""
        return [experiments.srm_estimate(self.srm), *abtest.estimates(self.effects), *abtest.estimates(self.segment_effects)]


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
    conflicting rows (:mod:`study.unit_checks`). Every row set aside is counted with its reason.
    """
    missing = mapping.missing(frame.columns)
    if missing:
        raise DataError(f"the column map names columns the data lacks: {', '.join(repr(c) for c in missing)}")
    ledger = RowLedger(frame)
    mismatches = 0
    if mapping.exposure_column and mapping.exposure_expected:
        inconsistent = unit_checks.inconsistent_assignment(frame, mapping.arm, mapping.exposure_column, mapping.exposure_expected)
        mismatches = int(inconsistent.sum())
        ledger.keep(~inconsistent, f"{mapping.arm} and {mapping.exposure_column} disagree")
    checks = unit_checks.check_units(ledger.frame, unit=mapping.unit, arm=mapping.arm)
    clean = ledger.absorb(unit_checks.drop_flagged_units(ledger.frame, mapping.unit, mapping.arm)[1])
    metrics = metric_specs(clean, mapping)
    aggregates = aggregate.aggregate_frame(clean, metrics, arm=mapping.arm)
    srm = experiments.srm_from_counts(aggregates.unit_counts(), mapping.planned_shares, srm_alpha)
    effects = abtest.adjust_p_values(abtest.compare_metrics(aggregates, control=mapping.control, alpha=alpha))
    segment_effects = []
    for segment in mapping.segments:
        segment_effects += abtest.compare_metrics(
            aggregate.aggregate_frame(clean, metrics, arm=mapping.arm, segments=[segment]), control=mapping.control, alpha=alpha,
        )
    return ExperimentResult(mapping, ledger, mismatches, checks, srm, aggregates, effects,
                            abtest.adjust_p_values(segment_effects))
