"""Findings: an analysis's conclusions in words, written once from its estimates.

Every analysis result has a ``findings()`` method returning :class:`Findings`. The notebook shows
them, :func:`study.core.results.save` writes them into the results file, and the index page and the
executive summary read them from there, so a number and its sentence exist once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from study.core.words import bullet_list, text

KINDS = ("finding", "check", "warning", "skipped", "truth")


@dataclass(frozen=True)
class Finding:
    """One conclusion of an analysis, in Markdown.

    Attributes
    ----------
    text : str
        One bullet of Markdown; text from the data in it is escaped (:func:`study.core.words.text`).
    estimates : tuple of str
        Names of the estimates it quotes, as in the results file.
    kind : str
        ``finding``, ``check`` (a design check that passed), ``warning`` (a check that failed: do not
        trust what follows), ``skipped`` (a section that could not run, with the reason; it states no
        number) or ``truth`` (a comparison with a simulation's true values).
    headline : bool
        Whether the executive summary of a run quotes it.
    section : str
        The heading (without its ``#``) of the report section that shows the evidence, so that the
        index links to that section instead of the Findings; empty for the Findings themselves.
    """

    text: str
    estimates: tuple[str, ...] = ()
    kind: str = "finding"
    headline: bool = False
    section: str = ""

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")

    def to_dict(self) -> dict:
        out = {"text": self.text, "estimates": list(self.estimates), "kind": self.kind, "headline": self.headline}
        return {**out, "section": self.section} if self.section else out


class Findings(list):
    """The findings of an analysis in reading order; a notebook shows them as a Markdown list."""

    def __init__(self, findings: Iterable[Finding] = ()):
        super().__init__(findings)

    def markdown(self) -> str:
        """``## Findings`` and one bullet per finding."""
        return "## Findings\n\n" + bullet_list([f.text for f in self])

    def _repr_markdown_(self) -> str:
        return self.markdown()

    def headlines(self) -> Findings:
        """The findings the executive summary quotes."""
        return Findings(f for f in self if f.headline)

    def to_list(self) -> list[dict]:
        """Plain form for the results file."""
        return [f.to_dict() for f in self]


def section_anchor(heading: str) -> str:
    """The id a report gives the section headed ``heading``: its words joined by hyphens, as nbconvert
    makes them (``"Speed and satisfaction"`` -> ``"Speed-and-satisfaction"``)."""
    return " ".join(heading.split()).replace(" ", "-")


def skipped(section: str, reason: str, headline: bool = False) -> Finding:
    """A section that was skipped and why; it states no number."""
    return Finding(f"**{text(_capital(section))}: skipped.** {text(_capital(reason))}.", kind="skipped", headline=headline)


def _capital(words: str) -> str:
    """``words`` with a capital first letter, unless they start with a name as the data spells it
    (``review_score``, ``q1``): a capital would name another column."""
    first = words.split(" ", 1)[0]
    if "_" in first or any(c.isdigit() for c in first):
        return words
    return words[:1].upper() + words[1:]
