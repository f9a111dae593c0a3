"""A column map file read and checked: its sections, every key with "did you mean", the expressions parsed.

:mod:`study.data.column_map` documents the map and applies it to an export; this module turns the
YAML file into a :class:`TicketMap` (and gives the other sections, ``experiment`` and ``drivers``, to
their readers), refusing anything it does not know before the data is read.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from study.data import expressions
from study.data.convert import nearest, short
from study.data.map_yaml import check_keys, read_yaml_section
from study.data.rollout_table import RolloutTable, read_spec
from study.data.schema import BY_NAME, DataError

TICKET_KEYS = ("missing_values", "date_formats", "derive", "filter", "durations", "columns", "values", "units",
               "csat_scale", "rollout")
DURATION_KEYS = ("from", "to", "signed")
# The contract's durations and their units; units: converts into these.
DURATION_UNITS = {"first_response_minutes": "minutes", "resolution_minutes": "minutes", "tenure_days": "days",
                  "days_to_next_purchase": "days"}
UNITS = {"seconds": 1.0, "minutes": 60.0, "hours": 3_600.0, "days": 86_400.0}  # seconds per unit
# A new column this close to a contract name (difflib ratio) is taken for a typo of it.
TYPO_RATIO = 0.9
# A column map is a few dozen lines. The caps stop a file of YAML aliases that expands to billions
# of values (the "billion laughs") before it is built, and keep every message about it short.


@dataclass(frozen=True)
class TicketMap:
    """How an export's columns and codes become the contract's (see the module docstring).

    ``durations`` maps a column to ``(from, to)`` or ``(from, to, signed)``; ``derive`` and
    ``filters`` hold expression text, in the order they apply.
    """

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    csat_scale: str = "1-5"
    durations: dict[str, tuple] = field(default_factory=dict)
    missing_values: tuple[str, ...] = ()
    derive: dict[str, str] = field(default_factory=dict)
    filters: tuple[str, ...] = ()
    units: dict[str, str] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)
    rollout: RolloutTable | None = None


def scalar_text(value, what: str, name: str) -> str:
    """A name or code of the map as text; a list, mapping, empty value or yes/no is refused.

    PyYAML reads an unquoted ``no`` as False and ``null`` as None: those cannot be told back from
    the text the user meant, so they must be quoted.
    """
    if isinstance(value, bool) or value is None:
        raise DataError(f"{name}: {what} is {'empty' if value is None else 'read as yes/no'}; "
                        "quote it (e.g. \"NA\", \"no\")")
    if not isinstance(value, (str, int, float)):
        raise DataError(f"{name}: {what} must be a single name or code, not {short(value)}")
    return str(value)


def _recoded(value, what: str, name: str) -> str:
    """What a code becomes: an unquoted yes/no is a yes/no (``Solved: yes``), nothing is refused."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        raise DataError(f"{name}: {what} is empty; to read a code as missing, list it under missing_values")
    return scalar_text(value, what, name)


def _mapping(value, what: str, name: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise DataError(f"{name}: {what} must be a mapping (key: value), not {short(value)}")
    return value



def parse_scale(text: str) -> tuple[int, int]:
    """``"0-10"`` -> ``(0, 10)``.

    Raises
    ------
    ValueError
        When ``text`` is not two whole numbers ``low-high`` with ``low < high``.
    """
    match = re.fullmatch(r"\s*(\d{1,6})\s*-\s*(\d{1,6})\s*", str(text))
    if not match or int(match.group(1)) >= int(match.group(2)):
        raise ValueError(f"csat_scale {short(text)} is not a scale low-high of whole numbers (e.g. 1-5, 0-10, 1-7, 0-100)")
    return int(match.group(1)), int(match.group(2))


def csat_to_five(answers: pd.Series, low: int, high: int) -> pd.Series:
    """Whole answers on ``low-high`` binned onto 1-5 by the module's CSAT_RULE (five equal-width bands)."""
    # Integer arithmetic in floats is exact here (answers and bounds are whole and small), so a
    # boundary answer such as 20 on 0-100 cannot fall into the band below by rounding.
    return 1 + np.minimum(4, np.floor_divide(5 * (answers - low), high - low))


def scale_bands(low: int, high: int) -> str:
    """The rule spelled out for one scale: ``0-1 -> 1, 2-3 -> 2, ...``."""
    answers = pd.Series(np.arange(low, high + 1), dtype=float)
    bands = pd.Series(csat_to_five(answers, low, high).to_numpy(), index=answers.astype(int))
    parts = []
    for point, members in bands.groupby(bands):
        first, last = members.index.min(), members.index.max()
        parts.append(f"{first}{'' if first == last else f'-{last}'} -> {int(point)}")
    return ", ".join(parts)


def filter_reason(text: str) -> str:
    """The row-accounting reason of the rows a filter excludes."""
    return f"excluded by the column map's filter: {text}"


def duration_unit(column: str) -> str | None:
    """The unit a duration column is computed in: the contract's, else the one its name ends with."""
    if column in DURATION_UNITS:
        return DURATION_UNITS[column]
    return next((unit for unit in UNITS if column.endswith("_" + unit)), None)


def _typo_of_contract(column: str) -> str | None:
    """A contract name ``column`` is nearly (but not) equal to: a typo, not a new column."""
    if column in BY_NAME:
        return None
    close = difflib.get_close_matches(column, list(BY_NAME), n=1, cutoff=TYPO_RATIO)
    return close[0] if close else None


def _parsed(text, what: str, name: str) -> expressions.Expression:
    """An expression of the map, read now so that a mistake is named before any data is read."""
    if isinstance(text, bool):
        text = "true" if text else "false"
    elif isinstance(text, (int, float)):
        text = repr(text)
    elif text is None:
        raise DataError(f"{name}: {what} is empty")
    elif not isinstance(text, str):
        raise DataError(f"{name}: {what} must be an expression (text), not {short(text)}")
    try:
        return expressions.parse(text)
    except DataError as error:
        raise DataError(f"{name}: {what}: {error}") from None


def _date_format(value, column: str, name: str) -> str:
    fmt = scalar_text(value, f"date_formats: {short(column)}", name)
    probe = datetime(2026, 12, 31, 13, 45, 30)
    try:
        # A format that cannot read back what it writes (a typo such as %Q) is refused before any data is read.
        if "%" not in fmt:
            raise ValueError("no % directive")
        datetime.strptime(probe.strftime(fmt), fmt)
    except ValueError as error:
        raise DataError(f"{name}: date_formats: {short(column)}: {short(fmt)} is not a strptime format "
                        f"such as \"%d/%m/%Y %H:%M\" ({error})") from None
    return fmt


def _read_derive(found, name: str) -> dict[str, str]:
    derive = {}
    for column, text in _mapping(found, "'derive'", name).items():
        column = scalar_text(column, "a name in 'derive'", name)
        typo = _typo_of_contract(column)
        if typo:
            raise DataError(f"{name}: derive {short(column)}: did you mean the contract's {typo!r}? "
                            "(a new column needs a name further from the contract's)")
        expression = _parsed(text, f"derive {short(column)}", name)
        later = [c for c in expression.columns if c == column or (c in found and c not in derive)]
        if later:
            raise DataError(f"{name}: derive {short(column)} uses {short(later[0])}, which is derived "
                            + ("by this very line" if later[0] == column else "below it; move it above"))
        derive[column] = expression.text
    return derive


def _read_filters(found, name: str) -> tuple[str, ...]:
    found = [] if found is None else found if isinstance(found, list) else [found]
    filters = []
    for text in found:
        expression = _parsed(text, f"filter {short(text)}", name)
        if expression.text in filters:
            raise DataError(f"{name}: filter {short(expression.text)} is listed twice")
        filters.append(expression.text)
    return tuple(filters)


def _read_durations(found, name: str) -> dict[str, tuple[str, str, bool]]:
    durations = {}
    for target, spec in _mapping(found, "'durations'", name).items():
        target = scalar_text(target, "a duration", name)
        if not isinstance(spec, dict) or not {"from", "to"} <= set(spec):
            raise DataError(f"{name}: duration {short(target)} needs 'from' and 'to' columns")
        check_keys(spec, DURATION_KEYS, f"duration {short(target)}", name)
        signed = spec.get("signed", False)
        if not isinstance(signed, bool):
            raise DataError(f"{name}: duration {short(target)}: signed is true or false, not {short(signed)}")
        if target in BY_NAME and target not in DURATION_UNITS:
            raise DataError(f"{name}: duration {short(target)}: not a duration of the contract "
                            f"({', '.join(DURATION_UNITS)}); compute other columns under derive")
        typo = _typo_of_contract(target)
        if typo or duration_unit(target) is None:
            raise DataError(f"{name}: duration {short(target)}: " + (
                f"did you mean the contract's {typo!r}?" if typo else
                "a duration outside the contract names its unit by its ending (_seconds, _minutes, _hours, _days), "
                "e.g. delivery_delay_days"))
        if signed and target in BY_NAME:
            raise DataError(f"{name}: duration {short(target)}: the contract's {target} cannot be negative; "
                            "signed: true is for durations outside the contract (e.g. delivery_delay_days)")
        durations[target] = (*(scalar_text(spec[k], f"duration {short(target)}: {k}", name) for k in ("from", "to")), signed)
    return durations


def _read_units(found, durations: dict, name: str) -> dict[str, str]:
    units = {}
    for column, unit in _mapping(found, "'units'", name).items():
        column = scalar_text(column, "a column in 'units'", name)
        unit = scalar_text(unit, f"units: {short(column)}", name)
        if column not in DURATION_UNITS:
            close = nearest(column, list(DURATION_UNITS))
            raise DataError(f"{name}: units: {short(column)} is not a duration of the contract ("
                            + (f"did you mean {close!r}?" if close else ", ".join(DURATION_UNITS)) + ")")
        if unit not in UNITS:
            close = nearest(unit, list(UNITS))
            raise DataError(f"{name}: units: {column}: {short(unit)} is not a unit ("
                            + (f"did you mean {close!r}?" if close else "seconds, minutes, hours or days") + ")")
        if column in durations:
            raise DataError(f"{name}: units: {column} is computed by durations, already in {DURATION_UNITS[column]}; "
                            "units are for durations the export gives as numbers")
        units[column] = unit
    return units


def read_ticket_map(path: str | Path) -> TicketMap | None:
    """The ``tickets`` section of a column map, or ``None`` when it has none.

    Every expression is parsed here, so a mistake in the map is named before the data is read.

    Raises
    ------
    DataError
        For an unknown key (with the nearest known one), a name outside the contract where a
        contract name is needed, an expression that cannot be read (pointing at the position), a
        derive that uses a name derived below it, a malformed scale, duration, unit, date format or
        missing code, or a contract column made by two steps at once.
    """
    section = read_yaml_section(path, "tickets")
    if section is None:
        return None
    name = Path(path).name
    check_keys(section, TICKET_KEYS, "the tickets section", name)
    codes = section.get("missing_values")
    codes = [] if codes is None else codes if isinstance(codes, list) else [codes]
    missing_values = tuple(dict.fromkeys(scalar_text(c, "a code in missing_values", name).strip() for c in codes))
    date_formats = {scalar_text(k, "a column in 'date_formats'", name): _date_format(v, k, name)
                    for k, v in _mapping(section.get("date_formats"), "'date_formats'", name).items()}
    derive = _read_derive(section.get("derive"), name)
    filters = _read_filters(section.get("filter"), name)
    durations = _read_durations(section.get("durations"), name)
    columns = {scalar_text(k, "a contract name in 'columns'", name): scalar_text(v, f"columns: {short(k)}", name)
               for k, v in _mapping(section.get("columns"), "'columns'", name).items()}
    values = {
        scalar_text(k, "a contract name in 'values'", name): {
            scalar_text(a, f"a code of values: {short(k)}", name): _recoded(b, f"values: {short(k)}: {short(a)}", name)
            for a, b in _mapping(v, f"values: {short(k)}", name).items()
        }
        for k, v in _mapping(section.get("values"), "'values'", name).items()
    }
    unknown = [c for c in [*columns, *values] if c not in BY_NAME]
    if unknown:
        close = nearest(unknown[0], list(BY_NAME))
        raise DataError(f"{name}: not contract columns: {', '.join(short(c) for c in unknown[:5])}"
                        + (f" (did you mean {close!r}?)" if close else " (see data/README.md)")
                        + "; columns outside the contract are kept as they are, or made under derive")
    made = {}
    for step, names in (("derive", derive), ("durations", durations), ("columns", columns)):
        for column in names:
            made.setdefault(column, []).append(step)
    twice = next(((c, steps) for c, steps in made.items() if len(steps) > 1), None)
    if twice:
        raise DataError(f"{name}: {twice[0]!r} is made by both {twice[1][0]} and {twice[1][1]}; keep one")
    units = _read_units(section.get("units"), durations, name)
    scale = scalar_text(section.get("csat_scale", "1-5"), "csat_scale", name)
    try:
        parse_scale(scale)
    except ValueError as error:
        raise DataError(f"{name}: {error}") from None
    rollout = read_spec(section.get("rollout"), Path(path))
    if rollout is not None and "adopted_at" in made:
        raise DataError(f"{name}: 'adopted_at' is made by both {made['adopted_at'][0]} and the rollout table; keep one")
    return TicketMap(columns, values, scale.strip(), durations, missing_values, derive, filters, units, date_formats,
                     rollout)
