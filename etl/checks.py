"""Column checks of the feed validator: each column kind normalised, typed or rejected.

Vectorised over whole columns. The first failed check decides a row's rule and reason; every
value quoted in a reason is masked (:mod:`core.redact`), whatever its column.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import shapely

from core.month import Month
from core.redact import mask_personal_numbers
from etl import normalise
from etl.feedspec import Column
from etl.frames import is_member
from etl.ids import valid_id_mask
from etl.pseudonymise import Pseudonymiser, mask_ids
from geo import crs

#: Zhejiang's extent with a margin (WGS84): a point outside is not in the province.
PROVINCE_BBOX = (118.0, 27.0, 123.3, 31.3)
#: Money at or above this is a unit mix-up (fen for yuan), not a real amount.
ABSURD_AMOUNT = 1_000_000
#: The date forms of the contract. ISO is strict (zero-padded): ``2024-07-1`` is not a date
#: (it is what a date cut short looks like); the other three are the departments' own forms.
_DATE_FORMATS = (
    (r"[0-9]{4}-[0-9]{2}-[0-9]{2}", "%Y-%m-%d"),
    (r"[0-9]{4}/[0-9]{1,2}/[0-9]{1,2}", "%Y/%m/%d"),
    (r"[0-9]{8}", "%Y%m%d"),
    (r"[0-9]{4}年[0-9]{1,2}月[0-9]{1,2}日", "%Y年%m月%d日"),
)
_DATETIME = r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
_HOUSEHOLD_RE = r"H[0-9]{13}"
_CRS_NAMES = ("wgs84", "gcj02", "bd09")
#: Seven digits in a row (any width): the only text worth running the ID/phone masks over.
_MAYBE_NUMBER = r"[0-9０-９]{3}[ -]?[0-9０-９]{4}"
#: The strict form of each kind: what a value cut short at the end of a file fails.
STRICT_FORMS: dict[str, str] = {
    "date": "|".join(pattern for pattern, _ in _DATE_FORMATS),
    "datetime": _DATETIME,
    "month": r"[0-9]{4}-[0-9]{2}",
    "money": r"-?[0-9]+\.[0-9]{2}",
    "int": r"[0-9]+",
    "lon": r"-?[0-9]+\.[0-9]{6}",
    "lat": r"-?[0-9]+\.[0-9]{6}",
    "coord_sys": "|".join(_CRS_NAMES),
    "household_no": _HOUSEHOLD_RE,
    "id18": r"[0-9]{17}[0-9X]",
    "village_code": r"[0-9]{12}",
    "policy_code": r"P[0-9]{3}",
}


@dataclass
class References:
    """What rows of a month may refer to."""

    month: Month
    villages: pd.Index
    pseudonymiser: Pseudonymiser
    #: The policy catalog's codes (the caller passes them: etl does not read analytics).
    policy_codes: frozenset[str]
    #: household_no → county_code of this month's roster (None while reading the roster).
    households: pd.Series | None = None
    #: person_token → household_no of this month's roster.
    persons: pd.Series | None = None
    #: household_no → why the roster rejected every row of it (rule and line).
    rejected_households: pd.Series | None = None
    #: person_token → why the roster rejected the person's row.
    rejected_persons: pd.Series | None = None


@dataclass
class Checked:
    """The outcome of validating one feed."""

    clean: pd.DataFrame
    rejects: pd.DataFrame
    fixed: Counter[str] = field(default_factory=Counter)
    merged: int = 0
    warnings: list[str] = field(default_factory=list)


def quoted(values: pd.Series) -> pd.Series:
    """Values as a reason quotes them: cut to 40 characters, IDs and phones masked."""
    return values.astype(str).map(mask_personal_numbers).str.slice(0, 40)


class Verdicts:
    """First failure per row: its column, rule and reason."""

    def __init__(self, index: pd.Index) -> None:
        self.rule = pd.Series(None, index=index, dtype=object)
        self.column = pd.Series(None, index=index, dtype=object)
        self.reason = pd.Series(None, index=index, dtype=object)

    @property
    def alive(self) -> pd.Series:
        """Rows not rejected so far."""
        return self.rule.isna()

    def reject(
        self,
        mask: pd.Series,
        column: str | None,
        rule: str,
        reason: str | pd.Series,
        values: pd.Series | None = None,
    ) -> None:
        """Reject the rows of ``mask`` not rejected yet.

        ``reason`` may hold one ``{}``: it is replaced by the row's value from ``values``,
        quoted, cut to 40 characters and masked; the text is built only for rejected rows.
        """
        hit = mask & self.alive
        if not hit.any():
            return
        self.rule[hit] = rule
        self.column[hit] = column
        if isinstance(reason, pd.Series):
            self.reason[hit] = reason.reindex(hit.index)[hit].astype(object)
            return
        if values is None or "{}" not in reason:
            self.reason[hit] = reason
            return
        prefix, suffix = reason.split("{}", 1)
        self.reason[hit] = (prefix + "'" + quoted(values[hit]) + "'" + suffix).astype(object)


class Check:
    """What a column checker sees."""

    def __init__(
        self,
        frame: pd.DataFrame,
        column: Column,
        verdicts: Verdicts,
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

    def fix(self, kind: str, values: pd.Series, changed: pd.Series) -> None:
        """Keep normalised ``values``; count the rows they changed under ``kind``."""
        self.frame[self.name] = self.values = values
        self.checked.fixed[kind] += int(changed.sum())


def _ids(c: Check, widened: pd.Series) -> None:
    values, changed = normalise.code(c.values)
    c.fix("id_normalised", values, changed | (widened & c.present))
    masked = mask_ids(values)
    good = pd.Series(valid_id_mask(values.to_numpy()), index=c.frame.index)
    c.verdicts.reject(
        ~good & c.present,
        c.name,
        "bad_id_checksum",
        "national ID {} is not a valid GB 11643 number (check digit or form)",
        masked,
    )
    c.frame["id_masked"] = masked
    c.frame["person_token"] = c.refs.pseudonymiser.tokens(values.where(good, "")).where(good, "")
    c.frame[c.name] = ""  # from here on only the token and the masked form exist


def _number(c: Check) -> pd.Series:
    values, changed = normalise.number(c.values)
    c.fix("amount_normalised", values, changed)
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers


def _money(c: Check) -> None:
    values = _number(c)
    c.reject(values.isna(), "bad_number", c.name + " {} is not a number")
    c.reject(values < 0, f"negative_amount:{c.name}", c.name + " {} is negative")
    c.reject(
        values >= ABSURD_AMOUNT,
        f"absurd_amount:{c.name}",
        c.name + f" {{}} yuan is implausible (≥ {ABSURD_AMOUNT:,}; fen sent as yuan?)",
    )
    c.frame[c.name] = values


def _int(c: Check) -> None:
    values = _number(c)
    column = c.column
    bad = values.isna() | (values != values.round())
    if column.low is not None:
        bad |= values < column.low
    if column.high is not None:
        bad |= values > column.high
    c.reject(
        bad,
        "bad_integer",
        c.name + f" {{}} is not a whole number in [{column.low:g}, {column.high:g}]",
    )
    c.frame[c.name] = values.astype("Int64")


def _coordinates(c: Check) -> None:
    frame, verdicts = c.frame, c.verdicts
    for name in ("longitude", "latitude"):
        frame[name], changed = normalise.number(frame[name])
        c.checked.fixed["amount_normalised"] += int(changed.sum())
    lon = pd.to_numeric(frame["longitude"], errors="coerce")
    lat = pd.to_numeric(frame["latitude"], errors="coerce")
    system = frame["coord_sys"].str.lower()
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


def _household_no(c: Check) -> None:
    values, changed = normalise.code(c.values)
    c.fix("code_normalised", values, changed)
    c.reject(
        ~values.str.fullmatch(_HOUSEHOLD_RE),
        "bad_household_no",
        c.name + " {} is not H + 13 digits",
    )
    refs = c.refs
    if refs.households is None:
        return
    unknown = ~is_member(values, refs.households.index)
    if refs.rejected_households is not None and len(refs.rejected_households):
        rejected = unknown & is_member(values, refs.rejected_households.index)
        why = values[rejected].map(refs.rejected_households)
        c.verdicts.reject(
            rejected & c.present,
            c.name,
            "household_rejected",
            "household '" + quoted(values[rejected]) + "' is in the roster file, but the roster"
            " rejected it (" + why + "): this row waits for the roster's correction",
        )
    c.reject(
        unknown, "unknown_household", "household {} is not in this month's civil-affairs roster"
    )


def _village_code(c: Check) -> None:
    values, changed = normalise.code(c.values)
    c.fix("code_normalised", values, changed)
    c.reject(
        ~is_member(values, c.refs.villages), "unknown_village", "village code {} does not exist"
    )


def _in_month(c: Check, parsed: pd.Series) -> None:
    if not c.column.in_month:
        return
    month = c.refs.month
    first, following = pd.Timestamp(month.first_day), pd.Timestamp(month.next().first_day)
    outside = parsed.notna() & ((parsed < first) | (parsed >= following))
    c.reject(
        outside,
        "outside_month",
        c.name + " {} is not in the month loaded (" + str(month) + ")",
    )


def parse_dates(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Parse the contract's four date forms; return (dates, parsed-from-a-non-ISO-form)."""
    parsed = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    non_iso = pd.Series(False, index=values.index)
    rest = values != ""
    for position, (pattern, fmt) in enumerate(_DATE_FORMATS):
        if not rest.any():
            break
        match = rest & values.str.fullmatch(pattern)
        if match.any():
            parsed[match] = pd.to_datetime(values[match], format=fmt, errors="coerce")
            if position:
                non_iso |= match & parsed.notna()
            rest &= ~match
    return parsed, non_iso


def _date(c: Check) -> None:
    parsed, non_iso = parse_dates(c.values)
    c.reject(parsed.isna(), "bad_date", c.name + " {} is not a date (YYYY-MM-DD)")
    c.checked.fixed["date_format"] += int((non_iso & c.verdicts.alive).sum())
    _in_month(c, parsed)
    c.frame[c.name] = parsed


def _datetime(c: Check) -> None:
    strict = c.values.str.fullmatch(_DATETIME)
    parsed = pd.to_datetime(c.values.where(strict, ""), format="%Y-%m-%dT%H:%M:%S", errors="coerce")
    c.reject(parsed.isna(), "bad_datetime", c.name + " {} is not YYYY-MM-DDTHH:MM:SS")
    _in_month(c, parsed)
    c.frame[c.name] = parsed


def _month(c: Check) -> None:
    c.reject(
        c.values != str(c.refs.month),
        "wrong_month",
        c.name + " {} is not the month loaded (" + str(c.refs.month) + ")",
    )


def _policy_code(c: Check) -> None:
    values, changed = normalise.code(c.values)
    c.fix("code_normalised", values, changed)
    c.reject(
        ~values.isin(c.refs.policy_codes),
        "unknown_policy",
        c.name + " {} is not in the policy catalog (P001–P060)",
    )


def _village_codes(c: Check) -> None:
    unknown = c.values.str.split(";").map(
        lambda codes: any(code and code not in c.refs.villages for code in codes)
    )
    c.reject(unknown, "unknown_village", "affected village codes {} include an unknown code")


def _wkt(c: Check) -> None:
    text = np.array([value or None for value in c.values], dtype=object)
    geoms = shapely.from_wkt(text, on_invalid="ignore")
    c.reject(
        pd.Series(shapely.is_missing(geoms), index=c.frame.index),
        "bad_wkt",
        c.name + " {} is not valid WKT",
    )
    c.frame[c.name] = geoms


def _text(c: Check) -> None:
    """Free text: ID and phone numbers masked before anything is stored."""
    if c.column.form is not None or c.column.choices is not None:
        return
    candidates = c.values.str.contains(_MAYBE_NUMBER)
    if not candidates.any():
        return
    masked = c.values[candidates].map(mask_personal_numbers)
    changed = masked != c.values[candidates]
    if changed.any():
        values = c.values.copy()
        values[candidates] = masked
        c.fix("text_masked", values, changed.reindex(c.values.index, fill_value=False))


CHECKERS: dict[str, Callable[[Check], None]] = {
    "household_no": _household_no,
    "village_code": _village_code,
    "date": _date,
    "datetime": _datetime,
    "month": _month,
    # coord_sys comes after longitude and latitude: the three are checked together.
    "coord_sys": _coordinates,
    "money": _money,
    "int": _int,
    "village_codes": _village_codes,
    "wkt": _wkt,
    "policy_code": _policy_code,
    "text": _text,
}


def check_column(
    frame: pd.DataFrame,
    column: Column,
    verdicts: Verdicts,
    checked: Checked,
    refs: References,
    *,
    widened: pd.Series,
) -> None:
    """Normalise, type and check one column in place."""
    check = Check(frame, column, verdicts, checked, refs)
    if column.kind == "id18":
        _ids(check, widened)
    elif column.kind in CHECKERS:
        CHECKERS[column.kind](check)
    if column.choices is not None:
        check.reject(
            ~check.values.isin(column.choices),
            "not_allowed",
            column.name + " {} is not one of " + "/".join(column.choices),
        )
