"""Terms of art in plain words: the hover text and the Glossary section of every page, and plain names for
the method codes the analyses record.

A reader who does not know "CUPED" or "Holm" should not have to leave the page: the first use of each term in
a page's body text gets its definition on hover and a link to the page's Glossary, which lists the terms that
page uses.
"""

from __future__ import annotations

import html
import re
from typing import Any

# Plain names of method codes live with the vocabulary every wing shares: the A/B tables use them too.
from study.core.methods import METHODS, method_name  # noqa: F401  (this module's public names)

# Term of art -> one plain sentence. Every term any report or the index uses belongs here.
TERMS: dict[str, str] = {
    "confidence interval": "A range made by a method that captures the true value in 95% of repeated samples (at the "
                           "stated level); a narrow interval means a precise estimate.",
    "CI": "Confidence interval: a range made by a method that captures the true value in 95% of repeated samples (at "
          "the stated level).",
    "p-value": "The chance of a difference at least this large if there were truly none; small values (below 0.05) "
               "mean chance alone is an unlikely explanation. It is not the chance that the finding is wrong.",
    "percentage point": "The plain difference between two percentages: from 40% to 42% is +2 percentage points (pp), "
                        "a relative rise of 5%.",
    "SE": "Standard error: how much an estimate would vary from sample to sample; a 95% interval reaches about "
          "1.96 standard errors either side of the estimate.",
    "SD": "Standard deviation: how far values typically lie from their mean.",
    "risk difference": "The difference between two groups' chances of an event (RD), in percentage points.",
    "risk ratio": "One group's chance of an event divided by another's; 1 means no difference.",
    "CSAT": "Customer satisfaction score: the 1-5 answer to the survey after a ticket.",
    "SLA": "Service-level agreement: the promised time within which a ticket gets its first reply.",
    "relative lift": "The difference between arms as a share of the control arm's value (+4% means 4% higher than control).",
    "CUPED": "A variance reduction for experiments: each unit's outcome is adjusted by its pre-experiment value of the "
             "same measure, which narrows the interval without moving the expected effect.",
    "Holm": "Holm's correction of p-values for testing several comparisons at once: it keeps the chance of any false "
            "finding among them at or below 5% (the stated level).",
    "Benjamini-Hochberg": "A correction of p-values for many comparisons (BH) that keeps the expected share of false "
                          "findings among those called significant at or below 5%; less strict than Holm.",
    "HC1": "Heteroskedasticity-robust standard errors (White's, with a small-sample factor): valid when the spread "
           "of outcomes differs between units.",
    "delta method": "A way to get the standard error of a ratio or other function of estimates from their own "
                    "standard errors, by a first-order approximation.",
    "Welch": "Welch's t-test compares two means without assuming the two groups have the same spread.",
    "Wilson": "The Wilson interval for a share: stays within 0-100% and behaves well for small counts or shares near 0 or 1.",
    "chi-square": "A test of whether observed counts (or spread) match what chance alone would give, e.g. units per arm "
                  "against the planned split.",
    "sample ratio mismatch": "An experiment whose arms hold a different share of units than planned (SRM): a sign that "
                             "assignment or logging broke, so the comparison cannot be trusted.",
    "SMD": "Standardized mean difference: the gap between arms' means in units of their standard deviation; below 0.1 "
           "counts as balanced.",
    "MDE": "Minimum detectable effect: the smallest true effect the experiment had an 80% chance to detect.",
    "Mann-Whitney": "A rank test: whether values in one arm tend to be larger than in the other, robust to extreme values.",
    "Yuen": "Yuen's test compares trimmed means (the extremes of each arm left out), robust to heavy tails.",
    "winsorized": "Extreme values capped at a high percentile (the 99th in the A/B reports) before comparing means.",
    "bootstrap": "Uncertainty from resampling the data many times and recomputing the estimate, without a formula.",
    "Bayesian": "A reading that states the probability that one arm is better, given the data and a prior belief "
                "(here a flat prior).",
    "expected loss": "In the Bayesian reading: how much is given up, on average, by choosing an arm if it is in fact worse.",
    "Lee bounds": "The range the effect on those who would answer under either arm can lie in, found by trimming the "
                  "arm with more respondents; it assumes the treatment moves answering in one direction only.",
    "confidence sequence": "An interval valid at every look at the data, so an experiment can be checked daily and "
                           "stopped early without inflating false alarms.",
    "fixed effects": "Indicators that hold a group (an agent, a team, a week) constant, so comparisons are made within it.",
    "clustered": "Standard errors that treat all rows of one customer (or team) as related, not as independent "
                 "observations; they are wider and honest about repeated rows.",
    "confounder": "A factor that drives both the cause and the outcome, so it can create an association that is not an effect.",
    "robustness value": "How strong a hidden confounder would have to be, as the share of remaining variation it "
                        "explains in both the driver and the outcome, to erase the estimate (Cinelli-Hazlett).",
    "E-value": "How strongly a hidden confounder would have to be associated with both exposure and outcome (as a risk "
               "ratio) to explain away the association (VanderWeele-Ding).",
    "instrument": "A source of variation in the cause (here the randomized SLA) that affects the outcome only through "
                  "that cause; it turns an association into an effect under stated assumptions.",
    "Anderson-Rubin": "A confidence set for an instrumental-variable estimate that stays valid when the instrument is weak.",
    "ordered logit": "A model for ordered answers (CSAT 1-5) that respects their order without treating them as "
                     "evenly spaced numbers.",
    "marginal effect": "How much the predicted probability (or value) changes with a one-unit change of a driver, "
                       "averaged over the data.",
    "logit": "A model for a yes/no outcome that keeps predicted probabilities between 0 and 1.",
    "linear probability model": "A least-squares regression of a yes/no outcome (LPM): its coefficients read directly "
                                "as percentage-point differences.",
    "spline": "A smooth flexible curve fitted in pieces, so a relationship need not be a straight line.",
    "Shapley": "A fair split of the explained variation (R²) among drivers, averaging each driver's contribution over "
               "every order in which they could be added.",
    "R²": "The share of the outcome's variation a model accounts for (0 to 1).",
    "inverse probability weighting": "Weighting each respondent by one over their chance of answering (IPW), so those "
                                     "unlike most respondents count more and the answers stand for everyone.",
    "variance inflation factor": "How much a coefficient's variance grows because the driver is correlated with the "
                                 "others (VIF); above 5-10 warns of collinearity.",
    "residual": "What a model leaves unexplained: the observed value minus the fitted one.",
    "mediation": "Splitting an association into the part that runs through an intermediate variable (the mediator) "
                 "and the rest.",
    "hazard ratio": "How much faster an event (here the next purchase) happens in one group than another at any "
                    "moment (HR); above 1 means sooner.",
    "Cox": "The Cox proportional-hazards model: compares how fast an event happens, assuming the ratio is the same "
           "over time.",
    "Schoenfeld": "Schoenfeld residuals test whether a hazard ratio stays constant over time (the Cox model's assumption).",
    "Kaplan-Meier": "The share still without the event over time, allowing for customers observed for different lengths of time.",
    "RMST": "Restricted mean survival time: the average time to the event within a fixed horizon, a difference in "
            "days rather than a ratio.",
    "AUC": "Area under the ROC curve: the chance the model ranks a random customer who repeats above one who does not "
           "(0.5 = guessing, 1 = perfect).",
    "Brier": "The Brier score: the mean squared gap between predicted probabilities and what happened (lower is better).",
    "calibration": "Whether predicted probabilities match observed shares (of customers predicted at 30%, do 30% repeat?).",
    "difference-in-differences": "The change among those affected minus the change among those not (yet) affected "
                                 "over the same time (DiD); it assumes both would otherwise have moved in parallel.",
    "parallel trends": "The assumption behind difference-in-differences: without the change, both groups' outcomes "
                       "would have moved alike.",
    "staggered": "A rollout in which teams adopt the change at different dates.",
    "interrupted time series": "Comparing the level and trend of a series after a change with its path before (ITS).",
    "Newey-West": "Standard errors that allow neighbouring weeks to be alike (autocorrelation), unlike plain ones.",
    "EWMA": "Exponentially weighted moving average chart: a running average that gives recent weeks more weight and "
            "detects small sustained shifts.",
    "Shewhart": "The classic control chart: a week is a signal if its value falls outside the control limits.",
    "control limits": "The band around the center of a control chart within which weekly values vary by chance alone "
                      "(about 3 standard errors).",
    "Laney": "A control chart whose limits widen for ordinary week-to-week variation beyond sampling (overdispersion), "
             "so large weekly volumes do not flag every week.",
    "ANOVA": "Analysis of variance: here a test of whether weekly values differ by more than sampling alone explains.",
    "TF-IDF": "Term frequency-inverse document frequency: weights words that are common in a comment but rare overall.",
    "NMF": "Non-negative matrix factorization: finds groups of words that tend to appear together (topics).",
    "lexicon": "A fixed list of words and phrases per theme; a comment belongs to a theme if it uses one of them.",
    "observational": "Data in which nobody assigned the cause: differences are associations, not proven effects.",
    "randomized": "Assignment by chance, so the arms differ only by the treatment and differences are its effect.",
}

# Other spellings of a term (abbreviations, possessives, plurals) that count as a use of it.
ALIASES: dict[str, tuple[str, ...]] = {
    "confidence interval": ("confidence intervals",),
    "p-value": ("p-values",),
    "percentage point": ("percentage points", "pp"),
    "Benjamini-Hochberg": ("Benjamini–Hochberg", "BH"),
    "Welch": ("Welch's",),
    "sample ratio mismatch": ("SRM",),
    "Yuen": ("Yuen's",),
    "winsorized": ("winsorised", "winsorization"),
    "fixed effects": ("fixed effect",),
    "confounder": ("confounders", "confounding"),
    "instrument": ("instrumental variable",),
    "Anderson-Rubin": ("Anderson–Rubin",),
    "marginal effect": ("marginal effects",),
    "linear probability model": ("LPM",),
    "inverse probability weighting": ("IPW", "inverse probability of answering"),
    "variance inflation factor": ("variance inflation factors", "VIF"),
    "residual": ("residuals",),
    "hazard ratio": ("hazard ratios", "HR"),
    "difference-in-differences": ("difference in differences", "DiD"),
    "interrupted time series": ("ITS",),
    "control limits": ("control limit",),
    "Shewhart": ("Shewhart chart",),
    "Holm": ("Holm's",),
    "delta method": ("delta-method",),
    "E-value": ("E-values",),
    "Cox": ("Cox model",),
    "SD": ("standard deviation", "standard deviations"),
    "risk difference": ("RD",),
    "risk ratio": ("risk ratios",),
}



def _slug(term: str) -> str:
    return "glossary-" + re.sub(r"[^A-Za-z0-9²]+", "-", term).strip("-").lower()


def _pattern() -> re.Pattern[str]:
    """One pattern matching every spelling of every term, longest first so "confidence interval" wins over "CI"."""
    spellings = {term: term for term in TERMS}
    spellings.update({alias: term for term, aliases in ALIASES.items() for alias in aliases})
    ordered = sorted(spellings, key=len, reverse=True)
    # Whole words: "pp" not inside "app", "Cox" not in "Coxon", "randomized" not in "non-randomized"; a term
    # before a hyphen still counts ("CUPED-adjusted").
    alternatives = "|".join(re.escape(s) for s in ordered)
    return re.compile(rf"(?<![\w\-])({alternatives})(?!\w)")


_SPELLINGS = {**{t: t for t in TERMS}, **{a: t for t, aliases in ALIASES.items() for a in aliases}}
_PATTERN = _pattern()
# Lower-case words (not names or abbreviations) also match when a sentence starts with them.
_SPELLINGS_LOWER = {s.lower(): t for s, t in _SPELLINGS.items() if s[:1].islower()}
_PATTERN_START = re.compile(rf"(?<![\w\-])({'|'.join(re.escape(s[:1].upper() + s[1:]) for s in _SPELLINGS_LOWER)})(?!\w)")

# Where a term is never marked: headings, links, code, scripts, and what is already marked.
_SKIP = {"h1", "h2", "h3", "h4", "h5", "h6", "a", "abbr", "code", "pre", "script", "style", "title", "summary",
         "nav", "th", "button", "dt", "head", "svg"}


def term_of(spelling: str) -> str | None:
    """The glossary term a spelling stands for (``"BH"`` -> ``"Benjamini-Hochberg"``), or None."""
    return _SPELLINGS.get(spelling) or _SPELLINGS_LOWER.get(spelling.lower())


def _skipped(node) -> bool:
    for parent in node.parents:
        if parent.name in _SKIP:
            return True
        classes = parent.get("class") or []
        if parent.name == "td" and "num" in classes or "glossary" in classes:
            return True
    return False


def annotate(page: str) -> str:
    """Mark the first use of each term in a page's body text.

    Parameters
    ----------
    page : str
        An HTML page or fragment.

    Returns
    -------
    str
        The HTML with each term's first use in body text wrapped in ``<a class="term" href="#glossary-…">
        <abbr title="…">``, linking to the entry of :func:`glossary_section`. Headings, links, code, numeric
        table cells and attribute values are left alone.
    """
    return annotate_with_terms(page)[0]


def annotate_with_terms(page: str) -> tuple[str, list[str]]:
    """:func:`annotate`, and the terms it marked in order of first use (for :func:`glossary_section`)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(page, "html.parser")
    used = mark_terms(soup)
    return str(soup), used


def mark_terms(soup: Any) -> list[str]:
    """:func:`annotate` on a parsed page (a BeautifulSoup tree, changed in place); returns the terms marked."""
    from bs4 import NavigableString

    used: list[str] = []
    body = soup.body or soup
    for node in list(body.find_all(string=True)):
        if type(node) is not NavigableString or not node.strip() or _skipped(node):
            continue
        text = str(node)
        pieces: list = []
        last = 0
        for match in _matches(text):
            term = term_of(match.group(1))
            if term is None or term in used:
                continue
            used.append(term)
            pieces.append(NavigableString(text[last:match.start()]))
            link = soup.new_tag("a", href=f"#{_slug(term)}", attrs={"class": "term"})
            abbr = soup.new_tag("abbr", title=TERMS[term])
            abbr.string = match.group(1)
            link.append(abbr)
            pieces.append(link)
            last = match.end()
        if pieces:
            pieces.append(NavigableString(text[last:]))
            for piece in pieces:
                node.insert_before(piece)
            node.extract()
    return used


def _matches(text: str) -> list[re.Match[str]]:
    found = [*_PATTERN.finditer(text), *_PATTERN_START.finditer(text)]
    found.sort(key=lambda m: (m.start(), -len(m.group(1))))
    kept, end = [], -1
    for match in found:
        if match.start() >= end:
            kept.append(match)
            end = match.end()
    return kept


def glossary_section(terms_used: list[str]) -> str:
    """The Glossary section of a page: each term it uses with its definition, alphabetically.

    Parameters
    ----------
    terms_used : list of str
        Terms of :data:`TERMS` (as :func:`annotate` returns them); unknown ones are an error.

    Returns
    -------
    str
        ``<section class="glossary">`` with an ``<h2 id="Glossary">`` and a definition list, or ``""`` when
        the page uses no term.
    """
    unknown = [t for t in terms_used if t not in TERMS]
    if unknown:
        raise ValueError(f"not in the glossary: {', '.join(unknown)}")
    if not terms_used:
        return ""
    entries = "".join(f'<dt id="{_slug(t)}">{html.escape(t)}</dt><dd>{html.escape(TERMS[t])}</dd>'
                      for t in sorted(set(terms_used), key=str.lower))
    return (f'<section class="glossary"><h2 id="Glossary">Glossary</h2>'
            f'<p>Terms of art used on this page, in plain words.</p><dl>{entries}</dl></section>')
