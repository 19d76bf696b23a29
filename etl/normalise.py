"""The one normalisation every feed value goes through before it is validated.

Every text, number and date field of every feed, CSV or XLSX, is brought to one form:

- Unicode NFKC: full-width digits, letters and punctuation become ASCII (``３３１１``, ``Ｈ``,
  ``，``), the ideographic space a space (prose is the exception: see ``Column.prose``);
- whitespace trimmed at both ends (including the ideographic space and no-break space);
- codes (national IDs, household numbers, village and policy codes) lose inner spaces and are
  upper-cased; amounts lose ``¥``/``￥``, ``元``, spaces and thousands separators.

Done with Arrow compute kernels on whole columns; only values that can change pay for NFKC.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: Characters NFKC leaves alone in the text departments send: ASCII, CJK punctuation
#: (U+3001–U+3035) and the CJK ideographs. A value with anything else may change.
_MAY_CHANGE = "[^\\x{00}-\\x{7f}\\x{3001}-\\x{3035}\\x{3400}-\\x{4dbf}\\x{4e00}-\\x{9fff}]"
_PLAIN_NUMBER = r"-?\d+(?:\.\d+)?"
#: Distinct values among a column's first 1,000 below which it is checked value by value.
_FEW = 50
_THOUSANDS = re.compile(r"^(-?)(\d{1,3}(?:,\d{3})+)(\.\d+)?$")


def _arrow(values: pd.Series) -> pa.Array:
    array = pa.array(values, type=pa.large_string(), from_pandas=True)
    return array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array


def _may_change(array: pa.Array) -> pa.Array | None:
    """Rows NFKC may change (None when there is none).

    Only non-ASCII values are looked at, and a column of few distinct values (an enumeration,
    a department) by its distinct values.
    """
    foreign = pc.invert(pc.string_is_ascii(array))
    if not pc.any(foreign).as_py():
        return None
    subset = pc.filter(array, foreign)
    if len(pc.unique(subset.slice(0, 1000))) <= _FEW:
        encoded = pc.dictionary_encode(subset)
        hits = pc.take(pc.match_substring_regex(encoded.dictionary, _MAY_CHANGE), encoded.indices)
    else:
        hits = pc.match_substring_regex(subset, _MAY_CHANGE)
    if not pc.any(hits).as_py():
        return None
    odd = np.zeros(len(array), dtype=bool)
    odd[np.flatnonzero(foreign.to_numpy(zero_copy_only=False))] = hits.to_numpy(
        zero_copy_only=False
    )
    return pa.array(odd)


def text(values: pd.Series, *, prose: bool = False) -> tuple[pd.Series, pd.Series]:
    """NFKC (unless ``prose``) and trim a column of text.

    Returns
    -------
    tuple of pandas.Series
        The normalised column (``str``, blanks as ``""``) and, per row, whether NFKC changed
        the value (trimming alone does not count: it is not a correction a department needs
        to hear about).
    """
    before = _arrow(values.fillna("") if values.hasnans else values)
    array = before
    changed = pd.Series(False, index=values.index)
    if not prose and len(array):
        odd = _may_change(array)
        if odd is not None:
            fixed = pc.utf8_normalize(pc.filter(array, odd), "NFKC")
            array = pc.replace_with_mask(array, odd, fixed)
            differs = pc.and_(odd, pc.not_equal(array, before))
            changed = pd.Series(differs.to_numpy(zero_copy_only=False), index=values.index)
    trimmed = pc.utf8_trim_whitespace(array)
    out = pd.Series(trimmed.to_pandas(), index=values.index).astype("str")
    return out, changed


def header_name(name: object) -> str:
    """A header cell as the feed registry names it: NFKC, no BOM, quotes or outer spaces."""
    import unicodedata  # noqa: PLC0415 — a few cells per file

    cleaned = unicodedata.normalize("NFKC", str(name or "")).replace("\ufeff", "")
    return cleaned.strip().strip('"').strip()


def code(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Codes (IDs, household numbers, policy codes): no inner whitespace, upper case."""
    odd = ~values.str.fullmatch(r"[0-9A-Z]*")
    if not odd.any():
        return values, odd
    fixed = values.copy()
    fixed[odd] = values[odd].str.replace(r"\s+", "", regex=True).str.upper()
    return fixed, odd & (fixed != values)


def _amount(value: str) -> str:
    bare = value.replace("¥", "").replace("元", "").replace(" ", "")
    match = _THOUSANDS.match(bare)
    if match:
        bare = match.group(1) + match.group(2).replace(",", "") + (match.group(3) or "")
    return bare


def number(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Amounts and counts: drop ``¥``, ``元``, inner spaces and thousands separators.

    ``1,234.50`` and ``¥1234.5元`` become ``1234.50`` and ``1234.5``; anything else is left as
    it is for the validator to reject (a decimal comma, ``1.2万``: not guessed).
    """
    odd = (values != "") & ~values.str.fullmatch(_PLAIN_NUMBER)
    if not odd.any():
        return values, odd
    fixed = values.copy()
    fixed[odd] = values[odd].map(_amount)
    return fixed, odd & (fixed != values)
