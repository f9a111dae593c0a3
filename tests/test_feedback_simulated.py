"""The feedback analysis against the simulator's true comment themes: lexicon precision and recall, planted
themes among the discovered topics, and the shares' intervals against the true shares."""

import re

import pytest
from sklearn.metrics import precision_score, recall_score

import study
import study.feedback
from study.data import comments
from study.feedback.discover import STOP_WORDS, match_planted
from study.feedback.lexicon import Lexicon


@pytest.fixture(scope="module")
def simulated():
    sim = study.simulate(rows=20_000, seed=11)
    return sim, study.feedback.analyse(sim.tickets, discovered_themes=8, seed=2026)


def signatures() -> dict[str, set[str]]:
    """Each theme's template words that no other theme's templates and no neutral remark use."""
    words = {t: {w for s in comments.TEMPLATES[t] for w in re.findall(r"\w+", s.lower())} - STOP_WORDS
             for t in comments.THEMES}
    neutral = {w for s in comments.NEUTRAL for w in re.findall(r"\w+", s.lower())}
    return {t: w - neutral - set().union(*(words[o] for o in comments.THEMES if o != t)) for t, w in words.items()}


def test_lexicon_precision_and_recall_against_true_themes(simulated):
    sim, result = simulated
    truth = sim.per_ticket.loc[result.themes.index]
    for theme in comments.THEMES:
        found, true = result.themes[theme], truth[f"theme_{theme}"].astype(bool)
        hits = int((found & true).sum())
        assert hits / found.sum() >= 0.9 and hits / true.sum() >= 0.9, theme
    # The tickets set aside as without a comment carry no true theme: no comment was lost.
    left_out = sim.per_ticket.drop(index=result.comments.index)
    assert len(left_out) == result.ledger.as_dict()["dropped"]["no comment (the customer wrote nothing)"]
    assert not left_out[[f"theme_{t}" for t in comments.THEMES]].any().any()


def test_discovered_topics_include_the_planted_themes(simulated):
    sim, result = simulated
    truth = sim.per_ticket.loc[result.comments.index, [f"theme_{t}" for t in comments.THEMES]]
    truth.columns = list(comments.THEMES)
    table = match_planted(result.discovery, truth, signatures())
    assert table["found"].all(), table


def test_share_intervals_against_the_true_themes_of_the_same_comments(simulated):
    sim, result = simulated
    truth = sim.per_ticket.loc[result.comments.index]
    for theme in comments.THEMES:
        # The lexicon's share estimates the share of comments truly carrying the theme (its own sample's share).
        assert result.shares[theme].covers(float(truth[f"theme_{theme}"].mean())), theme


def test_lexicon_precision_and_recall_against_the_tickets_of_each_true_theme(simulated):
    sim, _ = simulated
    # A lexicon that misses most ways of saying "slow" and reads "ok" as praise: its scores are far from 1.
    lexicon = Lexicon({"slow_reply": ("slow",), "praise": ("great", "ok")}, origin="a test lexicon")
    result = study.feedback.analyse(sim.tickets, discovered_themes=8, lexicon=lexicon)
    said = {f.text for f in result.findings(sim.truth) if "the lexicon finds" in f.text}
    assert len(said) == 2
    ids = result.comments["ticket_id"].astype(str)
    for theme in ("slow_reply", "praise"):
        true = ids.isin(sim.truth["comment_themes_by_ticket"][theme])
        found = result.themes[theme]
        precision, recall = precision_score(true, found), recall_score(true, found)
        words = theme.replace("_", " ")
        line = next(t for t in said if f"finds {words} with" in t)
        assert f"precision {precision:.2f} ({int((true & found).sum()):,} of the {int(found.sum()):,}" in line
        assert f"recall {recall:.2f} ({int((true & found).sum()):,} of the {int(true.sum()):,}" in line
    assert precision_score(ids.isin(sim.truth["comment_themes_by_ticket"]["praise"]), result.themes["praise"]) < 0.9
    assert recall_score(ids.isin(sim.truth["comment_themes_by_ticket"]["slow_reply"]), result.themes["slow_reply"]) < 0.9
    # Without the key, or without ticket ids, nothing is said about precision and recall.
    lacking = {k: v for k, v in sim.truth.items() if k != "comment_themes_by_ticket"}
    assert not any("the lexicon finds" in f.text for f in result.findings(lacking))
    no_ids = study.feedback.analyse(sim.tickets.drop(columns="ticket_id"), discovered_themes=8, lexicon=lexicon)
    assert not any("the lexicon finds" in f.text for f in no_ids.findings(sim.truth))
