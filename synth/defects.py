"""Inject the defects real department feeds carry; counts go to the manifest, not the file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd

from etl.ids import checksum_char

# The ETL repairs these and loads the row (a duplicate is dropped, the header repeat and the
# blank row skipped, IDs and phones in text masked).
FIXABLE = frozenset(
    {
        "fullwidth_id",
        "lowercase_x",
        "date_format",
        "duplicate_row",
        "repeated_header",
        "blank_row",
        "fullwidth_household",
        "amount_format",
        "lowercase_policy",
        "excel_date",
        "id_in_text",
    }
)
# The ETL rejects these rows into quarantine with the kind as the reason (a conflicting
# duplicate: both versions).
QUARANTINABLE = frozenset(
    {
        "bad_id_checksum",
        "unknown_village",
        "unknown_household",
        "coord_out_of_province",
        "blank_required",
        "negative_amount",
        "absurd_amount",
        "unknown_policy",
        "date_outside_month",
        "conflicting_duplicate",
    }
)
# Defects of a file rather than of a row (not part of the row quota).
FILE_DEFECTS = frozenset({"repeated_header", "blank_row"})
DEFECT_KINDS = tuple(sorted(FIXABLE | QUARANTINABLE))
# Kinds applied once the copies are in (they insert rows or change a column's type).
_AFTER_COPIES = frozenset({"duplicate_row", "conflicting_duplicate", "amount_format", "excel_date"})

# Full-width forms sit at a fixed offset from ASCII (U+FF10 is the full-width zero).
_FULLWIDTH = {ord(c): ord(c) + 0xFEE0 for c in "0123456789XH"}
_CHECK_CHARS = "0123456789X"
# How amounts arrive from spreadsheets (GBK has ￥ but not ¥: the full-width sign is used).
_AMOUNT_FORMS = ("￥{:,.2f}", "{:,.2f}元", "￥{:,.2f}元")


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
    in_month_date: bool = False  # the date column must fall in the month (contract)
    excel_dates: bool = False  # XLSX: the date column may hold date cells instead of text
    policy_column: str | None = None
    conflict_column: str | None = None  # a copy of a row with another value here
    text_column: str | None = None  # free text an official may type an ID and a phone into

    def kinds(self) -> tuple[str, ...]:
        """Row-level defect kinds that apply to the feed, in a fixed order."""
        kinds = ["duplicate_row"]
        if self.id_column:
            kinds += ["bad_id_checksum", "fullwidth_id", "lowercase_x"]
        if self.date_column:
            kinds.append("date_format")
        if self.amount_columns:
            kinds += ["negative_amount", "absurd_amount", "amount_format"]
        if self.coord_columns:
            kinds.append("coord_out_of_province")
        if self.village_column:
            kinds.append("unknown_village")
        if self.household_column:
            kinds += ["unknown_household", "fullwidth_household"]
        if self.required:
            kinds.append("blank_required")
        if self.in_month_date:
            kinds.append("date_outside_month")
        if self.excel_dates:
            kinds.append("excel_date")
        if self.policy_column:
            kinds += ["lowercase_policy", "unknown_policy"]
        if self.conflict_column:
            kinds.append("conflicting_duplicate")
        if self.text_column:
            kinds.append("id_in_text")
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
        conflict_column="income_per_capita",
    ),
    "medical_claims": DefectTargets(
        id_column="id_no",
        date_column="claim_date",
        amount_columns=("total_cost", "reimbursed", "out_of_pocket"),
        required=("id_no", "claim_date", "total_cost"),
        in_month_date=True,
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
        excel_dates=True,
    ),
    "bank_deposits": DefectTargets(
        id_column="id_no",
        date_column="check_date",
        amount_columns=("balance",),
        required=("id_no", "bank_code", "balance"),
        in_month_date=True,
        conflict_column="balance",
    ),
    "housing_appraisal": DefectTargets(
        date_column="appraisal_date",
        coord_columns=("longitude", "latitude"),
        household_column="household_no",
        required=("household_no", "appraisal_grade"),
        repeated_header=True,
        in_month_date=True,
        excel_dates=True,
    ),
    "water_safety": DefectTargets(
        date_column="check_date",
        household_column="household_no",
        required=("household_no", "is_safe"),
        in_month_date=True,
    ),
    "subsidy_ledger": DefectTargets(
        amount_columns=("amount",),
        household_column="household_no",
        required=("household_no", "policy_code", "amount"),
        policy_column="policy_code",
        conflict_column="amount",
    ),
    "official_visits": DefectTargets(
        coord_columns=("longitude", "latitude"),
        household_column="household_no",
        required=("official_id", "household_no", "visit_time"),
        text_column="content",
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
    blank_row_at: int | None = None  # data row index before which the writer leaves a blank row


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


def _year_early(s: str, _rng: np.random.Generator, _known: set[str]) -> str:
    """The same day a year before (a claim typed with last year's date)."""
    return f"{int(s[:4]) - 1}{s[4:8]}{min(int(s[8:10]), 28):02d}{s[10:]}"


def _unknown_policy(_s: str, rng: np.random.Generator, _known: set[str]) -> str:
    # The catalog ends at P060: P061–P099 are codes a department invented or mistyped.
    return f"P{rng.integers(61, 100):03d}"


def _id_in_text(text: str, rng: np.random.Generator, _known: set[str]) -> str:
    """An official types the head's ID and phone into the note (the ETL must mask both)."""
    stem = f"331122{rng.integers(1930, 1990)}{rng.integers(1, 13):02d}{rng.integers(1, 29):02d}"
    stem += f"{rng.integers(0, 1000):03d}"
    phone = f"1{rng.integers(3, 10)}{rng.integers(0, 10**9):09d}"
    return f"{text}（户主身份证{stem}{checksum_char(stem)}，电话{phone}）"


_TEXT_EDITS: dict[str, Callable[[str, np.random.Generator, set[str]], str]] = {
    "bad_id_checksum": _bad_checksum,
    "fullwidth_id": lambda s, _rng, _known: s.translate(_FULLWIDTH),
    "lowercase_x": lambda s, _rng, _known: s.lower(),
    "date_format": _other_date,
    "unknown_village": _unknown_code,
    "unknown_household": _unknown_household,
    "fullwidth_household": lambda s, _rng, _known: s.translate(_FULLWIDTH),
    "date_outside_month": _year_early,
    "lowercase_policy": lambda s, _rng, _known: s.lower(),
    "unknown_policy": _unknown_policy,
    "id_in_text": _id_in_text,
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
        "fullwidth_household": targets.household_column,
        "date_outside_month": targets.date_column,
        "lowercase_policy": targets.policy_column,
        "unknown_policy": targets.policy_column,
        "id_in_text": targets.text_column,
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
    if kind in ("date_format", "date_outside_month"):
        return text.str.fullmatch(r"\d{4}-\d{2}-\d{2}").to_numpy(dtype=bool)
    if kind == "id_in_text":
        return np.ones(len(frame), dtype=bool)
    return (text != "").to_numpy(dtype=bool)


def _as_text(frame: pd.DataFrame, name: str) -> None:
    """Turn a money column into text with 2 decimals (blank for NaN), as the writer would."""
    column = frame[name]
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype=float)
        text = np.char.mod("%.2f", np.nan_to_num(values))
        frame[name] = pd.Series(np.where(np.isnan(values), "", text), index=frame.index).astype(
            object
        )
    else:
        frame[name] = column.astype(object)


def _format(
    kind: str,
    frame: pd.DataFrame,
    labels: np.ndarray,
    targets: DefectTargets,
    rng: np.random.Generator,
) -> None:
    """Rewrite cells of ``labels`` the way spreadsheets show them (the ETL normalises them)."""
    if kind == "amount_format":
        for name, part in _split(targets.amount_columns, labels, rng):
            _as_text(frame, name)
            forms = rng.integers(0, len(_AMOUNT_FORMS), part.size)
            frame.loc[part, name] = [
                _AMOUNT_FORMS[f].format(float(v))
                for f, v in zip(forms, frame.loc[part, name], strict=True)
            ]
    elif kind == "excel_date" and targets.date_column:
        name = targets.date_column
        frame[name] = frame[name].astype(object)
        frame.loc[labels, name] = [dt.date.fromisoformat(v) for v in frame.loc[labels, name]]


def _copies(
    frame: pd.DataFrame, duplicates: np.ndarray, conflicts: np.ndarray, targets: DefectTargets
) -> pd.DataFrame:
    """The frame with exact copies and conflicting copies inserted right after their originals.

    Index labels are kept (a copy shares its original's label) until the end of injection.
    """
    parts = [frame, frame.iloc[duplicates]]
    if conflicts.size and targets.conflict_column:
        changed = frame.iloc[conflicts].copy()
        name = targets.conflict_column
        changed[name] = np.round(changed[name].to_numpy(dtype=float) + 10.0, 2)
        parts.append(changed)
    return pd.concat(parts).sort_index(kind="stable")


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
    chosen: dict[str, np.ndarray] = {}
    for kind, quota in zip(kinds, quotas, strict=True):
        pool = np.flatnonzero(_eligible(kind, out, targets) & ~used)
        rows = np.sort(rng.choice(pool, size=min(int(quota), pool.size), replace=False))
        used[rows] = True
        counts[kind] = int(rows.size)
        chosen[kind] = rows
        if kind not in _AFTER_COPIES and rows.size:
            _apply(kind, out, rows=rows, targets=targets, rng=rng, known_villages=known_villages)
    empty = np.array([], dtype=np.int64)
    out = out.reset_index(drop=True)
    out = _copies(
        out,
        chosen.get("duplicate_row", empty),
        chosen.get("conflicting_duplicate", empty),
        targets,
    )
    for kind in ("amount_format", "excel_date"):  # after the copies: they change dtypes
        if chosen.get(kind, empty).size:
            _format(kind, out, chosen[kind], targets, rng)
    out = out.reset_index(drop=True)
    header_at = blank_at = None
    if targets.repeated_header and rate > 0 and len(out) > 1:
        header_at = int(rng.integers(1, len(out)))
        counts["repeated_header"] = 1
    if rate > 0 and len(out) > 2:
        blank_at = int(rng.integers(1, len(out)))
        if blank_at == header_at:  # one row per place: the blank row goes just before
            blank_at -= 1
        counts["blank_row"] = 1
    return Injected(out, dict(sorted(counts.items())), header_at, blank_at)
