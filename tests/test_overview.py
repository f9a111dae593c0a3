"""The overview's DuckDB aggregates against the pandas reference in study.data.descriptives."""

import numpy as np
import pandas as pd
import pytest
import reference_descriptives

from study.data import dataset, overview


@pytest.fixture(scope="module")
def both(small_data, tmp_path_factory):
    """The overview of the tickets in memory, and of their prepared copy scanned in place."""
    copy = dataset.write_prepared(small_data, tmp_path_factory.mktemp("overview") / "copy.parquet")
    on_file = dataset.load_tickets(copy, needed=[])
    assert on_file.tickets.shape[1] == 0 and on_file.prepared == copy
    return overview.summarize(small_data), overview.summarize(on_file)


def test_group_tables_equal_the_pandas_reference(small_data, both):
    for facts in both:
        for table, group in ((facts.by_band, "response_band"), (facts.by_resolution, "resolved")):
            reference = reference_descriptives.outcomes_by(small_data.tickets, group)
            pd.testing.assert_frame_equal(table, reference, rtol=1e-12, check_index_type=False)
            assert list(table.index) == list(reference.index)  # the bands' order, False before True


def test_headline_and_distribution_equal_the_pandas_reference(small_data, both):
    tickets = small_data.tickets
    for facts in both:
        for mine, reference in zip(facts.headline, reference_descriptives.headline(tickets), strict=True):
            assert mine.name == reference.name and mine.n == reference.n
            assert mine.value == pytest.approx(reference.value, rel=1e-12)
            if reference.se is not None:
                assert (mine.se, mine.ci_low, mine.ci_high) == pytest.approx(
                    (reference.se, reference.ci_low, reference.ci_high), rel=1e-10)
        pd.testing.assert_series_equal(facts.distribution, reference_descriptives.distribution(tickets["first_response_minutes"]),
                                       rtol=1e-12, check_dtype=False)


def test_counts_dates_and_histogram(small_data, both):
    tickets = small_data.tickets
    minutes = tickets["first_response_minutes"].clip(lower=1)
    for facts in both:
        assert (facts.tickets, facts.customers, facts.answered) == (
            len(tickets), tickets["customer_id"].nunique(), int(tickets["csat_answered"].sum()))
        assert (facts.first_opened, facts.last_opened) == (tickets["created_at"].min(), tickets["created_at"].max())
        assert facts.over_a_day == pytest.approx((tickets["first_response_minutes"] > 1440).mean())
        edges = np.append(facts.histogram["left"].to_numpy(), facts.histogram["right"].iloc[-1])
        expected, _ = np.histogram(minutes, bins=edges)  # numpy's closed last bin, as the SQL clamps the maximum
        assert facts.histogram["tickets"].tolist() == expected.tolist()


@pytest.mark.parametrize("kept", [["ticket_id"], ["ticket_id", "csat"], ["ticket_id", "first_response_minutes"],
                                  ["ticket_id", "customer_id", "repeat_purchase", "resolved"]])
def test_a_data_set_with_some_columns_gets_the_parts_it_can(small_data, kept):
    """Each figure needs its own columns; without them it is skipped with the reason, never an error."""
    from study.data.dataset import from_frame
    from study.data.schema import COLUMNS

    contract = [c.name for c in COLUMNS]
    partial = small_data.tickets[[c for c in small_data.tickets.columns if c in contract and c in kept]]
    facts = overview.summarize(from_frame(partial))
    assert facts.tickets == len(partial)
    assert facts.has("by_band") == facts.has("histogram") == ("first_response_minutes" in kept)
    assert facts.has("by_resolution") == ("resolved" in kept)
    names = {e.name for e in facts.headline}
    assert ("csat_mean" in names) == ("csat" in kept) and ("repeat_purchase_rate" in names) == ("repeat_purchase" in kept)
    text = " ".join(f.text for f in facts.findings())
    assert "nan" not in text and "0.0 (" not in text
    counts = facts.row_accounting()["count"]
    assert counts["rows kept"] == len(partial)
    for column, (measure, _) in overview.MEASURES.items():
        assert (f"  with {measure}" in counts.index) == (column in kept)


def test_tickets_without_a_measure_are_counted_and_said(small_data):
    from study.data.dataset import from_frame

    tickets = small_data.tickets[["ticket_id", "customer_id", "first_response_minutes", "csat"]].copy()
    tickets.loc[tickets.index[:117], "first_response_minutes"] = np.nan
    facts = overview.summarize(from_frame(tickets))
    counts = facts.row_accounting()["count"]
    assert counts["  without a first response time"] == 117
    assert counts["  with a first response time"] == len(tickets) - 117
    assert facts.distribution["missing"] == 117
    assert any("117 tickets have no first response time" in f.text for f in facts.findings())


def test_an_outcome_without_variation_is_said_not_estimated(small_data):
    """A placeholder repeat-purchase column must not give "0.0% (0.0 to 0.0)"."""
    from study.data.dataset import from_frame

    tickets = small_data.tickets[["ticket_id", "first_response_minutes", "csat", "repeat_purchase"]].assign(repeat_purchase=False)
    facts = overview.summarize(from_frame(tickets))
    assert facts.constant == {"repeat_purchase": False}
    assert "repeat_purchase_rate" not in {e.name for e in facts.headline}
    assert "repeat_purchase mean" not in facts.by_band.columns
    text = " ".join(f.text for f in facts.findings())
    assert "repeat_purchase = False" in text and "0.0%" not in text


def test_response_times_that_look_like_hours_are_a_warning_of_the_overview(small_data):
    from study.data.dataset import from_frame

    tickets = small_data.tickets[["ticket_id", "first_response_minutes", "csat"]].copy()
    tickets["first_response_minutes"] /= 60  # hours, read as minutes
    warnings = [f for f in overview.summarize(from_frame(tickets)).findings() if f.kind == "warning"]
    assert len(warnings) == 1 and "declare units: {first_response_minutes: hours}" in warnings[0].text
    assert not [f for f in overview.summarize(small_data).findings() if f.kind == "warning"]


def test_the_figures_are_the_same_bytes_on_any_number_of_threads(small_data, tmp_path):
    """Exact sums: one DuckDB thread or four give the same figures, not merely close ones."""
    from study.ab.aggregate import DuckDBSource

    import pyarrow.parquet as pq

    whole = dataset.write_prepared(small_data, tmp_path / "whole.parquet")
    copy = tmp_path / "copy.parquet"
    pq.write_table(pq.read_table(whole), copy, row_group_size=100)  # 30 row groups: four threads do share the scan
    data = dataset.load_tickets(copy, needed=[])
    one, four = (overview.summarize(data, source=DuckDBSource(copy, threads=n)) for n in (1, 4))
    assert [(e.value, e.se, e.ci_low, e.ci_high) for e in one.headline] == [
        (e.value, e.se, e.ci_low, e.ci_high) for e in four.headline]
    for part in ("by_band", "by_resolution", "histogram"):
        pd.testing.assert_frame_equal(getattr(one, part), getattr(four, part), check_exact=True)
    pd.testing.assert_series_equal(one.distribution, four.distribution, check_exact=True)
