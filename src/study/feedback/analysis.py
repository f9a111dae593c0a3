"""``analyse``: what customers write in their comments, how often each theme comes up, and with what it goes."""

from __future__ import annotations

import numpy as np
import pandas as pd

from study.core.accounting import RowLedger
from study.core.results import Skipped
from study.data.dataset import TicketData, tickets_and_source
from study.feedback import association, prevalence
from study.feedback.discover import MIN_COMMENTS, discover
from study.feedback.lexicon import MAX_CHARACTERS, Lexicon, from_column_map
from study.feedback.result import FeedbackAnalysis

# What the analysis reads of a ticket table: a 10M-ticket run loads these, not every column.
COLUMNS = ["ticket_id", "customer_id", "comment", "first_response_minutes", "resolved",
           *association.CONFOUNDERS, *association.OUTCOMES]
MAX_TOPICS = 30  # as the parameter checks (study.parameters)
NO_COMMENT = "no comment (the customer wrote nothing)"
# study.load(..., unread_without=WITHOUT_COMMENT): a prepared copy's tickets without a comment are counted, not read.
WITHOUT_COMMENT = ("comment", NO_COMMENT)


def has_text(comments: pd.Series) -> pd.Series:
    """Whether each value is a comment: not missing and not only spaces."""
    once = each_distinct(comments, lambda t: t.strip() != "", missing=False)
    if once is not None:
        return once
    text = comments.astype("object")
    return text.notna() & text.astype(str).str.strip().ne("")


def has_word(comments: pd.Series) -> pd.Series:
    """Whether each comment holds a letter of any script (Latin, Chinese, ...) in its first characters read.

    A comment of only emoji, symbols or digits (a column of numbers read as text) names no theme and gives no
    topic: it is left out and counted, rather than diluting every share.
    """
    once = each_distinct(comments, _holds_letter)
    if once is not None:
        return once
    return comments.astype(str).str.slice(0, MAX_CHARACTERS).map(_holds_letter).astype(bool)


def _holds_letter(text: str) -> bool:
    return any(c.isalpha() for c in text[:MAX_CHARACTERS])


def each_distinct(values: pd.Series, test, missing: bool | None = None) -> pd.Series | None:
    """``test`` of each text of a string column, computed once per distinct text (comments repeat: templates,
    short reviews); ``None`` for a column of another type, whose values are read one by one.

    Parameters
    ----------
    values : pandas.Series
    test : callable
        str -> bool.
    missing : bool, optional
        The answer for a missing value; ``None`` tests its text as ``astype(str)`` writes it.
    """
    if not isinstance(values.dtype, pd.StringDtype):
        return None
    codes, distinct = pd.factorize(values)
    answers = np.array([test(str(t)) for t in distinct] + [False], dtype=bool)
    out = answers[np.where(codes < 0, len(distinct), codes)]
    if (codes < 0).any():
        absent = codes < 0
        out[absent] = missing if missing is not None else values[absent].astype(str).map(test).to_numpy(dtype=bool)
    return pd.Series(out, index=values.index)


def analyse(data: pd.DataFrame | TicketData, alpha: float = 0.05, columns_path: str | None = None,
            discovered_themes: int = 8, seed: int = 2026, lexicon: Lexicon | None = None,
            name: str = "in-memory table") -> FeedbackAnalysis:
    """Themes of the customers' comments: by lexicon and discovered, how common, and with what they go.

    Parameters
    ----------
    data : pandas.DataFrame or TicketData
        Tickets with a ``comment`` column (empty: no comment); ``first_response_minutes``,
        ``resolved``, ``csat``, ``repeat_purchase``, ``category``, ``channel``, ``loyalty_tier`` and
        ``customer_id`` are used where present.
    alpha : float
        1 - the confidence level of every interval and test.
    columns_path : str, optional
        The column map whose ``feedback`` section declares the themes; without one (or without themes
        in it) the starter lexicon (:data:`study.feedback.lexicon.STARTER_THEMES`) applies.
    discovered_themes : int
        Topics to discover (2 to 30).
    seed : int
        Seed of the topic model.
    lexicon : Lexicon, optional
        Themes given directly (overrides ``columns_path``).
    name : str
        How results name an in-memory table.

    Returns
    -------
    FeedbackAnalysis
        With ``skipped`` set when the data has no comment at all.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie between 0 and 1, not {alpha!r}")
    if not 2 <= discovered_themes <= MAX_TOPICS:
        raise ValueError(f"discovered_themes must be between 2 and {MAX_TOPICS}, not {discovered_themes!r}")
    frame, source, set_aside = tickets_and_source(data, name)
    lexicon = lexicon or from_column_map(columns_path)
    parameters = {"alpha": alpha, "discovered_themes": discovered_themes, "seed": seed, "lexicon": lexicon.origin}
    ledger = RowLedger(frame, set_aside)
    result = FeedbackAnalysis(source, parameters, ledger, lexicon)
    if "comment" not in frame.columns:
        result.skipped = "the data has no comment column: the feedback analysis reads what customers wrote"
        ledger.keep(pd.Series(False, index=frame.index), "no comment column")
        return result
    comments = ledger.keep(has_text(frame["comment"]), NO_COMMENT)
    if comments.empty:
        result.skipped = "no ticket has a comment (the comment column is empty on every row)"
        return result
    written = len(comments)
    comments = ledger.keep(has_word(comments["comment"]), "comment without a word (only emoji, symbols or digits)")
    if comments.empty:
        result.skipped = (f"none of the {written} comments holds a word (letters of any script): they are only emoji, "
                          "symbols or digits, which name no theme (is the comment column the right one?)")
        return result
    result.comments = comments
    result.themes = lexicon.match(comments["comment"])
    result.shares = {t: prevalence.share(result.themes[t], alpha, f"feedback_share_{t}",
                                         f"share of comments naming {t.replace('_', ' ')}")
                     for t in result.themes.columns}
    if "first_response_minutes" in comments.columns and comments["first_response_minutes"].notna().any():
        bands = prevalence.response_band(comments["first_response_minutes"])
        result.by_band = prevalence.by_group(result.themes, bands, alpha)
    else:
        result.by_band = Skipped("themes by first response time", "the data has no first response time")
    if "resolved" in comments.columns and comments["resolved"].notna().any():
        outcome = comments["resolved"].map({True: "resolved", False: "unresolved"}, na_action="ignore")
        result.by_resolution = prevalence.by_group(result.themes, outcome.astype("category"), alpha)
    else:
        result.by_resolution = Skipped("themes by resolution", "the data has no resolved column")
    result.associations = association.associations(comments, result.themes, alpha)
    if len(comments) < MIN_COMMENTS:
        result.discovery = Skipped("themes discovered in the comments", (
            f"only {len(comments)} comment{'s' if len(comments) != 1 else ''}: topic discovery needs at least "
            f"{MIN_COMMENTS}, or its topics are single comments"))
    else:
        try:
            result.discovery = discover(comments["comment"], discovered_themes, seed)
        except ValueError as error:
            result.discovery = Skipped("themes discovered in the comments", str(error))
    return result
