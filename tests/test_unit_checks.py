"""Duplicate units and units in several arms in unit-level tables: counts, examples, what is done."""

import pandas as pd
import pytest

from study.ab import unit_checks
from study.ab.unit_checks import check_units, drop_flagged_units


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
