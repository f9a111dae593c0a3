"""Load a ticket file ready for analysis: read, validate, derive."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from study import column_map, features, io, schema


@dataclass(frozen=True)
class TicketData:
    """Validated tickets with derived columns and facts about their source.

    Attributes
    ----------
    tickets : pandas.DataFrame
        One row per ticket, contract types, derived columns added.
    source : study.io.Source
        File name, fingerprint, rows and columns read.
    mapped_from : dict
        Contract name -> the export's column, for columns a column map renamed.
    """

    tickets: pd.DataFrame
    source: io.Source
    mapped_from: dict = field(default_factory=dict)

    def has(self, *columns: str) -> bool:
        """Whether every one of ``columns`` is present with at least one value."""
        return all(c in self.tickets.columns and self.tickets[c].notna().any() for c in columns)

    def controls(self, candidates: list[str] | None = None) -> list[str]:
        """The confounders present in this data with at least two distinct values.

        Parameters
        ----------
        candidates : list of str, optional
            Defaults to :data:`study.schema.CONFOUNDERS`.
        """
        candidates = schema.CONFOUNDERS if candidates is None else candidates
        return [c for c in candidates if c in self.tickets.columns and self.tickets[c].nunique() > 1]


def from_frame(frame: pd.DataFrame, name: str = "in-memory table") -> TicketData:
    """Validate and derive a ticket table that is already in memory (a simulation, a query result).

    Parameters
    ----------
    frame : pandas.DataFrame
        Tickets with contract column names.
    name : str
        How messages and reports name the table.

    Returns
    -------
    TicketData
        Its fingerprint hashes the table's values, so the same table gives the same fingerprint.
    """
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()[:16]
    source = io.Source(name, digest, len(frame), [str(c) for c in frame.columns])
    return TicketData(features.derive(schema.validate(frame, source=name)), source)


def read_mapped(path: str | Path, table: str = "tickets", columns: str | Path | None = None,
                query: str | None = None) -> tuple[pd.DataFrame, io.Source, dict]:
    """Read a ticket file and apply its column map, without validating.

    Returns
    -------
    frame : pandas.DataFrame
        Contract names and codes.
    source : study.io.Source
    mapped_from : dict
        Contract name -> the export's column, for renamed columns.
    """
    frame, source = io.load(path, table=table, query=query)
    mapping = column_map.read_ticket_map(columns) if columns else None
    if mapping is None:
        return frame, source, {}
    mapped_from = {k: v for k, v in mapping.columns.items() if v in frame.columns}
    mapped_from.update({k: f"{a} -> {b}" for k, (a, b) in mapping.durations.items()})
    return column_map.apply(frame, mapping, source=source.name), source, mapped_from


def load_tickets(path: str | Path, table: str = "tickets", columns: str | Path | None = None) -> TicketData:
    """Read, map, validate and derive a ticket file.

    Parameters
    ----------
    path : str or Path
        CSV, Parquet or DuckDB file.
    table : str
        Table to read from a DuckDB file.
    columns : str or Path, optional
        Column map whose ``tickets`` section maps the export onto the contract
        (:mod:`study.column_map`).

    Returns
    -------
    TicketData

    Raises
    ------
    study.schema.DataError
        When the file is missing, unreadable, or breaks the contract.
    """
    frame, source, mapped_from = read_mapped(path, table, columns)
    tickets = schema.validate(frame, source=source.name)
    return TicketData(features.derive(tickets), source, mapped_from)
