"""A corpus of malformed inputs: each gives one clear line naming what is wrong (exit 2), or is
read with what it lacks reported — never a traceback, and never a user's file changed.

Every case starts from 200 valid simulated tickets and breaks one thing.
"""

import bz2
import gzip
import hashlib
import io as _io
import lzma
import sqlite3
import zipfile

import duckdb
import numpy as np
import pandas as pd
import pytest

from study import cli
from study.ab import experiment_table
from study.data import column_map, dataset, schema, simulate
from study.data.schema import DataError

BASE = simulate.simulate(rows=200, seed=3).tickets


def csv(tmp_path, frame, name="t.csv", **kwargs):
    path = tmp_path / name
    frame.to_csv(path, index=False, **kwargs)
    return path


def raw(tmp_path, name, content: bytes):
    path = tmp_path / name
    path.write_bytes(content)
    return path


def changed(column, values):
    """The base tickets with ``column`` set to ``values`` on the first rows (as text where needed)."""
    frame = BASE.copy()
    frame[column] = frame[column].astype(object)
    for i, value in enumerate(values):
        frame.loc[i, column] = value
    return frame


def write_map(tmp_path, text):
    path = tmp_path / "map.yml"
    path.write_text(text)
    return path


def compressed(tmp_path, name, compress, keep=1.0):
    """The base tickets as CSV through ``compress``, cut to the first ``keep`` share of its bytes."""
    data = compress(BASE.to_csv(index=False).encode())
    return raw(tmp_path, name, data[:int(len(data) * keep)])


def zipped(tmp_path, names):
    buffer = _io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, BASE.to_csv(index=False))
    return raw(tmp_path, "t.csv.zip", buffer.getvalue())


def sqlite_file(tmp_path, name):
    path = tmp_path / name
    with sqlite3.connect(path) as con:
        con.execute("create table tickets (ticket_id text)")
    return path


def query(tmp_path, sql):
    """A DuckDB file of the base tickets, and ``sql`` run on it with --query."""
    return _duckdb(tmp_path, "tickets"), None, {"query": sql.format(tmp=tmp_path)}


def iso(times, suffix):
    return [t.strftime("%Y-%m-%dT%H:%M:%S") + suffix for t in times]


def alias_bomb(levels=9, width=9):
    """The "billion laughs": each level lists the one before ``width`` times (9**9 values expanded)."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * width) + "]"]
    for level in range(1, levels):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "tickets:\n  values:\n" + "\n".join("    " + line for line in lines) + "\n"


# A map whose export really has ticket_id and customer_id the other way round, and one that swaps
# them although the export had them right.
SWAP = "tickets: {columns: {ticket_id: customer_id, customer_id: ticket_id}}"


# (case id, builder(tmp_path) -> (data path, map path or None), words the one-line error must hold;
#  None = the file is readable and `validate` passes)
CASES = [
    ("empty file", lambda p: (raw(p, "t.csv", b""), None), "cannot read as CSV"),
    ("header only", lambda p: (csv(p, BASE.iloc[0:0]), None), "no rows to analyse"),
    ("three rows", lambda p: (csv(p, BASE.head(3)), None), "only 3 rows"),
    ("missing required column", lambda p: (csv(p, BASE.drop(columns="ticket_id")), None), "missing required column 'ticket_id'"),
    # Columns only some analyses need: the file is read, and those analyses are skipped with the reason.
    ("two analysis columns missing", lambda p: (csv(p, BASE.drop(columns=["csat", "resolved"])), None), None),
    ("duplicate ticket ids", lambda p: (csv(p, changed("ticket_id", [BASE.ticket_id[1]])), None), "'ticket_id' has 2 values that are repeated"),
    ("every row identical", lambda p: (csv(p, pd.concat([BASE.head(1)] * 50)), None), "'ticket_id' has 50 values that are repeated"),
    ("csat 0", lambda p: (csv(p, changed("csat", [0])), None), "'csat' has 1 value outside 1-5 (e.g. 0"),
    ("csat 7", lambda p: (csv(p, changed("csat", [7, 7])), None), "'csat' has 2 values outside 1-5"),
    ("csat 3.5", lambda p: (csv(p, changed("csat", [3.5])), None), "'csat' has 1 value that is not a whole number"),
    ("csat as words", lambda p: (csv(p, changed("csat", ["five"])), None), "'csat' has 1 value that is not a number (e.g. 'five')"),
    ("csat never answered", lambda p: (csv(p, BASE.assign(csat=np.nan)), None), None),
    ("negative response time", lambda p: (csv(p, changed("first_response_minutes", [-5])), None), "'first_response_minutes' has 1 value outside 0-525600"),
    ("absurd response time", lambda p: (csv(p, changed("first_response_minutes", [1e9])), None), "'first_response_minutes' has 1 value outside 0-525600"),
    ("thousands separators", lambda p: (csv(p, changed("first_response_minutes", ["1,234.5"])), None), "not a number (e.g. '1,234.5')"),
    ("resolved maybe", lambda p: (csv(p, changed("resolved", ["maybe"])), None), "'resolved' has 1 value that is not yes/no"),
    ("repeat purchase as 2", lambda p: (csv(p, changed("repeat_purchase", [2])), None), "'repeat_purchase' has 1 value that is not yes/no"),
    ("unreadable date", lambda p: (csv(p, changed("created_at", ["the 32nd of June"])), None), "'created_at' has 1 value that is not a date/time"),
    ("timestamp in the future", lambda p: (csv(p, changed("created_at", ["2999-01-01 00:00"])), None), "'created_at' has 1 value in the future"),
    ("empty customer id", lambda p: (csv(p, changed("customer_id", [None])), None), "'customer_id' is empty in 1 rows"),
    ("negative tenure", lambda p: (csv(p, changed("tenure_days", [-1])), None), "'tenure_days' has 1 value below 0"),
    ("quality score 150", lambda p: (csv(p, changed("quality_score", [150])), None), "'quality_score' has 1 value outside 0-100"),
    ("zero contacts", lambda p: (csv(p, changed("contacts", [0])), None), "'contacts' has 1 value below 1"),
    ("fractional prior orders", lambda p: (csv(p, changed("prior_orders", [1.5])), None), "'prior_orders' has 1 value that is not a whole number"),
    ("non-UTF-8 bytes", lambda p: (raw(p, "t.csv", BASE.to_csv(index=False).replace("chat", "ch\u00e2t").encode("latin-1")), None), "not UTF-8"),
    ("repeated header", lambda p: (csv(p, BASE.rename(columns={"channel": "csat"})), None), "'csat' appear more than once"),
    ("unknown file type", lambda p: (raw(p, "t.xlsx", b"PK"), None), "unknown file type"),
    ("missing file", lambda p: (p / "nowhere.csv", None), "nowhere.csv: no such file"),
    ("damaged parquet", lambda p: (raw(p, "t.parquet", b"not parquet at all"), None), "cannot read as Parquet"),
    ("duckdb without the table", lambda p: (_duckdb(p, "other"), None), "no table 'tickets'"),
    ("map not YAML", lambda p: (csv(p, BASE), write_map(p, "tickets: [1, 2")), "not valid YAML"),
    ("map names a non-contract column", lambda p: (csv(p, BASE), write_map(p, "tickets: {columns: {satisfaction: csat}}")), "not contract columns: 'satisfaction'"),
    ("one absent column for two roles", lambda p: (csv(p, BASE), write_map(p, "tickets: {columns: {ticket_id: x, customer_id: x}}")), "names columns the data lacks: 'x'"),
    ("map names an absent column", lambda p: (csv(p, BASE), write_map(p, "tickets: {columns: {csat: score}}")), "names columns the data lacks: 'score'"),
    ("csat off its declared scale", lambda p: (csv(p, changed("csat", [11])), write_map(p, "tickets: {csat_scale: 1-10}")), "outside the declared 1-10 scale"),
    ("reply before opening", lambda p: (csv(p, BASE.assign(reply_at=BASE.created_at - pd.Timedelta(minutes=5))),
                                        write_map(p, "tickets: {durations: {first_response_minutes: {from: created_at, to: reply_at}}}")),
     "'reply_at' has 200 values that are before 'created_at'"),
    ("missing column map", lambda p: (csv(p, BASE), p / "absent.yml"), "no such column map"),
    # Readable inputs: what they lack is reported, not fatal.
    ("semicolon delimited", lambda p: (csv(p, BASE, sep=";"), None), None),
    ("gzip compressed", lambda p: (csv(p, BASE, name="t.csv.gz"), None), None),
    ("byte-order mark", lambda p: (csv(p, BASE, encoding="utf-8-sig"), None), None),
    ("one category only", lambda p: (csv(p, BASE.assign(category="shipping")), None), None),
    ("only required columns", lambda p: (csv(p, BASE[["ticket_id", "customer_id", "created_at", "first_response_minutes", "resolved", "csat", "repeat_purchase"]]), None), None),
    ("yes/no codes", lambda p: (csv(p, BASE.assign(resolved=np.where(BASE.resolved, "Yes", "No"))), None), None),
    # Issue 10: compressed files that are damaged or are not what their name says.
    ("truncated gzip", lambda p: (compressed(p, "t.csv.gz", gzip.compress, keep=0.5), None), "t.csv.gz: cannot read as gzip-compressed CSV"),
    ("truncated xz", lambda p: (compressed(p, "t.csv.xz", lzma.compress, keep=0.5), None), "t.csv.xz: cannot read as xz-compressed CSV"),
    ("truncated bz2", lambda p: (compressed(p, "t.csv.bz2", bz2.compress, keep=0.5), None), "cannot read as bz2-compressed CSV"),
    ("plain text named .csv.gz", lambda p: (csv(p, BASE, name="t.csv.gz", compression=None), None), "cannot read as gzip-compressed CSV (Not a gzipped file"),
    ("plain text named .csv.xz", lambda p: (csv(p, BASE, name="t.csv.xz", compression=None), None), "cannot read as xz-compressed CSV"),
    ("plain text named .csv.zip", lambda p: (csv(p, BASE, name="t.csv.zip", compression=None), None), "cannot read as zip-compressed CSV"),
    ("zip of two files", lambda p: (zipped(p, ["a.csv", "b.csv"]), None), "cannot read as zip-compressed CSV (Multiple files"),
    # Files named as DuckDB databases that are not: nothing is downloaded or loaded to open them.
    ("garbage named .duckdb", lambda p: (raw(p, "t.duckdb", bytes(range(256)) * 40), None), "t.duckdb: not a DuckDB database"),
    ("empty .duckdb", lambda p: (raw(p, "t.duckdb", b""), None), "t.duckdb: not a DuckDB database"),
    ("SQLite named .duckdb", lambda p: (sqlite_file(p, "t.duckdb"), None), "not a DuckDB database (it is a SQLite database)"),
    ("SQLite named .db", lambda p: (sqlite_file(p, "t.db"), None), "t.db: not a DuckDB database"),
    # --query is one read-only SELECT: nothing is written, attached, installed, loaded or set.
    ("query COPY to a new file", lambda p: query(p, "copy tickets to '{tmp}/x.parquet'"), "--query accepts one read-only SELECT statement; got COPY"),
    ("query COPY over a user file", lambda p: query_over_user_file(p), "got COPY"),
    ("query ATTACH", lambda p: query(p, "attach '{tmp}/new.duckdb' as other"), "got ATTACH"),
    ("query INSTALL", lambda p: query(p, "install sqlite"), "got INSTALL"),
    ("query LOAD", lambda p: query(p, "load sqlite"), "got LOAD"),
    ("query PRAGMA", lambda p: query(p, "pragma database_list"), "got PRAGMA"),
    ("query SET", lambda p: query(p, "set enable_external_access = true"), "got SET"),
    ("query EXPORT", lambda p: query(p, "export database '{tmp}/dump'"), "got EXPORT"),
    ("query CALL", lambda p: query(p, "call pragma_version()"), "got CALL"),
    ("query CREATE", lambda p: query(p, "create table t2 as select * from tickets"), "got CREATE"),
    ("query then a second statement", lambda p: query(p, "select * from tickets; drop table tickets"), "got 2 statements"),
    ("query reading /etc/passwd", lambda p: query(p, "select * from read_csv('/etc/passwd')"), "may read only the tables of the database file"),
    ("query reading another Parquet", lambda p: query_reading_a_file(p), "may read only the tables of the database file"),
    ("query naming a CSV as a table", lambda p: query(p, "select * from '{tmp}/other.csv'"), "may read only the tables of the database file"),
    ("query that is not SQL", lambda p: query(p, "selec * from tickets"), "--query is not valid SQL"),
    ("query that is empty", lambda p: query(p, ";"), "got nothing"),
    ("query on a CSV file", lambda p: (csv(p, BASE), None, {"query": "select 1"}), "--query runs on a DuckDB file"),
    ("query WITH ... SELECT", lambda p: query(p, "with t as (select * from tickets) select * from t"), None),
    ("query FROM-first", lambda p: query(p, "from tickets where csat is null or csat > 0"), None),
    # Values are values: only an empty cell is missing, unless the column map declares codes.
    ("category None, channel NA, customer NA", lambda p: (csv(p, changed("category", ["None"]).assign(
        channel=lambda f: f.channel.mask(f.index < 3, "NA"), customer_id=lambda f: f.customer_id.mask(f.index == 5, "NA"))), None), None),
    ("R export: NA in csat", lambda p: (csv(p, BASE, na_rep="NA"), None),
     "not a number (e.g. 'NA')"),
    ("R export with its missing code declared", lambda p: (csv(p, BASE, na_rep="NA"), write_map(p, "tickets: {missing_values: [NA]}")), None),
    ("missing code read as yes/no", lambda p: (csv(p, BASE), write_map(p, "tickets: {missing_values: [no]}")), "quote it"),
    # Times with a zone are converted to UTC; numbers are Unix times.
    ("times in UTC (Z)", lambda p: (csv(p, BASE.assign(created_at=iso(BASE.created_at, "Z"))), None), None),
    ("times at +02:00", lambda p: (csv(p, BASE.assign(created_at=iso(BASE.created_at, "+02:00"))), None), None),
    ("times at mixed offsets", lambda p: (csv(p, BASE.assign(created_at=[t + ("-05:00" if i % 2 else "+01:00") for i, t in enumerate(iso(BASE.created_at, ""))])), None), None),
    ("zone-aware Parquet column", lambda p: (parquet(p, BASE.assign(created_at=BASE.created_at.dt.tz_localize("Europe/Berlin"))), None), None),
    ("zone-aware time in the future", lambda p: (csv(p, changed("created_at", ["2999-01-01T00:00:00+02:00"] + iso(BASE.created_at[1:2], "+02:00"))), None), "'created_at' has 1 value in the future"),
    ("Unix epoch seconds", lambda p: (csv(p, BASE.assign(created_at=BASE.created_at.astype("int64") // 10**9)), None), None),
    ("Unix epoch milliseconds", lambda p: (csv(p, BASE.assign(created_at=BASE.created_at.astype("int64") // 10**6)), None), None),
    ("row numbers as times", lambda p: (csv(p, BASE.assign(created_at=range(1, 201))), None), "numbers but not Unix times (seconds/ms since 1970)"),
    # Numbers that are not finite or not plausible fail the contract instead of overflowing later.
    ("infinite covariate", lambda p: (csv(p, changed("pre_spend", ["inf"])), None), "'pre_spend' has 1 value that is not a finite number"),
    ("negative infinite response time", lambda p: (csv(p, changed("first_response_minutes", ["-inf"])), None), "'first_response_minutes' has 1 value that is not a finite number"),
    ("covariate of 1e308", lambda p: (csv(p, changed("pre_spend", [1e308])), None), "'pre_spend' has 1 value that is implausibly large (above 1e12)"),
    ("infinity in a Parquet column", lambda p: (parquet(p, BASE.assign(next_spend=BASE.next_spend.mask(BASE.index == 4, np.inf))), None), "'next_spend' has 1 value that is not a finite number"),
    ("response time of 1e308", lambda p: (csv(p, changed("first_response_minutes", [1e308])), None), "'first_response_minutes' has 1 value outside 0-525600"),
    # Column maps: unknown keys, alias bombs, swaps, unreadable durations, fractional CSAT.
    ("map section misspelt", lambda p: (csv(p, BASE), write_map(p, "ticket: {csat_scale: 1-10}")), "unknown key 'ticket' in the column map (its sections) (did you mean 'tickets'?)"),
    ("map key misspelt", lambda p: (csv(p, BASE), write_map(p, "tickets: {csat_scael: 1-10}")), "unknown key 'csat_scael' in the tickets section (did you mean 'csat_scale'?)"),
    ("duration key misspelt", lambda p: (csv(p, BASE), write_map(p, "tickets: {durations: {first_response_minutes: {from: a, to: b, unit: s}}}")), "unknown key 'unit' in duration 'first_response_minutes'"),
    ("map columns as a list", lambda p: (csv(p, BASE), write_map(p, "tickets: {columns: [ticket_id, csat]}")), "'columns' must be a mapping"),
    ("YAML alias bomb", lambda p: (csv(p, BASE), write_map(p, alias_bomb())), "expands to more than 100,000 values"),
    ("YAML alias that refers to itself", lambda p: (csv(p, BASE), write_map(p, "tickets: &t {values: *t}")), "expands to more than 100,000 values"),
    ("map of 2 MB", lambda p: (csv(p, BASE), write_map(p, "# " + "x" * 2_000_000 + "\ntickets: {}\n")), "too large for a column map"),
    ("map nested 100,000 deep", lambda p: (csv(p, BASE), write_map(p, "tickets: " + "[" * 100_000 + "]" * 100_000)), "map.yml: nested too deeply"),
    ("map swaps ticket_id and customer_id", lambda p: (csv(p, BASE), write_map(p, SWAP)),
     "'ticket_id' has 124 values that are repeated (e.g. 'C000124'"),
    ("export with ticket_id and customer_id swapped, mapped back", lambda p: (csv(p, BASE.rename(columns={"ticket_id": "customer_id", "customer_id": "ticket_id"})), write_map(p, SWAP)), None),
    ("mapped reply time unreadable", lambda p: (csv(p, BASE.assign(reply_at=(BASE.created_at + pd.Timedelta(minutes=5)).astype(str).mask(BASE.index == 2, "soon"))),
                                                write_map(p, "tickets: {durations: {first_response_minutes: {from: created_at, to: reply_at}}}")),
     "'reply_at' has 1 value that is not a date/time (e.g. 'soon') in row 3"),
    ("csat 7.5 on 1-10", lambda p: (csv(p, changed("csat", [7.5, 10])), write_map(p, "tickets: {csat_scale: 1-10}")), "'csat' has 1 value that is not a whole number on the declared 1-10 scale (e.g. 7.5)"),
    ("csat as words on 1-10", lambda p: (csv(p, changed("csat", ["ten"])), write_map(p, "tickets: {csat_scale: 1-10}")), "'csat' has 1 value that is not a number (e.g. 'ten')"),
    ("csat on 0-100", lambda p: (csv(p, BASE.assign(csat=BASE.csat * 20)), write_map(p, "tickets: {csat_scale: 0-100}")), None),
]


def parquet(tmp_path, frame, name="t.parquet"):
    path = tmp_path / name
    frame.to_parquet(path, index=False)
    return path


def query_over_user_file(tmp_path):
    """COPY aimed at a file the user owns: it must come out unchanged (the hashes check it)."""
    csv(tmp_path, BASE, name="mine.csv")
    return query(tmp_path, "copy (select 1 as a) to '{tmp}/mine.csv' (header false)")


def query_reading_a_file(tmp_path):
    parquet(tmp_path, BASE, name="other.parquet")
    return query(tmp_path, "select * from read_parquet('{tmp}/other.parquet')")


def _duckdb(path, table):
    file = path / "t.duckdb"
    with duckdb.connect(str(file)) as con:
        con.register("frame", BASE)
        con.execute(f"create table {table} as select * from frame")
    return file


ORIGINAL_CASES = 44


def test_the_corpus_is_large_enough():
    assert len(CASES) >= ORIGINAL_CASES + 35
    assert len({c[0] for c in CASES}) == len(CASES)


def hashes(folder) -> dict:
    """Every file under ``folder``: path -> SHA-256 of its bytes."""
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.rglob("*")) if f.is_file()}


@pytest.mark.parametrize("builder, words", [(b, w) for _, b, w in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clear_line_or_is_read(tmp_path, capsys, builder, words):
    data, column_map, *options = builder(tmp_path)
    options = options[0] if options else {}
    arguments = ["validate", "--data", str(data)] + (["--columns", str(column_map)] if column_map else [])
    arguments += ["--query", options["query"]] if "query" in options else []
    before = hashes(tmp_path)
    status = cli.main(arguments)
    out, err = capsys.readouterr()
    # Nothing the user owns is changed, and nothing is written beside it (COPY ... TO, ATTACH, EXPORT).
    assert hashes(tmp_path) == before
    assert "Traceback" not in out + err
    if words is None:
        assert status == 0, err
        assert "meets the data contract" in out
    else:
        assert status == 2, out + err
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("study: error:"), err
        assert len(lines[0]) < 1_000, lines[0][:300]  # quoted map or data content stays short
        assert words in lines[0], lines[0]


def test_a_single_arm_skips_the_experiment_with_the_reason(tmp_path):
    from study.report.runner import run_study

    data = csv(tmp_path, BASE.assign(variant="control"))
    summary = run_study(data, tmp_path / "out", only=["04"], progress=lambda line: None)
    assert summary.runs[0].status == "skipped" and "no 'treatment'" in summary.runs[0].reason


def test_a_placeholder_column_leaves_the_analyses_to_skip_what_it_cannot_carry(tmp_path):
    """Only an absent column skips a ticket analysis: with a placeholder repeat_purchase (every row False) 04
    still compares CSAT; its notebooks skip what the placeholder cannot carry (tests/test_degenerate_data.py)."""
    from study.report.runner import run_study

    data = csv(tmp_path, BASE.assign(repeat_purchase=False).drop(columns=["variant"]))
    summary = run_study(data, tmp_path / "out", only=["04"], progress=lambda line: None)
    assert summary.runs[0].status == "skipped" and summary.runs[0].reason == "data has no variant"


# --- Experiment maps and tables: each a one-line DataError, never a KeyError in notebook 05 --------

TABLE = pd.DataFrame({
    "user": [f"U{i:03d}" for i in range(60)],
    "group": ["a", "b", "c"] * 20,
    "converted": [0, 1, 0, 0, 1, 1] * 10,
    "spend": np.linspace(0, 59, 60),
})
GOOD = "experiment: {unit: user, arm: group, control: a, metrics: [converted, spend]"


EXPERIMENT_CASES = [
    ("covariate misspelt", GOOD + ", covarate: spend}", "unknown key 'covarate' in the experiment section (did you mean 'covariate'?)"),
    ("exposure key misspelt", GOOD + ", exposure: {colum: group, expected: {a: a}}}", "unknown key 'colum' in exposure (did you mean 'column'?)"),
    ("exposure not a mapping", GOOD + ", exposure: group}", "exposure must be a mapping"),
    ("negative planned share", GOOD + ", planned_shares: {a: 1.2, b: -0.1, c: -0.1}}", "planned_shares: 'b' is -0.1; every planned share is above 0"),
    ("zero planned share", GOOD + ", planned_shares: {a: 0.5, b: 0.5, c: 0}}", "planned_shares: 'c' is 0"),
    ("planned share as text", GOOD + ", planned_shares: {a: half, b: 0.25, c: 0.25}}", "planned_shares: 'a' is 'half', not a number"),
    ("planned shares not summing to 1", GOOD + ", planned_shares: {a: 50, b: 25, c: 25}}", "planned_shares sum to 100, not 1"),
    ("planned shares as a list of arms", GOOD + ", planned_shares: [a, b, c]}", "planned_shares maps each arm to its planned share"),
    ("unit as a list", "experiment: {unit: [user, group], arm: group, control: a, metrics: [converted]}", "unit must be a single name"),
    ("control read as yes/no", "experiment: {unit: user, arm: group, control: no, metrics: [converted]}", "control is read as yes/no; quote it"),
    ("alias bomb in the experiment section", alias_bomb().replace("tickets:\n  values:", "experiment:\n  segments:"), "expands to more than 100,000 values"),
    # Checked against the table (check_table, which analyse calls first).
    ("control arm not in the data", GOOD.replace("control: a", "control: ctrl") + "}", "control arm 'ctrl' is not in column 'group' (arms: 'a', 'b', 'c')"),
    ("control arm misspelt", GOOD.replace("control: a", "control: A") + "}", "did you mean 'a'?"),
    ("planned arm not in the data", GOOD + ", planned_shares: {a: 0.4, b: 0.3, cc: 0.3}}", "planned_shares names 'cc', not an arm in column 'group' (arms: 'a', 'b', 'c'; did you mean 'c'?)"),
    ("data arm not in the plan", GOOD + ", planned_shares: {a: 0.5, b: 0.5}}", "column 'group' has arm(s) 'c' that planned_shares does not name"),
    ("exposure naming an arm not in the data", GOOD + ", exposure: {column: group, expected: {a: a, bb: b}}}", "exposure: expected names 'bb', not an arm"),
    ("map naming an absent metric", GOOD.replace("spend]", "spent]") + "}", "the column map names columns the data lacks: 'spent'"),
]


@pytest.mark.parametrize("text, words", [(t, w) for _, t, w in EXPERIMENT_CASES], ids=[c[0] for c in EXPERIMENT_CASES])
def test_a_bad_experiment_map_gives_one_clear_line(tmp_path, text, words):
    path = write_map(tmp_path, text)
    before = hashes(tmp_path)
    with pytest.raises(DataError) as error:
        experiment_table.analyse(TABLE, experiment_table.read_map(path))
    message = str(error.value)
    assert "\n" not in message and len(message) < 500 and words in message, message
    assert hashes(tmp_path) == before


def test_check_table_is_what_the_runner_calls_before_any_notebook(tmp_path):
    mapping = experiment_table.read_map(write_map(tmp_path, GOOD.replace("control: a", "control: ctrl") + "}"))
    with pytest.raises(DataError, match=r"^t.csv: control arm 'ctrl' is not in column 'group' \(arms: 'a', 'b', 'c'\)$"):
        experiment_table.check_table(TABLE, mapping, source="t.csv")
    good = experiment_table.read_map(write_map(tmp_path, GOOD + ", planned_shares: {a: 0.34, b: 0.33, c: 0.33}}"))
    assert experiment_table.check_table(TABLE, good) is None


def test_an_arm_named_with_markup_is_compared_like_any_other(tmp_path):
    hostile = "[x](javascript:alert(3)) ![t](http://evil.example/t.png) <b>"
    table = TABLE.assign(group=TABLE.group.replace({"b": hostile}))
    result = experiment_table.analyse(table, experiment_table.read_map(write_map(tmp_path, GOOD + "}")))
    assert {e.treatment for e in result.effects} == {hostile, "c"}


def test_control_arm_left_without_rows_after_cleaning_is_named(tmp_path):
    table = TABLE.assign(page=np.where(TABLE.group == "a", "wrong", "new"))
    mapping = experiment_table.read_map(write_map(tmp_path, GOOD + ", exposure: {column: page, expected: {a: old, b: new, c: new}}}"))
    with pytest.raises(DataError, match="no row of the control arm 'a' is left"):
        experiment_table.analyse(table, mapping)


# --- Accepted inputs read with the right values ------------------------------------------------------

def test_times_with_zones_are_the_same_instants_in_utc(tmp_path):
    frame = BASE.assign(created_at=iso(BASE.created_at, "+02:00"))
    frame.loc[1, "created_at"] = "2026-01-01T13:57:11-05:00"
    data = dataset.load_tickets(csv(tmp_path, frame))
    times = data.tickets["created_at"]
    assert times.dt.tz is None
    assert times[0] == BASE.created_at[0] - pd.Timedelta(hours=2)
    assert times[1] == pd.Timestamp("2026-01-01 18:57:11")
    assert data.notes == {"created_at": "time zones converted to UTC"}


def test_a_zone_aware_parquet_column_is_converted_to_utc(tmp_path):
    aware = BASE.created_at.dt.tz_localize("Europe/Berlin")  # winter: UTC+1
    data = dataset.load_tickets(parquet(tmp_path, BASE.assign(created_at=aware)))
    assert data.tickets["created_at"][0] == BASE.created_at[0] - pd.Timedelta(hours=1)
    assert "time zones converted to UTC" in data.notes["created_at"]


def test_times_with_and_without_a_zone_say_how_many_were_read_as_utc():
    frame = BASE.assign(created_at=iso(BASE.created_at, "Z")).astype({"created_at": object})
    frame.loc[:2, "created_at"] = ["2026-01-01 07:05:37", "2026-01-01T13:57:11+01:00", "2026-01-01 20:00"]
    tickets, notes = schema.conform(frame)
    assert tickets["created_at"][1] == pd.Timestamp("2026-01-01 12:57:11")
    assert notes["created_at"] == "time zones converted to UTC; 2 times without a zone read as UTC"


def test_the_note_travels_in_the_prepared_copy(tmp_path):
    data = dataset.load_tickets(csv(tmp_path, BASE.assign(created_at=iso(BASE.created_at, "Z"))))
    copy = dataset.load_tickets(dataset.write_prepared(data, tmp_path / "prepared.parquet"), needed=[])
    assert copy.notes == {"created_at": "time zones converted to UTC"}
    report = schema.validation_report(copy.tickets, copy.mapped_from, missing=copy.missing, check=False, notes=copy.notes)[0]
    assert report.loc["created_at", "note"] == "time zones converted to UTC"


def test_clean_data_has_no_note_column():
    report, blocking = schema.validation_report(BASE)
    assert "note" not in report.columns and not blocking


@pytest.mark.parametrize("divisor, unit", [(10**9, "seconds"), (10**6, "milliseconds"), (10**3, "microseconds")])
def test_unix_times_are_read_in_their_unit(tmp_path, divisor, unit):
    epoch = BASE.created_at.astype("int64") // divisor
    data = dataset.load_tickets(csv(tmp_path, BASE.assign(created_at=epoch)))
    assert data.tickets["created_at"][0] == BASE.created_at[0].floor("s")
    assert data.notes["created_at"] == f"read as Unix epoch {unit} (UTC)"


def test_unix_seconds_as_text_with_empty_cells_are_read():
    frame = BASE.assign(created_at=(BASE.created_at.astype("int64") // 10**9).astype(str)).astype({"created_at": object})
    frame.loc[3, "created_at"] = None
    tickets, notes = schema.conform(frame)
    assert tickets["created_at"][0] == pd.Timestamp("2026-01-01 07:05:37") and pd.isna(tickets["created_at"][3])
    assert notes["created_at"] == "read as Unix epoch seconds (UTC)"


def test_text_that_pandas_would_call_missing_is_kept_as_text(tmp_path):
    frame = changed("category", ["None", "null"]).assign(channel="NA")
    frame.loc[7, "customer_id"] = "NA"
    data = dataset.load_tickets(csv(tmp_path, frame))
    assert data.tickets["category"][:2].tolist() == ["None", "null"]
    assert (data.tickets["channel"] == "NA").all()
    assert data.tickets["customer_id"][7] == "NA"


def test_declared_missing_codes_are_empty_in_every_column(tmp_path):
    frame = BASE.astype({"csat": object, "category": object})
    frame.loc[:4, "csat"] = ["NA", " n/a ", "NA", 4, "NA"]
    frame.loc[0, "category"] = "NA"
    data = dataset.load_tickets(csv(tmp_path, frame), columns=write_map(tmp_path, 'tickets: {missing_values: [NA, "n/a"]}'))
    assert data.tickets["csat"][:5].tolist()[3] == 4 and data.tickets["csat"][:5].isna().sum() == 4
    assert pd.isna(data.tickets["category"][0])


def test_mapped_identifiers_stay_text(tmp_path):
    frame = BASE.rename(columns={"customer_id": "account"})
    frame["account"] = [f"{i % 50:04d}" for i in range(len(frame))]
    data = dataset.load_tickets(csv(tmp_path, frame), columns=write_map(tmp_path, "tickets: {columns: {customer_id: account}}"))
    assert data.tickets["customer_id"][:3].tolist() == ["0000", "0001", "0002"]


def test_a_semicolon_file_with_missing_cells_is_still_sniffed(tmp_path):
    data = dataset.load_tickets(csv(tmp_path, BASE, sep=";"))
    assert data.tickets["csat"].isna().sum() == BASE.csat.isna().sum()


def test_a_swapped_export_is_renamed_back(tmp_path):
    swapped = BASE.rename(columns={"ticket_id": "customer_id", "customer_id": "ticket_id"})
    data = dataset.load_tickets(csv(tmp_path, swapped), columns=write_map(tmp_path, SWAP))
    assert data.tickets["ticket_id"].tolist() == BASE.ticket_id.tolist()
    assert data.tickets["customer_id"].tolist() == BASE.customer_id.tolist()


def test_csat_scales_take_whole_answers_only():
    frame = pd.DataFrame({"csat": [7.5, 10, 3]})
    with pytest.raises(DataError, match=r"'csat' has 1 value that is not a whole number on the declared 1-10 scale \(e.g. 7.5\) in row 1"):
        column_map.apply(frame, column_map.TicketMap(csat_scale="1-10"))
    assert column_map.apply(pd.DataFrame({"csat": [0, 55, 100]}), column_map.TicketMap(csat_scale="0-100"))["csat"].tolist() == [1, 3, 5]


def test_a_mapped_duration_reads_zones_and_stays_exact():
    frame = pd.DataFrame({"opened": ["2026-01-01T10:00:00+02:00", "2026-01-01 08:00"],
                          "reply": ["2026-01-01T08:30:00Z", "2026-01-01T10:15:00+02:00"]})
    out = column_map.apply(frame, column_map.TicketMap(durations={"first_response_minutes": ("opened", "reply")}))
    assert out["first_response_minutes"].tolist() == [30.0, 15.0]
