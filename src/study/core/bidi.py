"""Text from the data in right-to-left scripts (Arabic, Hebrew, ...) placed among left-to-right words.

Unicode's bidirectional algorithm lays out a line by the direction of its characters. One Arabic comment
alone in a cell of an English table reads right, but two comments joined in one cell, or one ending in
"!" or "100%", are laid out as one run with their neighbours: the comments swap places and the
punctuation and numbers land on the wrong side. Each piece is isolated instead (Unicode's FIRST STRONG
ISOLATE ... POP DIRECTIONAL ISOLATE, HTML's ``<bdi>``) and takes its direction from its own first
letter, while the list itself reads left to right, as the report does. Text without a right-to-left
letter is left exactly as it was.

Measured in Chromium, the report's browser: "رد سريع من الدعم: 5 دقائق!" alone in a cell put its "!" at the
right end until isolated; "عربي! | עברית | Quick" showed the Hebrew comment left of the Arabic one, and
with each piece isolated shows them in their order. A whole cell must not be isolated around pieces
already isolated: HTML's ``dir=auto`` takes the first letter inside them, and a list starting with an
Arabic piece would then read right to left.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

# Hebrew, Arabic, Syriac, Thaana, NKo, Samaritan, Mandaic and their presentation forms; the historic
# right-to-left scripts of the supplementary planes.
_RIGHT_TO_LEFT = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\U00010800-\U00010fff\U0001e800-\U0001efff]")
FIRST_STRONG_ISOLATE, LEFT_TO_RIGHT_ISOLATE, POP_DIRECTIONAL_ISOLATE = "\u2068", "\u2066", "\u2069"
_LETTER = re.compile(r"[^\W\d_]")


def has_right_to_left(text: str) -> bool:
    """Whether ``text`` has a letter of a right-to-left script."""
    return _RIGHT_TO_LEFT.search(text) is not None


def is_right_to_left_name(text: str) -> bool:
    """Whether every letter of ``text`` is right-to-left: a name or phrase in Arabic or Hebrew (digits and
    punctuation allowed), not a sentence of the report's that quotes one."""
    return has_right_to_left(text) and _LETTER.search(_RIGHT_TO_LEFT.sub("", text)) is None


def isolated(text: str, left_to_right: bool = False) -> str:
    """``text`` between FIRST STRONG ISOLATE (or, with ``left_to_right``, LEFT-TO-RIGHT ISOLATE) and POP
    DIRECTIONAL ISOLATE: laid out by itself in a sentence, in the direction of its first letter (or left to right).

    Measured in Chromium: "Customers per arm (ضبط 1,234, معالجة 1,300)" showed the counts left of their arms and
    the second arm first; with each name isolated, in their order.
    """
    return f"{LEFT_TO_RIGHT_ISOLATE if left_to_right else FIRST_STRONG_ISOLATE}{text}{POP_DIRECTIONAL_ISOLATE}"


def in_sentence(value: str, shown: str) -> str:
    """``shown`` (``value`` as the report writes it) ready for a left-to-right sentence.

    Text without right-to-left letters is unchanged. A name in Arabic or Hebrew is isolated in its own
    direction. Text mixing scripts is isolated left to right: a name such as "Riyadh الرياض" then keeps the
    count after it in its place (measured in Chromium: without it "1,234" showed left of the Arabic part), and
    a sentence of the report's quoting such a name ("الفريق is empty") reads left to right, as it did.
    """
    if not has_right_to_left(value):
        return shown
    return isolated(shown, left_to_right=not is_right_to_left_name(value))


def needs_isolating(text: str) -> bool:
    """Whether ``text``, shown as one piece, must be isolated: it has right-to-left letters and no pieces
    isolated already (:func:`joined`, :func:`in_sentence`)."""
    return has_right_to_left(text) and FIRST_STRONG_ISOLATE not in text and LEFT_TO_RIGHT_ISOLATE not in text


def joined(pieces: Iterable[object], separator: str) -> str:
    """``separator.join(pieces)``, each piece isolated when any of them is right-to-left.

    Examples
    --------
    >>> joined(["slow", "late"], ", ")
    'slow, late'
    >>> joined(["بطيء!", "late"], ", ") == "\\u2068بطيء!\\u2069, \\u2068late\\u2069"
    True
    """
    pieces = [str(p) for p in pieces]
    if not any(has_right_to_left(p) for p in pieces):
        return separator.join(pieces)
    return separator.join(isolated(p) for p in pieces)
