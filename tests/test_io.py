import duckdb
import pandas as pd
import pytest

from study.data import io
from study.data.schema import DataError


@pytest.fixture
def frame():
    return pd.DataFrame({"ticket_id": ["007", "008"], "csat": [5, None]})


def test_csv_and_parquet_read_the_same_rows(tmp_path, frame):
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    from_csv, source = io.load(tmp_path / "t.csv")
    from_parquet, _ = io.load(tmp_path / "t.parquet")
    assert from_csv["ticket_id"].tolist() == ["007", "008"]  # identifiers stay text
    assert from_csv["csat"].tolist()[0] == from_parquet["csat"].tolist()[0] == 5
    assert source.rows == 2 and source.name == "t.csv" and len(source.fingerprint) == 16


def test_csv_delimiter_is_sniffed_and_gzip_read(tmp_path, frame):
    frame.to_csv(tmp_path / "t.csv.gz", index=False, sep=";")
    assert list(io.load(tmp_path / "t.csv.gz")[0].columns) == ["ticket_id", "csat"]


def test_duckdb_table_is_read(tmp_path, frame):
    with duckdb.connect(str(tmp_path / "t.duckdb")) as con:
        con.register("frame", frame)
        con.execute("create table tickets as select * from frame")
    assert io.load(tmp_path / "t.duckdb")[0]["ticket_id"].tolist() == ["007", "008"]
    with pytest.raises(DataError, match="no table 'other'"):
        io.load(tmp_path / "t.duckdb", table="other")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="missing.csv: no such file"):
        io.load(tmp_path / "missing.csv")


def test_unknown_file_type_says_what_is_accepted(tmp_path):
    (tmp_path / "t.xlsx").write_bytes(b"x")
    with pytest.raises(DataError, match="unknown file type"):
        io.load(tmp_path / "t.xlsx")


def test_non_utf8_csv_is_a_clear_error(tmp_path):
    (tmp_path / "t.csv").write_bytes("ticket_id,name\n1,Jos\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        io.load(tmp_path / "t.csv")


def test_fingerprint_changes_with_content(tmp_path, frame):
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.assign(csat=[4, None]).to_csv(tmp_path / "b.csv", index=False)
    assert io.fingerprint(tmp_path / "a.csv") != io.fingerprint(tmp_path / "b.csv")


def test_read_columns_does_not_need_rows(tmp_path, frame):
    frame.to_parquet(tmp_path / "t.parquet")
    assert io.read_columns(tmp_path / "t.parquet") == ["ticket_id", "csat"]


def test_a_duckdb_file_is_opened_read_only_and_locked_down(tmp_path, frame):
    with duckdb.connect(str(tmp_path / "t.duckdb")) as con:
        con.register("frame", frame)
        con.execute("create table tickets as select *, TIMESTAMPTZ '2026-03-01 10:00:00+02' as created_at from frame")
    with io._duckdb_connect(tmp_path / "t.duckdb") as con:
        settings = dict(con.execute(
            "select name, value from duckdb_settings() where name in ('access_mode', 'enable_external_access', "
            "'autoinstall_known_extensions', 'autoload_known_extensions', 'lock_configuration')").fetchall())
    assert settings == {"access_mode": "read_only", "enable_external_access": "false", "autoinstall_known_extensions": "false",
                        "autoload_known_extensions": "false", "lock_configuration": "true"}
    # What a query returns still reads, zone-aware times included.
    rows, _ = io.load(tmp_path / "t.duckdb", query="select ticket_id, created_at from tickets order by ticket_id")
    assert rows["ticket_id"].tolist() == ["007", "008"] and rows["created_at"].dt.tz is not None
    assert io.read_columns(tmp_path / "t.duckdb", query="with t as (select csat from tickets) select * from t") == ["csat"]


@pytest.mark.parametrize("sql, words", [
    ("copy tickets to 'x.parquet'", "got COPY"),
    ("select 1; select 2", "got 2 statements"),
    ("install httpfs", "got INSTALL"),
    ("select * from read_text('/etc/hostname')", "may read only the tables"),
])
def test_query_refuses_anything_but_one_select(tmp_path, frame, sql, words):
    with duckdb.connect(str(tmp_path / "t.duckdb")) as con:
        con.register("frame", frame)
        con.execute("create table tickets as select * from frame")
    with pytest.raises(DataError, match=words):
        io.load(tmp_path / "t.duckdb", query=sql)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.duckdb"]


def test_only_empty_cells_are_missing_in_a_csv(tmp_path):
    (tmp_path / "t.csv").write_text("ticket_id,category,csat\nNA,None,\n008,null,3\n")
    rows, _ = io.load(tmp_path / "t.csv")
    assert rows["ticket_id"].tolist() == ["NA", "008"] and rows["category"].tolist() == ["None", "null"]
    assert rows["csat"].isna().tolist() == [True, False]
