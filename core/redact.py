"""Mask personal numbers (national IDs, phone numbers) in any text before it is stored or shown.

One set of patterns for every place that quotes a value: free-text fields of the feeds, the
quarantine's reasons and rows, parser errors. Text is looked at in its NFKC form, so an ID typed
with full-width digits (``３３１１…``) is found as well.
"""

from __future__ import annotations

import re
import unicodedata

#: A national ID: 18 characters (17 digits and a check character) or the old 15 digits, also
#: written in groups (``331122 19470815 3627``). Not inside a longer run of letters or digits.
NATIONAL_ID = re.compile(
    r"(?<![0-9A-Za-z])([1-9][0-9]{3})"
    r"((?:[0-9]{2}[ -]?[0-9]{8}[ -]?[0-9]{3}[0-9Xx])|(?:[0-9]{11}))"
    r"(?![0-9A-Za-z])"
)
#: A mainland mobile number (11 digits from 13x–19x), optionally written 3-4-4, with or
#: without +86; or a landline with area code (0571-87654321).
PHONE = re.compile(
    r"(?<![0-9A-Za-z])(?:\+?86[ -]?)?(1[3-9][0-9])[ -]?([0-9]{4})[ -]?([0-9]{4})(?![0-9A-Za-z])"
    r"|(?<![0-9A-Za-z])(0[0-9]{2,3})-([0-9]{7,8})(?![0-9A-Za-z])"
)
#: A cheap test before the full patterns: at least seven digits in a row (or in groups).
MAYBE = re.compile(r"[0-9]{3}[ -]?[0-9]{4}")


def _mask_id(match: re.Match[str]) -> str:
    text = match.group(0)
    return text[:4] + "*" * (len(text) - 8) + text[-4:]


def _star(match: re.Match[str], group: int, keep_end: int = 0) -> str:
    """The match with one group's characters starred, in place (the length is kept)."""
    start, end = match.span(group)
    end -= keep_end
    text, offset = match.group(0), match.start()
    return text[: start - offset] + "*" * (end - start) + text[end - offset :]


def _mask_phone(match: re.Match[str]) -> str:
    if match.group(1):
        return _star(match, 2)
    return _star(match, 5, keep_end=2)


def mask_personal_numbers(text: str) -> str:
    """Mask every national ID and phone number in ``text``.

    The text is NFKC-normalised first only when it holds one: prose keeps its full-width
    punctuation otherwise.

    Examples
    --------
    >>> mask_personal_numbers("户主身份证331122194708153627，电话13538808690")
    '户主身份证3311**********3627，电话135****8690'
    """
    view = unicodedata.normalize("NFKC", text)
    if not MAYBE.search(view):
        return text
    masked = PHONE.sub(_mask_phone, NATIONAL_ID.sub(_mask_id, view))
    if masked == view:
        return text
    if len(masked) == len(view) == len(text):
        # NFKC mapped one character to one (full-width forms): keep the text's own characters
        # (its full-width punctuation) wherever the mask did not write.
        return "".join(o if m == v else m for o, m, v in zip(text, masked, view, strict=True))
    return masked


def has_personal_number(text: str) -> bool:
    """Tell whether ``text`` holds something :func:`mask_personal_numbers` would mask."""
    return mask_personal_numbers(text) != text
