"""Read ticket data from CSV, Parquet or a DuckDB database file, and say what was read."""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from study.schema import DataError

CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.xz", ".csv.zip", ".csv.bz2", ".tsv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
DUCKDB_SUFFIXES = (".duckdb", ".ddb", ".db")


@dataclass(frozen=True)
class Source:
    """Facts about a data file, for the report and the results.

    Attributes
    ----------
    name : str
        The file name as given (no folders, so reports do not leak machine paths).
    fingerprint : str
        First 16 hex digits of the SHA-256 of the file's bytes.
    rows : int
        Rows read.
    columns : list of str
        Columns read.
    """

    name: str
    fingerprint: str
    rows: int
    columns: list[str]


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


def read_columns(path: str | Path, table: str = "tickets") -> list[str]:
    """Column names of a data file, without reading its rows.

    Parameters
    ----------
    path : str or Path
        CSV, Parquet or DuckDB file.
    table : str
        Table to read from a DuckDB file.

    Returns
    -------
    list of str
    """
    path = _existing(path)
    kind = _format(path)
    if kind == "parquet":
        import pyarrow.parquet as pq

        return list(pq.read_schema(path).names)
    if kind == "csv":
        return list(_read_csv(path, nrows=0).columns)
    return list(_read_duckdb(path, table, limit=0).columns)


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    return path


def _read_csv(path: Path, nrows: int | None = None) -> pd.DataFrame:
    try:
        # sep=None lets pandas sniff the delimiter; identifiers stay text ("007" is not 7).
        return pd.read_csv(
            path, sep=None, engine="python", nrows=nrows,
            dtype={"ticket_id": "string", "customer_id": "string", "agent_id": "string"},
        )
    except UnicodeDecodeError as error:
        raise DataError(f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, csv.Error) as error:
        raise DataError(f"{path.name}: cannot read as CSV ({str(error).strip() or 'empty file'})") from None


def _read_duckdb(path: Path, table: str, limit: int | None = None, query: str | None = None) -> pd.DataFrame:
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        if query:
            try:
                relation = con.sql(query)
                return (relation.limit(limit) if limit is not None else relation).df()
            except duckdb.Error as error:
                raise DataError(f"{path.name}: the query failed ({str(error).splitlines()[0]})") from None
        tables = [row[0] for row in con.execute("select table_name from information_schema.tables").fetchall()]
        if table not in tables:
            raise DataError(f"{path.name}: no table '{table}' (tables: {', '.join(tables) or 'none'})")
        relation = con.table(table)
        if limit is not None:
            relation = relation.limit(limit)
        return relation.df()


def load(path: str | Path, table: str = "tickets", query: str | None = None) -> tuple[pd.DataFrame, Source]:
    """Read a data file as it is, with facts about it.

    Parameters
    ----------
    path : str or Path
        CSV (optionally compressed), Parquet or DuckDB database file.
    table : str
        Table to read from a DuckDB file.
    query : str, optional
        SQL to run on a DuckDB file instead of reading ``table`` (the file is opened read-only).

    Returns
    -------
    frame : pandas.DataFrame
        The rows as read; validation is :func:`study.schema.validate`'s job.
    source : Source
        File name, fingerprint, rows and columns.

    Raises
    ------
    DataError
        When the file is missing or cannot be read.
    """
    path = _existing(path)
    kind = _format(path)
    if kind == "parquet":
        try:
            frame = pd.read_parquet(path)
        except Exception as error:  # pyarrow raises several types for a damaged file
            raise DataError(f"{path.name}: cannot read as Parquet ({error})") from None
    elif kind == "csv":
        frame = _read_csv(path)
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
        raise DataError(f"{name}: column name(s) {', '.join(repr(r) for r in repeated)} appear more than once in the header")
