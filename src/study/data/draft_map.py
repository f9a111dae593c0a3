"""A starter column map guessed from an export: which of its columns plays which contract role.

Roles are guessed from names first (the contract's own, then synonyms in several languages and
styles: ``review_score``, ``nota``, ``case_number``, ``FirstReplyAt``), then from values (a column of
whole answers 1-5 or 0-10 may be the CSAT answer). A guess is *sure* when one column matches a role
by name and its values fit the role's type; any other guess is *to check*, and the YAML writes it
commented out with the reason (:mod:`study.data.draft_yaml`). Nothing here reads or writes files.

The hints of :mod:`study.data.column_facts` (:func:`scale_hint`, :func:`unit_hint`, :func:`date_hint`)
are re-exported here for callers that want one pointer to the declaration that fixes a column.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import pandas as pd

from study.data import schema
from study.data.column_facts import (  # noqa: F401  (the hints are part of this module's API)
    UNIT_WORDS,
    ColumnFacts,
    csat_scale,
    date_hint,
    frame_facts,
    normalize,
    scale_hint,
    shown,
    unit_hint,
)
from study.data.convert import unit_guess
from study.data.role_names import CONTROL_CODES, DONE_CODES, NO_CODES, PARTS, SYNONYMS, TREATMENT_CODES, YES_CODES

DURATIONS = ("first_response_minutes", "resolution_minutes")
_TRAILING = {"at", "time", "timestamp", "ts", "date", "datetime", "dt", "on", "in", *UNIT_WORDS}
# How a guess was made, strongest first; a guess from the values alone is always to check.
SAME_NAME, BY_NAME, BY_PART, BY_VALUES = "same name", "by name", "by a word of its name", "by its values"
_STRENGTH = {SAME_NAME: 3, BY_NAME: 2, BY_PART: 1, BY_VALUES: 0}


@dataclass(frozen=True)
class Guess:
    """A contract role proposed for an export column.

    Attributes
    ----------
    role : str
        The contract column.
    column : str
        The export's column.
    how : str
        :data:`SAME_NAME`, :data:`BY_NAME`, :data:`BY_PART` or :data:`BY_VALUES`.
    sure : bool
        ``False``: written commented out, with ``check``.
    check : str
        Why to check it (empty when sure).
    start : str or None
        For a duration built from a timestamp: the export's column it is measured from.
    """

    role: str
    column: str
    how: str
    sure: bool = True
    check: str = ""
    start: str | None = None


@dataclass
class DraftMap:
    """A column map guessed from an export (:func:`draft`); :mod:`study.data.draft_yaml` writes it.

    Attributes
    ----------
    facts : list of ColumnFacts
        Every export column, in the file's order.
    guesses : list of Guess
        At most one per contract role, in the contract's order.
    values : dict
        Contract column -> {export code: contract code}, for yes/no columns with other codes and arms.
    values_check : dict
        Contract column -> why its codes' meaning is to check (the recode is written commented out).
    units, date_formats : dict
        Declarations to write: contract column -> unit; export column -> ``strptime`` format.
    units_check : dict
        Contract column -> why its unit is to check (a unit guessed from values, written commented out).
    date_checks : dict
        Export column -> why its date format is to check.
    csat_scale : str or None
        The CSAT column's scale when not 1-5.
    csat_scale_check : str
        Why the scale needs the user's check (its low end was not seen), or ``""``.
    missing_values : tuple of str
        Codes found meaning "no value".
    derive : dict
        Suggested derived columns (name -> expression), written commented out.
    filters : list of str
        Suggested row filters (delivered orders only, beside a delivery delay), written commented out.
    drivers : dict
        Suggested ``drivers`` section (outcome, driver, controls), written commented out.
    """

    facts: list[ColumnFacts]
    guesses: list[Guess] = field(default_factory=list)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    values_check: dict[str, str] = field(default_factory=dict)
    units: dict[str, str] = field(default_factory=dict)
    units_check: dict[str, str] = field(default_factory=dict)
    date_formats: dict[str, str] = field(default_factory=dict)
    date_checks: dict[str, str] = field(default_factory=dict)
    csat_scale: str | None = None
    csat_scale_check: str = ""
    missing_values: tuple[str, ...] = ()
    derive: dict[str, str] = field(default_factory=dict)
    filters: list[str] = field(default_factory=list)
    drivers: dict = field(default_factory=dict)

    def guess(self, role: str) -> Guess | None:
        """The guess for a contract column, sure or not."""
        return next((g for g in self.guesses if g.role == role), None)

    def roles(self, sure_only: bool = True) -> list[str]:
        """Contract columns the draft provides (only its sure guesses, unless ``sure_only`` is False)."""
        return [g.role for g in self.guesses if g.sure or not sure_only]

    def role_of(self, column: str) -> Guess | None:
        """The guess that uses an export column (as the column or a duration's end), if any."""
        return next((g for g in self.guesses if g.column == column), None)

    def constant(self) -> dict[str, str]:
        """Contract column -> its one value, for sure guesses of a column with a single distinct value."""
        by_name = {f.name: f for f in self.facts}
        return {g.role: by_name[g.column].examples[0] for g in self.guesses
                if g.sure and g.start is None and by_name[g.column].distinct == 1}

    def unused(self) -> list[str]:
        """Export columns no guess uses, sure or not, in the file's order."""
        used = {g.column for g in self.guesses} | {g.start for g in self.guesses if g.start}
        return [f.name for f in self.facts if f.name not in used]


def core(name: str) -> str:
    """A normalized name without a trailing unit, time word or scale: ``response_time_hours`` -> ``response``.

    A name made only of such words (``date``, ``timestamp``) is kept whole.
    """
    tokens = normalize(name).split("_")
    kept = list(tokens)
    while len(kept) > 1 and (kept[-1] in _TRAILING or kept[-1].isdigit()):
        kept.pop()
    return "_".join(kept) if kept else normalize(name)


def fits(role: str, facts: ColumnFacts) -> bool:
    """Whether a column's values can play a contract role (its type, and for CSAT a whole-number scale)."""
    kind = schema.BY_NAME[role].kind
    if role in DURATIONS:
        return facts.kind in ("number", "integer", "time")
    if role == "csat":
        return csat_scale(facts) is not None
    if kind == "id":
        return facts.kind in ("id", "text", "integer")
    if kind == "text":
        return facts.kind in ("text", "id", "flag", "integer")
    if kind == "flag":  # more than two codes may still be recoded (or filtered) to yes/no: a guess to check
        return facts.kind == "flag" or (facts.kind in ("text", "id", "integer") and 2 <= facts.distinct <= 12)
    if kind == "time":
        return facts.kind == "time"
    return facts.kind in ("number", "integer") if kind == "number" else facts.kind == "integer"


def _name_match(role: str, facts: ColumnFacts) -> str | None:
    name, stem = normalize(facts.name), core(facts.name)
    if facts.name == role:
        return SAME_NAME
    if stem in SYNONYMS.get(role, ()) or stem == core(role) or name in SYNONYMS.get(role, ()):
        return BY_NAME
    tokens = name.split("_")
    for part in PARTS.get(role, ()):
        if any(tokens[i:i + len(part)] == list(part) for i in range(len(tokens) - len(part) + 1)):
            return BY_PART
    return None


def _value_match(role: str, facts: ColumnFacts) -> bool:
    """Roles proposed from values alone: a CSAT-like scale; a unique id for the ticket."""
    if role == "csat":
        return facts.kind == "integer" and facts.low in (0, 1) and facts.high in (5, 7, 10) and facts.distinct >= 3
    if role == "ticket_id":
        return facts.kind == "id" and facts.distinct == facts.filled > 0
    return False


def draft(frame: pd.DataFrame) -> DraftMap:
    """Guess a column map for an export.

    Parameters
    ----------
    frame : pandas.DataFrame
        The export as read (:func:`study.data.io.load`), under its own names.

    Returns
    -------
    DraftMap
        The same frame always gives the same draft.
    """
    result = DraftMap(frame_facts(frame))
    candidates = []
    for position, facts in enumerate(result.facts):
        for order, column in enumerate(schema.COLUMNS):
            how = _name_match(column.name, facts)
            if how is None and _value_match(column.name, facts):
                how = BY_VALUES
            if how is not None and (how == SAME_NAME or fits(column.name, facts)):
                candidates.append((-_STRENGTH[how], position, order, how, column.name, facts))
    taken, chosen = set(), {}
    for _, _, _, how, role, facts in sorted(candidates, key=lambda c: c[:3]):
        if role not in chosen and facts.name not in taken:
            chosen[role] = (how, facts)
            taken.add(facts.name)
    by_name = {f.name: f for f in result.facts}
    for column in schema.COLUMNS:
        if column.name not in chosen:
            continue
        how, facts = chosen[column.name]
        rivals = [c[5].name for c in candidates if c[4] == column.name and c[3] == how and c[5].name not in taken]
        result.guesses.append(_judge(column.name, how, facts, rivals, chosen, by_name))
    _one_column_two_roles(result)
    _declarations(result, by_name, frame)
    _suggestions(result, by_name)
    return result


def _judge(role: str, how: str, facts: ColumnFacts, rivals: list[str], chosen: dict, by_name: dict) -> Guess:
    """A guess with its certainty and, for a duration from a timestamp, its start."""
    checks, name = [], shown(facts.name)
    if how == BY_VALUES:
        checks.append(f"{name} matches {role} by its values only ({_values_text(facts)})")
    elif how == BY_PART and not _kind_is(role, facts):
        checks.append(f"{name} matches {role} by a word of its name only")
    if rivals:
        checks.append(f"also {', '.join(shown(r) for r in rivals[:3])}")
    start = None
    if role in DURATIONS and facts.kind == "time":
        created = chosen.get("created_at")
        if created is None:
            checks.append(f"{name} is a timestamp; the duration needs the column of when the case was opened")
        else:
            start = created[1].name
    if schema.BY_NAME[role].kind == "flag" and facts.kind != "flag" and facts.distinct > 2:
        checks.append(f"{name} has {facts.distinct} codes, a yes/no column two")
    if role == "ticket_id" and facts.distinct < facts.filled:
        checks.append(f"{name} repeats ({facts.distinct:,} distinct values in {facts.filled:,} rows); a ticket id is unique")
    return Guess(role, facts.name, how, not checks, "; ".join(checks), start)


def _kind_is(role: str, facts: ColumnFacts) -> bool:
    kind = schema.BY_NAME[role].kind
    return facts.kind == kind or (kind == "number" and facts.kind in ("integer", "time")) \
        or (kind == "flag" and facts.distinct == 2)


def _values_text(facts: ColumnFacts) -> str:
    if facts.low is not None:
        return f"whole numbers {facts.low:g}-{facts.high:g}"
    return "every value different"


def _one_column_two_roles(result: DraftMap) -> None:
    """Without a customer column, the ticket column may stand for the customer (each its own customer)."""
    ticket = result.guess("ticket_id")
    if result.guess("customer_id") is None and ticket is not None:
        result.guesses.insert(result.guesses.index(ticket) + 1, Guess(
            "customer_id", ticket.column, BY_VALUES, False,
            f"no customer column found; {shown(ticket.column)} may serve as both (each case its own customer)"))


def _declarations(result: DraftMap, by_name: dict, frame: pd.DataFrame) -> None:
    """Recodes, units, CSAT scale, date formats and missing codes the guesses need."""
    for guess in result.guesses:
        facts = by_name[guess.column]
        kind = schema.BY_NAME[guess.role].kind
        if kind == "flag" and facts.kind != "flag" and facts.codes:
            result.values[guess.role], why = _recode(facts.codes, YES_CODES, NO_CODES, ("yes", "no"))
            if why or not guess.sure:
                result.values_check[guess.role] = why or "follows the column's guess"
        elif guess.role == "variant" and set(facts.codes) - {"control", "treatment"} and len(facts.codes) == 2:
            result.values[guess.role], why = _recode(facts.codes, CONTROL_CODES, TREATMENT_CODES, ("control", "treatment"))
            if why or not guess.sure:
                result.values_check[guess.role] = why or "follows the column's guess"
        if guess.role in DURATIONS and facts.kind != "time":
            # The export's name may say its unit; the contract's own name says nothing about the values.
            named = None if guess.column == guess.role else facts.unit
            hint = unit_hint(frame[guess.column], guess.role, None if guess.column == guess.role else guess.column)
            if named and named != "minutes":
                result.units[guess.role] = named
            elif named is None and hint:
                unit = unit_guess(frame[guess.column]) or "hours"
                result.units[guess.role], result.units_check[guess.role] = unit, hint
        if guess.role == "csat":
            scale = csat_scale(facts)
            if scale and scale != "1-5":
                result.csat_scale = scale
                low = int(scale.split("-")[0])
                named = normalize(facts.name).endswith(scale.replace("-", "_"))
                if facts.low != low and not named:
                    # 3-10 could be on 0-10 or 1-10, and the two bin an 8 differently: the user decides.
                    result.csat_scale_check = (f"check: no answer of {low} was seen (lowest {facts.low:g}); is the "
                                               f"scale {scale} or {1 - low}-{scale.split('-')[1]}?")
    used = {g.column for g in result.guesses} | {g.start for g in result.guesses if g.start}
    for facts in result.facts:
        if facts.date_format and facts.name in used:
            result.date_formats[facts.name] = facts.date_format
            if not facts.date_sure:
                result.date_checks[facts.name] = "no day above 12 shows whether the day or the month comes first"
    result.missing_values = tuple(sorted({c for f in result.facts for c in f.missing_codes}))


def _recode(codes: tuple[str, ...], first: set, second: set, targets: tuple[str, str]) -> tuple[dict[str, str], str]:
    """Two codes onto ``targets`` by the word lists, and why to check it (empty when the words decide)."""
    folded = [normalize(c) for c in codes]
    in_first = [c for c, f in zip(codes, folded) if f in first]
    in_second = [c for c, f in zip(codes, folded) if f in second]
    if len(codes) == 2 and len(in_first) == 1 and len(in_second) == 1:
        return {in_first[0]: targets[0], in_second[0]: targets[1]}, ""
    if len(codes) == 2:
        return {codes[0]: targets[0], codes[1]: targets[1]}, f"which of {codes[0]!r}, {codes[1]!r} means {targets[0]}?"
    recode = {c: targets[0] for c in in_first} | {c: targets[1] for c in in_second if c not in in_first}
    other = [c for c in codes if c not in recode]
    return recode, f"codes {', '.join(repr(c) for c in other[:5])} are neither; map or filter them" if other else ""


def _suggestions(result: DraftMap, by_name: dict) -> None:
    """A delay between a promised and an actual time as a derived driver, and a drivers section."""
    times = [f for f in result.facts if f.kind == "time" and f.name in result.unused()]
    promised = next((f for f in times if set(normalize(f.name).split("_")) & {"estimated", "expected", "promised",
                                                                             "due", "planned", "target"}), None)
    actual = next((f for f in times if promised is not None and f is not promised), None)
    driver = "first_response_minutes" if "first_response_minutes" in result.roles(False) else None
    if promised is not None and actual is not None:
        stem = "delivery" if any(t.startswith("deliver") for t in normalize(actual.name + "_" + promised.name).split("_")) else "due"
        driver = f"{stem}_delay_days"
        result.derive[driver] = f"days({_ident(actual.name)} - {_ident(promised.name)})"
        result.derive["late"] = f"{_ident(actual.name)} > {_ident(promised.name)}"
        # A delivery delay exists for delivered orders only: a status column with such a code suggests the filter.
        status = next((f for f in result.facts if f.kind == "text" and f.name in result.unused()
                       and any(normalize(c) in DONE_CODES and "'" not in c for c in f.codes)), None)
        if status is not None:
            code = next(c for c in status.codes if normalize(c) in DONE_CODES and "'" not in c)
            result.filters.append(f"{_ident(status.name)} = '{code}'")
    outcome = next((r for r in ("csat", "repeat_purchase") if r in result.roles(False)), None)
    if outcome and driver:
        controls = [c for c in schema.CONFOUNDERS if c in result.roles(False)]
        result.drivers = {"outcome": outcome, "driver": driver, "controls": controls}


def _ident(name: str) -> str:
    """A column name as the map's expressions write it: bare, or in backticks."""
    return name if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) else f"`{name}`"


def did_you_mean(role: str, result: DraftMap, exclude=()) -> str | None:
    """The export column most likely meant for a missing contract column.

    The draft's guess for ``role`` by name if there is one; else the export name closest to the
    role's name or one of its synonyms (:func:`difflib.get_close_matches`: a typo); else a guess
    from values. Columns in ``exclude`` (those already holding a contract column) are not proposed.
    """
    guess = result.guess(role)
    if guess is not None and (guess.column in exclude or guess.column == role):
        guess = None
    if guess is not None and guess.how != BY_VALUES:
        return guess.column
    names = {normalize(f.name): f.name for f in result.facts if f.name not in exclude}
    for target in (role, *SYNONYMS.get(role, ())):
        close = difflib.get_close_matches(target, list(names), n=1, cutoff=0.75)
        if close:
            return names[close[0]]
    return guess.column if guess is not None else None
