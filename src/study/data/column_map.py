"""Column maps: a user's export read as the data contract.

A column map is a YAML file. Its ``tickets`` section says how an export becomes the contract; its
``experiment`` section, for experiment tables, is read by :mod:`study.ab.experiment_table`, and its
``drivers`` section (outcome, driver, controls) by the driver analysis. The ``tickets`` steps run in
this order, whatever the order of the keys in the file::

    tickets:
      missing_values: [NA, "-"]          # codes that mean "no value", in every column (quote each)
      date_formats:                      # export column: strptime format, instead of guessing
        purchased_at: "%d/%m/%Y %H:%M"
      derive:                            # new column: expression (study.data.expressions), in order
        delivery_delay_days: "days(delivered_at - estimated_delivery_at)"   # signed: negative = early
        late: "delivered_at > estimated_delivery_at"
        channel: "'web'"                 # a constant
        csat_raw: "review_score"         # the answer on its own scale, kept beside csat
      filter:                            # rows kept: where every expression is true
        - "order_status = 'delivered'"
      durations:                         # column: {from: time, to: time[, signed: true]}
        first_response_minutes: {from: created_at, to: first_response_at}
      columns:                           # contract name: export column (or derived name)
        ticket_id: order_id
        customer_id: order_id            # one column may serve several roles (a copy each)
        csat: review_score
      values:                            # contract column: {export code: contract code}
        resolved: {Solved: yes, Open: no}
      units: {first_response_minutes: hours}   # seconds|minutes|hours|days -> the contract's unit
      csat_scale: 0-10                   # any whole-number scale low-high; see CSAT_RULE

``missing_values``: only an empty cell is missing unless codes are declared (an R export writes
``NA``); codes are compared with each cell's text, spaces trimmed, before any other step.

``date_formats``: the column is read as times with that format right away, so every later step
(expressions, durations, and ``created_at`` when the column is mapped to it) uses it. A value that
does not fit the format stops the run. Without a declaration times are read as
:func:`study.data.convert.to_time` reads them (zones to UTC, day-first dates detected).

``derive``: each expression may name the export's columns and the names derived above it. A
derived column keeps the type its expression gives (numbers, yes/no, text, times); one named like a
contract column is that column. ``filter``: a row is kept when every expression is true; false and
null both exclude it, and the rows each filter excludes are counted under its text (they reach the
analyses' row accounting as set aside). Filters and derives see the export's names, before
``durations`` and ``columns``.

``durations``: the time from ``from`` to ``to`` in the unit of the column: minutes for
``first_response_minutes`` and ``resolution_minutes``, days for ``tenure_days`` and
``days_to_next_purchase``; a column outside the contract names its unit by its ending (``_seconds``,
``_minutes``, ``_hours``, ``_days``). An end before its start stops the run unless ``signed: true``
(only for columns outside the contract, whose durations may be negative).

``columns`` renames (a swap or any permutation is a rename) and copies; an export column that has
a contract name the map takes from elsewhere gives way. ``values`` recodes codes of contract
columns (compared as text, spaces trimmed). ``units`` converts the contract's durations given in
another unit before their ranges are checked. ``csat_scale`` bins answers onto 1-5 (CSAT_RULE).

CSAT_RULE: an answer ``x`` on the whole-number scale ``low-high`` becomes
``1 + min(4, floor(5 * (x - low) / (high - low)))``: the scale's range cut into five bands of equal
width, the top band closed. 1-5 is unchanged; 1-10 gives ceil(x/2); 0-100 gives 0-19 -> 1, 20-39
-> 2, 40-59 -> 3, 60-79 -> 4, 80-100 -> 5; 0-10 gives 0-1 -> 1, 2-3 -> 2, 4-5 -> 3, 6-7 -> 4,
8-10 -> 5; 1-7 gives 1-2 -> 1, 3 -> 2, 4 -> 3, 5 -> 4, 6-7 -> 5 (the middle of an odd scale is
always 3). Answers off the scale, or not whole, stop the run. To analyse the original scale, keep
the answer a second time under another name (``derive: {csat_raw: review_score}``): the driver
analysis takes any column as its outcome.

Nothing in the map runs as code: expressions are read by a small parser and computed with pandas.
A key the map does not know is an error with the nearest known key, so that a typo cannot silently
switch a feature off; so is an expression naming a column the data lacks. The file may hold at most
:data:`MAX_MAP_BYTES` bytes and :data:`MAX_MAP_NODES` values once its aliases are expanded.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from study.data import expressions
from study.data.convert import describe_problem, nearest, short, to_number, to_time
from study.data.io import ID_COLUMNS
from study.data.schema import BY_NAME, DataError

SECTIONS = ("tickets", "experiment", "drivers")
TICKET_KEYS = ("missing_values", "date_formats", "derive", "filter", "durations", "columns", "values", "units",
               "csat_scale")
DURATION_KEYS = ("from", "to", "signed")
# The contract's durations and their units; units: converts into these.
DURATION_UNITS = {"first_response_minutes": "minutes", "resolution_minutes": "minutes", "tenure_days": "days",
                  "days_to_next_purchase": "days"}
UNITS = {"seconds": 1.0, "minutes": 60.0, "hours": 3_600.0, "days": 86_400.0}  # seconds per unit
# A new column this close to a contract name (difflib ratio) is taken for a typo of it.
TYPO_RATIO = 0.9
# A column map is a few dozen lines. The caps stop a file of YAML aliases that expands to billions
# of values (the "billion laughs") before it is built, and keep every message about it short.
MAX_MAP_BYTES = 1_000_000
MAX_MAP_NODES = 100_000


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


def check_keys(found: dict, allowed, where: str, name: str) -> None:
    """Refuse a key of ``found`` that is not in ``allowed``, naming the nearest allowed key.

    Parameters
    ----------
    found : dict
        A mapping read from the map file.
    allowed : iterable of str
    where : str
        Where in the map, for the message (``the experiment section``).
    name : str
        The map file's name.

    Raises
    ------
    DataError
        ``map.yml: unknown key 'covarate' in the experiment section (did you mean 'covariate'?)``.
    """
    allowed = list(allowed)
    for key in found:
        if key not in allowed:
            close = nearest(str(key), allowed)
            hint = f"did you mean {close!r}?" if close else f"known keys: {', '.join(allowed)}"
            raise DataError(f"{name}: unknown key {short(key)} in {where} ({hint})")


def _count_nodes(node, budget: int) -> int:
    """Values of a composed YAML document with its aliases expanded, counting stops past ``budget``.

    An alias is a reference to a node composed once, so composing a "billion laughs" file is cheap;
    building it is what would take the memory. Counting each reference as often as it is used, and
    stopping at the budget, finds such a file without building it (and ends on a cyclic alias).
    """
    count, stack = 0, [node]
    while stack and count <= budget:
        current = stack.pop()
        count += 1
        if isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            for key, value in current.value:
                stack.extend((key, value))
    return count


def _repeated_key(node):
    """The first key node that repeats a key of its mapping (YAML keeps the last without a word), or ``None``."""
    stack, seen = [node], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:  # an alias: the same node, already looked at
            continue
        seen.add(id(current))
        if isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
        elif isinstance(current, yaml.MappingNode):
            keys = set()
            for key, value in current.value:
                if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                    if key.value in keys:
                        return key
                    keys.add(key.value)
                stack.append(value)
    return None


def read_yaml(path: str | Path) -> dict:
    """A whole column map file, checked for size, alias expansion and its top-level sections.

    Raises
    ------
    DataError
        When the file is missing, too large, not YAML, expands past :data:`MAX_MAP_NODES` values,
        is not a mapping, or has a section other than :data:`SECTIONS`.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such column map")
    size = path.stat().st_size
    if size > MAX_MAP_BYTES:
        raise DataError(f"{path.name}: {size:,} bytes is too large for a column map (at most {MAX_MAP_BYTES:,})")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DataError(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _count_nodes(node, MAX_MAP_NODES) > MAX_MAP_NODES:
            raise DataError(f"{path.name}: expands to more than {MAX_MAP_NODES:,} values (YAML aliases); "
                            "a column map is a few dozen lines")
        repeated = _repeated_key(node) if node is not None else None
        if repeated:
            raise DataError(f"{path.name}: key {short(repeated.value)} appears twice in one mapping (line "
                            f"{repeated.start_mark.line + 1}); YAML would keep only the last")
        content = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        raise DataError(f"{path.name}: not valid YAML ({str(error).splitlines()[0][:200]})") from None
    except RecursionError:
        raise DataError(f"{path.name}: nested too deeply to be a column map") from None
    finally:
        loader.dispose()
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise DataError(f"{path.name}: a column map is a mapping with a 'tickets' and/or an 'experiment' section")
    check_keys(content, SECTIONS, "the column map (its sections)", path.name)
    return content


def read_yaml_section(path: str | Path, section: str) -> dict | None:
    """One section of a column map file, or ``None`` when the file has no such section.

    Raises
    ------
    DataError
        When the file is missing, not YAML, or fails :func:`read_yaml`'s checks, or the section is
        not a mapping.
    """
    found = read_yaml(path).get(section)
    if found is not None and not isinstance(found, dict):
        raise DataError(f"{Path(path).name}: the '{section}' section must be a mapping")
    return found


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
    return TicketMap(columns, values, scale.strip(), durations, missing_values, derive, filters, units, date_formats)


def _blank_missing_codes(frame: pd.DataFrame, codes: tuple[str, ...], identifiers: frozenset = frozenset()) -> pd.DataFrame:
    """``frame`` with every cell holding one of ``codes`` (text, spaces trimmed; numbers by value) empty.

    A text column whose other values are all numbers becomes numbers, as it would have been read
    had the codes been empty cells (a 0-10 answer with "-" for no answer); ``identifiers`` stay text.
    """
    numbers = pd.to_numeric(pd.Series(codes, dtype="object"), errors="coerce").dropna().tolist()
    out = frame.copy(deep=False)  # columns are replaced, not changed in place: the caller's frame stays as it was
    for column in out.columns:
        values = out[column]
        if pd.api.types.is_bool_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            continue
        if pd.api.types.is_numeric_dtype(values):
            coded = values.isin(numbers) if numbers else None
        else:
            coded = values.astype("string").str.strip().isin(codes).fillna(False)
        if coded is not None and coded.any():
            blanked = values.where(~coded)
            if not pd.api.types.is_numeric_dtype(values) and column not in identifiers:
                read = pd.to_numeric(blanked, errors="coerce")
                blanked = read if read.notna().sum() == blanked.notna().sum() else blanked
            out[column] = blanked
    return out


@dataclass(frozen=True)
class MappedTickets:
    """An export after its column map (:func:`map_tickets`).

    Attributes
    ----------
    frame : pandas.DataFrame
        Contract names, codes, units and scale; the rows the filters kept, with the index of the
        rows read (so that messages name the file's rows).
    excluded : dict
        Filter text -> rows it excluded (of those the filters before it kept), in the map's order.
    mapped_from : dict
        Contract name -> where the map took it from (an export column, ``a -> b`` for a duration,
        the expression for a derived contract column).
    notes : dict
        Column -> how its values were read or converted (declared date format, day-first dates,
        units, CSAT scale).
    """

    frame: pd.DataFrame
    excluded: dict[str, int] = field(default_factory=dict)
    mapped_from: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def set_aside(self) -> dict[str, int]:
        """Reason -> rows, for :attr:`study.data.dataset.TicketData.set_aside` (filters that excluded rows)."""
        return {filter_reason(text): n for text, n in self.excluded.items() if n}


def _require(columns, names, where: str, source: str) -> None:
    """Refuse names of the map that the data lacks, with the nearest column of the data."""
    missing = [n for n in dict.fromkeys(names) if n not in columns]
    if missing:
        close = nearest(missing[0], [str(c) for c in columns])
        raise DataError(f"{source}: the column map names columns the data lacks: {', '.join(short(c) for c in missing[:5])}"
                        f" ({where}{f'; did you mean {close!r}?' if close else ''})")


def _read_format(values: pd.Series, column: str, fmt: str, source: str) -> pd.Series:
    """A column of text times read with its declared format, as naive UTC timestamps."""
    if pd.api.types.is_datetime64_any_dtype(values):  # typed already (Parquet): the format was for text
        return to_time(values, column)[0]
    text = values.astype("string").str.strip()
    zoned = "%z" in fmt or "%Z" in fmt
    times = pd.to_datetime(text, format=fmt, errors="coerce", utc=zoned)
    if zoned:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    bad = times.isna() & text.notna()
    if bad.any():
        raise DataError(f"{source}: " + describe_problem(column, bad, values, f"that {{be}} not in the declared format {fmt!r}"))
    return times


def _evaluate(text: str, frame: pd.DataFrame, mapping: TicketMap, what: str, source: str, notes: dict,
              keep: bool = False) -> pd.Series:
    """A derive's values or a filter's rows, a problem named with the map's line and the data's name."""
    expression = expressions.parse(text)
    for column in expression.columns:
        if column in frame.columns:
            continue
        # Names that exist later in the map are the commonest mistake: say why they are not there yet.
        if column in mapping.columns and mapping.columns[column] in frame.columns:
            raise DataError(f"{source}: {what}: {column!r} is the contract name the map gives "
                            f"{mapping.columns[column]!r} later; derive and filter use the export's names")
        if column in mapping.durations:
            raise DataError(f"{source}: {what}: {column!r} is computed by durations, after derive and filter; "
                            f"compute it here, e.g. minutes(b - a)")
    try:
        if keep:
            return expressions.evaluate_filter(expression, frame, notes)
        return expressions.evaluate(expression, frame, notes)
    except DataError as error:
        raise DataError(f"{source}: {what}: {error}") from None


def map_tickets(frame: pd.DataFrame, mapping: TicketMap, source: str = "data") -> MappedTickets:
    """The export with the column map's steps applied, in the order of the module docstring.

    Parameters
    ----------
    frame : pandas.DataFrame
        The export as read. It is not changed.
    mapping : TicketMap
    source : str
        The data's name, for messages.

    Returns
    -------
    MappedTickets
        The mapped rows, what each filter excluded, where contract columns came from, and notes.

    Raises
    ------
    DataError
        When the map names a column the data lacks (with the nearest), a value does not fit its
        declared date format, an expression cannot be evaluated (column, values, rows), the
        filters leave no row, a duration's timestamp cannot be read or (unsigned) ends before it
        starts, a declared unit's values are not numbers, or a CSAT answer is not a whole number on
        its declared scale. Row numbers are the export's.
    """
    notes: dict[str, str] = {}
    _require(frame.columns, mapping.date_formats, "date_formats", source)
    identifiers = frozenset({*ID_COLUMNS, *(mapping.columns[c] for c in ID_COLUMNS if c in mapping.columns)})
    frame = (_blank_missing_codes(frame, mapping.missing_values, identifiers) if mapping.missing_values
             else frame.copy(deep=False))
    for column, fmt in mapping.date_formats.items():
        frame[column] = _read_format(frame[column], column, fmt, source)
        notes[column] = f"read with the declared format {fmt}"
    for column, text in mapping.derive.items():
        if column in frame.columns:
            raise DataError(f"{source}: derive {column!r} would replace the data's own column {column!r}; give it another name")
        frame[column] = _evaluate(text, frame, mapping, f"derive {column!r}", source, notes)
    excluded = {}
    for text in mapping.filters:
        keep = _evaluate(text, frame, mapping, f"filter {short(text)}", source, notes, keep=True)
        excluded[text] = int((~keep).sum())
        frame = frame[keep]  # the rows keep their labels: later messages name the export's rows
    if mapping.filters and not len(frame):
        raise DataError(f"{source}: the column map's filters leave no rows ("
                        + "; ".join(f"{short(t)} excluded {n:,}" for t, n in excluded.items()) + ")")
    durations = {}
    for target, (start, end, *signed) in mapping.durations.items():
        _require(frame.columns, (start, end), f"duration {target}", source)
        began, problem, began_note = to_time(frame[start], start)
        ended, problem_end, ended_note = to_time(frame[end], end)
        if problem or problem_end:
            raise DataError(f"{source}: " + "; ".join(p for p in (problem, problem_end) if p) + f" (timestamps of {target})")
        seconds = (ended - began).dt.total_seconds()
        backwards = seconds < 0
        if backwards.any() and not (signed and signed[0]):
            raise DataError(f"{source}: " + describe_problem(end, backwards, frame[end], f"that {{be}} before '{start}'")
                            + ("; durations outside the contract may be declared signed: true" if target not in BY_NAME else ""))
        durations[target] = seconds / UNITS[duration_unit(target) or "minutes"]
        read = [f"{c}: {n}" for c, n in ((start, began_note), (end, ended_note)) if n]
        if read:
            notes[target] = "; ".join(read)
    _require(frame.columns, mapping.columns.values(), "columns", source)
    # An export column that already has a contract name the map takes from elsewhere gives way,
    # unless the map renames it too: then the names are swapped (ticket_id <-> customer_id).
    sources = set(mapping.columns.values())
    clashes = [c for c in mapping.columns if c in frame.columns and mapping.columns[c] != c and c not in sources]
    first = {}
    for target, column in mapping.columns.items():
        first.setdefault(column, target)
    out = frame.drop(columns=clashes).rename(columns={column: target for column, target in first.items()})
    for target, column in mapping.columns.items():
        if first[column] != target:  # one export column, several roles: a copy for each further role
            out[target] = out[first[column]]
        if column in notes:
            notes[target] = notes[column]
    for column, codes in mapping.values.items():
        if column in out.columns:
            text = out[column].astype("string").str.strip()
            out[column] = text.map(lambda v: codes.get(v, v) if isinstance(v, str) else v)
    for target, values in durations.items():
        out[target] = values.to_numpy()
    for column, unit in mapping.units.items():
        if column not in out.columns:
            raise DataError(f"{source}: units: {column} is not in the data (map it under columns)")
        numbers, problem = to_number(out[column], column)
        if problem:
            raise DataError(f"{source}: {problem}")
        out[column] = numbers * UNITS[unit] / UNITS[DURATION_UNITS[column]]
        notes[column] = f"converted from {unit} to {DURATION_UNITS[column]}"
    low, high = parse_scale(mapping.csat_scale)
    if "csat" in out.columns and (low, high) != (1, 5):
        answers, problem = to_number(out["csat"], "csat")
        if problem:
            raise DataError(f"{source}: {problem}")
        off = answers.notna() & ((answers < low) | (answers > high))
        if off.any():
            raise DataError(f"{source}: " + describe_problem("csat", off, out["csat"], f"outside the declared {mapping.csat_scale} scale"))
        # A 7.5 on 1-10 would be binned to 4 without a word, while 3.5 on 1-5 is refused: every scale
        # takes whole answers only.
        fractional = answers.notna() & (answers != np.round(answers))
        if fractional.any():
            raise DataError(f"{source}: " + describe_problem("csat", fractional, out["csat"],
                                                     f"that {{be}} not a whole number on the declared {mapping.csat_scale} scale"))
        out["csat"] = csat_to_five(answers, low, high)
        notes["csat"] = f"answers on {low}-{high} binned onto 1-5 ({scale_bands(low, high)})"
    mapped_from = {**mapping.columns, **{k: f"{a} -> {b}" for k, (a, b, *_) in mapping.durations.items()},
                   **{k: text for k, text in mapping.derive.items() if k in BY_NAME}}
    return MappedTickets(out, excluded, mapped_from, notes)


def apply(frame: pd.DataFrame, mapping: TicketMap, source: str = "data") -> pd.DataFrame:
    """The export with contract names, codes, units, CSAT scale and durations: :func:`map_tickets`'s frame.

    The rows filters excluded are not counted here; :func:`map_tickets` (and
    :func:`study.data.dataset.load_tickets`) count them.

    Raises
    ------
    DataError
        As :func:`map_tickets`.
    """
    return map_tickets(frame, mapping, source).frame
