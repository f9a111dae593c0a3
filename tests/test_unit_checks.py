"""Duplicate units and units in several arms in unit-level tables: counts, examples, what is done."""

import numpy as np
import pandas as pd
import pytest

from study.ab import unit_checks
from study.ab.aggregate import DuckDBSource, clean_units_sql
from study.ab.unit_checks import check_units, drop_flagged_units
from study.core.accounting import RowLedger


@pytest.fixture
def messy():
    return pd.DataFrame({
        "customer_id": ["a", "a", "b", "c", "c", "d", "e", "e", None, "f", "g", "g"],
        "variant": ["control", "treatment", "control", "treatment", "treatment", None, "control", "control", "control",
                    "treatment", "fast", "fast"],
        "spend": [1, 2, 3, 4, 5, 6, 7, 7, 8, 9, 10, 10.0],
    })


def test_counts_and_examples(messy):
    checks = check_units(messy, "customer_id")
    assert (checks.rows, checks.rows_without_arm, checks.rows_without_unit) == (12, 1, 1)
    assert checks.exact_duplicate_rows == 2  # e and g, each repeated once
    assert (checks.units, checks.units_in_several_arms, checks.units_with_conflicting_rows) == (6, 1, 1)
    assert checks.examples_several_arms == ["a"] and checks.examples_conflicting_rows == ["c"]
    assert checks.rows_left_out == 1 + 1 + 2 + 4 and not checks.clean


def test_dropping_follows_the_same_rule_and_accounts_for_every_row(messy):
    kept, ledger = drop_flagged_units(messy, "customer_id")
    assert sorted(kept["customer_id"]) == ["b", "e", "f", "g"]
    assert ledger.as_dict() == {"in": 12, "used": 4, "dropped": {
        "no variant": 1, "no customer_id": 1, "exact duplicate row": 2,
        "customer_id in several arms": 2, "customer_id with conflicting rows": 2}}
    assert check_units(messy, "customer_id").rows_left_out == 12 - ledger.rows_used


def _rule_in_pandas(frame, unit, arm="variant"):
    """The rule step by step in pandas, independent of the SQL that the module runs."""
    ledger = RowLedger(frame)
    ledger.keep(frame[arm].notna(), f"no {arm}")
    ledger.keep(ledger.frame[unit].notna(), f"no {unit}")
    ledger.keep(~ledger.frame.duplicated(keep="first"), "exact duplicate row")
    ledger.keep(ledger.frame.groupby(unit)[arm].transform("nunique") == 1, f"{unit} in several arms")
    kept = ledger.keep(ledger.frame.groupby(unit)[unit].transform("size") == 1, f"{unit} with conflicting rows")
    return kept, ledger


def _messier(seed, rows=400):
    """Units in two arms, conflicting rows, exact copies, missing units, arms and values."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({
        "customer_id": pd.array(rng.choice([f"u{i}" for i in range(150)] + [None], rows), dtype="string"),
        "variant": pd.array(rng.choice(["control", "treatment", None], rows, p=[0.47, 0.47, 0.06]), dtype="string"),
        "spend": rng.choice([1.5, 2.0, np.nan], rows),
        "orders": pd.array(rng.choice([1, 2, None], rows), dtype="Int64"),
    }, index=rng.permutation(rows) * 3)
    return pd.concat([frame, frame.iloc[::7], frame.iloc[::11]])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_frames_and_files_keep_the_same_units_as_the_rule_in_pandas(seed, tmp_path):
    messy = _messier(seed)
    expected, expected_ledger = _rule_in_pandas(messy, "customer_id")
    kept, ledger = drop_flagged_units(messy, "customer_id")
    pd.testing.assert_frame_equal(kept, expected)  # same rows, same order, same index
    assert ledger.as_dict() == expected_ledger.as_dict()
    assert set(ledger.as_dict()["dropped"]) == {"no variant", "no customer_id", "exact duplicate row",
                                                "customer_id in several arms", "customer_id with conflicting rows"}
    assert check_units(messy, "customer_id").rows_left_out == len(messy) - len(kept)

    messy.to_parquet(tmp_path / "messy.parquet", index=False)  # a file has no index: rows are their values
    source = DuckDBSource(tmp_path / "messy.parquet")
    from_file = source.execute(f"SELECT customer_id FROM {clean_units_sql('{relation}', source.columns(), 'customer_id', 'variant')}")
    assert sorted(u for u, in from_file) == sorted(kept["customer_id"])


def test_summary_states_what_was_found_and_done(messy):
    text = check_units(messy, "customer_id").summary()
    assert "1 unit appears in several arms (e.g. a)" in text and "2 rows are exact copies of another row" in text
    assert "In all 8 of 12 rows are left out." in text
    clean = check_units(messy.iloc[[2, 9]], "customer_id")
    assert clean.clean and clean.summary().startswith("All 2 rows")


def test_examples_are_capped_and_sorted_and_files_work(tmp_path):
    units = pd.DataFrame({"customer_id": [f"u{i}" for i in range(9, -1, -1)] * 2,
                          "variant": ["control"] * 10 + ["treatment"] * 10})
    units.to_parquet(tmp_path / "units.parquet")
    checks = check_units(tmp_path / "units.parquet", "customer_id")
    assert checks.units_in_several_arms == 10 and checks.examples_several_arms == ["u0", "u1", "u2", "u3", "u4"]


def test_missing_column_is_named(messy):
    with pytest.raises(ValueError, match="'user'"):
        check_units(messy, "user")


def test_inconsistent_assignment_flags_exposure_that_disagrees_with_the_arm():
    frame = pd.DataFrame({"group": ["control", "control", "treatment", "treatment", "other"],
                          "page": ["old", "new", "new", "old", "new"]})
    flags = unit_checks.inconsistent_assignment(frame, "group", "page", {"control": "old", "treatment": "new"})
    assert flags.tolist() == [False, True, False, True, True]
