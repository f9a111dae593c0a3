"""Validation and the prepared copy of a typed Parquet file, streamed through DuckDB and Arrow.

A Parquet export whose columns already have the contract's types (text, booleans, numbers, times
without a zone) needs none of :func:`study.data.schema.conform`'s reading rules: only its checks
(ranges, finite and whole numbers, empty or repeated ids, times in the future). Those are counted
per column by one DuckDB scan of the file while the copy is written a row group at a time with
Arrow, its text stripped and its derived columns made by the pandas functions on each slice, so a
10M-ticket file never sits in memory as one pandas table.

The counting queries run on a source (:mod:`study.engine`): DuckDB here, or Spark with ``study run --engine
spark``, where the copy is still written in this process by Arrow.

Only clean files take this path, and only large ones (:data:`STREAM_MIN_ROWS`; any size on Spark). When any check counts a problem, or the file has anything the
checks do not cover (a column map, a zone-aware time, text in a number column, NaN), the caller
validates the pandas way (:func:`study.data.dataset.load_tickets`), whose messages name the column,
the values and the rows: the errors are the same whichever path found the file clean or not.
The copy is the one :func:`study.data.dataset.write_prepared` writes from the pandas path, byte for
byte in its values and schema (tested).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from study.data import features, io, schema
from study.data.convert import IMPLAUSIBLY_LARGE, summary_note
from study.engine import DEFAULT_MASTER
from study.engine.quantiles import quantiles_of

# Every character Python's str.strip or Arrow's utf8_trim_whitespace may remove (a superset of both):
# ticket ids that differ only in these at their ends count as repeats, and the pandas path then says
# whether they are.
_SPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
          "\u2007\u2008\u2009\u200a\u200b\u2028\u2029\u202f\u205f\u3000\ufeff")
_EDGE_SPACE = f"^[{_SPACE}]+|[{_SPACE}]+$"
# Files with fewer rows go the pandas way: it reads such a file in one go and is faster there (1M tickets:
# 3.0 s against 4.5 s streamed; 10M: 41 s and 3.9 GB against 24 s and 1.4 GB streamed).
STREAM_MIN_ROWS = 2_000_000
# Rows read to learn the copy's schema from the pandas path itself.
SCHEMA_ROWS = 1_000


def connect():
    """An in-memory DuckDB connection that prints nothing (no progress bar on a long scan)."""
    import duckdb

    from study.engine.sources import connect as duckdb_connection

    con = duckdb_connection()
    try:
        con.execute("SET enable_progress_bar = false")
    except duckdb.Error:  # in a Jupyter kernel DuckDB refuses to touch the setting; it shows no bar there without widgets
        pass
    return con


def counting_source(path: Path, engine: str = "duckdb", spark_master: str = DEFAULT_MASTER):
    """A source of a Parquet file for the checks' queries: DuckDB printing nothing, or Spark.

    Each caller gets its own: a DuckDB connection serves one thread at a time, and the checks run beside the copy.
    """
    if engine != "duckdb":
        from study.engine import open_source

        return open_source(path, engine, spark_master)
    from study.engine.sources import DuckDBSource

    source = DuckDBSource(path)
    # A NaN stored as a value is counted, never folded away by Parquet statistics that leave NaN out.
    source.relation = "read_parquet(?, can_have_nan = true)"
    try:
        source.connection.execute("SET enable_progress_bar = false")
    except Exception:  # as in connect(): a Jupyter kernel refuses the setting, and shows no bar there
        pass
    return source


def _kind(arrow_type) -> str | None:
    """``"text"``, ``"flag"``, ``"int"``, ``"float"`` or ``"time"`` for a type the checks cover, else ``None``."""
    import pyarrow.types as t

    if t.is_string(arrow_type) or t.is_large_string(arrow_type):
        return "text"
    if t.is_boolean(arrow_type):
        return "flag"
    if t.is_integer(arrow_type):
        return "int"
    if t.is_floating(arrow_type) and arrow_type.bit_width in (32, 64):
        return "float"
    if t.is_timestamp(arrow_type) and arrow_type.tz is None:
        return "time"
    return None


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _covered(kinds: dict[str, str | None]) -> bool:
    """Whether every column has a type the checks cover, each contract column one its kind reads as it is."""
    wanted = {"id": ("text",), "text": ("text",), "flag": ("flag",), "time": ("time",),
              "number": ("int", "float"), "integer": ("int", "float")}
    for name, kind in kinds.items():
        if kind is None:
            return False
        column = schema.BY_NAME.get(name)
        if column is not None and kind not in wanted[column.kind]:
            return False
    return True


def _check_sql(kinds: dict[str, str], relation: str) -> list[tuple[str, list[str]]]:
    """The scans counting, per column, what would stop the pandas path or change a value there: each a query and
    the labels of its counts.

    The distinct ids are counted by a scan of their own. Beside other aggregates, Spark expands every row once for
    the ``COUNT(DISTINCT)`` and once for the rest: on a million tickets on ``local[2]`` the two scans took 2.6-3.7 s
    against 3.5-6.7 s for one. On DuckDB the second scan reads one column, and the two took as long as one.
    """
    terms, labels = ["COUNT(*)"], ["rows"]

    def add(label: str, expression: str) -> None:
        terms.append(expression)
        labels.append(label)

    for name, kind in kinds.items():
        q = _quoted(name)
        column = schema.BY_NAME.get(name)
        add(f"{name}|values", f"COUNT({q})")
        if kind == "float":
            add(f"{name}|nan", f"COUNT(*) FILTER (WHERE isnan({q}))")
        if column is not None and column.kind in ("number", "integer"):
            number = f"CAST({q} AS DOUBLE)"
            bad = [f"isinf({number})"]
            if column.low is not None:
                bad.append(f"{number} < {column.low!r}")
            if column.high is not None:
                bad.append(f"{number} > {column.high!r}")
            else:
                bad.append(f"abs({number}) > {IMPLAUSIBLY_LARGE!r}")
            if column.kind == "integer" and kind == "float":
                bad.append(f"{number} <> round({number})")
            add(f"{name}|bad", f"COUNT(*) FILTER (WHERE {' OR '.join(bad)})")
    if "ticket_id" in kinds:
        # Ids printable ASCII at both ends (nearly all) skip the regular expression: a third of the scan's time.
        q = '"ticket_id"'
        stripped = (f"CASE WHEN ascii({q}) BETWEEN 33 AND 126 AND ascii(right({q}, 1)) BETWEEN 33 AND 126 THEN {q} "
                    f"ELSE regexp_replace({q}, '{_EDGE_SPACE}', '', 'g') END")
        distinct = [(f"SELECT COUNT(DISTINCT {stripped}) FROM {relation}", ["ticket_id|distinct"])]
    else:
        distinct = []
    if kinds.get("created_at") == "time":
        # Microseconds: the resolution both engines read times at; "a day ahead" needs no finer one.
        add("created_at|latest", 'epoch_us(MAX("created_at"))')
    return [(f"SELECT {', '.join(terms)} FROM {relation}", labels), *distinct]


def column_kinds(path: Path) -> dict[str, str] | None:
    """Column -> type kind of a Parquet file the checks cover, or ``None`` for any other file.

    Raises
    ------
    study.data.schema.DataError
        For a header that names a column twice (``x`` and ``x.1``), as :func:`study.data.io.load` does.
    """
    import pyarrow.parquet as pq

    try:
        arrow_schema = pq.read_schema(path)
    except Exception:  # not Parquet after all: the pandas path says so properly
        return None
    names = list(arrow_schema.names)
    if len(set(names)) != len(names) or any(str(n).strip().lstrip("\ufeff") != n for n in names):
        return None
    io._refuse_repeated_names(names, path.name)  # the same refusal as io.load's
    kinds = {name: _kind(arrow_schema.field(name).type) for name in names}
    if not _covered(kinds) or any(c not in names for c in schema.REQUIRED):
        return None
    return kinds


def clean_counts(path: Path, kinds: dict[str, str] | None = None, source=None) -> dict | None:
    """The checks' counts for a typed Parquet file, or ``None`` when it is not one the checks cover.

    Parameters
    ----------
    path : Path
    kinds : dict, optional
        :func:`column_kinds` of the file, when known.
    source : source, optional
        The file as a source of :mod:`study.engine` (:func:`counting_source`); DuckDB by default.

    Returns
    -------
    dict or None
        ``rows``, ``kinds`` (column -> type kind) and ``column|check`` -> count; ``clean`` says
        whether the pandas path would accept every value as it is.
    """
    kinds = column_kinds(path) if kinds is None else kinds
    if kinds is None:
        return None
    import duckdb

    source = source or counting_source(path)
    counts = {}
    for sql, labels in _check_sql(kinds, "{relation}"):
        try:
            (values,) = source.execute(sql)
        except (duckdb.Error, ValueError):  # a damaged file (ValueError: Spark's refusal): the pandas path names it
            return None
        counts |= {label: int(v) if v is not None else None for label, v in zip(labels, values)}
    counts["kinds"] = kinds
    rows = counts["rows"]
    problems = [rows < schema.MINIMUM_ROWS]
    for name, kind in kinds.items():
        column = schema.BY_NAME.get(name)
        problems.append(counts.get(f"{name}|nan", 0) > 0 or counts.get(f"{name}|bad", 0) > 0)
        if column is not None and column.kind == "id":
            problems.append(counts[f"{name}|values"] < rows)
        if kind in ("int", "flag") and counts[f"{name}|values"] < rows and column is None:
            problems.append(True)  # pandas reads such a column with gaps as floats or objects: not covered here
    problems.append(counts["ticket_id|distinct"] < rows)
    latest = counts.get("created_at|latest")
    future = pd.Timestamp.now(tz="UTC").tz_localize(None) + pd.Timedelta(days=1)
    problems.append(latest is not None and latest * 1000 > future.value)
    counts["clean"] = not any(problems)
    return counts


def _head_frame(path: Path, rows: int) -> pd.DataFrame:
    """The first ``rows`` rows read as :func:`study.data.io.load` reads the whole file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    handle = pq.ParquetFile(path)
    batch = next(handle.iter_batches(batch_size=rows), None)
    table = pa.Table.from_batches([batch] if batch is not None else [], schema=handle.schema_arrow)
    return table.to_pandas()


def _converted(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """A slice through the pandas path's conversion and derivation, without the whole-table checks."""
    converted, problems, _ = schema._convert(frame, copy=False)
    problems.pop("ticket_id", None)  # repeats are counted over the whole file by the scan
    if problems:  # cannot happen after a clean scan; said rather than written wrong
        raise schema.DataError(f"{source}: " + "; ".join(problems.values()))
    return features.derive(converted, copy=False)


def write_streamed(path: Path, out: Path, kinds: dict[str, str], source: io.Source, notes: dict) -> Path:
    """Write the prepared copy of a clean typed Parquet file a row group at a time.

    Each slice is the file's rows cast to the copy's types (learnt from the pandas path on the first
    rows); contract text and the derived columns go through the pandas functions themselves.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq


    head = _converted(_head_frame(path, SCHEMA_ROWS), source.name)
    target = pa.Table.from_pandas(head, preserve_index=False).schema
    facts = {"source": {"name": source.name, "fingerprint": source.fingerprint, "rows": source.rows,
                        "columns": list(source.columns)}, "mapped_from": {}, "notes": notes, "set_aside": {}}
    target = target.with_metadata({**(target.metadata or {}), io.PREPARED_KEY: json.dumps(facts).encode()})
    # Contract text is stripped by pandas itself (its rule depends on its string storage); other columns are kept.
    spaced = [n for n in kinds if n in schema.BY_NAME and kinds[n] == "text"]
    derived_from = [c for c in ("first_response_minutes", "csat") if c in kinds]
    derived = [f.name for f in target if f.name not in kinds]
    # Each slice is written by a thread while the next is read and converted (Arrow's writer lets go of the GIL):
    # at 10M tickets the writing is about a third of the time, done on the other core. At most two slices are
    # held, the one written and the one made.
    with pq.ParquetWriter(out, target, compression=io.COPY_COMPRESSION) as writer, \
            ThreadPoolExecutor(max_workers=1) as writing:
        written = None
        for batch in pq.ParquetFile(path).iter_batches(batch_size=io.ROWS_PER_GROUP):
            columns = {name: batch.column(name).cast(target.field(name).type, safe=False) for name in kinds}
            for name in spaced:
                stripped = batch.column(name).to_pandas().astype("string").str.strip()
                columns[name] = pa.array(stripped, from_pandas=True).cast(target.field(name).type)
            if derived:
                inputs = pd.DataFrame({c: columns[c].to_pandas() for c in derived_from})
                if "first_response_minutes" in inputs:
                    inputs["first_response_minutes"] = inputs["first_response_minutes"].astype(float)
                if "csat" in inputs:
                    inputs["csat"] = inputs["csat"].astype(float).astype("Int64")
                made = pa.Table.from_pandas(features.derive(inputs, copy=False)[derived], preserve_index=False)
                for name in derived:
                    columns[name] = made.column(name).combine_chunks().cast(target.field(name).type)
            table = pa.table([columns[f.name] for f in target], schema=target)
            if written is not None:
                written.result()  # in order, and a failed write stops the copy
            written = writing.submit(writer.write_table, table)
        if written is not None:
            written.result()
    return out


def unit_notes(path: Path, kinds: dict[str, str], source=None) -> dict[str, str]:
    """The pandas path's note on response times that look like hours or seconds, from that column's count,
    median and maximum (:func:`study.data.convert.summary_note`), counted by ``source`` (DuckDB by default)."""
    if "first_response_minutes" not in kinds:
        return {}
    value = 'CAST("first_response_minutes" AS DOUBLE)'
    source = source or counting_source(path)
    kept = f"FROM {{relation}} WHERE NOT isnan({value})"
    # Spark's exact median gathers every value into one task: it is found from histograms instead.
    by_histogram = getattr(source, "quantiles_by_histogram", False)
    ((count, longest, *median),) = source.execute(
        f"SELECT COUNT({value}), MAX({value}){'' if by_histogram else f', quantile_cont({value}, 0.5)'} {kept}")
    if by_histogram and count:
        minutes = f"(SELECT {value} AS minutes {kept.format(relation=source.relation)}) AS minutes"
        median = quantiles_of(source, "minutes", (0.5,), from_=minutes)
    median = median[0] if median else None
    note = summary_note(int(count), float(median), float(longest)) if count else None
    return {"first_response_minutes": note} if note else {}


def present_columns(source) -> tuple[list[str], set]:
    """The columns of a source with at least one value, and the arms of its ``variant`` column (one scan each)."""
    names = source.columns()
    (values,) = source.execute(f"SELECT {', '.join(f'COUNT({_quoted(c)})' for c in names)} FROM {{relation}}")
    present = [c for c, n in zip(names, values) if n]
    arms = ({row[0] for row in source.execute('SELECT DISTINCT "variant" FROM {relation} WHERE "variant" IS NOT NULL')}
            if "variant" in names else set())
    return present, arms
