"""What the models hold fixed on a given data set, and what they could not hold fixed and why."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from study.data import schema
from study.data.dataset import TicketData

# Fixed effects the adjusted models hold where the data allows: column -> (singular, plural, why it matters).
FIXED_EFFECTS = {
    "agent_id": ("agent", "agents", ("the resolution effect (and speed's) may be confounded by agent skill: skilled agents "
                                     "resolve more cases and leave happier customers")),
}


@dataclass(frozen=True)
class Adjustment:
    """The adjustment set of the observational models.

    Attributes
    ----------
    flags : list of str
        Case outcomes held fixed beside speed: ``resolved`` and ``reopened``, each where it is
        present with two values.
    controls : list of str
        Known confounders present with at least two values (entered as dummies).
    notes : list of str
        Each flag or confounder of the full adjustment set that is left out, with the reason.
    fixed_effects : list of str
        Columns held fixed by a fixed effect per value: ``agent_id`` where it is present with at
        least two agents. A model holding it compares tickets handled by the same agent (linear
        models absorb it, :func:`study.regression.within.fit_within`; others may enter it as dummies,
        see :attr:`categorical`).
    fixed_effect_notes : list of str
        What is and is not held fixed about agents, in words (e.g. "agent held fixed (60 agents):
        compares tickets handled by the same agent").
    levels : dict
        Number of distinct values of each fixed effect (agents).
    """

    flags: list[str]
    controls: list[str]
    notes: list[str] = field(default_factory=list)
    fixed_effects: list[str] = field(default_factory=list)
    fixed_effect_notes: list[str] = field(default_factory=list)
    levels: dict = field(default_factory=dict)

    @property
    def categorical(self) -> list[str]:
        """Confounders and fixed effects, for a model that enters each as dummies (a logit, a Cox model)."""
        return [*self.controls, *self.fixed_effects]

    @property
    def held(self) -> list[str]:
        """What is held fixed, in words, one line per kind."""
        out = [f"case outcomes held fixed: {', '.join(self.flags)}"] if self.flags else []
        out += [f"known confounders held fixed: {', '.join(self.controls)}"] if self.controls else []
        return out + [n for n in self.fixed_effect_notes if "not held fixed" not in n]

    @property
    def fixed_effect_words(self) -> str:
        """For a method text: "agent held fixed (fixed effects for 60 agents, absorbed)" or "agent not held fixed (why)"."""
        if self.fixed_effects:
            return "; ".join(f"{FIXED_EFFECTS[c][0]} held fixed (fixed effects for {self.levels[c]:,} {FIXED_EFFECTS[c][1]}, absorbed)"
                             for c in self.fixed_effects)
        return "; ".join(n.split("): ", 1)[0] + ")" for n in self.fixed_effect_notes)

    @property
    def statement(self) -> list[str]:
        """What is held fixed and what is not, with the reasons (:attr:`held`, then what is left out)."""
        return [*self.held, *[n for n in self.fixed_effect_notes if "not held fixed" in n], *self.notes]

    def without_fixed_effects(self, reason: str) -> Adjustment:
        """The same adjustment without its fixed effects, saying why (for a model that cannot hold them)."""
        notes = [f"{FIXED_EFFECTS[c][0]} not held fixed ({reason}): {FIXED_EFFECTS[c][2]}" for c in self.fixed_effects]
        return Adjustment(self.flags, self.controls, self.notes, [], notes or self.fixed_effect_notes, {})


def adjustment(data: TicketData) -> Adjustment:
    """The flags, confounders and fixed effects this data allows the models to hold fixed.

    Parameters
    ----------
    data : TicketData

    Returns
    -------
    Adjustment
    """
    tickets = data.tickets
    notes, flags = [], []
    for column in ("resolved", "reopened"):
        if data.has(column) and tickets[column].nunique() > 1:
            flags.append(column)
        else:
            notes.append(f"{column} not held fixed: {_why_left_out(tickets, column)}")
    controls = data.controls()
    notes += [f"{c} not held fixed: {_why_left_out(tickets, c)}" for c in schema.CONFOUNDERS if c not in controls]
    fixed, levels = [], {}
    for column in FIXED_EFFECTS:
        count = int(tickets[column].nunique()) if column in tickets.columns else 0
        if count > 1:
            fixed.append(column)
            levels[column] = count
    return Adjustment(flags, controls, notes, fixed, _fixed_effect_notes(tickets, fixed, levels), levels)


def _fixed_effect_notes(tickets: pd.DataFrame, fixed: list[str], levels: dict, why: str | None = None) -> list[str]:
    out = []
    for column, (one, many, risk) in FIXED_EFFECTS.items():
        if column in fixed:
            out.append(f"{one} held fixed ({levels[column]:,} {many}): compares tickets handled by the same {one}")
        else:
            reason = why or ("it takes a single value" if column in tickets.columns and tickets[column].notna().any()
                             else _why_left_out(tickets, column))
            out.append(f"{one} not held fixed ({column}: {reason}): {risk}")
    return out


def _why_left_out(tickets: pd.DataFrame, column: str) -> str:
    if column not in tickets.columns:
        return "the data has no such column"
    if tickets[column].isna().all():
        return "the column is empty"
    return "it takes a single value"


def on_rows(held: Adjustment, rows: pd.DataFrame) -> Adjustment:
    """The adjustment set narrowed to what varies on the rows a model uses.

    A flag or control that is constant there (e.g. every answered case resolved) cannot be
    estimated; it is left out with a note instead of making the design matrix singular. A fixed
    effect with a single value there (one agent) is left out the same way.
    """
    keep_flags = [f for f in held.flags if rows[f].nunique() > 1]
    keep_controls = [c for c in held.controls if rows[c].nunique() > 1]
    dropped = [c for c in held.flags + held.controls if c not in keep_flags + keep_controls]
    notes = held.notes + [f"{c} not held fixed: it takes a single value on the rows this model uses" for c in dropped]
    levels = {c: int(rows[c].nunique()) for c in held.fixed_effects if c in rows.columns}
    fixed = [c for c in held.fixed_effects if levels.get(c, 0) > 1]
    if fixed == held.fixed_effects:
        fixed_notes = _fixed_effect_notes(rows, fixed, levels) if fixed else held.fixed_effect_notes
    else:
        fixed_notes = _fixed_effect_notes(rows, fixed, levels, why="a single value on the rows this model uses")
    return Adjustment(keep_flags, keep_controls, notes, fixed, fixed_notes, {c: levels[c] for c in fixed})
