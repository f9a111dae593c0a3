"""A drafted column map (:class:`study.data.draft_map.DraftMap`) as a commented YAML starter file.

Sections come in the order the column map applies its steps (missing values, date formats,
derived columns, durations, renames, recodes, units, CSAT scale). A guess to check is written
commented out with a ``check:`` comment saying why; a section whose entries are all to check is
written commented out whole, so that the file as written always parses and uncommenting a section
keeps it valid YAML.
"""

from __future__ import annotations

import re

import yaml

from study.data.column_facts import quoted, shown
from study.data.draft_map import BY_NAME, BY_PART, DraftMap

COMMENT_AT = 40  # inline comments start at this column, so a reader scans them down one edge


def text(value: str) -> str:
    """A name or code as YAML: bare when YAML reads it back as the same text, else double-quoted.

    ``yes``, ``no``, ``null``, ``1-5``-like numbers and anything with YAML punctuation are quoted.
    """
    value = str(value)
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./-]*", value):
        try:
            if yaml.safe_load(f"{{k: {value}}}") == {"k": value} and yaml.safe_load(f"k: {value}") == {"k": value}:
                return value
        except yaml.YAMLError:
            pass
    return quoted(value)


def _line(indent: int, body: str, comment: str = "", commented: bool = False) -> str:
    prefix = " " * indent + ("# " if commented else "")
    line = prefix + body
    if comment:
        line = line.ljust(COMMENT_AT - 1) + " # " + comment
    return line.rstrip()


def _flow(mapping: dict) -> str:
    return "{" + ", ".join(f"{text(k)}: {text(v)}" for k, v in mapping.items()) + "}"


def _section(name: str, entries: list[tuple[str, str, bool]], comment: str, indent: int = 2) -> list[str]:
    """A mapping section of ``(line, comment, sure)`` entries; commented out whole when none is sure."""
    if not entries:
        return []
    whole = not any(sure for _, _, sure in entries)
    lines = [_line(indent, f"{name}:", comment, commented=whole)]
    for body, note, sure in entries:
        lines.append(_line(indent + 2, body, note if sure else f"check: {note}", commented=whole or not sure))
    return lines


def render(result: DraftMap, source: str, rows: int, out: str | None = None) -> str:
    """The YAML text of a drafted map.

    Parameters
    ----------
    result : DraftMap
    source : str
        The data file as the user named it (for the header and the next command).
    rows : int
        Rows read, for the header.
    out : str, optional
        Where the map is written, for the next command (``map.yml`` when printed).

    Returns
    -------
    str
        Parses as YAML; its ``tickets`` section holds the sure guesses only.
    """
    lines = [
        f"# Column map drafted by `study map` from {source} ({rows:,} rows, {len(result.facts)} columns).",
        "# Every line is a guess: check it against the export. A line commented out with \"check:\" is a",
        "# guess to confirm; remove its \"# \" to use it (and its section's, if that is commented out too).",
        f"# Then: study validate --data {source} --columns {out or 'map.yml'}",
        "tickets:",
    ]
    if result.missing_values:
        lines.append(_line(2, "missing_values: [" + ", ".join(quoted(c) for c in result.missing_values) + "]",
                           "codes found meaning \"no value\""))
    lines += _section("date_formats", [
        (f"{text(column)}: {quoted(fmt)}", result.date_checks.get(column, "a day above 12 shows the day comes first"
                                                                   if fmt.startswith("%d") else "a day above 12 shows the month comes first"),
         column not in result.date_checks)
        for column, fmt in result.date_formats.items()], "export column: strptime format")
    if result.derive:
        lines.append(_line(2, "derive:", "suggested: new columns computed from the export's", commented=True))
        for name, expression in result.derive.items():
            note = "signed: negative = early" if expression.startswith("days(") else "a yes/no comparison"
            lines.append(_line(4, f"{text(name)}: {quoted(expression)}", note, commented=True))
    if result.filters:
        lines.append(_line(2, "filter:", "suggested: rows kept; the others are counted as excluded", commented=True))
        lines += [_line(4, f"- {quoted(condition)}", commented=True) for condition in result.filters]
    durations = [g for g in result.guesses if g.start is not None or (g.role in ("first_response_minutes", "resolution_minutes")
                                                                       and not g.sure and "timestamp" in g.check)]
    lines += _section("durations", [
        (f"{g.role}: {{from: {text(g.start or 'OPENED_AT')}, to: {text(g.column)}}}", g.check, g.sure)
        for g in durations], "minutes between two of the export's timestamps")
    renamed = [g for g in result.guesses if g not in durations and g.column != g.role]
    lines += _section("columns", [
        (f"{g.role}: {text(g.column)}", g.check or _how(g), g.sure) for g in renamed], "contract name: export column")
    lines += _section("values", [
        (f"{role}: {_flow(codes)}", result.values_check.get(role, ""), role not in result.values_check)
        for role, codes in result.values.items()], "contract column: {export code: contract code}")
    lines += _section("units", [
        (f"{role}: {unit}", result.units_check.get(role, f"{_column_of(result, role)} is in {unit}"),
         role not in result.units_check)
        for role, unit in result.units.items()], "seconds|minutes|hours|days -> the contract's minutes")
    if result.csat_scale:
        csat = result.guess("csat")
        sure = csat.sure and not result.csat_scale_check
        lines.append(_line(2, f"csat_scale: {result.csat_scale}",
                           f"{shown(csat.column)} answers on {result.csat_scale}" if sure
                           else result.csat_scale_check if csat.sure
                           else f"check: follows the guess for csat ({shown(csat.column)})", commented=not sure))
    same = [g.role for g in result.guesses if g.column == g.role]
    if same:
        lines += _wrapped("found under their contract names: ", same)
    unused = result.unused()
    if unused:
        lines += _wrapped("not used by the contract (the driver analysis can use any column): ", [shown(c) for c in unused])
    if result.drivers:
        lines.append(_line(0, "drivers:", "suggested: the driver analysis' outcome, driver and controls", commented=True))
        lines.append(_line(2, f"outcome: {text(result.drivers['outcome'])}", commented=True))
        lines.append(_line(2, f"driver: {text(result.drivers['driver'])}", commented=True))
        if result.drivers["controls"]:
            lines.append(_line(2, "controls: [" + ", ".join(text(c) for c in result.drivers["controls"]) + "]", commented=True))
    return "\n".join(lines) + "\n"


def _how(guess) -> str:
    return {BY_NAME: "by name", BY_PART: "by a word of its name"}.get(guess.how, guess.how)


def _column_of(result: DraftMap, role: str) -> str:
    guess = result.guess(role)
    return shown(guess.column) if guess else role


def _wrapped(lead: str, names: list[str], width: int = 100) -> list[str]:
    """``# lead a, b, c`` over as many comment lines as it takes."""
    lines, current = [], "  # " + lead
    for i, name in enumerate(names):
        word = name + ("," if i < len(names) - 1 else "")
        if len(current) + len(word) + 1 > width and not current.endswith(lead):
            lines.append(current.rstrip())
            current = "  #   "
        current += word + " "
    lines.append(current.rstrip())
    return lines


def summary(result: DraftMap, width: int = 36) -> list[str]:
    """The export's columns with type, examples and guessed role, then what each analysis would do.

    Parameters
    ----------
    result : DraftMap
    width : int
        Characters of examples shown per column.

    Returns
    -------
    list of str
        Lines without a trailing newline; the same draft gives the same lines.
    """
    from study.data.draft_map import DURATIONS
    from study.data.readiness import analysis_status


    rows = [("column", "type", "examples", "role")]
    for facts in result.facts:
        guess = result.role_of(facts.name)
        starts = [g for g in result.guesses if g.start == facts.name]
        role = "–"
        if guess is not None:
            role = guess.role + ("" if guess.sure else "?")
            detail = f"from {shown(guess.start)}" if guess.start else _how(guess)
            role += f" ({detail}{'; check: ' + guess.check if guess.check else ''})"
            if guess.role in DURATIONS and guess.role in result.units:
                role += f", in {result.units[guess.role]}"
        elif starts:
            role = f"start of {', '.join(g.role for g in starts)}"
        examples = ", ".join(facts.examples)
        examples = examples if len(examples) <= width else examples[:width - 3] + "..."
        if facts.missing_codes:
            role += f"; missing codes {', '.join(facts.missing_codes)}"
        rows.append((shown(facts.name), facts.kind, examples.replace("\n", " "), role))
    widths = [min(max(len(r[i]) for r in rows), cap) for i, cap in ((0, 32), (1, 7), (2, width))]
    lines = ["  ".join(r[i].ljust(widths[i]) for i in range(3)) + "  " + r[3] for r in rows]
    lines.append("analyses with this map (its sure lines only):")
    def proposed(column: str) -> str:
        unsure = result.guess(column)
        return f"{column} (a check: line proposes {shown(unsure.column)})" if unsure else column

    for readiness in analysis_status(result.roles(), constant=result.constant()):
        lines.append(f"  {readiness.name}: {'runs' if readiness.runs else 'skipped: ' + readiness.reason(proposed)}")
    return lines
