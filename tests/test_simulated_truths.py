"""The simulator's per-ticket truths: comments and their themes, and the repeat-purchase probabilities.

The predictive model is measured against ``repeat_probability_at_contact`` (the best probability
knowable at contact) and the feedback lexicon against the comments' true themes, so both truths are
checked here against independent references: scipy's truncated normal, a brute-force posterior, the
observed outcomes (a Bayes probability is calibrated) and the comments' own text.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from study.data import ceilings, comments, simulate


@pytest.fixture(scope="module")
def simulated():
    return simulate.simulate(40_000, seed=11)


def test_the_truncated_normal_mean_is_scipys_far_into_either_tail():
    low = np.array([-1.0, 2.0, -3.0, 30.0, -31.0, -40.0, 5.0, -0.1, -8.0])
    high = np.array([1.0, 3.0, -2.0, 31.0, -30.0, 40.0, 50.0, 0.2, 9.0])
    assert ceilings.truncated_normal_mean(low, high) == pytest.approx(stats.truncnorm.mean(low, high), abs=1e-12)


def test_the_propensity_posterior_is_the_brute_force_integral():
    spread, noise, slope = simulate.REPEAT_CUSTOMER_SPREAD, simulate.PRE_SPEND_NOISE_SD, simulate.PRE_SPEND_PER_PROPENSITY
    spend = np.array([5.0, 55.0, 120.0, 800.0, 90.0])
    tier = np.array(["bronze", "bronze", "silver", "gold", "gold"])
    got = ceilings.propensity_given(spend, np.array([simulate.TIERS.index(t) for t in tier]), slope, noise, spread)
    for value, s, t in zip(got, spend, tier):
        residual = np.log(s) - 4.0 - 0.4 * simulate.TIERS.index(t)
        likelihood = lambda p: stats.norm.pdf(residual, slope * p, noise)  # noqa: E731
        mass = integrate.quad(likelihood, -spread, spread)[0]
        assert value == pytest.approx(integrate.quad(lambda p: p * likelihood(p), -spread, spread)[0] / mass, abs=1e-9)


def test_the_probability_knowable_at_contact_is_calibrated(simulated):
    # A conditional expectation is calibrated: in each tenth of it, the observed rate is its mean.
    frame = pd.DataFrame({"p": simulated.per_ticket["repeat_probability_at_contact"],
                          "y": simulated.tickets["repeat_purchase"].astype(float)})
    frame["tenth"] = pd.qcut(frame["p"], 10, labels=False)
    for _, group in frame.groupby("tenth"):
        se = np.sqrt(group["p"].mean() * (1 - group["p"].mean()) / len(group))
        assert abs(group["y"].mean() - group["p"].mean()) < 3.5 * se
    assert frame["p"].between(0, 1).all()


def test_the_ceilings_order_as_they_should(simulated):
    truth = simulated.truth
    assert 0.5 < truth["repeat_auc_ceiling_at_contact"] < truth["repeat_auc_ceiling"] < 1
    from sklearn.metrics import roc_auc_score

    y = simulated.tickets["repeat_purchase"]
    assert truth["repeat_auc_ceiling"] == pytest.approx(roc_auc_score(y, simulated.per_ticket["repeat_probability"]), abs=1e-12)
    assert truth["repeat_auc_ceiling_at_contact"] == pytest.approx(
        roc_auc_score(y, simulated.per_ticket["repeat_probability_at_contact"]), abs=1e-12)


def test_each_comment_says_its_true_themes_and_no_others(simulated):
    text = simulated.tickets["comment"]
    wrote = text.notna()
    assert simulated.truth["comment_share"] == pytest.approx(wrote.mean())
    for theme in comments.THEMES:
        truth = simulated.per_ticket[f"theme_{theme}"]
        says = text.fillna("").map(lambda c: any(t in c for t in comments.TEMPLATES[theme]))  # noqa: B023
        assert (says == truth).all(), theme
        assert not (truth & ~wrote).any()
        assert simulated.truth["comment_theme_share"][theme] == pytest.approx(truth[wrote].mean())


def test_themes_follow_the_experience(simulated):
    tickets, themes = simulated.tickets, simulated.per_ticket
    wrote = tickets["comment"].notna()
    slow = tickets["first_response_minutes"] > 240
    assert themes.loc[wrote & slow, "theme_slow_reply"].mean() > 3 * themes.loc[wrote & ~slow, "theme_slow_reply"].mean()
    assert themes.loc[wrote & tickets["resolved"], "theme_unresolved"].sum() == 0
    assert themes.loc[wrote & ~tickets["resolved"], "theme_unresolved"].mean() == pytest.approx(0.7, abs=0.05)
    # Respondents write more often than the others (half against a tenth).
    answered = tickets["csat"].notna()
    assert wrote[answered].mean() == pytest.approx(comments.COMMENT_RESPONDENTS, abs=0.02)
    assert wrote[~answered].mean() == pytest.approx(comments.COMMENT_OTHERS, abs=0.02)


def test_comments_leave_every_other_column_as_it_was(monkeypatch):
    # The comments draw from a stream of their own: without them every other column is the same.
    with_comments = simulate.simulate(2_000, seed=5).tickets

    def nobody_writes(seed, answered, *case):
        return np.full(len(answered), None, dtype=object), pd.DataFrame({f"theme_{t}": np.zeros(len(answered), bool)
                                                                          for t in comments.THEMES})

    monkeypatch.setattr(comments, "draw", nobody_writes)
    without = simulate.simulate(2_000, seed=5).tickets
    assert without["comment"].isna().all() and with_comments["comment"].notna().any()
    pd.testing.assert_frame_equal(with_comments.drop(columns="comment"), without.drop(columns="comment"))


def test_truth_names_the_tickets_of_each_theme(simulated):
    by_theme = simulated.truth["comment_themes_by_ticket"]
    for theme in comments.THEMES:
        flagged = simulated.tickets.loc[simulated.per_ticket[f"theme_{theme}"], "ticket_id"]
        assert by_theme[theme] == flagged.tolist()
