"""The large-data path: the validated copy every notebook reads, and the customer sample models fit on."""

import numpy as np
import pandas as pd
import pytest

from study import config
from study.core.accounting import RowLedger
from study.data import dataset
from study.regression import models


@pytest.fixture(scope="module")
def sample_data():
    return dataset.load_tickets(config.SAMPLE_DATA)


@pytest.fixture(scope="module")
def prepared(sample_data, tmp_path_factory):
    return dataset.write_prepared(sample_data, tmp_path_factory.mktemp("prepared") / "tickets.prepared.parquet")


def test_the_prepared_copy_reads_back_exactly_with_the_original_facts(sample_data, prepared):
    again = dataset.load_tickets(prepared)
    pd.testing.assert_frame_equal(again.tickets, sample_data.tickets)
    assert again.source == sample_data.source and again.set_aside == {}
    assert dataset.is_prepared(prepared) and not dataset.is_prepared(config.SAMPLE_DATA)


def test_a_column_mapped_export_keeps_its_mapping_facts(tmp_path):
    export = config.ROOT / "data" / "examples"
    data = dataset.load_tickets(export / "tickets_export.csv", columns=export / "tickets_columns.yml")
    again = dataset.load_tickets(dataset.write_prepared(data, tmp_path / "copy.parquet"))
    assert again.mapped_from == data.mapped_from and again.mapped_from
    pd.testing.assert_frame_equal(again.tickets, data.tickets)


def test_needed_reads_only_those_columns(prepared):
    data = dataset.load_tickets(prepared, needed=["customer_id", "csat", "not_a_column"])
    assert list(data.tickets.columns) == ["customer_id", "csat"]


def test_a_column_dropped_from_the_copy_frees_its_memory(prepared):
    """Each column is its own block: a notebook that drops a column after reading gets its memory back."""
    import gc

    import pyarrow as pa

    frame = dataset.load_tickets(prepared, needed=["customer_id", "order_value", "pre_spend"]).tickets
    assert frame["order_value"].notna().all()  # read in place from Arrow's memory
    before, size = pa.total_allocated_bytes(), frame["order_value"].to_numpy().nbytes
    del frame["order_value"]
    gc.collect()  # the Series made above may sit in a reference cycle until a collection
    assert before - pa.total_allocated_bytes() >= size


def test_the_sample_takes_whole_customers_up_to_the_cap(sample_data):
    ids = sample_data.tickets["customer_id"]
    drawn = dataset.customer_sample(ids, 5_000, seed=1)
    kept = ids[ids.isin(drawn)]
    assert 4_900 <= len(kept) <= 5_000  # customers have a few tickets each: the cap is nearly filled
    assert kept.value_counts().sort_index().equals(ids.value_counts().loc[drawn].sort_index())


def test_the_sample_depends_on_the_seed_and_not_on_row_order(sample_data):
    ids = sample_data.tickets["customer_id"]
    shuffled = ids.sample(frac=1.0, random_state=0)
    first = dataset.customer_sample(ids, 5_000, seed=1)
    assert first.sort_values().equals(dataset.customer_sample(shuffled, 5_000, seed=1).sort_values())
    assert not first.sort_values().equals(dataset.customer_sample(ids, 5_000, seed=2).sort_values())


def test_raw_and_prepared_files_give_the_same_sample_and_count_what_was_left_out(prepared):
    raw = dataset.load_tickets(config.SAMPLE_DATA, max_tickets=8_000, seed=5)
    copy = dataset.load_tickets(prepared, max_tickets=8_000, seed=5)
    pd.testing.assert_frame_equal(raw.tickets, copy.tickets)
    reason = dataset.sample_reason(8_000, 5)
    assert raw.set_aside == copy.set_aside == {reason: 40_000 - len(raw.tickets)}
    assert "Models fit on a random sample" in raw.sample_note()
    assert dataset.load_tickets(prepared).sample_note() == ""


def test_no_sample_when_the_data_is_within_the_cap(sample_data):
    assert dataset.load_tickets(config.SAMPLE_DATA, max_tickets=40_000).set_aside == {}
    assert dataset.load_tickets(config.SAMPLE_DATA, max_tickets=0).set_aside == {}


def test_a_ledger_counts_the_tickets_set_aside_before_it():
    frame = pd.DataFrame({"x": [1.0, None, 3.0]})
    ledger = RowLedger(frame, {"outside the model sample": 7})
    ledger.require(["x"])
    assert ledger.as_dict() == {"in": 10, "used": 2, "dropped": {"outside the model sample": 7, "missing x": 1}}


def test_the_adjusted_slope_on_a_sample_still_covers_the_truth():
    """A 15,000-ticket customer sample of the embedded data: the adjusted speed effect still covers -0.15."""
    data = dataset.load_tickets(config.SAMPLE_DATA, max_tickets=15_000, seed=11)
    adjusted = models.satisfaction_drivers(data).get("csat_per_doubling_adjusted")
    assert adjusted.ci_low <= -0.15 <= adjusted.ci_high
    assert adjusted.se > 0 and np.isfinite(adjusted.se)


def test_a_large_file_is_validated_in_a_separate_process_with_the_same_result(small_study_path, tmp_path, monkeypatch):
    from study.data import schema
    from study.report import runner

    monkeypatch.setattr(config, "SMALL_DATA_BYTES", 0)
    summary = runner.run_study(small_study_path, tmp_path / "child", only=["01"], progress=lambda line: None)
    assert [r.status for r in summary.runs] == ["ok"]
    assert not (tmp_path / "child" / "data").exists()  # the copy is removed after the run
    broken = tmp_path / "broken.csv"
    pd.read_parquet(small_study_path).assign(csat="seven").to_csv(broken, index=False)
    with pytest.raises(schema.DataError, match="csat"):
        runner.run_study(broken, tmp_path / "broken", only=["01"], progress=lambda line: None)
    assert not (tmp_path / "broken").exists()


def test_spark_or_a_large_file_is_prepared_in_a_separate_process(small_study_path, monkeypatch):
    from study.report import runner

    assert not runner.prepares_in_child(small_study_path, "duckdb")
    assert runner.prepares_in_child(small_study_path, "spark")  # the Java process its session starts ends with it
    monkeypatch.setattr(config, "SMALL_DATA_BYTES", 0)
    assert runner.prepares_in_child(small_study_path, "duckdb")


def test_a_report_of_few_columns_read_still_describes_every_one(sample_data, prepared):
    from study.data import descriptives

    full = descriptives.column_report(sample_data.tickets, sample_data.mapped_from)
    data = dataset.load_tickets(prepared, needed=["csat", "resolved"])
    assert set(data.tickets.columns) == {"csat", "resolved"}
    assert "csat" not in data.missing  # read, so described from the values
    assert data.missing["resolution_minutes"] == pytest.approx(sample_data.tickets["resolution_minutes"].isna().mean())
    pd.testing.assert_frame_equal(
        descriptives.column_report(data.tickets, data.mapped_from, missing=data.missing, validated=True), full)


def test_a_run_with_a_model_sample_says_so_and_counts_the_tickets_left_out(small_study_path, tmp_path):
    import json

    from study.report import runner

    out = tmp_path / "sampled"
    summary = runner.run_study(small_study_path, out, only=["02", "03"], params={"model_tickets": 1_500},
                               progress=lambda line: None)
    assert [r.status for r in summary.runs] == ["ok", "ok"], [r.reason for r in summary.runs]
    reason = dataset.sample_reason(1_500, 2026)
    drivers = json.loads((out / "results" / "02_satisfaction_drivers.json").read_text())
    assert drivers["rows"]["in"] == 3_000 and 1_400 < 3_000 - drivers["rows"]["dropped"][reason] <= 1_500
    repeat = json.loads((out / "results" / "03_repeat_purchase.json").read_text())
    assert all(part["in"] == 3_000 and reason in part["dropped"] for part in repeat["rows"].values())
    for name in ("02_satisfaction_drivers", "03_repeat_purchase"):
        assert "Models fit on a random sample" in (out / f"{name}.html").read_text()
