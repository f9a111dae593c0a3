"""Load a ticket file ready for analysis: read, validate, derive."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from study import config
from study.data import column_map, features, findings, io, model_sample, schema
from study.data.model_sample import sample_reason


@dataclass(frozen=True)
class TicketData:
    """Validated tickets with derived columns and facts about their source.

    Attributes
    ----------
    tickets : pandas.DataFrame
        One row per ticket, contract types, derived columns added.
    source : study.core.results.Source
        File name, fingerprint, rows and columns read.
    mapped_from : dict
        Contract name -> the export's column, for columns a column map renamed.
    set_aside : dict
        Tickets of the source left out before any analysis, by reason (a column map's filter, a
        model sample), so that row accounting starts from every ticket read.
    missing : dict
        Share of missing values of the columns of the source that were not read (``needed``), from
        the file's metadata, so that a data report can still describe them.
    prepared : Path or None
        The prepared copy (:func:`write_prepared`) these tickets were read from, whole and unsampled,
        so that aggregates can be computed over the file instead of the columns in memory.
    notes : dict
        Contract column -> how its values were read, when that is worth saying in a column report
        (``{"created_at": "time zones converted to UTC"}``; see :func:`study.data.schema.conform`). Kept
        in the prepared copy, so a notebook reading it shows the same notes
        (``validation_report(..., notes=data.notes)``).
    max_tickets : int or None
        The model-sample bound these tickets were loaded with (``load_tickets(max_tickets=...)``;
        0: every ticket), so that results can report the parameter they were made with.
    """

    tickets: pd.DataFrame
    source: io.Source
    mapped_from: dict = field(default_factory=dict)
    set_aside: dict = field(default_factory=dict)
    missing: dict = field(default_factory=dict)
    prepared: Path | None = None
    notes: dict = field(default_factory=dict)
    max_tickets: int | None = None

    def sample_note(self) -> str:
        """A note that the models fit on a customer sample, or ``""`` when they use every ticket."""
        return findings.model_sample(self)

    def has(self, *columns: str) -> bool:
        """Whether every one of ``columns`` is present with at least one value."""
        return all(c in self.tickets.columns and self.tickets[c].notna().any() for c in columns)

    def controls(self, candidates: list[str] | None = None) -> list[str]:
        """The confounders present in this data with at least two distinct values.

        Parameters
        ----------
        candidates : list of str, optional
            Defaults to :data:`study.data.schema.CONFOUNDERS`.
        """
        candidates = schema.CONFOUNDERS if candidates is None else candidates
        return [c for c in candidates if c in self.tickets.columns and self.tickets[c].nunique() > 1]


def frame_source(frame: pd.DataFrame, name: str = "in-memory table") -> io.Source:
    """Facts of an in-memory table: its name, a fingerprint of its values (the same table, the same one), rows, columns."""
    digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()[:16]
    return io.Source(name, digest, len(frame), [str(c) for c in frame.columns])


def tickets_and_source(data, name: str = "in-memory table") -> tuple[pd.DataFrame, io.Source, dict[str, int]]:
    """What an analysis reads of its input: the tickets, their facts, and the rows a column map set aside.

    Parameters
    ----------
    data : TicketData or pandas.DataFrame
        Loaded tickets (:func:`load_tickets`), or a table taken as it is.
    name : str
        How a table in memory is named in reports.

    Raises
    ------
    TypeError
        For anything else.
    """
    if isinstance(data, TicketData):
        return data.tickets, data.source, dict(data.set_aside)
    if isinstance(data, pd.DataFrame):
        return data, frame_source(data, name), {}
    raise TypeError(f"data must be a pandas DataFrame or TicketData, not {type(data).__name__}")


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
    source = frame_source(frame, name)
    tickets, notes = schema.conform(frame, source=name)
    return TicketData(features.derive(tickets), source, notes=notes)


@dataclass(frozen=True)
class MappedExport:
    """A ticket file read and mapped, not yet validated (:func:`read_export`).

    Attributes
    ----------
    frame : pandas.DataFrame
        Contract names and codes; the rows the map's filters kept, with the index of the rows read,
        so that validation messages name the file's rows.
    source : study.core.results.Source
        The file as read (its ``rows`` count every row, those the filters excluded too).
    mapped_from : dict
        Contract name -> where the column map took it from.
    set_aside : dict
        ``excluded by the column map's filter: <text>`` -> rows, for every filter that excluded some.
    notes : dict
        Column -> how the map read or converted it (date formats, units, CSAT scale).
    """

    frame: pd.DataFrame
    source: io.Source
    mapped_from: dict = field(default_factory=dict)
    set_aside: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)


def read_export(path: str | Path, table: str = "tickets", columns: str | Path | None = None,
                query: str | None = None) -> MappedExport:
    """Read a ticket file and apply its column map (:mod:`study.data.column_map`), without validating.

    Raises
    ------
    study.data.schema.DataError
        When the map or the file cannot be read, or the map cannot be applied to the file.
    """
    mapping = column_map.read_ticket_map(columns) if columns else None  # a broken map is named before the data is read
    # Identifiers a map renames are read as text too ("007" stays "007", an account "NA" stays "NA").
    ids = tuple(mapping.columns[c] for c in io.ID_COLUMNS if mapping and c in mapping.columns)
    frame, source = io.load(path, table=table, query=query, text_columns=ids)
    if mapping is None:
        return MappedExport(frame, source)
    mapped = column_map.map_tickets(frame, mapping, source=source.name)
    return MappedExport(mapped.frame, source, mapped.mapped_from, mapped.set_aside, mapped.notes)


def read_mapped(path: str | Path, table: str = "tickets", columns: str | Path | None = None,
                query: str | None = None) -> tuple[pd.DataFrame, io.Source, dict]:
    """Read a ticket file and apply its column map, without validating.

    The rows the map's filters excluded, and the map's notes, are in :func:`read_export`, which
    this returns the first three fields of.

    Returns
    -------
    frame : pandas.DataFrame
        Contract names and codes.
    source : study.core.results.Source
    mapped_from : dict
        Contract name -> the export's column, for renamed columns.
    """
    export = read_export(path, table, columns, query)
    return export.frame, export.source, export.mapped_from


def load_tickets(
    path: str | Path,
    table: str = "tickets",
    columns: str | Path | None = None,
    *,
    needed: list[str] | None = None,
    max_tickets: int | None = None,
    seed: int = 2026,
    unread_without: tuple[str, str] | None = None,
) -> TicketData:
    """Read, map, validate and derive a ticket file.

    Parameters
    ----------
    path : str or Path
        CSV, Parquet or DuckDB file, or a prepared copy written by :func:`write_prepared`
        (read as it is: it was validated when it was written).
    table : str
        Table to read from a DuckDB file.
    columns : str or Path, optional
        Column map whose ``tickets`` section maps the export onto the contract
        (:mod:`study.data.column_map`).
    needed : list of str, optional
        For a prepared copy: read only these columns (those absent are ignored). Other files are
        read whole, because validation needs every column.
    max_tickets : int, optional
        Keep at most this many tickets, drawn as whole customers (see :func:`customer_sample`).
        ``None`` or 0 keeps every ticket. For a prepared copy, the sample ``study run`` wrote beside
        it is read when it was drawn from this copy with these parameters
        (:func:`study.data.model_sample.matching_sample`); otherwise it is drawn here, the same sample.
    seed : int
        Seed of that draw.
    unread_without : tuple of str, optional
        ``(column, reason)``: for a prepared copy read whole (no ``max_tickets`` draw), the tickets without a value
        in ``column`` are not read, and are counted in ``set_aside`` under ``reason``. An analysis that drops them
        first under the same reason (the feedback analysis: tickets without a comment) gives the same rows and
        ledger, without holding every ticket (at 10M tickets, 2.2 million with a comment).

    Returns
    -------
    TicketData
        With ``set_aside`` counting the tickets the column map's filters excluded and those left
        out of the draw.

    Raises
    ------
    study.data.schema.DataError
        When the file is missing, unreadable, or breaks the contract.
    """
    path = config.input_path(path)  # a notebook's default, run by papermill from another folder
    if is_prepared(path):
        data = _read_prepared(Path(path), needed, max_tickets, seed, unread_without)
    else:
        export = read_export(path, table, columns)
        # The frame was just read and is ours: converting and deriving in place saves two copies of it.
        tickets, notes = schema.conform(export.frame, source=export.source.name, copy=False, mapped_from=export.mapped_from)
        # Validated with the file's row numbers (messages name them); analysed with positions.
        tickets.index = pd.RangeIndex(len(tickets))
        data = TicketData(features.derive(tickets, copy=False), export.source, export.mapped_from,
                          set_aside=export.set_aside, notes=_merged(export.notes, notes))
        if max_tickets and len(data.tickets) > max_tickets:
            keep = data.tickets["customer_id"].isin(customer_sample(data.tickets["customer_id"], max_tickets, seed))
            data = _sampled(data.tickets[keep], len(data.tickets), data, max_tickets, seed)
    return dataclasses.replace(data, max_tickets=max_tickets)


def _merged(first: dict[str, str], second: dict[str, str]) -> dict[str, str]:
    """Notes of the column map and of validation, both kept where both speak of one column."""
    return {c: "; ".join(n for n in (first.get(c), second.get(c)) if n) for c in {**first, **second}}


def customer_sample(customer_ids: pd.Series, max_tickets: int, seed: int) -> pd.Index:
    """Customers drawn in a seeded random order until their tickets would exceed ``max_tickets``.

    Whole customers are drawn, not tickets, so that every model keeps all of a customer's tickets
    and standard errors clustered by customer stay valid. Customers are ordered by
    ``md5('<seed>:' || customer_id)`` and the sample is the longest prefix of that order with at most
    ``max_tickets`` tickets (:mod:`study.data.model_sample`, the rule ``study run`` draws on its engine).
    It depends only on the set of customers, their ticket counts and ``seed``: the same data and seed
    give the same sample, whatever the row order, in a notebook or in a run.

    Parameters
    ----------
    customer_ids : pandas.Series
        One value per ticket; tickets without one belong to no customer and are never drawn.
    max_tickets : int
        Upper bound on the tickets of the drawn customers.
    seed : int
        Seed of the order of customers.

    Returns
    -------
    pandas.Index
        The customer ids drawn, as ``customer_ids`` holds them (the order is keyed on their text).
    """
    return draw_customers(customer_ids.value_counts(), max_tickets, seed)


def draw_customers(counts: pd.Series, max_tickets: int, seed: int) -> pd.Index:
    """:func:`customer_sample` from each customer's ticket count, indexed by customer id.

    The counts may come from anywhere (pandas, a DuckDB ``GROUP BY``), in any order: the draw is the same.
    """
    from study.data import model_sample

    drawn = model_sample.draw_counts(counts, max_tickets, seed)
    # The rule keys customers on their text; the ids go back as the counts hold them (whole numbers stay numbers),
    # so that ``ids.isin(drawn)`` finds their tickets.
    by_text = pd.Series(counts.index, index=pd.Index(counts.index).astype(str))
    return pd.Index(by_text.loc[drawn.astype(str)].to_numpy(), name="customer_id")


def _sampled(kept: pd.DataFrame, rows: int, data: TicketData, max_tickets: int, seed: int) -> TicketData:
    """``kept`` (a customer sample of ``rows`` tickets) with the tickets left out counted."""
    set_aside = {**data.set_aside, sample_reason(max_tickets, seed): rows - len(kept)}
    # The sample is not the whole prepared copy: aggregates over that file would describe other tickets.
    return dataclasses.replace(data, tickets=kept.reset_index(drop=True), set_aside=set_aside, prepared=None)


def write_prepared(data: TicketData, path: str | Path) -> Path:
    """Write validated, derived tickets as Parquet that :func:`load_tickets` reads without checking again.

    ``study run`` validates a data set once and gives every notebook this copy, so a large file
    is not read, mapped and checked once per notebook. The facts of the original file (name,
    fingerprint, rows) travel in the Parquet metadata, so results name the original.

    Parameters
    ----------
    data : TicketData
    path : str or Path

    Returns
    -------
    Path
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    # Tickets of the source left out before the copy (a column map's filters) stay counted, so that
    # every notebook's row accounting starts from every row of the file.
    facts = {"source": dataclasses.asdict(data.source), "mapped_from": data.mapped_from, "notes": data.notes,
             "set_aside": data.set_aside}
    writer = None
    # Written a slice at a time, so a 10M-ticket table is not held twice (pandas and Arrow) at once.
    for start in range(0, max(len(data.tickets), 1), io.ROWS_PER_GROUP):
        table = pa.Table.from_pandas(data.tickets.iloc[start:start + io.ROWS_PER_GROUP], preserve_index=False)
        if writer is None:
            schema_ = table.schema.with_metadata({**(table.schema.metadata or {}), io.PREPARED_KEY: json.dumps(facts).encode()})
            writer = pq.ParquetWriter(path, schema_, compression=io.COPY_COMPRESSION)
        writer.write_table(table.cast(writer.schema))
    writer.close()
    return path


def is_prepared(path: str | Path) -> bool:
    """Whether ``path`` is a copy written by :func:`write_prepared`."""
    path = Path(path)
    if path.suffix.lower() != ".parquet" or not path.is_file():
        return False
    import pyarrow.parquet as pq

    try:
        return io.PREPARED_KEY in (pq.read_schema(path).metadata or {})
    except Exception:  # not Parquet after all: the ordinary path reports it properly
        return False


def _read_prepared(path: Path, needed: list[str] | None, max_tickets: int | None, seed: int,
                   unread_without: tuple[str, str] | None = None) -> TicketData:
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    schema_ = pq.read_schema(path)
    facts = json.loads(schema_.metadata[io.PREPARED_KEY])
    source = io.Source(**facts["source"])
    names = [c for c in schema_.names if needed is None or c in needed]
    rows = pq.ParquetFile(path).metadata.num_rows
    sampled = bool(max_tickets and rows > max_tickets)
    drawn = model_sample.matching_sample(path, max_tickets, seed) if sampled else None
    if drawn is not None:  # drawn once by the run (model_sample.write_sample): its rows, in the copy's order
        tickets = _frame(pq.read_table(drawn, columns=names))
    else:
        row_filter = None
        if sampled:
            row_filter = pc.field("customer_id").isin(_arrow_strings(model_sample.draw_file(path, max_tickets, seed)))
        elif unread_without is not None and unread_without[0] in names:
            row_filter = pc.field(unread_without[0]).is_valid()
        tickets = _frame(pq.read_table(path, columns=names, filters=row_filter))
    data = TicketData(tickets, source, facts["mapped_from"], set_aside=facts.get("set_aside", {}),
                      missing=io.null_shares(path, set(schema_.names) - set(names)), prepared=path,
                      notes=facts.get("notes", {}))
    if sampled:
        return _sampled(tickets, rows, data, max_tickets, seed)
    if len(tickets) < rows:  # tickets without a value in unread_without's column were not read
        # Not the whole copy any more: aggregates over the file would describe other tickets.
        return dataclasses.replace(data, set_aside={**data.set_aside, unread_without[1]: rows - len(tickets)},
                                   prepared=None)
    return data


def _frame(table) -> pd.DataFrame:
    """``table`` as a frame, each column let go as converted and in a block of its own (dropped, it is freed)."""
    return table.to_pandas(split_blocks=True, self_destruct=True)


def _arrow_strings(values: pd.Index):
    """``values`` as a pyarrow array (for a row filter)."""
    import pyarrow as pa

    return pa.array(values.to_numpy(dtype=object), type=pa.string())
