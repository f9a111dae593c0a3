"""Column maps: a user's ticket export read as the data contract.

A column map is a YAML file. Its ``tickets`` section maps the export's names and codes onto the
contract (its ``experiment`` section, for experiment tables, is read by :mod:`study.experiment_table`)::

    tickets:
      columns:                       # contract name: the export's column
        ticket_id: case_number
        csat: satisfaction
      values:                        # contract column: {export value: contract value}
        variant: {A: control, B: treatment}
        resolved: {Solved: yes, Open: no}
      csat_scale: 1-10               # 1-5 (default), 1-10 or 0-100; see CSAT_SCALES
      durations:                     # contract column: {from: column, to: column} (timestamps)
        first_response_minutes: {from: created_at, to: first_response_at}

Nothing in the map is evaluated; names are looked up and values compared as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from study.schema import BY_NAME, DataError, _problem

# Other CSAT scales, binned onto 1-5 in equal-width bands (documented in data/README.md): a 1-10
# answer x becomes ceil(x / 2); a 0-100 answer x becomes 1 + min(4, floor(x / 20)).
CSAT_SCALES = {
    "1-5": (1, 5, lambda x: x),
    "1-10": (1, 10, lambda x: np.ceil(x / 2)),
    "0-100": (0, 100, lambda x: 1 + np.minimum(4, np.floor(x / 20))),
}


@dataclass(frozen=True)
class TicketMap:
    """How an export's columns and codes become the contract's (see the module docstring)."""

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    csat_scale: str = "1-5"
    durations: dict[str, tuple[str, str]] = field(default_factory=dict)


def read_yaml_section(path: str | Path, section: str) -> dict | None:
    """One section of a column map file, or ``None`` when the file has no such section.

    Raises
    ------
    DataError
        When the file is missing or not YAML.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such column map")
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise DataError(f"{path.name}: not valid YAML ({str(error).splitlines()[0]})") from None
    found = content.get(section) if isinstance(content, dict) else None
    if found is not None and not isinstance(found, dict):
        raise DataError(f"{path.name}: the '{section}' section must be a mapping")
    return found


def read_ticket_map(path: str | Path) -> TicketMap | None:
    """The ``tickets`` section of a column map, or ``None`` when it has none.

    Raises
    ------
    DataError
        For a name outside the contract, an unknown CSAT scale, or a malformed duration.
    """
    section = read_yaml_section(path, "tickets")
    if section is None:
        return None
    name = Path(path).name
    columns = {str(k): str(v) for k, v in (section.get("columns") or {}).items()}
    values = {str(k): {str(a): str(b) for a, b in (v or {}).items()} for k, v in (section.get("values") or {}).items()}
    durations = {}
    for target, spec in (section.get("durations") or {}).items():
        if not isinstance(spec, dict) or not {"from", "to"} <= set(spec):
            raise DataError(f"{name}: duration '{target}' needs 'from' and 'to' columns")
        durations[str(target)] = (str(spec["from"]), str(spec["to"]))
    unknown = [c for c in [*columns, *values, *durations] if c not in BY_NAME]
    if unknown:
        raise DataError(f"{name}: not contract columns: {', '.join(repr(c) for c in unknown)} (see data/README.md)")
    targets = list(columns.values())
    doubled = sorted({t for t in targets if targets.count(t) > 1})
    if doubled:
        raise DataError(f"{name}: export column(s) {', '.join(repr(t) for t in doubled)} mapped to two contract columns")
    scale = str(section.get("csat_scale", "1-5"))
    if scale not in CSAT_SCALES:
        raise DataError(f"{name}: csat_scale '{scale}' is not one of {', '.join(CSAT_SCALES)}")
    return TicketMap(columns, values, scale, durations)


def apply(frame: pd.DataFrame, mapping: TicketMap, source: str = "data") -> pd.DataFrame:
    """The export with contract names, codes, CSAT scale and durations.

    Raises
    ------
    DataError
        When a mapped column is missing, a CSAT answer lies off its declared scale, or a duration's
        end comes before its start; the message names column, values and rows.
    """
    missing = [c for c in [*mapping.columns.values(), *(c for pair in mapping.durations.values() for c in pair)]
               if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: the column map names columns the data lacks: {', '.join(repr(c) for c in missing)}")
    # Durations read the export's own timestamp columns, before any renaming.
    durations = {}
    for target, (start, end) in mapping.durations.items():
        began = pd.to_datetime(frame[start], errors="coerce", format="mixed")
        ended = pd.to_datetime(frame[end], errors="coerce", format="mixed")
        minutes = (ended - began).dt.total_seconds() / 60
        backwards = minutes < 0
        if backwards.any():
            raise DataError(f"{source}: " + _problem(end, backwards, frame[end], f"that {{be}} before '{start}'"))
        durations[target] = minutes
    clashes = [c for c in mapping.columns if c in frame.columns and mapping.columns[c] != c]
    out = frame.drop(columns=clashes).rename(columns={v: k for k, v in mapping.columns.items()})
    for column, codes in mapping.values.items():
        if column in out.columns:
            text = out[column].astype("string").str.strip()
            out[column] = text.map(lambda v: codes.get(v, v) if isinstance(v, str) else v)
    if "csat" in out.columns and mapping.csat_scale != "1-5":
        low, high, to_five = CSAT_SCALES[mapping.csat_scale]
        answers = pd.to_numeric(out["csat"], errors="coerce")
        off = answers.notna() & ((answers < low) | (answers > high))
        if off.any():
            raise DataError(f"{source}: " + _problem("csat", off, out["csat"], f"outside the declared {mapping.csat_scale} scale"))
        out["csat"] = to_five(answers)
    for target, minutes in durations.items():
        out[target] = minutes.to_numpy()
    return out
