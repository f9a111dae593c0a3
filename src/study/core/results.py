"""Tidy estimates and the machine-readable results file of each analysis."""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Protocol

from study.core.inference import Interval


@dataclass(frozen=True)
class Source:
    """Facts about a data file, for the report and the results.

    Attributes
    ----------
    name : str
        The file name as given (no folders, so reports do not leak machine paths).
    fingerprint : str
        First 16 hex digits of the SHA-256 of the file's bytes.
    rows : int
        Rows read.
    columns : list of str
        Columns read.
    """

    name: str
    fingerprint: str
    rows: int
    columns: list[str]


@dataclass(frozen=True)
class Estimate:
    """One key number of an analysis, with its uncertainty.

    Attributes
    ----------
    name : str
        Stable machine name, e.g. ``csat_per_doubling_adjusted``.
    label : str
        What it is, in words, with its unit.
    value : float
        Point estimate.
    se : float or None
        Standard error.
    ci_low, ci_high : float or None
        Confidence interval bounds (level in ``ci_level``).
    p_value : float or None
        Two-sided p-value of the null of no effect, where one applies.
    n : int
        Rows used.
    method : str
        How it was computed (model, standard errors, interval method).
    ci_level : float
        Confidence level of the interval.
    extra : dict
        Anything else a reader needs (arms, adjusted p-values, counts); left out of JSON when empty.
    model : str
        The model in words or as a formula, where the estimate comes from one.
    interval : study.core.inference.Interval, optional
        How the interval was made, so that :meth:`conf_int` can make it at another level; kept in
        memory only (the results file holds the interval at the analysis's level).
    """

    name: str
    label: str
    value: float
    se: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    n: int
    method: str
    ci_level: float = 0.95
    extra: dict = field(default_factory=dict)
    model: str = ""
    interval: Interval | None = field(default=None, compare=False, repr=False)

    def covers(self, value: float) -> bool:
        """Whether the interval contains ``value``."""
        return self.ci_low <= value <= self.ci_high

    def conf_int(self, alpha: float | None = None) -> tuple[float, float]:
        """The confidence interval at level ``1 - alpha``, as statsmodels' ``conf_int(alpha)``.

        ``None``, or the analysis's own level, gives the stored interval; another level is made again
        the way the stored one was made (:class:`study.core.inference.Interval`).

        Raises
        ------
        ValueError
            When the estimate does not know how its interval was made (e.g. a continuity-corrected
            difference of proportions): rerun the analysis with that ``alpha``.
        """
        if alpha is None or math.isclose(alpha, 1 - self.ci_level, rel_tol=1e-12, abs_tol=1e-15):
            return self.ci_low, self.ci_high
        if self.interval is None or self.ci_low is None:
            raise ValueError(f"{self.name}: its {self.ci_level:.0%} interval ({self.method}) cannot be made again at another "
                             f"level here; rerun the analysis with alpha={alpha:g}")
        return self.interval.bounds(self.value, self.se, alpha)

    def at(self, alpha: float) -> Estimate:
        """The same estimate with its interval at level ``1 - alpha`` (:meth:`conf_int`)."""
        low, high = self.conf_int(alpha)
        return replace(self, ci_low=float(low), ci_high=float(high), ci_level=1 - alpha)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "interval"}
        for optional in ("extra", "model"):
            if not out[optional]:
                del out[optional]
        return {k: _plain(v) for k, v in out.items()}


@dataclass(frozen=True)
class Skipped:
    """A section that could not run on this data, and why."""

    section: str
    reason: str


def format_p(p: float | None) -> str:
    """p-value as a reader expects it: ``<0.001`` below a thousandth, three decimals otherwise."""
    if p is None or not math.isfinite(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _plain(value):
    """JSON-safe: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json_atomic(path: str | Path, payload: dict) -> Path:
    """Write JSON so that a reader sees the old file or the whole new one, never half of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_plain(payload), indent=2, ensure_ascii=False) + "\n"
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(tmp, 0o644)  # mkstemp creates 0600; results are for sharing
    os.replace(tmp, path)
    return path


def write_results(
    results_dir: str | Path | None,
    analysis: str,
    estimates: list[Estimate],
    source: Source,
    parameters: dict,
    rows: dict,
    notes: list[str] | None = None,
    findings: list | None = None,
) -> dict:
    """Assemble an analysis's results and write ``<results_dir>/<analysis>.json``.

    Nothing volatile (times, folders) goes in, so the same data and parameters give the same bytes.

    Parameters
    ----------
    results_dir : str, Path or None
        Folder to write to; ``None`` only assembles (interactive use).
    analysis : str
        Analysis name, e.g. ``02_satisfaction_drivers``.
    estimates : list of Estimate
    source : Source
        The data's name, fingerprint and row count.
    parameters : dict
        The notebook's parameters.
    rows : dict
        Row accounting (:meth:`study.core.accounting.RowLedger.as_dict`).
    notes : list of str, optional
        Skipped sections and caveats, in words.
    findings : list of study.core.findings.Finding, optional
        The analysis's conclusions in words, as the notebook showed them; the index page and the
        executive summary quote them from here.

    Returns
    -------
    dict
        The payload written.
    """
    payload = {
        "analysis": analysis,
        "data": {"file": source.name, "fingerprint": source.fingerprint, "rows": source.rows},
        "parameters": {k: v for k, v in parameters.items() if k != "results_dir"},
        "rows": rows,
        "estimates": [e.to_dict() for e in estimates],
        "notes": notes or [],
        "findings": [f.to_dict() for f in findings or []],
    }
    if results_dir is not None:
        write_json_atomic(Path(results_dir) / f"{analysis}.json", payload)
    return _plain(payload)


class AnalysisResult(Protocol):
    """What every analysis returns: the notebook, the results file and the summary read this one object.

    Attributes
    ----------
    name : str
        The analysis (:data:`study.analyses.ANALYSES`), which names its results file.
    source : Source
        The data it was computed on.
    parameters : dict
        The parameters it was computed with, as the results file records them.
    estimates : list of Estimate
    rows : dict
        Row accounting (:meth:`study.core.accounting.RowLedger.as_dict`, or one per model).
    notes : list of str
        Skipped sections and caveats, in words.

    Methods
    -------
    findings(truth=None)
        Its conclusions in words (:class:`study.core.findings.Findings`), each naming the estimates it quotes.
    """

    name: str
    source: Source
    parameters: dict

    @property
    def estimates(self) -> list[Estimate]: ...

    @property
    def rows(self) -> dict: ...

    @property
    def notes(self) -> list[str]: ...

    def findings(self, truth: dict | None = None) -> list: ...


def save(result: AnalysisResult, results_dir: str | Path | None, findings: list | None = None) -> dict:
    """Write ``<results_dir>/<result.name>.json`` (:func:`write_results`); ``None`` only assembles it.

    Parameters
    ----------
    result : AnalysisResult
    results_dir : str, Path or None
    findings : study.core.findings.Findings, optional
        The findings the notebook showed (e.g. with a check against a simulation's truth); by default
        ``result.findings()``.
    """
    return write_results(results_dir, result.name, result.estimates, result.source, result.parameters, result.rows,
                         result.notes, result.findings() if findings is None else findings)
