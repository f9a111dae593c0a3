"""The whole-customer model sample: its rule against an independent reference, the engine's threshold,
DuckDB against Spark, and the file a run writes against drawing the sample again."""

import hashlib
import json
import shutil

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from study.data import dataset, model_sample, simulate
from study.engine import spark_missing
from study.engine.sources import DuckDBSource


def reference_sample(ids: pd.Series, max_tickets: int, seed: int) -> list:
    """The rule written out plainly: customers by md5 of "seed:id" (ties by id), the longest prefix within the cap."""
    counts = ids.dropna().astype(object).value_counts()
    table = pd.DataFrame({"id": counts.index.astype(object), "n": counts.to_numpy()})
    table["key"] = [hashlib.md5(f"{seed}:{c}".encode("utf-8")).hexdigest() for c in table["id"]]
    table = table.sort_values(["key", "id"])
    drawn, total = [], 0
    for customer, n in zip(table["id"], table["n"]):
        if total + n > max_tickets:
            break
        drawn.append(customer)
        total += n
    return drawn


def messy_ids(rows: int = 6_000, seed: int = 3) -> pd.Series:
    """Customer ids with unicode, look-alikes, missing values and very unequal ticket counts."""
    rng = np.random.default_rng(seed)
    odd = np.array(["Zoë", "zoe", "Ωmega", "émile", "e\u0301mile", "日本", "a b", "NA", "007", "7", "😀"], dtype=object)
    plain = np.array([f"C{i:04d}" for i in range(1_500)], dtype=object)
    pool = np.concatenate([odd, plain])
    weights = rng.pareto(1.5, len(pool)) + 1  # a few customers with many tickets
    ids = pd.Series(rng.choice(pool, rows, p=weights / weights.sum()), dtype="string")
    return ids.where(rng.random(rows) > 0.05, None)


@pytest.mark.parametrize("max_tickets, seed", [(1_000, 1), (2_500, 7), (5_999, 2026), (1, 5)])
def test_the_sample_is_the_reference_rule_in_process_and_on_duckdb(max_tickets, seed, tmp_path):
    ids = messy_ids()
    expected = reference_sample(ids, max_tickets, seed)
    assert list(dataset.customer_sample(ids, max_tickets, seed)) == expected
    path = tmp_path / "ids.parquet"
    pd.DataFrame({"customer_id": ids}).to_parquet(path, index=False)
    drawn = model_sample.draw(DuckDBSource(path), max_tickets, seed)
    assert list(drawn.customers) == expected
    assert drawn.tickets == int(ids.isin(expected).sum()) <= max_tickets


def test_the_sample_is_whole_customers_and_the_next_one_would_not_fit():
    ids = messy_ids(seed=9)
    drawn = dataset.customer_sample(ids, 3_000, seed=4)
    counts = ids.value_counts()
    kept = int(counts.loc[drawn].sum())
    rest = reference_sample(ids, 10**9, 4)[len(drawn)]  # the first customer of the order not drawn
    assert kept <= 3_000 < kept + counts.loc[rest]


def test_a_threshold_that_keeps_too_few_tickets_is_widened(tmp_path):
    # One customer holds 95% of the tickets: the first threshold, sized on every ticket, keeps about
    # 2 x 1,000 x 5% of them, too few, unless that customer happens to be below it.
    seed = next(s for s in range(100) if hashlib.md5(f"{s}:BIG".encode()).hexdigest() > "1")
    ids = pd.Series(["BIG"] * 19_000 + [f"S{i}" for i in range(1_000)], dtype="string")
    path = tmp_path / "skewed.parquet"
    pd.DataFrame({"customer_id": ids}).to_parquet(path, index=False)
    drawn = model_sample.draw(DuckDBSource(path), 500, seed)
    assert drawn.scans > 1
    assert list(drawn.customers) == reference_sample(ids, 500, seed)


@pytest.mark.parametrize("factor", [0.05, 0.5, 1.0])
def test_any_first_threshold_gives_the_same_sample(factor, monkeypatch, tmp_path):
    ids = messy_ids(seed=21)
    path = tmp_path / "ids.parquet"
    pd.DataFrame({"customer_id": ids}).to_parquet(path, index=False)
    monkeypatch.setattr(model_sample, "KEPT_FACTOR", factor)
    drawn = model_sample.draw(DuckDBSource(path), 2_000, 11)
    assert list(drawn.customers) == reference_sample(ids, 2_000, 11)
    if factor < 0.5:  # the first scan kept about a tenth of what the sample needs
        assert drawn.scans > 1


def test_a_threshold_is_exact_at_its_digits():
    assert model_sample.threshold(1.0) is None
    assert model_sample.threshold(0.5) == "8" + "0" * 15
    assert "7fffffffffffffffffffffffffffffff" < model_sample.threshold(0.5) <= "80000000000000000000000000000000"


@pytest.fixture(scope="module")
def copy(tmp_path_factory):
    """A prepared copy of 3,000 simulated tickets."""
    folder = tmp_path_factory.mktemp("model_sample")
    return dataset.write_prepared(dataset.from_frame(simulate.simulate(rows=3_000, seed=7).tickets),
                                  folder / "tickets.prepared.parquet")


def _fresh(copy, folder):
    """``copy`` alone in ``folder``, without any sample file beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    return shutil.copyfile(copy, folder / copy.name)


def test_the_file_gives_the_same_tickets_and_row_ledger_as_drawing_again(copy, tmp_path):
    path = _fresh(copy, tmp_path / "a")
    drawn = dataset.load_tickets(path, max_tickets=1_000, seed=3)
    facts = model_sample.write_sample(path, 1_000, 3)
    assert model_sample.matching_sample(path, 1_000, 3) == path.with_name(facts["file"])
    read = dataset.load_tickets(path, max_tickets=1_000, seed=3)
    pd.testing.assert_frame_equal(read.tickets, drawn.tickets)
    assert read.set_aside == drawn.set_aside == {dataset.sample_reason(1_000, 3): 3_000 - len(drawn.tickets)}
    assert read.missing == drawn.missing and read.source == drawn.source and read.notes == drawn.notes
    assert facts["tickets"] == len(drawn.tickets) and facts["customers"] == drawn.tickets["customer_id"].nunique()
    needed = ["customer_id", "csat", "response_band"]
    pd.testing.assert_frame_equal(dataset.load_tickets(path, needed=needed, max_tickets=1_000, seed=3).tickets,
                                  drawn.tickets[needed])
    # Read alone, the file is a prepared copy of the sample whose ledger still counts every ticket.
    alone = dataset.load_tickets(path.with_name(facts["file"]))
    pd.testing.assert_frame_equal(alone.tickets, drawn.tickets)
    assert alone.set_aside == drawn.set_aside
    written = pq.ParquetFile(path.with_name(facts["file"])).metadata  # read back within the run, then removed
    assert {written.row_group(0).column(c).compression for c in range(written.num_columns)} == {"UNCOMPRESSED"}


def test_a_stale_file_is_ignored(copy, tmp_path):
    path = _fresh(copy, tmp_path / "b")
    facts = model_sample.write_sample(path, 1_000, 3)
    # Another seed's name on it: its facts say seed 3, so seed 4 draws again.
    shutil.copyfile(path.with_name(facts["file"]), model_sample.file_for(path, 1_000, 4))
    assert model_sample.matching_sample(path, 1_000, 4) is None
    pd.testing.assert_frame_equal(dataset.load_tickets(path, max_tickets=1_000, seed=4).tickets,
                                  dataset.load_tickets(_fresh(copy, tmp_path / "c"), max_tickets=1_000, seed=4).tickets)
    # Another copy under the same name: the sample of the old one is not used.
    other = dataset.from_frame(simulate.simulate(rows=3_000, seed=8).tickets)
    dataset.write_prepared(other, path)
    assert model_sample.matching_sample(path, 1_000, 3) is None
    again = dataset.load_tickets(path, max_tickets=1_000, seed=3)
    assert set(again.tickets["customer_id"]) == set(reference_sample(other.tickets["customer_id"], 1_000, 3))


@pytest.mark.skipif(spark_missing() is not None, reason=f"Spark cannot run here: {spark_missing()}")
def test_spark_draws_and_writes_the_same_sample_as_duckdb(copy, tmp_path):
    from study.engine import open_source

    duck = _fresh(copy, tmp_path / "duckdb")
    spark = _fresh(copy, tmp_path / "spark")
    source = open_source(spark, "spark")
    try:
        assert list(model_sample.draw(source, 1_000, 3).customers) == list(model_sample.draw(DuckDBSource(duck), 1_000, 3).customers)
        on_spark = model_sample.write_sample(spark, 1_000, 3, source)
    finally:
        source.close()
    on_duckdb = model_sample.write_sample(duck, 1_000, 3)
    assert on_spark == on_duckdb
    assert pq.read_table(spark.with_name(on_spark["file"])).equals(pq.read_table(duck.with_name(on_duckdb["file"])))
    pd.testing.assert_frame_equal(dataset.load_tickets(spark, max_tickets=1_000, seed=3).tickets,
                                  dataset.load_tickets(_fresh(copy, tmp_path / "none"), max_tickets=1_000, seed=3).tickets)


def test_the_samples_a_run_draws_are_those_its_notebooks_ask_for():
    from study import config
    from study.report.prepare import model_samples

    notebook = config.NOTEBOOKS / "02_satisfaction_drivers.ipynb"
    other = config.NOTEBOOKS / "09_repeat_model.ipynb"
    assert model_samples([(notebook, {}), (other, {})]) == [(200_000, 2026)]
    assert model_samples([(notebook, {"model_tickets": 1_000}), (other, {"seed": 5})]) == [(1_000, 2026), (200_000, 5)]
    assert model_samples([(config.NOTEBOOKS / "01_data_overview.ipynb", {})]) == []


def test_a_run_writes_the_sample_in_its_staging_folder_only_and_its_results_do_not_depend_on_it(
        small_study_path, tmp_path, monkeypatch):
    from study.report import prepare, runner

    written = []
    write = model_sample.write_sample
    monkeypatch.setattr(model_sample, "write_sample", lambda *a, **k: written.append(a[0]) or write(*a, **k))
    before = sorted(p.name for p in small_study_path.parent.iterdir())
    params = {"model_tickets": 1_000, "bootstrap": 50, "replicates": 50}
    lines = []
    with_file = runner.run_study(small_study_path, tmp_path / "with", only=["02", "03", "06", "09"], params=params,
                                 progress=lines.append)
    assert [r.status for r in with_file.runs] == ["ok"] * 4, [r.reason for r in with_file.runs]
    assert len(written) == 1 and written[0].parent.name == "data"
    assert written[0].parent.parent.parent == tmp_path and written[0].parent.parent.name.startswith(".with.partial-")
    assert any("model sample: " in line and "drawn once on duckdb" in line for line in lines)
    assert sorted(p.name for p in small_study_path.parent.iterdir()) == before  # nothing beside the data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["with"] and not (tmp_path / "with" / "data").exists()

    monkeypatch.setattr(prepare, "write_model_samples", lambda *a, **k: [])
    without = runner.run_study(small_study_path, tmp_path / "without", only=["02", "03", "06", "09"], params=params,
                               progress=lambda line: None)
    assert [r.status for r in without.runs] == ["ok"] * 4
    for name in ("02_satisfaction_drivers", "03_repeat_purchase", "06_driver_analysis", "09_repeat_model"):
        first = (tmp_path / "with" / "results" / f"{name}.json").read_bytes()
        assert first == (tmp_path / "without" / "results" / f"{name}.json").read_bytes(), name
        rows = json.loads(first)["rows"]
        assert dataset.sample_reason(1_000, 2026) in json.dumps(rows)


# A run on Spark draws the sample there and gives DuckDB's results: tests/test_spark.py's ticket runs.


def test_a_notebook_reads_the_file_and_draws_nothing(copy, tmp_path, monkeypatch):
    # The file is the saving at scale: with it in place, loading must not count the copy's customers again.
    path = _fresh(copy, tmp_path / "read")
    drawn = dataset.load_tickets(path, max_tickets=1_000, seed=3)
    model_sample.write_sample(path, 1_000, 3)

    def no_draw(*args, **kwargs):
        raise AssertionError("the sample was drawn again although its file matches")

    monkeypatch.setattr(model_sample, "draw", no_draw)
    pd.testing.assert_frame_equal(dataset.load_tickets(path, max_tickets=1_000, seed=3).tickets, drawn.tickets)


def test_a_sample_that_cannot_be_drawn_once_is_said_and_left_to_the_notebooks(copy, tmp_path, monkeypatch):
    from study.report import prepare

    path = _fresh(copy, tmp_path / "fails")
    said = []

    def broken(copy, max_tickets, seed, source=None):
        copy.with_name(f"{copy.stem}.model-sample-{max_tickets}-seed-{seed}.parquet.partial").write_text("half")
        raise OSError("disk full")

    monkeypatch.setattr(model_sample, "write_sample", broken)
    monkeypatch.setattr(prepare, "model_samples", lambda notebooks: [(1_000, 3)])
    assert prepare.draw_model_samples(path, [], ("duckdb", "local[2]"), said.append) == []
    assert len(said) == 1 and "OSError: disk full" in said[0] and "draws the same sample itself" in said[0]
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # nothing half-written is left


def test_customer_sample_gives_the_ids_as_they_came():
    ids = pd.Series(np.random.default_rng(1).integers(0, 200, 1_000))
    drawn = dataset.customer_sample(ids, 60, 1)
    assert drawn.dtype == ids.dtype and ids.isin(drawn).sum() == 59
    assert [str(c) for c in drawn] == list(dataset.customer_sample(ids.astype(str), 60, 1))
