"""The column map's ``feedback`` section: the themes a feedback analysis looks for in what customers write.

::

    feedback:
      themes:                    # theme name: the words and phrases that mark it, in any language
        late: [atrasado, 没收到, late, "still waiting"]
        refund: [refund, reembolso, 退款]
      negations: [not, never, não, 不, 没]   # optional: words that cancel a term just after them ([]: none)

Theme names are short identifiers (letters, digits, ``_``); terms are non-empty text, and a term written
``re:<pattern>`` is a regular expression, compiled here so a broken one is refused before any notebook runs. How the terms are
matched (word boundaries, characters for Chinese, negation) is :mod:`study.feedback`'s business; this
module only reads and checks the section, so the runner can refuse a bad one before any notebook runs.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from study.data import column_map
from study.data.convert import short
from study.data.schema import DataError

KEYS = ("themes", "negations")
# A lexicon is a few dozen themes of a few dozen terms; the caps keep a pasted corpus out of the matcher.
MAX_THEMES = 50
MAX_TERMS = 500
MAX_TERM_CHARACTERS = 80
REGEX = "re:"  # a term written re:<pattern> is a regular expression (study.feedback.lexicon)
_THEME_NAME = re.compile(r"[^\W\d]\w{0,39}")


@dataclass(frozen=True)
class FeedbackSection:
    """What a column map's ``feedback`` section declares (``None``: not declared).

    Attributes
    ----------
    themes : dict of str to tuple of str, or None
        Theme name -> its terms, in the map's order, each term stripped and NFKC-normalized.
    negations : tuple of str, or None
        Words that cancel a term just after them.
    """

    themes: dict[str, tuple[str, ...]] | None = None
    negations: tuple[str, ...] | None = None


def _terms(value, what: str, name: str, empty: bool = False) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise DataError(f"{name}: {what} must be a list of words or phrases (e.g. [late, atrasado]), not {short(value)}")
    if not value and not empty:
        raise DataError(f"{name}: {what} is an empty list; give at least one word or phrase")
    if len(value) > MAX_TERMS:
        raise DataError(f"{name}: {what} has {len(value)} terms; at most {MAX_TERMS}")
    terms = []
    for term in value:
        if isinstance(term, bool) or not isinstance(term, (str, int, float)):
            raise DataError(f"{name}: {what} holds {short(term)}, which is not a word or phrase (quote yes/no words)")
        text = unicodedata.normalize("NFKC", str(term)).strip()
        if not text:
            raise DataError(f"{name}: {what} holds an empty term")
        if len(text) > MAX_TERM_CHARACTERS:
            raise DataError(f"{name}: {what} holds a term of {len(text)} characters ({short(text)}); "
                            f"at most {MAX_TERM_CHARACTERS}")
        if text.startswith(REGEX):
            try:
                re.compile(text[len(REGEX):])
            except re.error as error:
                raise DataError(f"{name}: {what} holds {short(text)}, which is not a regular expression ({error})") from None
        terms.append(text)
    return tuple(dict.fromkeys(terms))


def _themes(value, name: str) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict) or not value:
        raise DataError(f"{name}: feedback.themes must map each theme name to its terms (e.g. late: [late, atrasado])")
    if len(value) > MAX_THEMES:
        raise DataError(f"{name}: feedback.themes declares {len(value)} themes; at most {MAX_THEMES}")
    themes = {}
    for theme, terms in value.items():
        if not isinstance(theme, str) or not _THEME_NAME.fullmatch(theme):
            raise DataError(f"{name}: feedback.themes has the theme name {short(theme)}; use a short name of "
                            "letters, digits and _ starting with a letter (e.g. slow_reply)")
        themes[theme] = _terms(terms, f"feedback.themes.{theme}", name)
    return themes


def feedback_section(columns_path: str | Path | None) -> FeedbackSection:
    """The ``feedback`` section of a column map, checked (an empty section without a map or without the section).

    Parameters
    ----------
    columns_path : str or Path, optional
        Column map (YAML).

    Returns
    -------
    FeedbackSection

    Raises
    ------
    DataError
        When the map cannot be read, the section has an unknown key (naming the nearest known one), a
        theme name is not a short identifier, or a theme's terms are not a non-empty list of text.
    """
    if not columns_path:
        return FeedbackSection()
    name = Path(columns_path).name
    section = column_map.read_yaml_section(columns_path, "feedback")
    if section is None:
        return FeedbackSection()
    column_map.check_keys(section, KEYS, "the feedback section", name)
    themes = None if section.get("themes") is None else _themes(section["themes"], name)
    negations = None if section.get("negations") is None else _terms(section["negations"], "feedback.negations", name, empty=True)
    return FeedbackSection(themes, negations)
