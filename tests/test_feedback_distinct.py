"""Reading each distinct comment once, and building the design once per outcome, change no answer."""

import numpy as np
import pandas as pd
import pytest

from study.data import simulate
from study.feedback import association, lexicon
from study.feedback.analysis import has_text, has_word
from study.feedback.lexicon import MAX_CHARACTERS
from study.stats.cluster import cluster_count

LONG = "slow " * 2000  # past the characters read: two comments alike there match alike
VALUES = ["The reply was slow.", "  ", "", None, "12345", "🙂🙂", "The reply was slow.", "não atrasou", "不慢",
          LONG + "rude", LONG + "great", "\t\n", "Nobody fixed my issue.", None, "x" * (MAX_CHARACTERS + 5) + " rude"]


@pytest.mark.parametrize("dtype", ["string", "str"])
def test_each_distinct_comment_read_once_answers_as_each_comment_read_alone(dtype):
    texts = pd.Series(VALUES, dtype=dtype, index=np.arange(len(VALUES)) * 3)
    one_by_one = pd.Series(VALUES, dtype=object, index=texts.index)
    pd.testing.assert_series_equal(has_text(texts), has_text(one_by_one), check_names=False)
    kept = texts[has_text(texts)]
    pd.testing.assert_series_equal(has_word(kept), has_word(one_by_one[kept.index]), check_names=False)
    assert has_word(kept).tolist() == [True, False, False] + [True] * 7
    matched = lexicon.starter().match(texts)
    pd.testing.assert_frame_equal(matched, lexicon.starter().match(one_by_one))
    assert matched.index.equals(texts.index) and not matched.loc[texts.isna()].any().any()


def test_the_design_built_once_is_the_designs_array_in_the_same_layout():
    rows = simulate.simulate(3_000, seed=2).tickets.dropna(subset=["csat"])
    shared = association.shared_design(rows)
    theme = pd.Series(np.arange(len(rows)) % 3 == 0, index=rows.index)
    expected = association.design(rows, theme, shared["confounders"], shared["dummies"]).to_numpy()
    columns = shared["design"]
    columns[1] = theme.to_numpy(dtype=float)
    assert np.array_equal(columns.T, expected) and columns.T.flags.f_contiguous == expected.flags.f_contiguous
    assert shared["customers"] == rows["customer_id"].nunique()
    assert np.array_equal(shared["groups"], association.clusters(rows))


def test_an_estimate_with_the_shared_design_is_the_estimate_without():
    rows = simulate.simulate(3_000, seed=2).tickets.dropna(subset=["csat"])
    theme = pd.Series(rows["first_response_minutes"].to_numpy() > 120, index=rows.index)
    alone = association.theme_effect(rows, theme, "csat", 0.05, "x", "slow reply")
    shared = association.theme_effect(rows, theme, "csat", 0.05, "x", "slow reply", association.shared_design(rows))
    assert alone == shared and alone.extra == shared.extra


def test_customers_numbered_for_a_larger_table_give_the_same_design_and_estimate():
    tickets = simulate.simulate(3_000, seed=2).tickets
    tickets.loc[tickets.index[::7], "customer_id"] = None
    codes = pd.factorize(tickets["customer_id"])[0]
    known = tickets["csat"].notna().to_numpy() & (np.arange(len(tickets)) % 5 > 0)
    rows = tickets[known]
    alone, given = association.shared_design(rows), association.shared_design(rows, codes[known])
    assert given["customers"] == alone["customers"] == rows["customer_id"].nunique()
    clusters = cluster_count(alone["groups"])
    assert cluster_count(given["groups"]) == clusters and given["groups"].max() + 1 == clusters  # numbered from 0
    # The same partition of the rows into clusters, whatever the numbers.
    assert len(set(zip(given["groups"], alone["groups"]))) == clusters
    theme = pd.Series(rows["first_response_minutes"].to_numpy() > 120, index=rows.index)
    a = association.theme_effect(rows, theme, "csat", 0.05, "x", "slow reply", alone)
    b = association.theme_effect(rows, theme, "csat", 0.05, "x", "slow reply", given)
    assert (a.value, a.se, a.p_value) == pytest.approx((b.value, b.se, b.p_value), rel=1e-12)


def test_tickets_without_a_comment_left_unread_give_the_same_results_and_ledger(tmp_path):
    import dataclasses
    import json

    from study import config
    from study.core.results import save
    from study.data import dataset
    from study.feedback import COLUMNS, WITHOUT_COMMENT, analyse

    sample = dataset.load_tickets(config.SAMPLE_DATA)
    tickets = sample.tickets.iloc[:9_000].copy()
    tickets.loc[tickets.index[:40], "comment"] = "   "  # blank text is read and dropped under the same reason
    sample = dataclasses.replace(sample, tickets=tickets, set_aside={"filtered by the column map": 17})
    copy = dataset.write_prepared(sample, tmp_path / "tickets.prepared.parquet")
    whole = dataset.load_tickets(copy, needed=COLUMNS)
    unread = dataset.load_tickets(copy, needed=COLUMNS, unread_without=WITHOUT_COMMENT)
    assert len(unread.tickets) == whole.tickets["comment"].notna().sum() < len(whole.tickets)
    assert unread.prepared is None and unread.set_aside[WITHOUT_COMMENT[1]] == whole.tickets["comment"].isna().sum()
    results = [analyse(data, seed=1) for data in (whole, unread)]
    assert [r.ledger.as_dict() for r in results][0] == results[1].ledger.as_dict()
    pd.testing.assert_frame_equal(results[0].ledger.table(), results[1].ledger.table())
    assert json.dumps(save(results[0], None), sort_keys=True, default=str) == json.dumps(
        save(results[1], None), sort_keys=True, default=str)
    assert dataset.load_tickets(copy, needed=COLUMNS, max_tickets=5_000, unread_without=WITHOUT_COMMENT).set_aside.get(
        WITHOUT_COMMENT[1]) is None  # a model sample's draw reads its customers' tickets whole
