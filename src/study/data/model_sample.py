"""The reproducible whole-customer model sample, drawn by an engine (DuckDB or Spark) over the prepared copy.

The models of notebooks 02, 03, 06 and 09 fit on at most ``max_tickets`` tickets, drawn as whole
customers so that every model keeps all of a customer's tickets. The rule: customers are ordered by
``md5('<seed>:' || customer_id)`` (a hex text, the same in DuckDB, Spark and Python's ``hashlib``),
ties by customer id, and the sample is the longest prefix of that order whose tickets add up to at
most ``max_tickets``. Customers without an id are left out.

The order is a hash, not a permutation of every customer: an engine can keep only the customers
whose key lies below a threshold before it groups anything. Those are exactly the first customers
of the order, so when their tickets reach ``max_tickets`` the prefix lies among them and the others
need not be counted. The threshold is chosen so that about twice ``max_tickets`` tickets are kept
(from the number of tickets with a customer id); when fewer than ``max_tickets`` are kept, it is
widened and the scan repeated. So the driver receives a few hundred thousand customers' counts,
not every customer's (at 10 million tickets, 6.2 million).

``study run`` draws each sample its notebooks ask for once, on the run's engine, and writes its
rows beside the copy (:func:`write_sample`), in the copy's row order; :func:`study.data.dataset.load_tickets`
reads that file when it matches the copy (:func:`matching_sample`), and draws the same sample
itself otherwise.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from study.core.accounting import SAMPLE_REASON_START
from study.data import io

SAMPLE_KEY = b"study.model_sample"  # the sample's facts in its Parquet metadata
KEY_DIGITS = 16  # hex digits of a threshold: 64 bits, enough for a sample of one ticket in 10**18
KEPT_FACTOR = 2  # the first scan keeps about this many times max_tickets
WIDEN = 4  # a scan that kept too few is repeated with a threshold this many times wider
_POSITION = "__study_row_position"


@dataclass(frozen=True)
class Drawn:
    """A drawn model sample.

    Attributes
    ----------
    customers : pandas.Index
        Customer ids drawn, in the draw's order.
    tickets : int
        Their tickets.
    kept : int
        Customers whose counts the driver received (those below the last threshold).
    scans : int
        Scans of the data: 1, or more when the threshold was widened.
    """

    customers: pd.Index
    tickets: int
    kept: int
    scans: int


def key_sql(seed: int, column: str = '"customer_id"') -> str:
    """SQL (DuckDB dialect, translated for Spark) for a customer's place in the order of ``seed``."""
    return f"md5('{int(seed)}:' || CAST({column} AS VARCHAR))"


def threshold(share: float) -> str | None:
    """The key below which a ``share`` of customers falls (``KEY_DIGITS`` hex digits), ``None`` for all of them.

    An md5 hex text is below this threshold exactly when the number its first ``KEY_DIGITS`` digits
    write is below the threshold's number (a longer text with an equal start sorts after it).
    """
    top = 16**KEY_DIGITS
    bound = math.ceil(share * top)
    return None if bound >= top else format(max(bound, 1), f"0{KEY_DIGITS}x")


def draw(source, max_tickets: int, seed: int, *, weight: str | None = None) -> Drawn:
    """The model sample of ``source``'s tickets (see the module's rule), counted by its engine.

    Parameters
    ----------
    source : study.engine source
        Tickets with a ``customer_id`` column (:class:`study.engine.sources.DuckDBSource`,
        :class:`study.engine.spark.SparkSource`).
    max_tickets : int
        Upper bound on the drawn customers' tickets (at least 1).
    seed : int
        Seed of the order.
    weight : str, optional
        A column holding each row's number of tickets (a table of counts per customer); by default
        each row is one ticket.

    Returns
    -------
    Drawn
    """
    tickets = f"SUM({_quote(weight)})" if weight else "COUNT(*)"
    total = int(source.execute(f'SELECT {tickets} FROM {{relation}} WHERE "customer_id" IS NOT NULL')[0][0] or 0)
    share = min(1.0, KEPT_FACTOR * max_tickets / total) if total else 1.0
    scans = 0
    while True:
        scans += 1
        bound = threshold(share)
        below = f" AND {key_sql(seed)} < '{bound}'" if bound else ""
        kept = source.arrow(f'SELECT CAST("customer_id" AS VARCHAR) AS customer_id, {key_sql(seed)} AS sample_key, '
                            f'{tickets} AS tickets FROM {{relation}} WHERE "customer_id" IS NOT NULL{below} '
                            'GROUP BY "customer_id"').to_pandas()
        # Every customer left out sorts after every one kept: once the kept reach max_tickets, the
        # prefix lies among them.
        if bound is None or int(kept["tickets"].sum()) >= max_tickets:
            break
        share = min(1.0, share * WIDEN)
    return _prefix(kept, max_tickets, scans)


def _prefix(kept: pd.DataFrame, max_tickets: int, scans: int) -> Drawn:
    """The longest prefix of ``kept`` in key order (ties by id) with at most ``max_tickets`` tickets."""
    # Python compares text by code points, as DuckDB and Spark compare UTF-8 bytes: the same order.
    ordered = kept.sort_values(["sample_key", "customer_id"], kind="stable")
    within = ordered["tickets"].cumsum().to_numpy() <= max_tickets
    drawn = ordered[within]
    return Drawn(pd.Index(drawn["customer_id"].to_numpy(dtype=object), name="customer_id"),
                 int(drawn["tickets"].sum()), len(kept), scans)


def draw_counts(counts: pd.Series, max_tickets: int, seed: int) -> pd.Index:
    """The model sample from each customer's ticket count (indexed by customer id), drawn by DuckDB in process."""
    from study.engine.sources import DuckDBSource

    frame = pd.DataFrame({"customer_id": pd.Series(counts.index, dtype="string").to_numpy(dtype=object),
                          "tickets": counts.to_numpy(dtype="int64")})
    return draw(_quiet(DuckDBSource(frame)), max_tickets, seed, weight="tickets").customers


def draw_file(path: str | Path, max_tickets: int, seed: int) -> pd.Index:
    """The model sample of a Parquet file's tickets, drawn by DuckDB in process."""
    from study.engine.sources import DuckDBSource

    return draw(_quiet(DuckDBSource(path)), max_tickets, seed).customers


def _quiet(source):
    """A DuckDB source that draws no progress bar into a notebook on a long scan."""
    import duckdb

    try:
        source.connection.execute("SET enable_progress_bar = false")
    except duckdb.Error:  # in a kernel without widgets DuckDB draws none and refuses the setting
        pass
    return source


def _quote(identifier: str) -> str:
    return '"' + str(identifier).replace('"', '""') + '"'


def sample_reason(max_tickets: int, seed: int) -> str:
    """The row-accounting reason for tickets left out of a model sample."""
    return f"{SAMPLE_REASON_START} (whole customers, at most {max_tickets:,} tickets, seed {seed})"


# --- The sample's file ------------------------------------------------------------------------------

def file_for(copy: str | Path, max_tickets: int, seed: int) -> Path:
    """Where :func:`write_sample` puts the sample of ``copy``: beside it, named after it and the sample."""
    copy = Path(copy)
    return copy.with_name(f"{copy.stem}.model-sample-{int(max_tickets)}-seed-{int(seed)}.parquet")


def copy_fingerprint(copy: str | Path) -> str:
    """A fingerprint of a Parquet file from its size and footer (schema, row groups' sizes, offsets and
    statistics), read without reading the data: a file written again with other values has another one."""
    copy = Path(copy)
    size = copy.stat().st_size
    with open(copy, "rb") as handle:
        handle.seek(size - 8)
        length = int.from_bytes(handle.read(4), "little")
        handle.seek(max(size - 8 - length, 0))
        footer = handle.read(length + 8)
    return hashlib.sha256(str(size).encode() + footer).hexdigest()[:16]


def matching_sample(copy: str | Path, max_tickets: int, seed: int) -> Path | None:
    """The sample file of ``copy`` for ``max_tickets`` and ``seed``, or ``None`` when there is none or it
    was drawn from another copy or with other parameters."""
    import pyarrow.parquet as pq

    found = file_for(copy, max_tickets, seed)
    if not found.is_file():
        return None
    try:
        facts = json.loads((pq.read_schema(found).metadata or {})[SAMPLE_KEY])
    except Exception:  # not a sample file after all: drawn again
        return None
    wanted = {"max_tickets": int(max_tickets), "seed": int(seed), "copy_fingerprint": copy_fingerprint(copy)}
    return found if all(facts.get(k) == v for k, v in wanted.items()) else None


def write_sample(copy: str | Path, max_tickets: int, seed: int, source=None) -> dict:
    """Draw the sample of a prepared copy on an engine and write its tickets beside the copy.

    The rows are the copy's, in its row order, with its schema and metadata; the metadata's row
    accounting counts the tickets left out (so the file read alone is a prepared copy of the sample)
    and :data:`SAMPLE_KEY` holds the sample's facts.

    Parameters
    ----------
    copy : str or Path
        A copy written by :func:`study.data.dataset.write_prepared`.
    max_tickets, seed : int
        The sample's parameters (``load_tickets(max_tickets=..., seed=...)``).
    source : study.engine source, optional
        The copy on the engine that draws and selects the rows; DuckDB in process by default.

    Returns
    -------
    dict
        The sample's facts: ``max_tickets``, ``seed``, ``customers``, ``tickets``, ``copy_rows``,
        ``copy_fingerprint``, ``kept`` and ``scans`` (of the draw), ``file`` (its name).
    """
    import pyarrow.parquet as pq

    copy = Path(copy)
    if source is None:
        from study.engine.sources import DuckDBSource

        source = _quiet(DuckDBSource(copy))
    drawn = draw(source, max_tickets, seed)
    target = pq.read_schema(copy)
    rows = _rows_of(source, copy, drawn.customers, target)
    copy_rows = pq.ParquetFile(copy).metadata.num_rows
    facts = {"max_tickets": int(max_tickets), "seed": int(seed), "customers": len(drawn.customers),
             "tickets": rows.num_rows, "copy_rows": copy_rows, "copy_fingerprint": copy_fingerprint(copy),
             "kept": drawn.kept, "scans": drawn.scans}
    prepared = json.loads(target.metadata[io.PREPARED_KEY])
    prepared["set_aside"] = {**prepared.get("set_aside", {}), sample_reason(max_tickets, seed): copy_rows - rows.num_rows}
    metadata = {**target.metadata, io.PREPARED_KEY: json.dumps(prepared).encode(), SAMPLE_KEY: json.dumps(facts).encode()}
    out = file_for(copy, max_tickets, seed)
    partial = out.with_name(out.name + ".partial")  # a reader never sees half a file under the sample's name
    pq.write_table(rows.replace_schema_metadata(metadata), partial, row_group_size=io.ROWS_PER_GROUP,
                   compression=io.COPY_COMPRESSION)
    partial.replace(out)
    return {**facts, "file": out.name}


def _rows_of(source, copy: Path, customers: pd.Index, target):
    """The copy's rows of ``customers`` in its row order, as a pyarrow table of the copy's schema."""
    import pyarrow as pa

    ids = pa.table({"customer_id": pa.array(customers.to_numpy(dtype=object), type=pa.string())})
    if hasattr(source, "session"):  # Spark
        return _as_copy(_spark_rows(source.session, copy, ids), target, copy)
    connection = source.connection
    connection.register("study_drawn_customers", ids)
    try:
        table = connection.sql(
            f"SELECT * EXCLUDE ({_POSITION}) FROM (SELECT *, file_row_number AS {_POSITION} "
            "FROM read_parquet(?, file_row_number = true)) "
            'WHERE "customer_id" IN (SELECT "customer_id" FROM study_drawn_customers) '
            f"ORDER BY {_POSITION}", params=[str(copy)]).to_arrow_table()
    finally:
        connection.unregister("study_drawn_customers")
    return _as_copy(table, target, copy)


def _spark_rows(session, copy: Path, ids):
    """:func:`_rows_of` on Spark: the copy read as Spark reads it (nanosecond times as integers, see
    :data:`study.engine.spark.RESULT_SETTINGS`), joined with the drawn ids, ordered by the Parquet row index."""
    from pyspark.sql import functions as F

    frame = session.read.parquet(str(copy)).select("*", F.col("_metadata.row_index").alias(_POSITION))
    drawn = session.createDataFrame(ids)
    return (frame.join(F.broadcast(drawn), on="customer_id", how="left_semi").orderBy(_POSITION)
            .drop(_POSITION).toArrow())


def _as_copy(table, target, copy: Path):
    """``table`` (rows of the copy as an engine returned them) with the copy's types, read back as the copy reads.

    Times Spark read as integers become times again, and a categorical column (an Arrow dictionary)
    is encoded with the copy's own dictionary, so its categories keep their order (an engine returns
    the values as text).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    columns = []
    for field in target:
        column = table.column(field.name)
        if pa.types.is_timestamp(field.type) and pa.types.is_integer(column.type):
            column = column.cast(pa.timestamp(field.type.unit, field.type.tz))  # the integers Spark read, as they were
        if pa.types.is_dictionary(field.type):
            values = column.cast(field.type.value_type)
            first = pq.ParquetFile(copy).read_row_group(0, columns=[field.name]).column(0)
            dictionary = first.chunk(0).dictionary if first.num_chunks else pa.array([], field.type.value_type)
            # The copy writes one dictionary for every row group; values beyond it (another writer) are added after.
            extra = pc.unique(pc.filter(values, pc.invert(pc.is_in(values, value_set=dictionary)))).drop_null()
            dictionary = pa.concat_arrays([dictionary, extra])
            indices = pc.index_in(values, value_set=dictionary).cast(field.type.index_type)
            column = pa.chunked_array([pa.DictionaryArray.from_arrays(chunk, dictionary, ordered=field.type.ordered)
                                       for chunk in indices.chunks], type=field.type)
        columns.append(column.cast(field.type))
    return pa.Table.from_arrays(columns, schema=target)
