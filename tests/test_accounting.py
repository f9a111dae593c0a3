import pandas as pd

from study.core.accounting import RowLedger


def test_rows_in_equal_rows_used_plus_every_drop():
    frame = pd.DataFrame({"csat": [1, None, 3, None, 5], "channel": ["a", "b", None, "c", "d"]})
    ledger = RowLedger(frame)
    ledger.keep(frame["csat"].notna(), "no survey answer")
    ledger.require(["channel"])
    counts = ledger.as_dict()
    assert counts == {"in": 5, "used": 2, "dropped": {"no survey answer": 2, "missing channel": 1}}
    assert counts["in"] == counts["used"] + sum(counts["dropped"].values())


def test_table_shows_drops_as_negative_counts():
    ledger = RowLedger(pd.DataFrame({"x": [1, 2, 3]}))
    ledger.keep(pd.Series([True, False, True]), "odd")
    assert ledger.table()["rows"].tolist() == [3, -1, 2]


def test_reasons_without_drops_are_left_out():
    ledger = RowLedger(pd.DataFrame({"x": [1, 2]}))
    ledger.require(["x"])
    assert ledger.as_dict()["dropped"] == {}
