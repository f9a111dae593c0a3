"""Personal data out of the example comments a page shows: e-mail addresses, web addresses and numbers.

A discovered topic is shown with a few of its comments, and customers write their e-mail address, phone
number, order number or card number into comments. Before a comment is shown:

- an e-mail address (``name@host.tld``) becomes ``[email]``;
- a web address (``http://``, ``https://`` or ``www.`` followed by anything up to a space, or a host name
  ending in a common top-level domain that is no word, such as ``.com``, ``.com.br``, ``.cn``) becomes ``[link]``;
- a run of digits that may be a phone, order, account or card number becomes ``[number]``: seven digits
  or more, counted across the spaces, dots, dashes and brackets that phone and card numbers are written
  with (``(11) 98765-4321``, ``138 1234 5678``, ``4111 1111 1111 1111``), or any number written after a
  ``+`` (``+55 11 ...``). Dates (``2026-11-30``, ``30/11/2026``), clock times and prices of fewer than
  seven digits stay, since they carry the complaint ("waited since 30/11", "charged 129.90").

This is masking of what looks like such data, not a guarantee: a name, a street address or a number
written in words stays as written. The analysis itself reads the comments unmasked.
"""

from __future__ import annotations

import re

# Latin letters only around addresses: Chinese text runs into them without a space ("邮箱abc@qq.com谢谢").
_EMAIL = re.compile(r"[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)+", re.IGNORECASE)
# Top-level domains that are no word of English or Portuguese: "slow.me", "atrasado.de" are typos, not hosts.
_TLD = r"(?:com|net|org|info|biz|io|app|shop|site|online|xyz|gov|edu|br|pt|cn|hk|tw|uk|jp|ru)"
_NOT_IN_LINK = r"[^\s\u3000-\u303f\uff00-\uffef]"  # a link ends at a space or at Chinese punctuation
_URL = re.compile(r"(?:https?://|www\.)" + _NOT_IN_LINK + "+|(?<![a-z0-9@.-])(?:[a-z0-9-]+\\.)+" + _TLD
                  + r"(?:\.[a-z]{2})?(?![a-z0-9])(?:/" + _NOT_IN_LINK + "*)?", re.IGNORECASE)
# A date first (kept as it is), else digits with the separators numbers are written with, counted afterwards so
# "12:45" and "2026" stay.
_DIGITS = re.compile(r"(?P<date>(?<!\d)(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})(?!\d))"
                     r"|\+?\(?\d(?:[\d \u00a0().\-/]*\d)?\)?")
MIN_DIGITS = 7  # a phone number without area code has seven or eight digits; order and card numbers more

EMAIL, LINK, NUMBER = "[email]", "[link]", "[number]"


def _link(match: re.Match) -> str:
    # Punctuation closing the sentence is not part of the address.
    text = match.group(0)
    return LINK + text[len(text.rstrip(".,;:!?)]}'\"")):]


def _number(match: re.Match) -> str:
    text = match.group(0)
    digits = sum(c.isdigit() for c in text)
    if match.group("date") or digits < (4 if text.startswith("+") else MIN_DIGITS):
        return text  # a date, a price, a time, "+1": not a phone or order number
    return NUMBER


def mask_personal(text: str) -> str:
    """``text`` with e-mail and web addresses and long digit runs replaced by ``[email]``, ``[link]``, ``[number]``.

    Parameters
    ----------
    text : str
        A comment as written.

    Returns
    -------
    str
        The comment with what looks like personal data masked (rules in the module's description).
    """
    text = _EMAIL.sub(EMAIL, str(text))
    text = _URL.sub(_link, text)
    return _DIGITS.sub(_number, text)
