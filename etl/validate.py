"""Validate and normalise a feed's rows: every row is kept (typed) or rejected with a reason.

Vectorised over whole columns. The first failed check decides a row's rule and reason. Rows are
validated before exact duplicates are merged, as the feed contract specifies: two damaged rows
that happen to coincide are two rejections, not one.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from core.month import Month
from etl.feedspec import Column, FeedSpec
from etl.frames import is_member
from etl.ids import valid_id_mask
from etl.pseudonymise import Pseudonymiser, mask_ids
from etl.read import LINE, RawFeed
from geo import crs

#: Zhejiang's extent with a margin (WGS84): a point outside is not in the province.
PROVINCE_BBOX = (118.0, 27.0, 123.3, 31.3)
#: Money at or above this is a unit mix-up (fen for yuan), not a real amount.
ABSURD_AMOUNT = 1_000_000
_DATE_FORMATS = (
    (r"^\d{4}-\d{2}-\d{2}$", "%Y-%m-%d"),
    (r"^\d{4}/\d{1,2}/\d{1,2}$", "%Y/%m/%d"),
    (r"^\d{8}$", "%Y%m%d"),
    (r"^\d{4}年\d{1,2}月\d{1,2}日$", "%Y年%m月%d日"),
)
_HOUSEHOLD_RE = r"^H[0-9]{13}$"
_VILLAGE_RE = r"[0-9]{12}"
_CRS_NAMES = ("wgs84", "gcj02", "bd09")


@dataclass
class References:
    """What rows of a month may refer to."""

    month: Month
    villages: pd.Index
    pseudonymiser: Pseudonymiser
    #: household_no → county_code of this month's roster (None while reading the roster).
    households: pd.Series | None = None
    #: person_token → household_no of this month's roster.
    persons: pd.Series | None = None


@dataclass
class Checked:
    """The outcome of validating one feed."""

    clean: pd.DataFrame
    rejects: pd.DataFrame
    fixed: Counter[str] = field(default_factory=Counter)
    merged: int = 0


class _Verdicts:
    """First failure per row: its column, rule and reason."""

    def __init__(self, index: pd.Index) -> None:
        self.rule = pd.Series(None, index=index, dtype=object)
        self.column = pd.Series(None, index=index, dtype=object)
        self.reason = pd.Series(None, index=index, dtype=object)

    @property
    def alive(self) -> pd.Series:
        return self.rule.isna()

    def reject(
        self,
        mask: pd.Series,
        column: str | None,
        rule: str,
        reason: str,
        values: pd.Series | None = None,
    ) -> None:
        """Reject the rows of ``mask`` not rejected yet.

        ``reason`` may hold one ``{}``: it is replaced by the row's value from ``values``,
        quoted and cut to 40 characters; the text is only built for the rejected rows.
        ID columns pass their masked form as ``values``, so no reason holds a raw ID.
        """
        hit = mask & self.alive
        if not hit.any():
            return
        self.rule[hit] = rule
        self.column[hit] = column
        if values is None or "{}" not in reason:
            self.reason[hit] = reason
            return
        prefix, suffix = reason.split("{}", 1)
        shown = values[hit].astype(str).str.slice(0, 40)
        self.reason[hit] = (prefix + "'" + shown + "'" + suffix).astype(object)


def _parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse the four date forms departments use; return (dates, parsed-from-a-non-ISO-form)."""
    # Nearly every date is ISO: parse all at once, then try the other forms on what is left.
    parsed = pd.to_datetime(values, format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")
    non_iso = pd.Series(False, index=values.index)
    rest = values[parsed.isna() & (values != "")]
    for position, (pattern, fmt) in enumerate(_DATE_FORMATS):
        if rest.empty:
            break
        match = rest.str.match(pattern).reindex(values.index, fill_value=False) & parsed.isna()
        if match.any():
            parsed[match] = pd.to_datetime(values[match], format=fmt, errors="coerce")
            if position:
                non_iso |= match & parsed.notna()
    return parsed, non_iso


def _check_ids(
    frame: pd.DataFrame, column: str, verdicts: _Verdicts, checked: Checked, refs: References
) -> None:
    raw = frame[column]
    # Most IDs arrive clean; only the others pay for NFKC (full-width digits), spaces and case.
    clean = raw.str.fullmatch(r"[0-9]{17}[0-9X]")  # ASCII: \d also matches full-width digits
    normalised = raw.copy()
    normalised[~clean] = (
        raw[~clean].str.normalize("NFKC").str.replace(r"\s+", "", regex=True).str.upper()
    )
    changed = (normalised != raw) & (raw != "")
    checked.fixed["id_normalised"] += int(changed.sum())
    masked = mask_ids(normalised)
    good = pd.Series(valid_id_mask(normalised.to_numpy()), index=frame.index)
    verdicts.reject(
        ~good & (normalised != ""),
        column,
        "bad_id_checksum",
        "national ID {} is not a valid GB 11643 number (check digit or form)",
        masked,
    )
    frame["id_masked"] = masked
    frame["person_token"] = refs.pseudonymiser.tokens(normalised.where(good, "")).where(good, "")
    frame[column] = ""  # from here on only the token and the masked form exist


def _check_money(frame: pd.DataFrame, column: Column, verdicts: _Verdicts) -> None:
    values = pd.to_numeric(frame[column.name], errors="coerce")
    present = frame[column.name] != ""
    verdicts.reject(
        present & values.isna(),
        column.name,
        "bad_number",
        column.name + " {} is not a number",
        frame[column.name],
    )
    verdicts.reject(
        values < 0,
        column.name,
        f"negative_amount:{column.name}",
        column.name + " {} is negative",
        frame[column.name],
    )
    verdicts.reject(
        values >= ABSURD_AMOUNT,
        column.name,
        f"absurd_amount:{column.name}",
        column.name + f" {{}} yuan is implausible (≥ {ABSURD_AMOUNT:,}; fen sent as yuan?)",
        frame[column.name],
    )
    frame[column.name] = values


def _check_int(frame: pd.DataFrame, column: Column, verdicts: _Verdicts) -> None:
    values = pd.to_numeric(frame[column.name], errors="coerce")
    present = frame[column.name] != ""
    bad = present & (values.isna() | (values != values.round()))
    if column.low is not None:
        bad |= values < column.low
    if column.high is not None:
        bad |= values > column.high
    verdicts.reject(
        bad,
        column.name,
        "bad_integer",
        column.name + f" {{}} is not a whole number in [{column.low:g}, {column.high:g}]",
        frame[column.name],
    )
    frame[column.name] = values.astype("Int64")


def _check_coordinates(frame: pd.DataFrame, verdicts: _Verdicts) -> None:
    lon = pd.to_numeric(frame["longitude"], errors="coerce")
    lat = pd.to_numeric(frame["latitude"], errors="coerce")
    system = frame["coord_sys"].str.strip().str.lower()
    verdicts.reject(
        ~system.isin(_CRS_NAMES) & (system != ""),
        "coord_sys",
        "unknown_crs",
        "coord_sys {} is not wgs84, gcj02 or bd09",
        frame["coord_sys"],
    )
    usable = lon.notna() & lat.notna() & system.isin(_CRS_NAMES)
    verdicts.reject(
        ~usable & (frame["longitude"] != ""),
        "longitude",
        "bad_number",
        "longitude/latitude {} are not numbers",
        frame["longitude"] + "," + frame["latitude"],
    )
    x = np.full(len(frame), np.nan)
    y = np.full(len(frame), np.nan)
    idx = np.flatnonzero(usable.to_numpy())
    if idx.size:
        x[idx], y[idx] = crs.to_wgs84(
            lon.to_numpy()[idx], lat.to_numpy()[idx], system.to_numpy()[idx]
        )
    west, south, east, north = PROVINCE_BBOX
    inside = (x >= west) & (x <= east) & (y >= south) & (y <= north)
    verdicts.reject(
        usable & ~pd.Series(inside, index=frame.index),
        "longitude",
        "coord_out_of_province",
        "point {} lies outside Zhejiang",
        frame["longitude"] + "," + frame["latitude"] + " (" + system + ")",
    )
    frame["lon_wgs84"] = x
    frame["lat_wgs84"] = y
    frame["coord_sys"] = system


class _Check:
    """What a column checker sees."""

    def __init__(
        self,
        frame: pd.DataFrame,
        column: Column,
        verdicts: _Verdicts,
        checked: Checked,
        refs: References,
    ) -> None:
        self.frame, self.column, self.verdicts = frame, column, verdicts
        self.checked, self.refs = checked, refs
        self.name = column.name
        self.values: pd.Series = frame[column.name]
        self.present: pd.Series = self.values != ""

    def reject(self, mask: pd.Series, rule: str, reason: str) -> None:
        """Reject present values of this column; ``{}`` in ``reason`` shows the value."""
        self.verdicts.reject(mask & self.present, self.name, rule, reason, self.values)


def _household_no(c: _Check) -> None:
    c.reject(
        ~c.values.str.match(_HOUSEHOLD_RE),
        "bad_household_no",
        c.name + " {} is not H + 13 digits",
    )
    if c.refs.households is not None:
        c.reject(
            ~is_member(c.values, c.refs.households.index),
            "unknown_household",
            "household {} is not in this month's civil-affairs roster",
        )


def _village_code(c: _Check) -> None:
    c.reject(
        ~is_member(c.values, c.refs.villages),
        "unknown_village",
        "village code {} does not exist",
    )


def _date(c: _Check) -> None:
    parsed, non_iso = _parse_dates(c.values)
    c.reject(parsed.isna(), "bad_date", c.name + " {} is not a date (YYYY-MM-DD)")
    c.checked.fixed["date_format"] += int((non_iso & c.verdicts.alive).sum())
    c.frame[c.name] = parsed


def _datetime(c: _Check) -> None:
    parsed = pd.to_datetime(c.values, format="%Y-%m-%dT%H:%M:%S", errors="coerce")
    c.reject(parsed.isna(), "bad_datetime", c.name + " {} is not YYYY-MM-DDTHH:MM:SS")
    c.frame[c.name] = parsed


def _month(c: _Check) -> None:
    c.reject(
        c.values != str(c.refs.month),
        "wrong_month",
        c.name + " {} is not the month loaded (" + str(c.refs.month) + ")",
    )


def _village_codes(c: _Check) -> None:
    unknown = c.values.str.split(";").map(
        lambda codes: any(code and code not in c.refs.villages for code in codes)
    )
    c.reject(unknown, "unknown_village", "affected village codes {} include an unknown code")


def _wkt(c: _Check) -> None:
    text = np.array([value or None for value in c.values], dtype=object)
    geoms = shapely.from_wkt(text, on_invalid="ignore")
    c.reject(
        pd.Series(shapely.is_missing(geoms), index=c.frame.index),
        "bad_wkt",
        c.name + " {} is not valid WKT",
    )
    c.frame[c.name] = geoms


_CHECKERS: dict[str, Callable[[_Check], None]] = {
    "id18": lambda c: _check_ids(c.frame, c.name, c.verdicts, c.checked, c.refs),
    "household_no": _household_no,
    "village_code": _village_code,
    "date": _date,
    "datetime": _datetime,
    "month": _month,
    # coord_sys comes after longitude and latitude: the three are checked together.
    "coord_sys": lambda c: _check_coordinates(c.frame, c.verdicts),
    "money": lambda c: _check_money(c.frame, c.column, c.verdicts),
    "int": lambda c: _check_int(c.frame, c.column, c.verdicts),
    "village_codes": _village_codes,
    "wkt": _wkt,
}


def _check_column(
    frame: pd.DataFrame, column: Column, verdicts: _Verdicts, checked: Checked, refs: References
) -> None:
    check = _Check(frame, column, verdicts, checked, refs)
    checker = _CHECKERS.get(column.kind)
    if checker is not None:
        checker(check)
    if column.choices is not None:
        check.reject(
            ~check.values.isin(column.choices),
            "not_allowed",
            column.name + " {} is not one of " + "/".join(column.choices),
        )


def _apply_rules(frame: pd.DataFrame, spec: FeedSpec, verdicts: _Verdicts) -> None:
    if "claim_adds_up" in spec.rules:
        gap = (frame["total_cost"] - frame["reimbursed"] - frame["out_of_pocket"]).abs()
        verdicts.reject(
            gap > 0.011,
            "total_cost",
            "amounts_do_not_add_up",
            "total_cost ≠ reimbursed + out_of_pocket",
        )
    if "event_has_area" in spec.rules:
        none = (frame["affected_village_codes"] == "") & shapely.is_missing(
            frame["affected_area_wkt"].to_numpy()
        )
        verdicts.reject(
            pd.Series(none, index=frame.index),
            "affected_village_codes",
            "blank_required:affected_area",
            "neither affected villages nor an area",
        )


def validate(raw: RawFeed, spec: FeedSpec, refs: References) -> Checked:
    """Validate one feed; return the typed clean rows and the rejected rows with reasons."""
    source = raw.frame
    frame = source.copy()
    verdicts = _Verdicts(frame.index)
    checked = Checked(clean=frame, rejects=pd.DataFrame())
    for column in spec.columns:
        frame[column.name] = frame[column.name].astype(str).str.strip()
        if column.required:
            verdicts.reject(
                frame[column.name] == "",
                column.name,
                f"blank_required:{column.name}",
                f"required field {column.name} is blank",
            )
    for column in spec.columns:
        _check_column(frame, column, verdicts, checked, refs)
    if spec.name != "civil_affairs_roster" and "person_token" in frame and refs.persons is not None:
        verdicts.reject(
            ~is_member(frame["person_token"], refs.persons.index),
            "id_no",
            "unknown_person",
            "national ID {} is not in this month's civil-affairs roster",
            frame["id_masked"],
        )
    _apply_rules(frame, spec, verdicts)

    # Exact copies of a valid row (as sent) are merged into it; a second valid row with the
    # same key but other content is quarantined: we cannot tell which of the two is true.
    alive = verdicts.alive
    exact = (
        source.loc[alive, list(spec.column_names)]
        .duplicated(keep="first")
        .reindex(frame.index, fill_value=False)
    )
    key = ["person_token" if spec_column == "id_no" else spec_column for spec_column in spec.key]
    keyed = frame[key].astype(str)
    key_clash = (
        keyed[alive & ~exact].duplicated(keep="first").reindex(frame.index, fill_value=False)
    )
    verdicts.reject(
        key_clash,
        spec.key[0],
        "duplicate_key",
        "another row has the same " + "+".join(spec.key) + " with other values",
    )
    checked.merged = int(exact.sum())
    keep = verdicts.alive & ~exact
    rejected = ~verdicts.alive
    checked.clean = frame[keep]
    checked.rejects = pd.DataFrame(
        {
            "line": source.loc[rejected, LINE],
            "column_name": verdicts.column[rejected],
            "rule": verdicts.rule[rejected],
            "reason": verdicts.reason[rejected],
            "row_masked": _masked_rows(source[rejected], spec),
        }
    )
    return checked


def _masked_rows(rows: pd.DataFrame, spec: FeedSpec) -> pd.Series:
    """The rejected rows as sent, with every ID column masked (a raw ID is never stored)."""
    shown = rows[list(spec.column_names)].astype(str).copy()
    for column in spec.columns:
        if column.kind == "id18":
            normalised = shown[column.name].str.normalize("NFKC")
            shown[column.name] = mask_ids(normalised).where(normalised != "", "")
    # Any other 17–18 character run of digits (an ID pasted into the wrong column) is masked too.
    id_like = re.compile(r"\d{17}[\dXx]")
    for name in shown.columns:
        shown[name] = shown[name].str.replace(
            id_like, lambda m: m.group()[:4] + "*" * 10 + m.group()[-4:], regex=True
        )
    return pd.Series(shown.to_dict(orient="records"), index=rows.index, dtype=object)
