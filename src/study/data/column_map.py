"""Column maps: a user's ticket export read as the data contract.

A column map is a YAML file. Its ``tickets`` section maps the export's names and codes onto the
contract (its ``experiment`` section, for experiment tables, is read by :mod:`study.ab.experiment_table`)::

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
      missing_values: [NA, "n/a"]    # codes that mean "no value", in every column (quote each code)

Only an empty cell is missing unless ``missing_values`` declares codes: an R export writes ``NA``,
and without the declaration a category ``None`` or a customer ``NA`` is read as the text it is.
Codes are compared with each cell's text (spaces trimmed) before anything else in the map applies.

Nothing in the map is evaluated; names are looked up and values compared as text. A key the map
does not know is an error (with the nearest known key), so that a typo cannot silently switch a
feature off; the file may hold at most :data:`MAX_MAP_BYTES` bytes and :data:`MAX_MAP_NODES` values
once its aliases are expanded.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from study.data.convert import describe_problem, short, to_number, to_time
from study.data.schema import BY_NAME, DataError

# Other CSAT scales, binned onto 1-5 in equal-width bands (documented in data/README.md): a 1-10
# answer x becomes ceil(x / 2); a 0-100 answer x becomes 1 + min(4, floor(x / 20)).
CSAT_SCALES = {
    "1-5": (1, 5, lambda x: x),
    "1-10": (1, 10, lambda x: np.ceil(x / 2)),
    "0-100": (0, 100, lambda x: 1 + np.minimum(4, np.floor(x / 20))),
}
SECTIONS = ("tickets", "experiment")
TICKET_KEYS = ("columns", "values", "csat_scale", "durations", "missing_values")
DURATION_KEYS = ("from", "to")
# A column map is a few dozen lines. The caps stop a file of YAML aliases that expands to billions
# of values (the "billion laughs") before it is built, and keep every message about it short.
MAX_MAP_BYTES = 1_000_000
MAX_MAP_NODES = 100_000


@dataclass(frozen=True)
class TicketMap:
    """How an export's columns and codes become the contract's (see the module docstring)."""

    columns: dict[str, str] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    csat_scale: str = "1-5"
    durations: dict[str, tuple[str, str]] = field(default_factory=dict)
    missing_values: tuple[str, ...] = ()


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


def nearest(word: str, options: list[str]) -> str | None:
    """The option closest to ``word`` (ignoring case), if any is close: for "did you mean" hints."""
    folded = {}
    for option in options:
        folded.setdefault(str(option).lower(), option)
    close = difflib.get_close_matches(word.lower(), list(folded), n=1)
    return folded[close[0]] if close else None


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


def read_ticket_map(path: str | Path) -> TicketMap | None:
    """The ``tickets`` section of a column map, or ``None`` when it has none.

    Raises
    ------
    DataError
        For an unknown key (with the nearest known one), a name outside the contract, an unknown
        CSAT scale, a malformed duration or missing code.
    """
    section = read_yaml_section(path, "tickets")
    if section is None:
        return None
    name = Path(path).name
    check_keys(section, TICKET_KEYS, "the tickets section", name)
    columns = {scalar_text(k, "a contract name in 'columns'", name): scalar_text(v, f"columns: {short(k)}", name)
               for k, v in _mapping(section.get("columns"), "'columns'", name).items()}
    values = {
        scalar_text(k, "a contract name in 'values'", name): {
            scalar_text(a, f"a code of values: {short(k)}", name): _recoded(b, f"values: {short(k)}: {short(a)}", name)
            for a, b in _mapping(v, f"values: {short(k)}", name).items()
        }
        for k, v in _mapping(section.get("values"), "'values'", name).items()
    }
    durations = {}
    for target, spec in _mapping(section.get("durations"), "'durations'", name).items():
        if not isinstance(spec, dict) or not set(DURATION_KEYS) <= set(spec):
            raise DataError(f"{name}: duration {short(target)} needs 'from' and 'to' columns")
        check_keys(spec, DURATION_KEYS, f"duration {short(target)}", name)
        durations[scalar_text(target, "a duration", name)] = tuple(
            scalar_text(spec[k], f"duration {short(target)}: {k}", name) for k in DURATION_KEYS)
    unknown = [c for c in [*columns, *values, *durations] if c not in BY_NAME]
    if unknown:
        close = nearest(unknown[0], list(BY_NAME))
        raise DataError(f"{name}: not contract columns: {', '.join(short(c) for c in unknown[:5])}"
                        + (f" (did you mean {close!r}?)" if close else " (see data/README.md)"))
    targets = list(columns.values())
    doubled = sorted({t for t in targets if targets.count(t) > 1})
    if doubled:
        raise DataError(f"{name}: export column(s) {', '.join(short(t) for t in doubled[:5])} mapped to two contract columns")
    scale = scalar_text(section.get("csat_scale", "1-5"), "csat_scale", name)
    if scale not in CSAT_SCALES:
        raise DataError(f"{name}: csat_scale {short(scale)} is not one of {', '.join(CSAT_SCALES)}")
    codes = section.get("missing_values")
    codes = [] if codes is None else codes if isinstance(codes, list) else [codes]
    missing_values = tuple(dict.fromkeys(scalar_text(c, "a code in missing_values", name).strip() for c in codes))
    return TicketMap(columns, values, scale, durations, missing_values)


def _blank_missing_codes(frame: pd.DataFrame, codes: tuple[str, ...]) -> pd.DataFrame:
    """``frame`` with every cell holding one of ``codes`` (text, spaces trimmed; numbers by value) empty."""
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
            out[column] = values.where(~coded)
    return out


def apply(frame: pd.DataFrame, mapping: TicketMap, source: str = "data") -> pd.DataFrame:
    """The export with contract names, codes, CSAT scale and durations.

    Missing codes are blanked first, in every column; durations are computed from the export's own
    timestamp columns (read as :func:`study.data.schema.validate` reads times: zones converted to UTC,
    numbers as Unix times); then columns are renamed (a swap or any permutation of names is a
    rename, not a clash), codes recoded and CSAT rescaled.

    Raises
    ------
    DataError
        When a mapped column is missing, a duration's timestamp cannot be read or its end comes
        before its start, or a CSAT answer is not a whole number on its declared scale; the message
        names column, values and rows.
    """
    missing = [c for c in [*mapping.columns.values(), *(c for pair in mapping.durations.values() for c in pair)]
               if c not in frame.columns]
    if missing:
        raise DataError(f"{source}: the column map names columns the data lacks: {', '.join(short(c) for c in dict.fromkeys(missing))}")
    if mapping.missing_values:
        frame = _blank_missing_codes(frame, mapping.missing_values)
    # Durations read the export's own timestamp columns, before any renaming. A timestamp that cannot
    # be read stops the run: it would otherwise become an empty response time that nobody counted.
    durations = {}
    for target, (start, end) in mapping.durations.items():
        began, problem, _ = to_time(frame[start], start)
        ended, problem_end, _ = to_time(frame[end], end)
        if problem or problem_end:
            raise DataError(f"{source}: " + "; ".join(p for p in (problem, problem_end) if p)
                            + f" (timestamps of {target})")
        minutes = (ended - began).dt.total_seconds() / 60
        backwards = minutes < 0
        if backwards.any():
            raise DataError(f"{source}: " + describe_problem(end, backwards, frame[end], f"that {{be}} before '{start}'"))
        durations[target] = minutes
    # An export column that already has a contract name the map takes from elsewhere gives way,
    # unless the map renames it too: then the names are swapped (ticket_id <-> customer_id).
    sources = set(mapping.columns.values())
    clashes = [c for c in mapping.columns if c in frame.columns and mapping.columns[c] != c and c not in sources]
    out = frame.drop(columns=clashes).rename(columns={v: k for k, v in mapping.columns.items()})
    for column, codes in mapping.values.items():
        if column in out.columns:
            text = out[column].astype("string").str.strip()
            out[column] = text.map(lambda v: codes.get(v, v) if isinstance(v, str) else v)
    if "csat" in out.columns and mapping.csat_scale != "1-5":
        low, high, to_five = CSAT_SCALES[mapping.csat_scale]
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
        out["csat"] = to_five(answers)
    for target, minutes in durations.items():
        out[target] = minutes.to_numpy()
    return out
