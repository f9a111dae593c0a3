"""A corpus of malformed inputs: each gives one clear line naming what is wrong (exit 2), or is
read with what it lacks reported — never a traceback.

Every case starts from 200 valid simulated tickets and breaks one thing.
"""

import duckdb
import numpy as np
import pandas as pd
import pytest

from study import cli, simulate

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


# (case id, builder(tmp_path) -> (data path, map path or None), words the one-line error must hold;
#  None = the file is readable and `validate` passes)
CASES = [
    ("empty file", lambda p: (raw(p, "t.csv", b""), None), "cannot read as CSV"),
    ("header only", lambda p: (csv(p, BASE.iloc[0:0]), None), "no rows to analyse"),
    ("three rows", lambda p: (csv(p, BASE.head(3)), None), "only 3 rows"),
    ("missing required column", lambda p: (csv(p, BASE.drop(columns="csat")), None), "missing required column 'csat'"),
    ("two required columns missing", lambda p: (csv(p, BASE.drop(columns=["csat", "resolved"])), None), "'resolved', 'csat'"),
    ("duplicate ticket ids", lambda p: (csv(p, changed("ticket_id", [BASE.ticket_id[1]])), None), "'ticket_id' has 2 values that are repeated"),
    ("every row identical", lambda p: (csv(p, pd.concat([BASE.head(1)] * 50)), None), "'ticket_id' has 50 values that are repeated"),
    ("csat 0", lambda p: (csv(p, changed("csat", [0])), None), "'csat' has 1 value outside 1-5 (e.g. 0"),
    ("csat 7", lambda p: (csv(p, changed("csat", [7, 7])), None), "'csat' has 2 values outside 1-5"),
    ("csat 3.5", lambda p: (csv(p, changed("csat", [3.5])), None), "'csat' has 1 value that is not a whole number"),
    ("csat as words", lambda p: (csv(p, changed("csat", ["five"])), None), "'csat' has 1 value that is not a number (e.g. 'five')"),
    ("csat never answered", lambda p: (csv(p, BASE.assign(csat=np.nan)), None), "'csat' is empty in every row"),
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
    ("two columns mapped to one", lambda p: (csv(p, BASE), write_map(p, "tickets: {columns: {ticket_id: x, customer_id: x}}")), "'x' mapped to two contract columns"),
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
]


def _duckdb(path, table):
    file = path / "t.duckdb"
    with duckdb.connect(str(file)) as con:
        con.register("frame", BASE)
        con.execute(f"create table {table} as select * from frame")
    return file


def test_the_corpus_is_large_enough():
    assert len(CASES) >= 40


@pytest.mark.parametrize("builder, words", [(b, w) for _, b, w in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gives_one_clear_line_or_is_read(tmp_path, capsys, builder, words):
    data, column_map = builder(tmp_path)
    arguments = ["validate", "--data", str(data)] + (["--columns", str(column_map)] if column_map else [])
    status = cli.main(arguments)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if words is None:
        assert status == 0, err
        assert "meets the data contract" in out
    else:
        assert status == 2
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("study: error:"), err
        assert words in lines[0], lines[0]


def test_a_single_arm_skips_the_experiment_with_the_reason(tmp_path):
    from study.report import run_study

    data = csv(tmp_path, BASE.assign(variant="control"))
    summary = run_study(data, tmp_path / "out", only=["04"], progress=lambda line: None)
    assert summary.runs[0].status == "skipped" and "no 'treatment'" in summary.runs[0].reason
