"""Read ticket data from CSV, Parquet or a DuckDB database file, and say what was read."""

from __future__ import annotations

import csv
import hashlib
import lzma
import warnings
import zipfile
import zlib
from pathlib import Path

import pandas as pd

from study.core.results import Source  # noqa: F401  (io.Source: the facts of what was read)
from study.data.convert import short
from study.data.schema import DataError

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.xz", ".csv.zip", ".csv.bz2", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")
COMPRESSIONS = {".gz": "gzip", ".xz": "xz", ".zip": "zip", ".bz2": "bz2"}
# Identifier columns read as text wherever they are found ("007" is not 7); a column map adds its own names.
ID_COLUMNS = ("ticket_id", "customer_id", "agent_id")
# The typed copy `study run` writes (study.data.dataset.write_prepared): the metadata key that marks it
# and carries the original file's facts, and its rows per row group.
PREPARED_KEY = b"study.prepared"
ROWS_PER_GROUP = 1 << 20
# The copy and the model samples are read back within the run and removed at its end, so they are not compressed:
# at 10M tickets the copy took 7.0 s to write instead of 9.5 s (544 MB instead of 403 MB with snappy), and 3.2 s
# to read whole instead of 4.1 s.
COPY_COMPRESSION = "none"
# Opened with external access off, nothing a query names outside the database can be read or written
# (read_csv('/etc/passwd'), COPY ... TO 'file', ATTACH), and no extension is downloaded or loaded
# (DuckDB fetches one for a SQLite file); the lock keeps a query from switching any of it back on.
DUCKDB_CONFIG = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "lock_configuration": True,
}


def fingerprint(path: str | Path) -> str:
    """SHA-256 of a file's bytes, first 16 hex digits."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _format(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(DUCKDB_SUFFIXES):
        return "duckdb"
    raise DataError(
        f"{path.name}: unknown file type; use CSV ({', '.join(CSV_SUFFIXES)}), "
        f"Parquet ({', '.join(PARQUET_SUFFIXES)}) or DuckDB ({', '.join(DUCKDB_SUFFIXES)})"
    )


def read_columns(path: str | Path, table: str = "tickets", query: str | None = None) -> list[str]:
    """Column names of a data file, without reading its rows.

    Parameters
    ----------
    path : str or Path
        CSV, Parquet or DuckDB file.
    table : str
        Table to read from a DuckDB file.
    query : str, optional
        Read-only ``SELECT`` to run on a DuckDB file instead of reading ``table``.

    Returns
    -------
    list of str
    """
    path = _existing(path)
    kind = _format(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except Exception as error:  # pyarrow raises several types for a damaged file
            raise DataError(f"{path.name}: cannot read as Parquet ({_first_line(error)})") from None
    if kind == "csv":
        return list(_read_csv(path, nrows=0).columns)
    return list(_read_duckdb(path, table, limit=0, query=query).columns)


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    return path


def _first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an error's message, cut short: messages here are one line."""
    lines = str(error).strip().splitlines()
    text = lines[0] if lines else type(error).__name__
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _compression(path: Path) -> str | None:
    return next((kind for suffix, kind in COMPRESSIONS.items() if path.name.lower().endswith(suffix)), None)


def _read_csv(path: Path, nrows: int | None = None, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    compression = _compression(path)
    try:
        # sep=None lets pandas sniff the delimiter; identifiers stay text ("007" is not 7). Only an
        # empty cell is missing: the category "None", the channel "NA" and the customer "NA" are
        # values (a column map may declare missing codes, study.data.column_map).
        return pd.read_csv(
            path, sep=None, engine="python", nrows=nrows, keep_default_na=False, na_values=[""],
            dtype=dict.fromkeys((*ID_COLUMNS, *text_columns), "string"),
        )
    except UnicodeDecodeError as error:
        raise DataError(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, csv.Error) as error:
        raise DataError(f"{path.name}: cannot read as CSV ({_first_line(error) or 'empty file'})") from None
    except (EOFError, OSError, lzma.LZMAError, zlib.error, zipfile.BadZipFile) as error:
        # A truncated download, or a file whose name promises a compression it does not have.
        if compression is None:
            raise DataError(f"{path.name}: cannot read ({_first_line(error)})") from None
        raise DataError(f"{path.name}: cannot read as {compression}-compressed CSV ({_first_line(error)})") from None
    except ValueError as error:
        if compression != "zip":
            raise
        # pandas reads a zip archive holding exactly one file.
        raise DataError(f"{path.name}: cannot read as zip-compressed CSV ({_first_line(error)})") from None


def _duckdb_connect(path: Path):
    """A read-only, locked-down connection to a DuckDB file (:data:`DUCKDB_CONFIG`).

    Raises
    ------
    DataError
        When the file is not a DuckDB database (a SQLite file, garbage) or cannot be opened.
    """
    import duckdb

    from study.engine.sources import connect

    with open(path, "rb") as handle:
        head = handle.read(16)
    # A DuckDB file says so at byte 8; anything else is refused before DuckDB looks at it.
    if head[8:12] != b"DUCK":
        what = " (it is a SQLite database)" if head.startswith(b"SQLite format 3") else ""
        raise DataError(f"{path.name}: not a DuckDB database{what}")
    # External access off and the lock are set after the connection's own spill folder, which DuckDB refuses to
    # take once external access is off; the extensions' settings at once keep it a database apart from any other.
    later = ("enable_external_access", "lock_configuration")
    try:
        con = connect(str(path), read_only=True, config={k: v for k, v in DUCKDB_CONFIG.items() if k not in later})
    except duckdb.Error as error:
        raise DataError(f"{path.name}: not a DuckDB database this DuckDB can open ({_first_line(error)})") from None
    for name in later:
        con.execute(f"SET {name} = {str(DUCKDB_CONFIG[name]).lower()}")
    return con


def read_only_query(con, query: str, name: str = "--query"):
    """The relation of one read-only ``SELECT`` (``WITH ... SELECT``, ``FROM t``) on ``con``.

    The statement is parsed with DuckDB's own parser: exactly one statement, of type SELECT, is
    accepted. Reading other files from inside a SELECT (``read_csv('/etc/passwd')``, ``'x.csv'`` as
    a table) is refused by the connection itself (:data:`DUCKDB_CONFIG`).

    Parameters
    ----------
    con : duckdb.DuckDBPyConnection
        From :func:`_duckdb_connect`.
    query : str
    name : str
        How messages name the query.

    Returns
    -------
    duckdb.DuckDBPyRelation

    Raises
    ------
    DataError
        For anything but one SELECT, SQL that does not parse, or a query that fails.
    """
    import duckdb

    try:
        statements = con.extract_statements(query)
    except duckdb.Error as error:
        raise DataError(f"{name} is not valid SQL ({_first_line(error)})") from None
    if len(statements) != 1:
        got = f"{len(statements)} statements" if statements else "nothing"
        raise DataError(f"{name} accepts one read-only SELECT statement; got {got}")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        raise DataError(f"{name} accepts one read-only SELECT statement; got {_statement_word(statement)}")
    try:
        return con.sql(statement.query)
    except duckdb.PermissionException as error:
        raise DataError(f"{name} may read only the tables of the database file ({_first_line(error)})") from None
    except duckdb.Error as error:
        raise DataError(f"{name} failed ({_first_line(error)})") from None


def _statement_word(statement) -> str:
    """What a refused statement is, in the user's words (DuckDB parses INSTALL as a LOAD)."""
    words = statement.query.split()
    if words and words[0].upper() in ("INSTALL", "FORCE"):
        return "INSTALL"
    return {"VARIABLE_SET": "SET", "COPY_DATABASE": "COPY"}.get(statement.type.name, statement.type.name)


def _read_duckdb(path: Path, table: str, limit: int | None = None, query: str | None = None) -> pd.DataFrame:
    import duckdb

    with _duckdb_connect(path) as con:
        if query is not None:
            relation = read_only_query(con, query, name=f"{path.name}: --query")
            try:
                return _frame(relation.limit(limit) if limit is not None else relation)
            except duckdb.Error as error:
                raise DataError(f"{path.name}: --query failed ({_first_line(error)})") from None
        tables = [row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()]
        if table not in tables:
            shown = ", ".join(repr(t) for t in tables[:10]) + (", ..." if len(tables) > 10 else "")
            raise DataError(f"{path.name}: no table {table!r} (tables: {shown or 'none'})")
        relation = con.table(table)
        if limit is not None:
            relation = relation.limit(limit)
        try:
            return _frame(relation)
        except duckdb.Error as error:
            raise DataError(f"{path.name}: cannot read table {table!r} ({_first_line(error)})") from None


def _frame(relation) -> pd.DataFrame:
    """A DuckDB relation as pandas."""
    with warnings.catch_warnings():
        # DuckDB 2.0 converts zone-aware timestamps with a pandas call that pandas 3.1 deprecates: not the user's concern.
        warnings.filterwarnings("ignore", message="The inplace keyword in DataFrame.drop is deprecated")
        return relation.df()


def load(path: str | Path, table: str = "tickets", query: str | None = None,
         text_columns: tuple[str, ...] = ()) -> tuple[pd.DataFrame, Source]:
    """Read a data file as it is, with facts about it.

    Parameters
    ----------
    path : str or Path
        CSV (optionally compressed), Parquet or DuckDB database file.
    table : str
        Table to read from a DuckDB file.
    query : str, optional
        One ``SELECT`` to run on a DuckDB file instead of reading ``table``. The file is opened
        read-only with external access and extensions off (:data:`DUCKDB_CONFIG`); anything but one
        SELECT (``COPY``, ``ATTACH``, ``SET``, a second statement) is refused.
    text_columns : tuple of str
        CSV columns read as text besides :data:`ID_COLUMNS` (identifiers a column map renames).

    Returns
    -------
    frame : pandas.DataFrame
        The rows as read; validation is :func:`study.data.schema.validate`'s job.
    source : Source
        File name, fingerprint, rows and columns.

    Raises
    ------
    DataError
        When the file is missing or cannot be read.
    """
    path = _existing(path)
    kind = _format(path)
    if query is not None and kind != "duckdb":
        raise DataError(f"{path.name}: --query runs on a DuckDB file ({', '.join(DUCKDB_SUFFIXES)}), not on {kind.upper()}")
    if kind == "parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises several types for a damaged file
            raise DataError(f"{path.name}: cannot read as Parquet ({_first_line(error)})") from None
    elif kind == "csv":
        frame = _read_csv(path, text_columns=tuple(text_columns))
    else:
        frame = _read_duckdb(path, table, query=query)
    frame.columns = [str(c).strip().lstrip("\ufeff") for c in frame.columns]  # spreadsheets add a byte-order mark
    _refuse_repeated_names(frame.columns, path.name)
    return frame, Source(path.name, fingerprint(path), len(frame), list(frame.columns))


def _refuse_repeated_names(columns, name: str) -> None:
    """pandas renames a repeated CSV header ``x`` to ``x.1``: that is two columns claiming one name."""
    names = set(columns)
    repeated = sorted({c.rsplit(".", 1)[0] for c in columns if "." in c and c.rsplit(".", 1)[1].isdigit()
                       and c.rsplit(".", 1)[0] in names})
    if repeated:
        shown = ", ".join(short(r) for r in repeated[:5]) + (", ..." if len(repeated) > 5 else "")
        raise DataError(f"{name}: column name(s) {shown} appear more than once in the header")


def null_shares(path: str | Path, columns: set[str]) -> dict[str, float]:
    """Share of nulls of ``columns`` in a Parquet file, from its row-group statistics (no data read)."""
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(path).metadata
    rows = max(metadata.num_rows, 1)
    nulls = dict.fromkeys(columns, 0)
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            name = chunk.path_in_schema
            if name in nulls:
                nulls[name] += chunk.statistics.null_count if chunk.is_stats_set else 0
    return {name: count / rows for name, count in nulls.items()}
