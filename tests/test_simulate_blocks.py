"""A large simulation written in blocks: the same file at or below a block, one process, the truth of the whole."""

import json

import numpy as np
import pandas as pd
import pytest

from study.data import ceilings, comments, io, simulate, simulate_blocks, simulated_truth


@pytest.fixture(scope="module")
def chunked(tmp_path_factory):
    """5,000 tickets in blocks of at most 2,000 (three blocks, as equal as can be), under a scenario."""
    out = tmp_path_factory.mktemp("chunked") / "tickets.parquet"
    data, truth = simulate_blocks.write_simulation(out, rows=5_000, seed=11, scenario="sla-direct-effect",
                                                   chunk_rows=2_000)
    return pd.read_parquet(data), json.loads(truth.read_text()), data


def test_at_or_below_a_block_the_file_is_simulates(tmp_path):
    data, truth = simulate_blocks.write_simulation(tmp_path / "t.parquet", rows=3_000, seed=4, chunk_rows=3_000)
    expected, expected_truth = simulate.write(simulate.simulate(3_000, seed=4), tmp_path / "other" / "t.parquet")
    assert io.fingerprint(data) == io.fingerprint(expected)
    assert truth.read_text() == expected_truth.read_text()


def test_blocks_are_as_equal_as_can_be():
    assert simulate_blocks.block_sizes(5_000, 2_000) == [1_667, 1_667, 1_666]
    assert simulate_blocks.block_sizes(4_000, 2_000) == [2_000, 2_000]
    assert simulate_blocks.block_sizes(30_000_000) == [1_000_000] * 30


def test_the_file_is_its_blocks_one_after_the_other(chunked):
    tickets, truth, _ = chunked
    drawn = list(simulate_blocks.blocks(5_000, 11, scenario="sla-direct-effect", chunk_rows=2_000))
    pd.testing.assert_frame_equal(tickets, pd.concat([b.tickets for b in drawn], ignore_index=True),
                                  check_dtype=False)
    assert len(tickets) == truth["rows"] == 5_000 and truth["blocks"] == 3 and truth["block_rows"] == 2_000
    assert tickets["ticket_id"].is_unique
    # Customers are numbered after the blocks before them: a customer's tickets are all in one block.
    block = np.repeat(np.arange(3), simulate_blocks.block_sizes(5_000, 2_000))
    assert tickets.assign(block=block).groupby("customer_id")["block"].nunique().max() == 1
    assert tickets.groupby("customer_id")["variant"].nunique().max() == 1
    # One population of agents, not one per block; every block spreads over the survey period.
    assert tickets["agent_id"].nunique() <= 60
    start, end = (pd.Timestamp(d) for d in simulate.SURVEY_DATES)
    for number in range(3):
        times = tickets.loc[block == number, "created_at"]
        assert times.is_monotonic_increasing and times.min() < start + pd.Timedelta(days=7)
        assert times.max() > end - pd.Timedelta(days=7)


def test_blocks_share_one_population_of_agents(monkeypatch):
    seen = []
    real = simulate.draw

    def spy(*args, **kwargs):
        seen.append(args[4])
        return real(*args, **kwargs)

    monkeypatch.setattr(simulate, "draw", spy)
    list(simulate_blocks.blocks(3_000, 5, chunk_rows=1_000))
    skill, speed = simulate.draw_agents(5, 60)
    assert len(seen) == 3 and all(np.array_equal(a[0], skill) and np.array_equal(a[1], speed) for a in seen)
    # Blocks differ: each has a seed of its own.
    assert len({simulate_blocks.block_seed(5, b) for b in range(3)}) == 3


def test_same_seed_same_file_other_seed_other_file(tmp_path, chunked):
    _, _, first = chunked
    again, _ = simulate_blocks.write_simulation(tmp_path / "a" / "tickets.parquet", rows=5_000, seed=11,
                                                scenario="sla-direct-effect", chunk_rows=2_000)
    other, _ = simulate_blocks.write_simulation(tmp_path / "b" / "tickets.parquet", rows=5_000, seed=12,
                                                scenario="sla-direct-effect", chunk_rows=2_000)
    assert io.fingerprint(again) == io.fingerprint(first) != io.fingerprint(other)


def test_the_truth_is_the_truth_of_the_whole_file(chunked):
    """The truth combined over blocks equals the truth computed directly on all their tickets at once."""
    tickets, truth, data = chunked
    drawn = list(simulate_blocks.blocks(5_000, 11, scenario="sla-direct-effect", chunk_rows=2_000))
    inputs = [b.truth_inputs for b in drawn]

    def joined(key):
        parts = [i[key] for i in inputs]
        if isinstance(parts[0], tuple):
            return tuple(np.concatenate([p[arm] for p in parts]) for arm in range(len(parts[0])))
        return np.concatenate(parts)

    keys = ("treated", "minutes", "csat_means", "resolved", "tier", "propensity", "spend_log_mean", "quality")
    direct = simulated_truth.true_effects(seed=11, rows=5_000, process="sla-direct-effect",
                                          **{k: joined(k) for k in keys})
    per_ticket = pd.concat([b.per_ticket for b in drawn], ignore_index=True)
    comment = np.concatenate([b.comment for b in drawn])
    repeat = tickets["repeat_purchase"].to_numpy()
    direct.update(
        repeat_auc_ceiling=ceilings.auc(repeat, per_ticket["repeat_probability"].to_numpy()),
        repeat_auc_ceiling_at_contact=ceilings.auc(repeat, per_ticket["repeat_probability_at_contact"].to_numpy()),
        comment_share=float(pd.notna(comment).mean()),
        comment_theme_share=comments.theme_shares(per_ticket, comment),
        comment_themes_by_ticket=comments.tickets_by_theme(per_ticket, tickets["ticket_id"]),
    )
    direct = json.loads(json.dumps(direct))
    assert set(truth) == set(direct) | {"blocks", "block_rows", "data_file", "data_fingerprint"}
    for key, value in direct.items():
        expected = pytest.approx(value, rel=1e-12) if isinstance(value, float) else value
        if isinstance(value, dict) and key == "comment_theme_share":
            expected = pytest.approx(value, rel=1e-12)
        assert truth[key] == expected, key
    assert truth["sla_direct_effect_on_csat"] == -0.05 and truth["data_fingerprint"] == io.fingerprint(data)
    # The sample effects are those of this sample, not of one block.
    first = json.loads(json.dumps(simulated_truth.sample_truth(drawn[0])))
    assert first["sla_effect_on_csat"] != truth["sla_effect_on_csat"]


def test_a_large_simulation_refuses_to_overwrite_what_is_not_ours(tmp_path):
    out = tmp_path / "tickets.parquet"
    out.write_text("mine")
    with pytest.raises(ValueError, match="not an earlier simulation"):
        simulate_blocks.write_simulation(out, rows=3_000, seed=1, chunk_rows=1_000)
    assert out.read_text() == "mine" and not (tmp_path / "truth.json").exists()


def test_a_large_simulation_can_be_csv(tmp_path):
    data, truth = simulate_blocks.write_simulation(tmp_path / "t.csv.gz", rows=2_500, seed=3, chunk_rows=1_000)
    table = pd.read_csv(data)
    assert len(table) == 2_500 and table["ticket_id"].is_unique and json.loads(truth.read_text())["blocks"] == 3


def test_a_large_simulation_refuses_a_zip_file_it_would_write_in_pieces(tmp_path):
    with pytest.raises(ValueError, match="in blocks"):
        simulate_blocks.write_simulation(tmp_path / "t.csv.zip", rows=2_500, seed=3, chunk_rows=1_000)
    assert not list(tmp_path.iterdir())


def test_the_auc_by_counting_is_the_auc_by_ranking():
    rng = np.random.default_rng(3)
    score = np.round(rng.random(5_000), 2)  # many ties
    outcome = rng.random(5_000) < score
    assert simulate_blocks.auc(outcome, score) == pytest.approx(ceilings.auc(outcome, score), rel=1e-12)
    assert simulate_blocks.auc(outcome, -score) == pytest.approx(1 - ceilings.auc(outcome, score), rel=1e-12)
    assert simulate_blocks.auc(np.zeros(3, bool), score[:3]) == 0.5
