"""Column maps: a user's export read as the data contract.

A column map is a YAML file. Its ``tickets`` section says how an export becomes the contract; its
``experiment`` section, for experiment tables, is read by :mod:`study.ab.experiment_table`, and its
``drivers`` section (outcome, driver, controls) by the driver analysis, and its ``feedback`` section (themes,
negations) by the feedback analysis (:mod:`study.data.feedback_map`). The ``tickets`` steps run in
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
      rollout: {file: go_live.csv, team: region, adopted_at: went_live_on}   # last: adopted_at by team

``rollout`` names a small table of teams and their go-live times (:mod:`study.data.rollout_table`),
matched on the contract's ``team`` once the other steps have run.

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

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from study.data import expressions
from study.data.convert import describe_problem, short, to_number, to_time
from study.data.io import ID_COLUMNS
from study.data.map_file import (
    DURATION_KEYS,
    DURATION_UNITS,
    TICKET_KEYS,
    UNITS,
    TicketMap,
    csat_to_five,
    duration_unit,
    filter_reason,
    nearest,
    parse_scale,
    read_ticket_map,
    scalar_text,
    scale_bands,
)
from study.data.map_yaml import (
    MAX_MAP_BYTES,
    MAX_MAP_NODES,
    SECTIONS,
    check_keys,
    read_yaml,
    read_yaml_section,
)
from study.data.rollout_table import attach
from study.data.schema import BY_NAME, DataError


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
    if mapping.rollout is not None:
        out = attach(out, mapping.rollout, source, notes)
    mapped_from = {**mapping.columns, **{k: f"{a} -> {b}" for k, (a, b, *_) in mapping.durations.items()},
                   **{k: text for k, text in mapping.derive.items() if k in BY_NAME},
                   **({"adopted_at": f"{mapping.rollout.path.name}: {mapping.rollout.adopted_at}"} if mapping.rollout else {})}
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
