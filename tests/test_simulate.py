import json

import numpy as np
import pandas as pd
import pytest

from study import config
from study.data import io, simulate


def test_same_seed_same_data_and_other_seed_other_data():
    a, b, c = simulate.simulate(500, seed=1), simulate.simulate(500, seed=1), simulate.simulate(500, seed=2)
    pd.testing.assert_frame_equal(a.tickets, b.tickets)
    assert a.truth == b.truth
    assert not a.tickets["csat"].equals(c.tickets["csat"])


def test_embedded_sample_is_what_the_documented_command_writes():
    study = simulate.simulate(rows=40_000, seed=2026)
    committed = pd.read_parquet(config.SAMPLE_DATA)
    pd.testing.assert_frame_equal(committed, study.tickets, check_dtype=False)
    committed = json.loads((config.DATA / "truth.json").read_text())
    written = json.loads(json.dumps(study.truth))
    assert set(written) == {k for k in committed if not k.startswith("data_")}
    for key, value in written.items():  # to rounding: numpy's SIMD sums may differ in the last bit between processors
        assert committed[key] == (pytest.approx(value, rel=1e-12) if isinstance(value, float) else value), key
    assert committed["data_fingerprint"] == io.fingerprint(config.SAMPLE_DATA)


def test_values_respect_the_contract_ranges():
    tickets = simulate.simulate(20_000, seed=3).tickets
    assert tickets["csat"].dropna().between(1, 5).all()
    assert tickets["first_response_minutes"].between(simulate.RESPONSE_FLOOR_MINUTES, simulate.RESPONSE_CAP_MINUTES).all()
    assert tickets["ticket_id"].is_unique
    assert (tickets.loc[~tickets["resolved"], "resolution_minutes"].isna()).all()
    assert not (tickets["reopened"] & ~tickets["resolved"]).any()
    assert set(tickets["variant"]) == {"control", "treatment"}
    assert tickets.groupby("customer_id")["variant"].nunique().max() == 1  # customers are randomized whole


def test_csat_mean_stays_inside_the_scale_for_every_combination():
    """The linear CSAT mean must stay in [1, 5] at the extremes, or the truth would not be exact."""
    extremes = []
    for minutes in (simulate.RESPONSE_FLOOR_MINUTES, simulate.RESPONSE_CAP_MINUTES):
        for resolved, reopened in [(0, 0), (1, 0), (1, 1)]:
            for category in simulate.CATEGORIES:
                for channel in simulate.CHANNELS:
                    for tier in simulate.TIERS:
                        for skill, customer in [(-1, -simulate.CSAT_CUSTOMER_SPREAD), (1, simulate.CSAT_CUSTOMER_SPREAD)]:
                            extremes.append(simulate._csat_mean(
                                np.log2(np.array([minutes]) / 60), resolved, reopened, np.array([category]),
                                np.array([channel]), np.array([tier]), skill, customer)[0])
    assert 1 <= min(extremes) and max(extremes) <= 5


def test_truth_of_the_experiment_follows_from_the_structural_slope():
    truth = simulate.simulate(5_000, seed=4).truth
    # Satisfaction is linear in log2 hours, so the SLA's effect on all tickets is slope x shift.
    assert truth["sla_effect_on_csat_all_tickets"] == pytest.approx(
        truth["csat_per_doubling_response_time"] * truth["sla_effect_on_log2_response_hours"], rel=1e-12
    )
    assert truth["repeat_indirect_per_doubling_response_time"] == pytest.approx(-0.15 * 0.06)
    assert -1 < truth["sla_effect_on_log2_response_hours"] < -0.7  # halving, less the 4-minute floor


def test_large_simulation_matches_the_documented_rates():
    """Survey response and repeat rates agree with the truth's expectations within 4 binomial SEs."""
    study = simulate.simulate(100_000, seed=5)
    answered = study.tickets["csat"].notna().mean()
    se = np.sqrt(answered * (1 - answered) / 100_000)
    assert abs(answered - study.truth["survey_response_rate"]) < 4 * se


def test_write_refuses_unknown_suffix(tmp_path):
    with pytest.raises(ValueError, match="parquet or .csv"):
        simulate.write(simulate.simulate(10, seed=1), tmp_path / "t.json")
