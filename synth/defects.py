"""Inject the defects real department feeds carry; counts go to the manifest, not the file."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from etl.ids import checksum_char

# The ETL repairs these and loads the row (a duplicate is dropped, the header repeat skipped).
FIXABLE = frozenset(
    {"fullwidth_id", "lowercase_x", "date_format", "duplicate_row", "repeated_header"}
)
# The ETL rejects these rows into quarantine with the kind as the reason.
QUARANTINABLE = frozenset(
    {
        "bad_id_checksum",
        "unknown_village",
        "unknown_household",
        "coord_out_of_province",
        "blank_required",
        "negative_amount",
        "absurd_amount",
    }
)
DEFECT_KINDS = tuple(sorted(FIXABLE | QUARANTINABLE))

# Full-width forms sit at a fixed offset from ASCII (U+FF10 is the full-width zero).
_FULLWIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789X"}
_CHECK_CHARS = "0123456789X"


@dataclass(frozen=True)
class DefectTargets:
    """Which columns of a feed each kind of defect may touch."""

    id_column: str | None = None
    date_column: str | None = None
    amount_columns: tuple[str, ...] = ()
    coord_columns: tuple[str, str] | None = None
    village_column: str | None = None
    household_column: str | None = None
    required: tuple[str, ...] = ()
    repeated_header: bool = False  # XLSX feeds: a copy of the header row lands among the data

    def kinds(self) -> tuple[str, ...]:
        """Row-level defect kinds that apply to the feed, in a fixed order."""
        kinds = ["duplicate_row"]
        if self.id_column:
            kinds += ["bad_id_checksum", "fullwidth_id", "lowercase_x"]
        if self.date_column:
            kinds.append("date_format")
        if self.amount_columns:
            kinds += ["negative_amount", "absurd_amount"]
        if self.coord_columns:
            kinds.append("coord_out_of_province")
        if self.village_column:
            kinds.append("unknown_village")
        if self.household_column:
            kinds.append("unknown_household")
        if self.required:
            kinds.append("blank_required")
        return tuple(sorted(kinds))


TARGETS: dict[str, DefectTargets] = {
    "civil_affairs_roster": DefectTargets(
        id_column="id_no",
        date_column="birth_date",
        village_column="village_code",
        required=("id_no", "name", "relation", "village_code", "status"),
    ),
    "income_survey": DefectTargets(
        amount_columns=("income_per_capita",),
        household_column="household_no",
        required=("household_no", "income_per_capita"),
    ),
    "medical_claims": DefectTargets(
        id_column="id_no",
        date_column="claim_date",
        amount_columns=("total_cost", "reimbursed", "out_of_pocket"),
        required=("id_no", "claim_date", "total_cost"),
    ),
    "education_enrolment": DefectTargets(
        id_column="id_no",
        amount_columns=("fees", "aid_received"),
        required=("id_no", "school_stage"),
    ),
    "disability_registry": DefectTargets(
        id_column="id_no",
        date_column="certificate_date",
        required=("id_no", "disability_type"),
        repeated_header=True,
    ),
    "bank_deposits": DefectTargets(
        id_column="id_no",
        date_column="check_date",
        amount_columns=("balance",),
        required=("id_no", "bank_code", "balance"),
    ),
    "housing_appraisal": DefectTargets(
        date_column="appraisal_date",
        coord_columns=("longitude", "latitude"),
        household_column="household_no",
        required=("household_no", "appraisal_grade"),
        repeated_header=True,
    ),
    "water_safety": DefectTargets(
        date_column="check_date",
        household_column="household_no",
        required=("household_no", "is_safe"),
    ),
    "subsidy_ledger": DefectTargets(
        amount_columns=("amount",),
        household_column="household_no",
        required=("household_no", "policy_code", "amount"),
    ),
    "official_visits": DefectTargets(
        coord_columns=("longitude", "latitude"),
        household_column="household_no",
        required=("official_id", "household_no", "visit_time"),
    ),
    "disaster_events": DefectTargets(
        date_column="event_date",
        village_column="affected_village_codes",
        required=("event_type", "event_date"),
    ),
}


@dataclass(frozen=True)
class Injected:
    """A feed after defect injection."""

    frame: pd.DataFrame
    counts: dict[str, int]  # rows per defect kind (repeated_header counts header copies)
    header_repeat_at: int | None  # data row index before which the XLSX writer repeats the header


def _text(frame: pd.DataFrame, column: str, rows: np.ndarray) -> list[str]:
    return [str(v) for v in frame[column].to_numpy()[rows]]


def _set(frame: pd.DataFrame, column: str, rows: np.ndarray, values: Sequence[object]) -> None:
    position = cast("int", frame.columns.get_loc(column))
    frame.iloc[rows, position] = cast("Any", list(values))


def _bad_checksum(s: str, rng: np.random.Generator, _known: set[str]) -> str:
    wrong = _CHECK_CHARS.replace(checksum_char(s[:17]), "")
    return s[:17] + wrong[rng.integers(len(wrong))]


def _other_date(s: str, rng: np.random.Generator, _known: set[str]) -> str:
    y, m, d = s[:4], int(s[5:7]), int(s[8:10])
    return (f"{y}/{m}/{d}", f"{y}{m:02d}{d:02d}", f"{y}年{m}月{d}日")[rng.integers(3)]


def _unknown_code(value: str, rng: np.random.Generator, known: set[str]) -> str:
    """Replace the first code of a value with one of the same county that does not exist."""
    first, sep, rest = value.partition(";")
    while True:
        fake = f"{first[:6]}9{rng.integers(0, 100_000):05d}"
        if fake not in known:
            return fake + sep + rest


def _unknown_household(value: str, rng: np.random.Generator, _known: set[str]) -> str:
    # Real household numbers count up from 0000001 within a county; 9xxxxxx is never reached.
    return f"{value[:7]}9{rng.integers(0, 1_000_000):06d}"


_TEXT_EDITS: dict[str, Callable[[str, np.random.Generator, set[str]], str]] = {
    "bad_id_checksum": _bad_checksum,
    "fullwidth_id": lambda s, _rng, _known: s.translate(_FULLWIDTH),
    "lowercase_x": lambda s, _rng, _known: s.lower(),
    "date_format": _other_date,
    "unknown_village": _unknown_code,
    "unknown_household": _unknown_household,
}


def _column(kind: str, targets: DefectTargets) -> str | None:
    """Return the single column a text defect rewrites."""
    return {
        "bad_id_checksum": targets.id_column,
        "fullwidth_id": targets.id_column,
        "lowercase_x": targets.id_column,
        "date_format": targets.date_column,
        "unknown_village": targets.village_column,
        "unknown_household": targets.household_column,
    }.get(kind)


def _split(
    columns: tuple[str, ...], rows: np.ndarray, rng: np.random.Generator
) -> list[tuple[str, np.ndarray]]:
    """Assign each row one of ``columns`` at random."""
    pick = rng.integers(0, len(columns), rows.size)
    return [(c, rows[pick == i]) for i, c in enumerate(columns) if (pick == i).any()]


def _apply(
    kind: str,
    frame: pd.DataFrame,
    *,
    rows: np.ndarray,
    targets: DefectTargets,
    rng: np.random.Generator,
    known_villages: set[str],
) -> None:
    """Damage ``rows`` of ``frame`` in place with one kind of defect."""
    column = _column(kind, targets)
    if column is not None:
        edit = _TEXT_EDITS[kind]
        _set(
            frame, column, rows, [edit(s, rng, known_villages) for s in _text(frame, column, rows)]
        )
    elif kind in ("negative_amount", "absurd_amount"):
        for name, part in _split(targets.amount_columns, rows, rng):
            values = frame[name].to_numpy(dtype=float)[part]
            if kind == "negative_amount":
                damaged = -np.where(values > 0, values, 1.0)
            else:  # a unit mix-up (厘 for 元): always >= 1,000,000, far above any clean value
                damaged = np.maximum(values * 1_000, 1_000_000 + np.abs(values))
            _set(frame, name, part, list(np.round(damaged, 2)))
    elif kind == "coord_out_of_province":
        lon_col, lat_col = targets.coord_columns or ("", "")
        lon = frame[lon_col].to_numpy(dtype=float)[rows]
        lat = frame[lat_col].to_numpy(dtype=float)[rows]
        swap = rng.random(rows.size) < 0.5  # half swapped lon/lat, half the (0, 0) null island
        _set(frame, lon_col, rows, list(np.where(swap, lat, 0.0)))
        _set(frame, lat_col, rows, list(np.where(swap, lon, 0.0)))
    elif kind == "blank_required":
        for name, part in _split(targets.required, rows, rng):
            blank = np.nan if pd.api.types.is_float_dtype(frame[name]) else ""
            _set(frame, name, part, [blank] * part.size)


def _eligible(kind: str, frame: pd.DataFrame, targets: DefectTargets) -> np.ndarray:
    column = _column(kind, targets)
    if column is None or kind == "unknown_household":
        return np.ones(len(frame), dtype=bool)
    text = frame[column].fillna("").astype(str)
    if kind == "lowercase_x":
        return text.str.endswith("X").to_numpy(dtype=bool)
    if kind == "date_format":
        return text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").to_numpy(dtype=bool)
    return (text != "").to_numpy(dtype=bool)


def inject(
    frame: pd.DataFrame,
    targets: DefectTargets,
    *,
    rate: float,
    rng: np.random.Generator,
    known_villages: set[str],
) -> Injected:
    """Damage about ``rate`` of the rows of a clean feed, at most one defect per row.

    Parameters
    ----------
    frame : pandas.DataFrame
        The clean feed; it is not modified.
    targets : DefectTargets
        Which columns each defect may touch; decides which kinds apply.
    rate : float
        Share of rows to damage, split evenly (at random) between the applicable kinds.
        Duplicated rows are inserted right after their original.
    rng : numpy.random.Generator
        Stream for this feed and month.
    known_villages : set of str
        Real village codes, so that unknown codes really are unknown.

    Returns
    -------
    Injected
        The damaged frame, the count of rows per defect kind and where to repeat the header.
    """
    out = frame.copy()
    n = len(out)
    kinds = targets.kinds()
    total = round(rate * n)
    quotas = rng.multinomial(total, np.full(len(kinds), 1 / len(kinds))).tolist()
    used = np.zeros(n, dtype=bool)
    counts: dict[str, int] = {}
    duplicates = np.array([], dtype=np.int64)
    for kind, quota in zip(kinds, quotas, strict=True):
        pool = np.flatnonzero(_eligible(kind, out, targets) & ~used)
        rows = np.sort(rng.choice(pool, size=min(int(quota), pool.size), replace=False))
        used[rows] = True
        counts[kind] = int(rows.size)
        if kind == "duplicate_row":
            duplicates = rows
        elif rows.size:
            _apply(kind, out, rows=rows, targets=targets, rng=rng, known_villages=known_villages)
    if duplicates.size:
        position = np.concatenate([np.arange(n), duplicates])
        out = out.iloc[np.sort(position)].reset_index(drop=True)
    header_at = None
    if targets.repeated_header and rate > 0 and len(out) > 1:
        header_at = int(rng.integers(1, len(out)))
        counts["repeated_header"] = 1
    return Injected(out, dict(sorted(counts.items())), header_at)
