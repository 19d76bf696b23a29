"""The shape of an 18-character national ID, for scans that must find none."""

from __future__ import annotations

import re
import unicodedata

#: Any mainland national ID standing alone: region, birth date, sequence, check character (hex
#: tokens, hashes and WKB are not IDs: a run inside a longer run of letters and digits is not).
NATIONAL_ID = re.compile(
    r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}"
    r"[\dXx](?![0-9A-Za-z])"
)


def national_ids(text: str) -> list[str]:
    """The national IDs in ``text`` (full-width digits folded first)."""
    return NATIONAL_ID.findall(unicodedata.normalize("NFKC", text))
