"""What the models hold fixed on a given data set, and what they could not hold fixed and why."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from study.data import schema
from study.data.dataset import TicketData


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
        Each variable of the full adjustment set that is left out, with the reason.
    """

    flags: list[str]
    controls: list[str]
    notes: list[str] = field(default_factory=list)


def adjustment(data: TicketData) -> Adjustment:
    """The flags and confounders this data allows the models to hold fixed.

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
    return Adjustment(flags, controls, notes)


def _why_left_out(tickets: pd.DataFrame, column: str) -> str:
    if column not in tickets.columns:
        return "the data has no such column"
    if tickets[column].isna().all():
        return "the column is empty"
    return "it takes a single value"


def on_rows(held: Adjustment, rows: pd.DataFrame) -> Adjustment:
    """The adjustment set narrowed to what varies on the rows a model uses.

    A flag or control that is constant there (e.g. every answered case resolved) cannot be
    estimated; it is left out with a note instead of making the design matrix singular.
    """
    keep_flags = [f for f in held.flags if rows[f].nunique() > 1]
    keep_controls = [c for c in held.controls if rows[c].nunique() > 1]
    dropped = [c for c in held.flags + held.controls if c not in keep_flags + keep_controls]
    notes = held.notes + [f"{c} not held fixed: it takes a single value on the rows this model uses" for c in dropped]
    return Adjustment(keep_flags, keep_controls, notes)
