"""The feedback tools on real Chinese food-delivery reviews (waimai_10k): themes, their shares among negative
and positive reviews, and the slow-delivery lexicon against hand labels it was not written from."""

import time

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from study.config import ROOT
from study.feedback import prevalence
from study.feedback.discover import discover
from study.feedback.lexicon import DELIVERY_THEMES, delivery

REVIEWS = ROOT.parent / "shared" / "data" / "real" / "waimai_10k.csv.xz"
LABELS = ROOT / "tests" / "fixtures" / "waimai_slow_delivery_labels.csv"
# The two sets of 400 reviews (disjoint from LABELS and from each other) the slow-delivery patterns were
# developed on in turn, labelled the same way.
DEV_LABELS = ROOT / "tests" / "fixtures" / "waimai_slow_delivery_dev_labels.csv"
DEV2_LABELS = ROOT / "tests" / "fixtures" / "waimai_slow_delivery_dev2_labels.csv"

pytestmark = pytest.mark.skipif(not REVIEWS.exists(), reason="the shared real data set is not beside this clone")


@pytest.fixture(scope="module")
def reviews():
    frame = pd.read_csv(REVIEWS)
    started = time.perf_counter()
    themes = delivery().match(frame["review"])
    return frame, themes, time.perf_counter() - started


def test_themes_by_sentiment_with_intervals(reviews):
    frame, themes, seconds = reviews
    assert seconds < 10, f"matching {len(frame)} reviews took {seconds:.1f} s"
    sentiment = frame["label"].map({0: "negative", 1: "positive"}).astype("category")
    long = prevalence.by_group(themes, sentiment, 0.05)
    assert set(long["theme"]) == set(DELIVERY_THEMES)
    for row in long.itertuples():
        k, n = row._4, row.comments
        assert (row._6, row._7) == pytest.approx(proportion_confint(k, n, 0.05, method="wilson"))
    share = long.set_index(["theme", "group"])["share"]
    low, high = long.set_index(["theme", "group"])["CI low"], long.set_index(["theme", "group"])["CI high"]
    # Complaints gather in negative reviews, praise in positive ones, each beyond its interval.
    for theme in ("slow_delivery", "cold_food", "bad_taste"):
        assert low[theme, "negative"] > high[theme, "positive"], theme
    for theme in ("fast_delivery", "good_taste"):
        assert low[theme, "positive"] > high[theme, "negative"], theme
    print("\n" + prevalence.wide(long, 0.05).to_string())
    assert share["slow_delivery", "negative"] > 0.2


def test_discovered_topics_on_reviews(reviews):
    frame, _, _ = reviews
    found = discover(frame["review"], 8, 2026)
    assert found.analyzer == "characters"
    words = " ".join(" ".join(t) for t in found.terms)
    # Delivery time, taste and the courier are what such reviews talk about: each has a topic's top term.
    assert any(w in words for w in ("小时", "送餐", "慢")) and any(w in words for w in ("好吃", "味道"))
    print("\n" + found.topics[["top terms", "comments"]].to_string())


def _slow_delivery_scores(frame, themes, path=LABELS) -> tuple[float, float, str]:
    labels = pd.read_csv(path)
    assert labels["row"].between(0, len(frame) - 1).all()
    predicted = themes["slow_delivery"].to_numpy()[labels["row"]]
    truth = labels["slow_delivery"].to_numpy().astype(bool)
    hits = int((predicted & truth).sum())
    words = f"precision {hits}/{predicted.sum()}, recall {hits}/{truth.sum()}"
    return hits / predicted.sum(), hits / truth.sum(), words


needs_labels = pytest.mark.skipif(not LABELS.exists(), reason="the hand-labelled slow-delivery reference is not in this clone")


@needs_labels
def test_slow_delivery_lexicon_precision_against_hand_labels(reviews):
    precision, _, words = _slow_delivery_scores(*reviews[:2])
    print(f"\nslow delivery: {words}")
    assert precision >= 0.9


@pytest.mark.parametrize("path, seed", [(DEV_LABELS, 7), (DEV2_LABELS, 8)], ids=["dev1", "dev2"])
def test_development_sets_are_disjoint_from_the_hand_labels_and_well_read(reviews, path, seed):
    dev, held_out = pd.read_csv(path), pd.read_csv(LABELS)
    frame = reviews[0]
    # Redrawn as the fixture's description says: 300 negative then 100 positive reviews from the rows not
    # already labelled (the held-out set, and for the second set the first one too).
    taken = set(held_out["row"]) | (set(pd.read_csv(DEV_LABELS)["row"]) if path == DEV2_LABELS else set())
    free = ~frame.index.isin(sorted(taken))
    rng = np.random.default_rng(seed)
    drawn = [rng.choice(np.flatnonzero((frame["label"] == label) & free), n, replace=False)
             for label, n in ((0, 300), (1, 100))]
    assert dev["row"].tolist() == sorted(np.concatenate(drawn).tolist())
    assert not set(dev["row"]) & taken
    precision, recall, words = _slow_delivery_scores(*reviews[:2], path)
    print(f"\nslow delivery on the development set {path.stem}: {words}")
    # The sets the patterns were written from: a lower bar than perfect, above the held-out one.
    assert precision >= 0.95 and recall >= 0.95


@needs_labels
def test_slow_delivery_lexicon_precision_and_recall_against_hand_labels(reviews):
    # The lexicon was extended on two development sets of 400 other reviews each, then measured once on the
    # 200 held-out labels, whose text was never read: precision 41/43, recall 41/43 (recall was 38/43 after
    # the first development set alone).
    precision, recall, words = _slow_delivery_scores(*reviews[:2])
    print(f"\nslow delivery on the held-out labels: {words}")
    assert precision >= 0.9 and recall >= 0.9
