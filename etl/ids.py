"""Chinese resident identity numbers (GB 11643-1999): check, normalise, mask and synthesise."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "checksum_char",
    "is_valid_id",
    "make_ids",
    "mask_id",
    "normalise_id",
    "valid_id_mask",
]

# Weight of position i is 2**(17 - i) mod 11 (GB 11643-1999, ISO 7064 MOD 11-2).
_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_CHECK_CHARS = "10X98765432"
_CHECK_BYTES = np.frombuffer(_CHECK_CHARS.encode("ascii"), dtype=np.uint8)
_ID_PATTERN = re.compile(r"[0-9]{17}[0-9X]")
_MIN_BIRTH_YEAR = 1850
_MAX_REDRAWS = 200
_MALE = frozenset({"男", "M", "m", "male"})
_FEMALE = frozenset({"女", "F", "f", "female"})
_ZERO = ord("0")


def checksum_char(first17: str) -> str:
    """Return the check character for the first 17 digits of an identity number.

    Parameters
    ----------
    first17 : str
        Exactly 17 ASCII digits: 6-digit region code, 8-digit birth date, 3-digit sequence.

    Returns
    -------
    str
        One of ``0``-``9`` or ``X``.

    Raises
    ------
    ValueError
        If ``first17`` is not 17 ASCII digits.
    """
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError(f"expected 17 ASCII digits, got {first17!r}")
    total = sum(int(c) * int(w) for c, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def is_valid_id(s: object) -> bool:
    """Tell whether ``s`` is a well-formed 18-character identity number with a correct checksum.

    The check is strict: it does not normalise first (see :func:`normalise_id`), so full-width
    digits, spaces or a lower-case ``x`` make it return False.

    Parameters
    ----------
    s : object
        Candidate value; anything that is not a ``str`` is invalid.

    Returns
    -------
    bool
        True when the format, the birth date (a real calendar date, year >= 1850) and the check
        character are all correct.
    """
    if not isinstance(s, str) or not _ID_PATTERN.fullmatch(s):
        return False
    try:
        birth = dt.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    return birth.year >= _MIN_BIRTH_YEAR and checksum_char(s[:17]) == s[17]


def normalise_id(raw: str) -> str:
    """Normalise an identity number as typed into department systems.

    Full-width digits and letters become ASCII (Unicode NFKC), all whitespace (including the
    ideographic space) is removed and a lower-case ``x`` check character becomes ``X``.

    Parameters
    ----------
    raw : str
        The value as found in a feed.

    Returns
    -------
    str
        The normalised string; it may still be invalid (check with :func:`is_valid_id`).
    """
    return "".join(unicodedata.normalize("NFKC", raw).split()).upper()


def mask_id(id18: str) -> str:
    """Mask an identity number for display: first 4 and last 4 characters kept.

    Parameters
    ----------
    id18 : str
        An identity number (normally 18 characters).

    Returns
    -------
    str
        For example ``3311**********123X``; strings of 8 characters or fewer are fully masked.
    """
    if len(id18) <= 8:
        return "*" * len(id18)
    return id18[:4] + "*" * (len(id18) - 8) + id18[-4:]


def _digits(values: NDArray[np.int64], width: int) -> NDArray[np.uint8]:
    """ASCII digit codes of non-negative integers, zero-padded, shape (n, width)."""
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return ((values[:, None] // powers) % 10 + _ZERO).astype(np.uint8)


def _check_bytes(first17: NDArray[np.uint8]) -> NDArray[np.uint8]:
    digits = first17.astype(np.int64) - _ZERO
    return _CHECK_BYTES[(digits @ _WEIGHTS) % 11]


def _sex_is_male(sexes: ArrayLike, n: int) -> NDArray[np.bool_]:
    labels = np.broadcast_to(np.asarray(sexes, dtype=str), (n,))
    unknown = set(np.unique(labels).tolist()) - _MALE - _FEMALE
    if unknown:
        raise ValueError(f"unknown sex label(s) {sorted(unknown)}; use 男/女 or M/F")
    return np.isin(labels, list(_MALE))


def make_ids(
    rng: np.random.Generator,
    region_codes: ArrayLike,
    birth_dates: ArrayLike,
    sexes: ArrayLike,
) -> NDArray[np.str_]:
    """Synthesise valid, mutually distinct 18-character identity numbers.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the 3-digit sequence numbers.
    region_codes : array_like of str
        6-digit administrative region codes (a county code), one per person.
    birth_dates : array_like of datetime64
        Birth dates, converted to day precision.
    sexes : array_like of str
        ``男``/``女`` (or ``M``/``F``); the sequence number is odd for men, even for women.

    Returns
    -------
    numpy.ndarray of str
        Identity numbers, all passing :func:`is_valid_id` and distinct within the call.

    Raises
    ------
    ValueError
        On region codes that are not 6 digits or unknown sex labels.
    """
    regions = np.asarray(region_codes, dtype="U6")
    n = regions.shape[0]
    if n and not all(
        len(r) == 6 and r.isascii() and r.isdigit() for r in np.unique(regions).tolist()
    ):
        raise ValueError("region codes must be 6 ASCII digits")
    days = np.asarray(birth_dates, dtype="datetime64[D]")
    male = _sex_is_male(sexes, n)
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    mdays = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    ymd = years * 10_000 + months * 100 + mdays
    # The first 17 digits fit in an int64, which makes the collision check a cheap integer sort.
    stem = regions.astype(np.int64) * 10**11 + ymd * 1_000
    seq = np.zeros(n, dtype=np.int64)
    todo = np.arange(n)
    # Sequence 001-999: odd for men, even for women. Redraw only where two people collide.
    for _ in range(_MAX_REDRAWS):
        if not todo.size:
            break
        half = rng.integers(0, 500 - (~male[todo]).astype(np.int64))
        seq[todo] = 2 * half + np.where(male[todo], 1, 2)
        _, first = np.unique(stem + seq, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        todo = np.flatnonzero(dup)
    else:
        raise ValueError("too many people share a region, birth date and sex to number them")
    full = np.empty((n, 18), dtype=np.uint8)
    full[:, :17] = _digits(stem + seq, 17)
    full[:, 17] = _check_bytes(full[:, :17])
    return full.view("S18").ravel().astype("U18")


def valid_id_mask(ids: ArrayLike) -> NDArray[np.bool_]:
    """Vectorised :func:`is_valid_id` for large columns.

    Parameters
    ----------
    ids : array_like of str
        Candidate identity numbers (not normalised).

    Returns
    -------
    numpy.ndarray of bool
        Same shape as ``ids``; True where the value is a valid identity number.
    """
    arr = np.asarray(ids, dtype=object).ravel()
    if arr.size == 0:  # a header-only file
        return np.zeros(np.shape(ids), dtype=bool)
    text = np.array([v if isinstance(v, str) else "" for v in arr], dtype=str)
    ok = (np.char.str_len(text) == 18) & np.array([v.isascii() for v in text], dtype=bool)
    ok &= np.char.isdigit(np.char.ljust(text, 18).astype("U17"))
    fixed = np.where(ok, text, "1" * 17 + "0").astype("S18").view(np.uint8).reshape(-1, 18)
    ok &= (fixed[:, 17] == ord("X")) | ((fixed[:, 17] >= _ZERO) & (fixed[:, 17] <= ord("9")))
    digits = fixed[:, :14].astype(np.int64) - _ZERO
    ymd = digits[:, 6:14] @ (10 ** np.arange(7, -1, -1, dtype=np.int64))
    year, month, day = ymd // 10_000, ymd // 100 % 100, ymd % 100
    ok &= (year >= _MIN_BIRTH_YEAR) & (month >= 1) & (month <= 12) & (day >= 1)
    month_start = ((np.clip(year, 1850, 9998) - 1970) * 12 + np.clip(month, 1, 12) - 1).astype(
        "datetime64[M]"
    )
    month_days = ((month_start + 1).astype("datetime64[D]") - month_start).astype(np.int64)
    ok &= day <= month_days
    ok &= _check_bytes(fixed[:, :17]) == fixed[:, 17]
    return ok.reshape(np.shape(ids))
