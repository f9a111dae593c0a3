"""The repeat-purchase model's features and split: known at the contact only, leaks refused, no customer on both sides."""

import re

import numpy as np
import pandas as pd
import pytest

import study
from study.data.dataset import from_frame
from study.data.schema import DataError
from study.predict import analyse, features
from study.predict.split import split, usable


@pytest.fixture(scope="module")
def sim():
    return study.simulate(rows=6000, seed=11)


@pytest.fixture(scope="module")
def data(sim):
    return from_frame(sim.tickets)


def test_history_counts_only_strictly_earlier_tickets_of_the_same_customer():
    t = pd.to_datetime(["2026-01-05", "2026-01-01", "2026-01-05", "2026-01-09", "2026-01-02"])
    frame = pd.DataFrame({"customer_id": ["a", "a", "a", "a", "b"], "created_at": t}, index=[10, 11, 12, 13, 14])
    past = features.history(frame)
    # Two tickets at the same time see only the one before them, not each other.
    assert past["earlier_tickets"].tolist() == [1, 0, 1, 3, 0]
    assert past["days_since_previous"].tolist()[:4] == [4.0, pytest.approx(np.nan, nan_ok=True), 4.0, 4.0]
    assert np.isnan(past.loc[11, "days_since_previous"]) and np.isnan(past.loc[14, "days_since_previous"])


def test_history_of_a_ticket_does_not_move_when_later_tickets_are_altered(sim):
    tickets = sim.tickets.copy()
    cut = tickets["created_at"].quantile(0.5)
    before = features.history(tickets)
    altered = tickets.copy()
    later = altered["created_at"] > cut
    # Later tickets moved further into the future, given other customers' ids, and half of them removed.
    altered.loc[later, "created_at"] += pd.Timedelta(days=40)
    altered.loc[later & (np.arange(len(altered)) % 3 == 0), "customer_id"] = "C-someone-else"
    altered = altered.drop(altered.index[later & (np.arange(len(altered)) % 2 == 0)])
    after = features.history(altered)
    early = tickets.index[~later]
    pd.testing.assert_frame_equal(before.loc[early], after.loc[early])
    # ... while the history of a later ticket does see the earlier ones.
    assert before.loc[tickets.index[later], "earlier_tickets"].sum() > 0


def test_follow_up_window_columns_are_refused_by_name(data):
    for column in features.FOLLOW_UP:
        with pytest.raises(DataError, match=f"'{column}'.*follow-up window"):
            analyse(data, features=["resolved", column], bootstrap=100)


def test_a_planted_leaking_feature_skips_the_model_with_its_name(sim):
    tickets = sim.tickets.copy()
    rng = np.random.default_rng(3)
    # A noisy copy of the outcome, and a flag made from the follow-up window under an innocent name.
    tickets["loyalty_signal"] = tickets["repeat_purchase"].astype(float) + rng.normal(0, 0.1, len(tickets))
    tickets["came_back_flag"] = (tickets["days_to_next_purchase"] < 90).astype(int)
    data = from_frame(tickets)
    for planted in ("loyalty_signal", "came_back_flag"):
        refused = analyse(data, features=["response_log2_hours", planted], bootstrap=20)
        assert re.fullmatch(rf"feature '{planted}' is refused: .*\(AUC (0\.9[5-9]\d|1\.000) > 0\.95\).*looks like a leak.*",
                            refused.skipped)
        assert not refused.models and "\n" not in refused.skipped
        found = refused.findings()
        assert found[0].kind == "skipped" and planted in found[0].text.replace("\\", "")
        assert set(refused.feature_table()["used"]) == {"no: the model was not fitted (see why above)"}
    # An honest feature passes the same screen.
    assert analyse(data, features=["response_log2_hours", "csat"], bootstrap=20).features.names == ["response_log2_hours", "csat"]


def test_a_column_that_ranks_better_alone_than_every_built_in_feature_is_warned_of(sim, data):
    from sklearn.metrics import roc_auc_score

    tickets = sim.tickets.copy()
    rng = np.random.default_rng(5)
    # Recorded after the contact, but too noisy for the near-perfect screen: single-feature AUC about 0.88.
    tickets["noisy"] = tickets["repeat_purchase"].astype(float) + rng.normal(0, 0.6, len(tickets))
    found = analyse(from_frame(tickets), features=["noisy", "csat"], bootstrap=20)
    assert not found.skipped and set(found.outperformers) == {"noisy"}
    train = found.split.train
    assert found.outperformers["noisy"] == pytest.approx(roc_auc_score(tickets.loc[train, "repeat_purchase"],
                                                                       tickets.loc[train, "noisy"]), abs=1e-12)
    # The baseline is the built-in features' logistic model on the same test months.
    default = analyse(data, bootstrap=20)
    assert found.baseline_auc == pytest.approx(default.models["logistic"].discrimination.auc, abs=1e-12)
    warned = [f for f in found.findings() if f.kind == "warning"]
    assert len(warned) == 1 and "predicts better on its own than everything known at the contact" in warned[0].text
    assert "check it is not recorded after the contact" in warned[0].text
    # An honest column the data has beside the built-in ones is not warned of.
    assert analyse(data, features=["order_value", "csat"], bootstrap=20).outperformers == {}


def test_one_string_is_one_feature(data):
    assert study.repeat_model(data, features="csat", bootstrap=20).features.names == ["csat"]


def test_customers_seen_once_leave_the_history_out_and_fit_on_the_rest(sim):
    tickets = sim.tickets.assign(customer_id=sim.tickets["ticket_id"])
    result = study.repeat_model(from_frame(tickets), bootstrap=20)
    assert not result.skipped and set(result.models) == {"logistic", "boosted"}
    assert not {"earlier_tickets", "days_since_previous"} & set(result.features.names)
    said = " ".join(f.text for f in result.findings())
    assert "no customer has an earlier ticket" in said
    table = result.feature_table()
    assert table.loc["the customer's earlier tickets", "used"] == "no: no customer has an earlier ticket in the training months"
    # Nothing left to learn from: skipped with the reason.
    alone = study.repeat_model(from_frame(tickets), features=["earlier_tickets", "days_since_previous"], bootstrap=20)
    assert alone.skipped.startswith("no feature has more than one value") and not alone.models


def test_an_empty_csat_column_is_said_to_have_no_value(sim):
    chosen = features.default_features(sim.tickets.assign(csat=np.nan))
    assert "CSAT where answered: csat has no value" in chosen.left_out
    assert "survey answered: csat has no value" in chosen.left_out


def test_identifiers_and_unknown_names_are_refused(data):
    with pytest.raises(DataError, match="'agent_id' is refused: it is an identifier"):
        analyse(data, features=["agent_id"], bootstrap=100)
    with pytest.raises(DataError, match="'no_such_column' is neither"):
        analyse(data, features=["no_such_column"], bootstrap=100)
    # Text with too many values under another name: refused on its values, the model skipped with the reason.
    renamed = analyse(from_frame(data.tickets.assign(handler=data.tickets["agent_id"])), features=["handler"], bootstrap=20)
    assert re.match(r"feature 'handler' is refused: it has \d+ distinct values", renamed.skipped)


def test_single_feature_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    y = rng.random(500) < 0.4
    x = pd.Series(rng.normal(size=500) - y)
    assert features.single_feature_auc(x, y.astype(float)) == pytest.approx(1 - roc_auc_score(y, x))


def test_default_features_say_which_were_left_out(sim):
    chosen = features.default_features(from_frame(sim.tickets.drop(columns=["quality_score", "csat"])).tickets)
    assert "quality_score" not in chosen.names and "csat_answered" not in chosen.names
    assert any(n.startswith("quality score: the data has no quality_score") for n in chosen.left_out)
    assert {"response_log2_hours", "earlier_tickets", "category"} <= set(chosen.names)
    assert not set(features.FOLLOW_UP) & set(chosen.names)


def test_train_months_come_first_and_no_customer_is_on_both_sides(data):
    tickets = data.tickets
    parts = split(usable(tickets), 2)
    train, test = tickets.loc[parts.train], tickets.loc[parts.test]
    assert train["created_at"].max() < test["created_at"].min()
    assert parts.test_months == ["2026-05", "2026-06"] and parts.train_months[-1] == "2026-04"
    assert not set(train["customer_id"]) & set(test["customer_id"])
    # Counted independently: every test-month ticket of a customer with a ticket before May is set aside.
    late = tickets["created_at"] >= "2026-05-01"
    seen = tickets.loc[~late, "customer_id"].unique()
    expected = int((late & tickets["customer_id"].isin(seen)).sum())
    dropped = parts.ledger.as_dict()["dropped"]
    assert dropped["test-month ticket of a customer already seen in the training months (no customer on both sides)"] == expected
    assert len(parts.train) + len(parts.test) + expected == len(tickets)


@pytest.mark.parametrize("change, reason", [
    (lambda t: t.assign(created_at=t["created_at"].min()), "span 1 calendar month"),
    (lambda t: t.assign(repeat_purchase=False), "bought again"),
    (lambda t: t.drop(columns=["created_at"]), "no created_at column"),
    (lambda t: t.sample(300, random_state=1), "customer(s) in the test months"),
])
def test_degenerate_data_is_skipped_with_its_reason(sim, change, reason):
    result = analyse(from_frame(change(sim.tickets.copy())), bootstrap=100)
    assert reason in result.skipped
    found = result.findings()
    assert found[0].kind == "skipped" and "skipped" in found[0].text
    assert reason.split("(")[0] in found[0].text.replace("\\", "")
    assert not any("nan" in f.text.lower() or "AUC" in f.text for f in found)
    # What is left is the causal model's scenarios and their companions, which need neither months nor a split.
    scenario_names = {e.name for e in getattr(result.scenarios, "estimates", [])}
    assert {e.name for e in result.estimates} == scenario_names
    assert not any(e.name.startswith(("repeat_auc", "repeat_brier", "repeat_first_tenth")) for e in result.estimates)
    study.save(result, None)  # the results payload is assembled without a number it does not have


def test_more_test_months_than_the_data_has_is_skipped(data):
    assert "no month is left to learn from" in analyse(data, test_months=6, bootstrap=100).skipped


@pytest.mark.parametrize("bad", [{"alpha": 0}, {"alpha": 0.9}, {"alpha": float("nan")}, {"test_months": 0}, {"test_months": 1.5}, {"sla_minutes": 0},
                                 {"bootstrap": 5}])
def test_bad_parameters_are_refused(data, bad):
    with pytest.raises(ValueError):
        analyse(data, **bad)


def test_a_category_with_many_levels_is_pooled_for_the_trees():
    values = pd.Series([f"c{i % 80}" for i in range(800)] + [None] * 100)
    coded = features._text(values)
    assert len(coded.cat.categories) == features.MAX_LEVELS
    assert "(other)" in coded.cat.categories and "(missing)" in coded.cat.categories


def test_tickets_without_a_response_time_are_kept_and_counted_in_the_notes(sim):
    tickets = sim.tickets.copy()
    tickets.loc[tickets.index[::7], "first_response_minutes"] = np.nan
    result = analyse(from_frame(tickets), bootstrap=50)
    used = result.ledger.frame
    expected = int(used["first_response_minutes"].isna().sum())
    assert result.gaps == {"response_log2_hours": expected} and expected > 0
    assert any(note.startswith(f"first response time (log2 hours): missing on {expected:,} tickets, kept")
               for note in result.notes)
    # The causal model cannot use them: its own ledger counts them.
    assert result.scenarios.ledger.as_dict()["dropped"]["no first response time"] == int(tickets["first_response_minutes"].isna().sum())
