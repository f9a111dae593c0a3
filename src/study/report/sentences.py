"""Results files as the index reads them: the sentence type, the estimates of a payload and whether they can be quoted."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ERROR_ANCHOR = "papermill-error-cell"  # papermill marks the cell that failed; a failed report may have no Findings


ANCHOR = "Findings"  # heading id of each report's Findings section (nbconvert derives it from "## Findings")


@dataclass(frozen=True)
class Sentence:
    """One finding in plain language.

    Attributes
    ----------
    analysis : str
        The analysis it comes from, e.g. ``02_satisfaction_drivers``.
    text : str
        The sentence in Markdown, data text escaped (:func:`study.core.words.text`).
    href : str or None
        The report section with the detail, relative to the index (``None``: no report).
    estimates : tuple of str
        Names of the estimates it quotes (``results/<analysis>.json``).
    kind : str
        A finding's kind (:data:`study.core.findings.KINDS`), or ``failed`` (the analysis failed).
    """

    analysis: str
    text: str
    href: str | None
    estimates: tuple[str, ...] = ()
    kind: str = "finding"


def finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def usable(estimate: Mapping | None, interval: bool = True) -> bool:
    """Whether an estimate has a finite value (and, with ``interval``, finite bounds)."""
    if not estimate or not finite(estimate.get("value")):
        return False
    return not interval or (finite(estimate.get("ci_low")) and finite(estimate.get("ci_high")))


def estimates_by_name(payload: Mapping | None) -> dict[str, dict]:
    """``{name: estimate}`` of a results payload (check each with :func:`usable` before quoting it)."""
    if not payload:
        return {}
    return {str(e["name"]): e for e in payload.get("estimates") or [] if isinstance(e, Mapping) and "name" in e}


def read_results(folder: str | Path) -> dict[str, dict]:
    """Every ``<analysis>.json`` in a results folder, ``{analysis: payload}``; unreadable files are left out."""
    out = {}
    folder = Path(folder)
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(payload, dict):
            out[str(payload.get("analysis") or path.stem)] = payload
    return out


def findings_markdown(payload: Mapping | None) -> str:
    """Every finding of a results payload as Markdown bullets (``""`` when it has none)."""
    texts = [f["text"] for f in (payload or {}).get("findings") or [] if isinstance(f, Mapping) and isinstance(f.get("text"), str)]
    return "\n".join(f"- {text}" for text in texts)
