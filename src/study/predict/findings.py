"""The repeat-purchase model in words: how well it ranks customers, what it is not, and what faster replies would do."""

from __future__ import annotations

from study.core import words as w
from study.core.findings import Finding, Findings, skipped
from study.core.results import Skipped
from study.predict.features import words as feature_words
from study.predict.randomized import ASSUMPTION as RANDOMIZED_ASSUMPTION
from study.predict.randomized import RandomizedRepeat
from study.predict.scenario_words import comparison

# Headings of 09's sections that show the evidence of a headline (the index links to them).
RANKING = "How well the models rank customers in months they have not seen"
SCENARIOS = "What faster first responses would do: scenarios from the causal model"
DIFFERENCE = (
    "The predictive model answers who is likely to buy again after a contact: it uses everything known at that "
    "moment, including what merely goes with loyalty (tier, spend, history, the survey answer), and is judged only "
    "by how well it ranks customers in months it has not seen. Its features and their importance say nothing about "
    "what would happen if service changed: a feature can predict because it stands for the kind of customer or case. "
    "The causal model answers what would change if service changed: it holds fixed only what drives both speed and "
    "buying again (category, channel, loyalty tier) and leaves out what speed itself moves (CSAT), so its slope is the "
    "change of the repeat-purchase rate per doubling of the wait, under the assumptions stated. The scenarios "
    "are read from the causal model, never from the predictive one."
)


def assumptions(result) -> list[str]:
    """What the validation and the scenarios assume, in words about this data."""
    out = [
        ("The model is judged on later months it never saw, on customers it never saw: the estimate of how well it "
         "ranks holds for next months only as far as they resemble the test months."),
        ("Every feature is known at the moment of the contact: the ticket itself, the survey answer where one was "
         "given, and the customer's earlier tickets; nothing from the follow-up window or from later tickets."),
        ("The outcome of every test ticket is known: its follow-up window had closed when the data was drawn (a "
         "window still open would count customers who will yet buy as not returning)."),
        ("Permutation importance is predictive, not causal: it says how much the ranking relies on a feature, not what "
         "changing that feature would do."),
    ]
    if result.scenarios is not None and not isinstance(result.scenarios, Skipped):
        held = ", ".join(c.replace("_", " ") for c in result.scenarios.controls) or "nothing"
        out += [
            ("Scenarios assume no unmeasured confounding: given " + held + ", nothing else drives both how fast a "
             "ticket is answered and whether the customer buys again."),
            ("Scenarios assume the effect is linear in doublings of the wait: each halving moves the repeat-purchase "
             "probability by the same amount, also beyond the waits seen in the data."),
            ("Scenarios assume faster replies (halved, or an SLA cap) would change only speed: not who contacts service, "
             "not resolution, not the mix of cases; the observed rate is taken as known."),
            ("The naive slope beside the adjusted one holds nothing fixed: it is shown to say how much the adjustment "
             "matters, not as an estimate of the effect."),
        ]
        if isinstance(result.scenarios.randomized, RandomizedRepeat):
            out.append(RANDOMIZED_ASSUMPTION + (" Its ratio is a total effect of speed (resolution not held fixed), "
                                                "read on every ticket of the customers in one arm."))
    return out


def _auc(estimate) -> str:
    return f"{estimate.value:.3f} ({estimate.ci_level:.0%} CI {estimate.ci_low:.3f} to {estimate.ci_high:.3f})"


def findings(result, truth: dict | None = None) -> Findings:
    """The findings of :class:`study.predict.result.RepeatModel`, the headline first."""
    out = Findings()
    by_name = {e.name: e for e in result.estimates}
    if result.skipped:
        out.append(skipped("the predictive model of repeat purchase", result.skipped, headline=True))
    else:
        boosted, logistic = by_name["repeat_auc_boosted"], by_name["repeat_auc_logistic"]
        months = result.split.test_months
        out.append(Finding(
            (f"On the test months ({months[0]} to {months[-1]}; {len(result.test_index):,} tickets of customers not seen "
             f"before), the gradient-boosted model ranks a ticket followed by a purchase above one that was not with "
             f"AUC {_auc(boosted)}; the logistic baseline reaches {_auc(logistic)} (0.5 is chance, 1 perfect)."),
            (boosted.name, logistic.name), headline=True, section=RANKING))
        # Right after the AUC it casts doubt on.
        out += [Finding(f"**Possible leak.** {w.text(outperformer_words(n, auc, result.baseline_auc))}.", kind="warning",
                        headline=True, section=RANKING) for n, auc in result.outperformers.items()]
        share = by_name["repeat_first_tenth_share_boosted"]
        out.append(Finding(
            (f"The 10% of test contacts the model ranks least likely to be followed by a purchase hold "
             f"{w.pct(share.value)} of those after which the customer did not buy again ({share.ci_level:.0%} CI "
             f"{w.pct(share.ci_low)} to {w.pct(share.ci_high)}); picking 10% at random would find 10%."),
            (share.name,), headline=True, section="Gains: who not to lose"))
        brier = by_name["repeat_brier_boosted"]
        base = brier.extra["base_rate_brier"]
        out.append(Finding(
            (f"Calibration: Brier score {brier.value:.4f} ({brier.ci_level:.0%} CI {brier.ci_low:.4f} to {brier.ci_high:.4f}) "
             f"against {base:.4f} for predicting the test months' overall rate to everyone "
             f"(lower is better); the calibration curve shows how predicted and observed rates agree by group."),
            (brier.name,)))
        if not isinstance(result.importance, Skipped) and len(result.importance):
            top = result.importance.index[:3]
            out.append(Finding(
                f"The ranking relies most on {', '.join(w.text(t) for t in top)} (permutation importance on the test "
                 "months). This is predictive importance, not an effect: it does not say what changing them would do."))
        out.append(_features(result))
        out += _truth_auc(result, truth, boosted)
    out += _scenarios(result, truth)
    out.append(Finding(DIFFERENCE))
    return out


def outperformer_words(name: str, auc: float, baseline: float) -> str:
    """A requested column that ranks better alone than the built-in features together, in words."""
    return (f"{feature_words(name)} predicts better on its own than everything known at the contact: alone it ranks the "
            f"training months with AUC {auc:.3f}, while the logistic model on the built-in features reaches {baseline:.3f} "
            f"on the test months; check it is not recorded after the contact")


def _features(result) -> Finding:
    chosen = result.features
    text = (f"The models use {len(chosen.names)} feature{'s' if len(chosen.names) != 1 else ''} known at the contact: "
            f"{', '.join(w.text(feature_words(n)) for n in chosen.names)}.")
    if chosen.left_out:
        text += " Left out: " + "; ".join(w.text("{} ({})".format(*n.split(": ", 1))) for n in chosen.left_out) + "."
    return Finding(text)


def _truth_auc(result, truth: dict | None, boosted) -> list[Finding]:
    if not truth or "repeat_auc_ceiling_at_contact" not in truth:
        return []
    attainable, oracle = truth["repeat_auc_ceiling_at_contact"], truth.get("repeat_auc_ceiling")
    gap = attainable - boosted.value
    text = (f"Simulated data: the true probabilities given what is known at the contact reach AUC {attainable:.3f} over "
            f"all tickets (the ceiling any model of these features can attain); the boosted model's {boosted.value:.3f} "
            f"on the test months is {_gap(gap)} (the test months are a sample: within about two standard errors of the "
            "ceiling is as good as it gets).")
    if oracle is not None:
        text += (f" The oracle's {oracle:.3f} uses what no model sees: the CSAT a customer who did not answer would "
                 "have given, and each customer's own propensity to buy, known here only through spend and tier.")
    return [Finding(text, (boosted.name,), kind="truth")]


def _gap(gap: float) -> str:
    if abs(gap) < 0.0005:
        return "level with it"
    return f"{abs(gap):.3f} {'below' if gap > 0 else 'above'} it"


def _scenarios(result, truth: dict | None) -> list[Finding]:
    found = result.scenarios
    if found is None:
        return []
    if isinstance(found, Skipped):
        return [skipped(found.section, found.reason)]
    out = []
    for key in found.changes:
        change, rate = found.changes[key], found.rates[key]
        what = ("every first response were twice as fast" if key == "halved"
                else f"no first response took longer than {found.sla_minutes:g} minutes "
                     f"({found.shift[key]['moved']:,} of {found.slope.n:,} tickets would be faster)")
        text = (f"If {what}, the adjusted causal model puts the repeat-purchase rate at {w.pct(rate.value, 2)} "
                f"({rate.ci_level:.0%} CI {w.pct(rate.ci_low, 2)} to {w.pct(rate.ci_high, 2)}) against "
                f"{w.pct(found.observed, 2)} observed: a change of {w.points(change.value, 2)} ({change.ci_level:.0%} CI "
                f"{w.points(change.ci_low, 2)[:-3]} to {w.points(change.ci_high, 2)}), assuming no unmeasured confounding "
                "of speed.")
        out.append(Finding(text, (change.name, rate.name), headline=key == "sla", section=SCENARIOS))
        per = (truth or {}).get("repeat_total_per_doubling_response_time")
        if per is not None:
            true = per * change.extra["mean_doublings"]
            out.append(Finding(f"Simulated data: the true change is {w.points(true, 2)}; the interval "
                               f"{w.covers_words(change, true)} it.", (change.name,), kind="truth"))
    out += [Finding(f"An SLA of {found.sla_minutes:g} minutes: {w.text(reason)}.") for reason in found.unchanged.values()]
    return out + comparison(found, truth)
