"""What ``study validate`` says beyond the column report: which analyses run, which columns go unused,
what a missing column may be called in the file, and the declaration that fixes a misread column.

Everything reads :mod:`study.analyses` and :mod:`study.data.schema` when called, so it follows the
contract's requirements as they change.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from study.data import column_map, draft_map, readiness, schema
from study.data.column_facts import date_hint, scale_hint, shown, unit_hint

LISTED = 30  # columns named in one line before "... and N more"


def names(columns, limit: int = LISTED) -> str:
    """Column names for one line, cut after ``limit`` with how many more there are."""
    columns = [shown(c) for c in columns]
    listed = ", ".join(columns[:limit])
    return listed + (f", ... and {len(columns) - limit} more" if len(columns) > limit else "") if columns else "none"


def _strings(node) -> list[str]:
    """Every text in a parsed YAML value (keys and values, nested)."""
    if isinstance(node, dict):
        return [s for k, v in node.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(node, (list, tuple)):
        return [s for v in node for s in _strings(v)]
    return [str(node)] if node is not None else []


def map_sections(path: str | Path | None) -> dict:
    """The column map file as parsed (``{}`` without one)."""
    return column_map.read_yaml(path) if path else {}


def unused_columns(columns, sections: dict) -> list[str]:
    """The file's columns that neither the contract nor the column map uses.

    A column is used when it has a contract name or the map mentions it anywhere: as a renamed
    column, a duration's end, a word of a derived column's expression, a driver or control.
    """
    mentioned = _strings(sections)
    # Expressions name columns bare or in backticks; every such word counts as a mention.
    words = {word for text in mentioned for pair in re.findall(r"`([^`]+)`|([^\W\d]\w*)", text)  # situação too
             for word in pair if word}
    used = set(mentioned) | words | set(schema.BY_NAME)
    return [c for c in columns if str(c) not in used]


def usable_columns(frame: pd.DataFrame, report: pd.DataFrame) -> list[str]:
    """Contract columns present with a value and without a problem in the column report."""
    problems = report["problem"] if "problem" in report.columns else pd.Series(dtype=str)
    return [c.name for c in schema.COLUMNS if c.name in frame.columns and frame[c.name].notna().any()
            and not str(problems.get(c.name, "") or "")]


def analysis_lines(frame: pd.DataFrame, report: pd.DataFrame, experiment_missing: list[str] | None = None,
                   has_experiment_map: bool = False, map_path: str | Path | None = None) -> list[str]:
    """``  02_satisfaction_drivers: skipped: needs csat, resolved (empty in every row)`` per registered analysis.

    Parameters
    ----------
    frame, report
        As for :func:`advice`.
    experiment_missing : list of str, optional
        Columns the map's ``experiment`` section names that the file lacks.
    has_experiment_map : bool
        Whether the map has an ``experiment`` section.
    map_path : str or Path, optional
        The column map, whose ``drivers`` section says what the driver analysis needs.
    """
    from study import analyses

    usable = usable_columns(frame, report)
    arms = set(frame["variant"].dropna().astype("string").str.strip()) if "variant" in usable else None
    constant = _constant(frame, usable)
    lines = []
    for status in readiness.analysis_status(usable, arms, experiment_missing, has_experiment_map, constant):
        reason = status.reason(lambda column: _why_absent(column, frame, report))
        analysis = analyses.select([status.name])[0]
        if analysis.kind == "drivers":  # any column of the data, the map's derived ones included
            needs, chosen = readiness.needs_of(analysis, map_path)
            present = readiness.with_derived(c for c in frame.columns if frame[c].notna().any())
            flat = {c: v for c in (chosen.outcome, readiness.DERIVED.get(chosen.driver, chosen.driver))
                    if c in frame.columns and (v := readiness.only_value(frame[c])) is not None}
            reason = readiness.skip_reason(analysis, present, flat, needs=needs) or _unreadable(frame, chosen)
            lines.append(f"  {status.name}: " + (f"skipped: {reason}" if reason else
                                                 f"runs ({chosen.outcome} on {chosen.driver})"))
            continue
        flat = [f"{c} has one value ({constant[c]}) in every row" for c in analysis.needs
                if c in constant and c not in ("ticket_id", "variant")]
        # It runs, and skips the sections a column without variation cannot carry: say so before the run does.
        runs = "runs" + (f" ({'; '.join(flat)}: the sections that need it are skipped)" if flat else "")
        lines.append(f"  {status.name}: {runs if status.runs else 'skipped: ' + reason}")
    return lines


def _unreadable(frame: pd.DataFrame, chosen) -> str:
    """Why the driver analysis's outcome or driver cannot be read as numbers (``""`` when both can)."""
    from study.data.driver_columns import as_numbers

    for column in (chosen.outcome, chosen.driver):
        if column in frame.columns:
            try:
                as_numbers(frame[column], column)
            except schema.DataError as error:
                return str(error)
    return ""


def _constant(frame: pd.DataFrame, usable: list[str]) -> dict[str, str]:
    """Needed contract columns with a single value, as :func:`study.data.readiness.only_value` finds them."""
    from study import analyses

    needed = {c for a in analyses.ANALYSES for c in a.needs}
    return {c: value for c in usable if c in needed and (value := readiness.only_value(frame[c])) is not None}


def _why_absent(column: str, frame: pd.DataFrame, report: pd.DataFrame) -> str:
    """A needed column with why it cannot be used when it is there: unreadable or empty."""
    if column not in frame.columns:
        return column
    problem = report["problem"].get(column, "") if "problem" in report.columns else ""
    return f"{column} (its values cannot be read: see above)" if problem else f"{column} (empty in every row)"


def meant(column: str, draft) -> str:
    """``did you mean 'first_reply_at'? (a timestamp: a duration from 'opened_at')`` for a missing column."""
    guess = draft.guess(column)
    found = draft_map.did_you_mean(column, draft, exclude=schema.BY_NAME)
    if found is None:
        return "no column of the file looks like it"
    how = []
    if guess is not None and guess.column == found:
        if guess.start:
            how.append(f"a timestamp: a duration from {guess.start!r}")
        if column in draft.units:
            how.append(f"in {draft.units[column]}")
        if column == "csat" and draft.csat_scale:
            how.append(f"answers on {draft.csat_scale}")
        if column in draft.values:
            how.append(f"codes {', '.join(draft.values[column])}")
    return f"did you mean {found!r}?" + (f" ({'; '.join(how)})" if how else "")


def _hints(frame: pd.DataFrame, mapped_from: dict, sections: dict) -> dict[str, str]:
    """Contract column -> the declaration that would read it right (CSAT scale, unit, date format)."""
    tickets = sections.get("tickets") if isinstance(sections.get("tickets"), dict) else {}

    def declared(key: str) -> dict:
        return tickets.get(key) if isinstance(tickets.get(key), dict) else {}

    hints = {}
    if "csat" in frame.columns and "csat_scale" not in tickets:
        hints["csat"] = scale_hint(frame["csat"])
    for column in draft_map.DURATIONS:
        if column in frame.columns and column not in declared("units"):
            # The export's own name may say the unit (first_response_hours); the contract's name says nothing.
            origin = mapped_from.get(column, column)
            hints[column] = unit_hint(frame[column], column, None if origin == column or " -> " in origin else origin)
    if "created_at" in frame.columns:
        origin = mapped_from.get("created_at", "created_at")
        if origin not in declared("date_formats"):
            hints["created_at"] = date_hint(frame["created_at"], origin)
    return {column: hint for column, hint in hints.items() if hint}


def fix_hints(frame: pd.DataFrame, mapped_from: dict, sections: dict) -> list[str]:
    """One line per column a declaration in the column map would read right: CSAT scale, unit, date format."""
    return [f"  {hint}" for hint in _hints(frame, mapped_from, sections).values()]


def with_hints(blocking: list[str], frame: pd.DataFrame, mapped_from: dict, map_path: str | Path | None) -> list[str]:
    """The blocking problems, a column's problem followed by the declaration that would fix it.

    ``column 'csat' has 812 values outside 1-5 (...)`` becomes ``...; csat has values 0-10 (812 of
    3,000 answers outside 1-5); if that is its scale, declare csat_scale: 0-10 in the column map``.
    """
    hints = _hints(frame, mapped_from, map_sections(map_path))
    out = []
    for problem in blocking:
        column = next((c for c in hints if problem.startswith(f"column '{c}' ")), None)
        out.append(f"{problem}; {hints[column]}" if column and hints[column] not in problem else problem)
    return out


def missing_lines(frame: pd.DataFrame, draft) -> list[str]:
    """``  ticket_id (required): did you mean 'case_number'?`` per contract column the file or an analysis needs."""
    required = set(schema.REQUIRED)
    return [f"  {column}{' (required)' if column in required else ''}: {meant(column, draft)}"
            for column in readiness.needed_columns() if column not in frame.columns]


def advice(frame: pd.DataFrame, report: pd.DataFrame, source, mapped_from: dict, map_path: str | Path | None,
           data_arg: str) -> list[str]:
    """Every line ``study validate`` prints after the column report.

    Parameters
    ----------
    frame : pandas.DataFrame
        The data under contract names (after the column map, if any), not yet validated.
    report : pandas.DataFrame
        :func:`study.data.schema.validation_report`'s column report.
    source : study.core.results.Source
        What was read (its columns are the file's own names).
    mapped_from : dict
        Contract name -> the export's column.
    map_path : str or Path or None
        The column map given, if any.
    data_arg : str
        The data file as the user named it, for the suggested ``study map`` command.

    Returns
    -------
    list of str
    """
    sections = map_sections(map_path)
    experiment = isinstance(sections.get("experiment"), dict)
    experiment_missing = None
    if experiment:
        from study.ab.experiment_table import (
            read_map,  # the A/B package only when the map has an experiment
        )

        experiment_missing = read_map(map_path).missing(source.columns)
    draft = draft_map.draft(frame)
    lines = [f"unused columns: {names(unused_columns(source.columns, sections))}",
             "analyses:", *analysis_lines(frame, report, experiment_missing, experiment, map_path)]
    hints = fix_hints(frame, mapped_from, sections)
    if hints:
        lines += ["to read a column right:", *hints]
    missing = missing_lines(frame, draft)
    if missing:
        lines += ["missing contract columns:", *missing]
    if missing and not map_path:
        kinds = {f.name: f.kind for f in draft.facts}
        lines.append("the file's columns: " + ", ".join(f"{shown(c)} ({kinds.get(c, '?')})" for c in source.columns[:LISTED])
                     + (f", ... and {len(source.columns) - LISTED} more" if len(source.columns) > LISTED else ""))
        lines.append(f"draft a column map: study map --data {data_arg} --out map.yml")
    return lines


def experiment_table_lines(frame: pd.DataFrame, source, map_path: str | Path | None) -> list[str] | None:
    """What ``study validate`` says about an experiment table, or ``None`` when the file is a ticket table.

    As ``study run`` decides: a file is an experiment table when its column map has an
    ``experiment`` section and no ``tickets`` section and the file lacks a column the contract
    requires; then only the experiment analysis reads it.

    Raises
    ------
    DataError
        When the table does not fit its experiment section (:func:`study.ab.experiment_table.check_table`).
    """
    sections = map_sections(map_path)
    if not isinstance(sections.get("experiment"), dict) or sections.get("tickets") is not None \
            or all(c in source.columns for c in schema.REQUIRED):
        return None
    from study import analyses
    from study.ab.experiment_table import check_table, read_map

    check_table(frame, read_map(map_path), source=source.name)
    lines = [f"unused columns: {names(unused_columns(source.columns, sections))}", "analyses:"]
    for analysis in analyses.ANALYSES:
        lines.append(f"  {analysis.name}: " + ("runs" if analysis.kind == "experiment"
                                                else "skipped: not a ticket table (the column map describes an experiment table)"))
    return lines
