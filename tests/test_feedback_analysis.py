"""The feedback analysis: shares against statsmodels, associations against a hand-made fit, planted themes
found by lexicon and by discovery, degenerate data skipped with reasons."""

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

import study
import study.feedback
from study.core.results import Estimate, Skipped
from study.feedback import association, prevalence
from study.feedback.discover import MIN_COMMENTS, discover, match_planted, split_sentences
from study.stats.cluster import cluster_robust_cov

THEMES = ("slow_reply", "unresolved", "rude_agent", "refund_delay", "praise")
# A stand-in for the simulator's templated comments: a sentence per theme present, neutral or negated decoys otherwise.
TEMPLATES = {
    "slow_reply": ("I waited hours for a reply.", "The reply was very slow.", "It took ages to get a response."),
    "unresolved": ("My problem is still unresolved.", "The issue was never fixed."),
    "rude_agent": ("The agent was rude.", "The person I spoke to was impolite."),
    "refund_delay": ("Still waiting for my refund.", "The refund is taking forever."),
    "praise": ("Great service, thank you!", "Excellent support.", "Very friendly and helpful agent."),
}
NEUTRAL = ("Ok.", "Had a question about my order.", "The reply was not slow at all.", "The agent was not rude.")
SIGNATURES = {"slow_reply": ("slow", "waited", "ages", "hours"), "unresolved": ("unresolved", "fixed", "not_fixed"),
              "rude_agent": ("rude", "impolite"), "refund_delay": ("refund", "forever"),
              "praise": ("great", "excellent", "helpful", "friendly", "thank")}


def tickets(n: int = 4000, seed: int = 7, comment_share: float = 0.6) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tickets whose comments carry themes that depend on the case, and the true themes."""
    rng = np.random.default_rng(seed)
    minutes = np.exp(rng.normal(np.log(90), 1.3, n))
    resolved = rng.random(n) < 0.8
    rude = rng.random(n) < 0.15
    refund = rng.random(n) < 0.2
    frame = pd.DataFrame({
        "customer_id": [f"c{i}" for i in rng.integers(0, n // 2, n)],
        "category": rng.choice(["billing", "shipping", "returns"], n),
        "channel": rng.choice(["chat", "email"], n),
        "loyalty_tier": rng.choice(["basic", "gold"], n),
        "first_response_minutes": minutes,
        "resolved": resolved,
    })
    chance = {"slow_reply": 0.9 / (1 + np.exp(-2 * (np.log2(minutes / 60) - 1.5))),
              "unresolved": np.where(resolved, 0.0, 0.7), "rude_agent": np.where(rude, 0.6, 0.0),
              "refund_delay": np.where(refund & ~resolved, 0.8, 0.0),
              "praise": np.where(resolved & (minutes < 60), 0.6, 0.0)}
    writes = rng.random(n) < comment_share
    truth = pd.DataFrame({t: writes & (rng.random(n) < chance[t]) for t in THEMES})
    truth["praise"] &= ~truth[list(THEMES[:4])].any(axis=1)
    comments = []
    for i in range(n):
        if not writes[i]:
            comments.append(None)
            continue
        parts = [rng.choice(TEMPLATES[t]) for t in THEMES if truth.at[i, t]]
        comments.append(" ".join(parts) if parts else rng.choice(NEUTRAL))
    frame["comment"] = comments
    effect = -0.8 * truth["slow_reply"] - 1.0 * truth["unresolved"] + 0.5 * truth["praise"]
    frame["csat"] = np.clip(np.round(3.8 + effect + rng.normal(0, 0.8, n)), 1, 5).astype("Int64")
    frame.loc[rng.random(n) < 0.2, "csat"] = pd.NA
    frame["repeat_purchase"] = rng.random(n) < 0.6 - 0.1 * truth["unresolved"]
    return frame, truth


@pytest.fixture(scope="module")
def planted():
    frame, truth = tickets()
    return frame, truth, study.feedback.analyse(frame, alpha=0.05, discovered_themes=8, seed=2026)


@pytest.mark.parametrize("k, n", [(0, 10), (3, 10), (10, 10), (1, 1000), (517, 1000), (0, 1)])
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_wilson_matches_statsmodels(k, n, alpha):
    assert prevalence.wilson(k, n, alpha) == pytest.approx(proportion_confint(k, n, alpha, method="wilson"), abs=1e-12)


def test_lexicon_recovers_planted_themes(planted):
    frame, truth, result = planted
    found, true = result.themes, truth.loc[result.themes.index]
    for theme in THEMES:
        hits = (found[theme] & true[theme]).sum()
        assert hits / found[theme].sum() >= 0.9 and hits / true[theme].sum() >= 0.9, theme
    # Only comments are counted; tickets without one are in the ledger under their reason.
    assert result.ledger.rows_in == len(frame)
    assert result.ledger.as_dict()["dropped"] == {"no comment (the customer wrote nothing)": int(frame["comment"].isna().sum())}


def test_shares_and_groups_count_comments(planted):
    frame, _, result = planted
    e = result.shares["slow_reply"]
    k, n = int(result.themes["slow_reply"].sum()), len(result.themes)
    assert (e.value, e.n) == (k / n, n)
    assert (e.ci_low, e.ci_high) == pytest.approx(proportion_confint(k, n, 0.05, method="wilson"))
    long = result.by_band
    band = prevalence.response_band(result.comments["first_response_minutes"])
    slow = long[(long.theme == "slow_reply") & (long.group == "over 24 h")].iloc[0]
    inside = band == "over 24 h"
    assert slow["comments"] == inside.sum() and slow["with theme"] == result.themes.loc[inside, "slow_reply"].sum()
    # The planted dependence shows: slow replies are named far more after a long wait than after a fast one.
    fast = long[(long.theme == "slow_reply") & (long.group == "under 1 h")].iloc[0]
    assert slow["CI low"] > fast["CI high"]
    unresolved = result.resolution_table()
    assert list(unresolved.columns) == ["resolved", "unresolved"]


def test_association_matches_a_direct_least_squares_fit(planted):
    frame, _, result = planted
    e = result.associations["csat"]["slow_reply"]
    rows = result.comments[result.comments["csat"].notna()]
    X = association.design(rows, result.themes.loc[rows.index, "slow_reply"], ["category", "channel", "loyalty_tier"])
    y = rows["csat"].astype(float).to_numpy()
    b = np.linalg.lstsq(X.to_numpy(), y, rcond=None)[0]
    codes = pd.factorize(rows["customer_id"])[0]
    se = np.sqrt(cluster_robust_cov(X.to_numpy(), y - X.to_numpy() @ b, codes)[1, 1])
    assert e.value == pytest.approx(b[1], rel=1e-9) and e.se == pytest.approx(se, rel=1e-9)
    assert e.n == len(rows)
    # The planted effect (-0.8 before rounding and clipping) lies within 4 standard errors.
    assert abs(e.value - (-0.8)) < 4 * e.se + 0.15


def test_holm_and_bh_across_themes(planted):
    _, _, result = planted
    fitted = [e for e in result.associations["csat"].values() if isinstance(e, Estimate)]
    p = np.array([e.p_value for e in fitted])
    m = len(p)
    order = np.argsort(p)
    # Holm's step-down, by hand: sorted p times (m - rank), made monotone, capped at 1.
    holm = np.minimum(1, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    bh = np.minimum.accumulate((p[order] * m / np.arange(1, m + 1))[::-1])[::-1].clip(max=1)
    assert [e.extra["p_holm"] for e in np.array(fitted)[order]] == pytest.approx(holm)
    assert [e.extra["p_bh"] for e in np.array(fitted)[order]] == pytest.approx(bh)


def test_discovered_topics_include_the_planted_themes(planted):
    frame, truth, result = planted
    table = match_planted(result.discovery, truth.loc[result.comments.index], SIGNATURES)
    assert table["found"].all(), table
    topics = result.topics()
    assert list(topics.columns) == ["top terms", "comments", "examples"] and len(topics) == 8
    assert topics["comments"].sum() <= len(result.comments)


def test_discovery_is_fixed_by_its_seed_and_topics_are_not_chance(planted):
    frame, truth, result = planted
    again = discover(result.comments["comment"], 8, 2026)
    assert np.array_equal(again.weights, result.discovery.weights)
    # Shuffled truth: no topic goes with a theme, so the check can fail.
    shuffled = truth.loc[result.comments.index].sample(frac=1, random_state=1).set_axis(result.comments.index)
    assert not match_planted(result.discovery, shuffled, SIGNATURES)["found"].any()


def test_characters_for_chinese_and_sentences_split():
    assert split_sentences(pd.Series(["Slow. Rude!", "送餐太慢。菜凉了"])).tolist() == ["Slow.", "Rude!", "送餐太慢。", "菜凉了"]
    rng = np.random.default_rng(3)
    comments = pd.Series([rng.choice(["送餐太慢了", "等了两个小时", "味道很好吃", "包装很好"]) + rng.choice(["！", "。"])
                          for _ in range(120)])
    found = discover(comments, 2, 1)
    assert found.analyzer == "characters"
    assert all(len(term) in (2, 3) for terms in found.terms for term in terms)


def test_many_comments_are_discovered_in_a_seeded_sample_that_the_page_states(monkeypatch):
    frame, _ = tickets(1200, seed=4)
    monkeypatch.setattr(study.feedback.discover, "MAX_COMMENTS", 300)
    result = study.feedback.analyse(frame, discovered_themes=4, seed=11)
    found, comments = result.discovery, result.comments["comment"]
    assert found.sampled and found.sampled_from == len(comments) > 300 == len(found.index) == len(found.weights)
    assert found.index.isin(comments.index).all() and found.index.is_monotonic_increasing
    assert found.topics["comments"].sum() <= 300
    stated = " ".join(result.assumptions())
    assert f"random sample of 300 of the {len(comments):,} comments" in stated
    # The sample alone decides the topics: the same comments given directly give the same topics.
    alone = discover(comments.loc[found.index], 4, 11)
    assert not alone.sampled and alone.terms == found.terms and np.array_equal(alone.weights, found.weights)
    again = study.feedback.analyse(frame, discovered_themes=4, seed=11).discovery
    other = study.feedback.analyse(frame, discovered_themes=4, seed=12).discovery
    assert again.index.equals(found.index) and not other.index.equals(found.index)
    monkeypatch.undo()
    full = study.feedback.analyse(frame, discovered_themes=4, seed=11)
    assert not full.discovery.sampled and "random sample" not in " ".join(full.assumptions())


def test_findings_words_and_results_file(planted, tmp_path):
    _, _, result = planted
    findings = result.findings({"comment_theme_share": {"slow_reply": result.shares["slow_reply"].value}})
    texts = " ".join(f.text for f in findings)
    assert findings[0].headline and "carry a comment" in findings[0].text
    assert "an association, not the effect" in texts and "0.0 (0.0 to 0.0)" not in texts
    assert any(f.kind == "truth" and "covers" in f.text for f in findings)
    assert any("self-selected" in n for n in result.notes)
    payload = study.save(result, tmp_path, findings)
    written = json.loads((tmp_path / "10_feedback.json").read_text())
    assert written["rows"] == payload["rows"] and written["analysis"] == "10_feedback"
    assert {e["name"] for e in written["estimates"]} >= {"feedback_share_praise", "feedback_csat_slow_reply"}


def test_comment_text_is_escaped_where_shown():
    frame, _ = tickets(400, seed=2)
    frame.loc[frame["comment"].notna().idxmax(), "comment"] = "<script>alert(1)</script> The reply was very slow. " + "x" * 200
    result = study.feedback.analyse(frame, discovered_themes=3)
    from study.report.display import display_table
    from study.report.html_table import table_html
    from study.core.tables import column_kinds
    topics = result.topics()
    html = table_html(display_table(topics, percent=[], digits=3), column_kinds(topics))
    assert "<script>" not in html
    assert all(len(e) <= 80 for cell in topics["examples"] for e in cell.split(" | "))


def test_figure_of_prevalence_by_band(planted):
    import matplotlib.pyplot as plt
    fig = study.feedback.plots.prevalence_by_band(planted[2])
    assert len(fig.axes[0].get_xticklabels()) == 4
    plt.close(fig)


def test_no_comment_column_or_no_comment_is_skipped():
    frame, _ = tickets(200)
    result = study.feedback.analyse(frame.drop(columns="comment"))
    assert "no comment column" in result.skipped
    assert result.findings()[0].kind == "skipped" and isinstance(result.table(), Skipped)
    assert result.rows == {"in": 200, "used": 0, "dropped": {"no comment column": 200}}
    assert result.notes == ["feedback analysis: skipped, " + result.skipped]
    assert result.assumptions() and "Nothing was analysed" in result.assumptions()[0]
    empty = study.feedback.analyse(frame.assign(comment=["  ", None] * 100))
    assert "no ticket has a comment" in empty.skipped and empty.rows["dropped"] == {
        "no comment (the customer wrote nothing)": 200}
    assert isinstance(empty.topics(), Skipped)


def test_few_comments_skip_discovery_and_a_missing_theme_or_csat_is_said():
    frame, _ = tickets(120, comment_share=0.3)
    frame = frame.drop(columns="csat")
    frame["comment"] = frame["comment"].str.replace("refund", "money", regex=False)
    result = study.feedback.analyse(frame)
    assert len(result.comments) < MIN_COMMENTS
    assert isinstance(result.topics(), Skipped) and "topic discovery needs" in result.topics().reason
    notes = " ".join(result.notes)
    assert "theme refund delay: skipped, no comment names it" in notes
    assert "association of themes with CSAT: skipped, the data has no CSAT" in notes
    assert all(f.kind == "skipped" for f in result.findings() if "refund delay" in f.text)


def test_parameters_are_checked():
    frame, _ = tickets(100)
    with pytest.raises(ValueError, match="alpha"):
        study.feedback.analyse(frame, alpha=1.5)
    with pytest.raises(ValueError, match="discovered_themes"):
        study.feedback.analyse(frame, discovered_themes=1)


def test_tickets_without_a_customer_are_clusters_of_their_own():
    frame, truth = tickets(600, seed=5)
    frame.loc[frame.index[:150], "customer_id"] = None
    rows = frame[frame["comment"].notna() & frame["csat"].notna()]
    e = association.theme_effect(rows, truth.loc[rows.index, "slow_reply"], "csat", 0.05, "x", "slow reply")
    codes = pd.factorize(rows["customer_id"])[0]
    codes[codes < 0] = codes.max() + 1 + np.arange((codes < 0).sum())
    X = association.design(rows, truth.loc[rows.index, "slow_reply"], ["category", "channel", "loyalty_tier"]).to_numpy()
    y = rows["csat"].astype(float).to_numpy()
    b = np.linalg.lstsq(X, y, rcond=None)[0]
    assert e.se == pytest.approx(np.sqrt(cluster_robust_cov(X, y - X @ b, codes)[1, 1]), rel=1e-9)


def test_findings_say_each_theme_once_and_leave_the_groups_to_the_tables(planted):
    """A page of findings a reader can scan: the headline, at most one finding per theme, and signed differences."""
    _, _, result = planted
    findings = [f for f in result.findings() if f.kind == "finding"]
    themes = [t for t, e in result.shares.items() if e.extra["comments with the theme"] > 0]
    assert findings[0].headline and len(findings) <= 1 + len(themes)
    for theme in themes:
        words = theme.replace("_", " ")
        assert sum(f.text.lower().startswith(f"**{words}.**") for f in findings) == 1, theme
    assert not any(" lower (" in f.text or " higher (" in f.text for f in findings)
