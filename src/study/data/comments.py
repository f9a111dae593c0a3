"""Short comments the simulated customers write, with the themes each one really carries.

A comment is drawn for about half of the survey respondents and a tenth of the others. Its themes
depend on what the customer lived: a slow first reply, an unresolved case, an agent of low skill (rude),
a refund case (returns, billing) that took long or stayed open, and praise after a fast, resolved case.
Each theme present adds one sentence from its templates; a comment with no theme is a neutral remark,
sometimes a negated one ("The reply was not slow at all.") that a careless keyword count would take for
a complaint. The draws come from their own random stream, so adding comments changes no other column.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

THEMES = ("slow_reply", "unresolved", "rude_agent", "refund_delay", "praise")

TEMPLATES = {
    "slow_reply": (
        "I waited hours for a reply.",
        "The reply was very slow.",
        "Slow answer from support.",
        "It took ages to get a response.",
    ),
    "unresolved": (
        "My problem is still unresolved.",
        "Nobody fixed my issue.",
        "The issue was never fixed.",
        "Still unresolved after all this.",
    ),
    "rude_agent": (
        "The agent was rude.",
        "Very rude and unhelpful agent.",
        "The person I spoke to was impolite.",
    ),
    "refund_delay": (
        "Still waiting for my refund.",
        "The refund is taking forever.",
        "My refund has not arrived yet.",
    ),
    "praise": (
        "Great service, thank you!",
        "Quick and helpful answer, thanks.",
        "Excellent support.",
        "Very friendly and helpful agent.",
    ),
}
# Remarks with no theme, some negating a theme's word: a keyword count without negation miscounts them.
NEUTRAL = (
    "Ok.",
    "Had a question about my order.",
    "Nothing special.",
    "The reply was not slow at all.",
    "The agent was not rude.",
    "No complaints.",
)

COMMENT_RESPONDENTS = 0.5  # share of survey respondents who also write a comment
COMMENT_OTHERS = 0.1  # share of the others who write one (a review, a chat remark)
RUDE_SKILL = -0.5  # agents below this skill are the rude ones
REFUND_CATEGORIES = ("returns", "billing")
REFUND_SLOW_MINUTES = 24 * 60.0


def theme_probabilities(log2_hours: np.ndarray, resolved: np.ndarray, skill: np.ndarray, category: np.ndarray,
                        resolution_minutes: np.ndarray) -> dict[str, np.ndarray]:
    """The chance that a comment carries each theme, given the case (one array per theme)."""
    slow = 0.85 / (1 + np.exp(-1.5 * (log2_hours - 1.5)))  # half of 0.85 at about 3 hours
    refund_case = np.isin(category, REFUND_CATEGORIES)
    refund_slow = ~resolved | (np.nan_to_num(resolution_minutes, nan=np.inf) > REFUND_SLOW_MINUTES)
    return {
        "slow_reply": slow,
        "unresolved": np.where(resolved, 0.0, 0.7),
        "rude_agent": np.where(skill < RUDE_SKILL, 0.3, 0.01),
        "refund_delay": np.where(refund_case & refund_slow, 0.5, 0.0),
        "praise": np.where(resolved & (log2_hours < 0), 0.6, 0.03),
    }


def draw(seed: int, answered: np.ndarray, log2_hours: np.ndarray, resolved: np.ndarray, skill: np.ndarray,
         category: np.ndarray, resolution_minutes: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    """Comments and their true themes, from a random stream of their own.

    Parameters
    ----------
    seed : int
        The simulation's seed; the comments use the stream ``default_rng([seed, 2])``.
    answered : numpy.ndarray of bool
        Whether the customer answered the survey.
    log2_hours, resolved, skill, category, resolution_minutes : numpy.ndarray
        The case as the customer lived it (first response in doublings of an hour, agent skill in [-1, 1]).

    Returns
    -------
    comments : numpy.ndarray of object
        The comment, or ``None`` where the customer wrote nothing.
    themes : pandas.DataFrame
        One boolean column ``theme_<name>`` per theme of :data:`THEMES`: the themes the comment carries
        (all False without a comment; a negated neutral remark carries none).
    """
    rng = np.random.default_rng([seed, 2])
    rows = len(answered)
    writes = rng.random(rows) < np.where(answered, COMMENT_RESPONDENTS, COMMENT_OTHERS)
    chances = theme_probabilities(log2_hours, resolved, skill, category, resolution_minutes)
    present = {theme: writes & (rng.random(rows) < chances[theme]) for theme in THEMES}
    # Praise next to a complaint would be a contradiction the templates cannot word: complaints win.
    complaint = np.logical_or.reduce([present[t] for t in THEMES if t != "praise"])
    present["praise"] &= ~complaint
    sentences = []
    for theme in THEMES:
        pick = rng.integers(0, len(TEMPLATES[theme]), rows)
        sentences.append(np.where(present[theme], np.asarray(TEMPLATES[theme], dtype=object)[pick], ""))
    neutral = np.asarray(NEUTRAL, dtype=object)[rng.integers(0, len(NEUTRAL), rows)]
    anything = np.logical_or.reduce(list(present.values()))
    comments = np.where(writes, neutral, None)
    with_theme = np.flatnonzero(anything)
    comments[with_theme] = [" ".join(s[i] for s in sentences if s[i]) for i in with_theme]
    return comments, pd.DataFrame({f"theme_{t}": present[t] for t in THEMES})


def theme_shares(themes: pd.DataFrame, comments: np.ndarray) -> dict[str, float]:
    """Each theme's share among the tickets with a comment (the truth a lexicon's counts estimate)."""
    wrote = pd.notna(comments)
    return {t: float(themes[f"theme_{t}"].to_numpy()[wrote].mean()) if wrote.any() else 0.0 for t in THEMES}


def tickets_by_theme(themes: pd.DataFrame, ticket_ids: pd.Series) -> dict[str, list[str]]:
    """The ids of the tickets whose comment carries each theme: the truth a lexicon's matches are scored on."""
    ids = ticket_ids.to_numpy()
    return {t: [str(i) for i in ids[themes[f"theme_{t}"].to_numpy()]] for t in THEMES}
