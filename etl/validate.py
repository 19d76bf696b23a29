"""Validate and normalise a feed's rows: every row is kept (typed) or rejected with a reason.

Vectorised over whole columns (the checks are in :mod:`etl.checks`). Rows are validated before
duplicates are looked at, as the feed contract specifies: two damaged rows that happen to
coincide are two rejections, not one. Of the valid rows, exact copies are merged; rows that
share a key but differ are all quarantined (we cannot tell which is true).
"""

from __future__ import annotations

import re

import pandas as pd
import shapely

from core.errors import FeedUnreadable
from core.redact import mask_personal_numbers
from etl import normalise
from etl.checks import STRICT_FORMS, Checked, References, Verdicts, check_column, quoted
from etl.feedspec import Column, FeedSpec
from etl.frames import is_member
from etl.pseudonymise import mask_ids
from etl.read import LINE, RawFeed

__all__ = ["Checked", "References", "validate"]


def _apply_rules(frame: pd.DataFrame, spec: FeedSpec, verdicts: Verdicts) -> None:
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


def _check_people(
    frame: pd.DataFrame, spec: FeedSpec, verdicts: Verdicts, refs: References
) -> None:
    """Rows about a person must name one of this month's roster."""
    if spec.name == "civil_affairs_roster" or "person_token" not in frame:
        return
    if refs.persons is None:
        return
    unknown = ~is_member(frame["person_token"], refs.persons.index)
    rejected = refs.rejected_persons
    if rejected is not None and len(rejected):
        hit = unknown & is_member(frame["person_token"], rejected.index)
        why = frame.loc[hit, "person_token"].map(rejected)
        verdicts.reject(
            hit,
            "id_no",
            "person_rejected",
            "national ID '" + frame.loc[hit, "id_masked"] + "' is in the roster file, but the"
            " roster rejected the person (" + why + "): this row waits for the roster's"
            " correction",
        )
    verdicts.reject(
        unknown,
        "id_no",
        "unknown_person",
        "national ID {} is not in this month's civil-affairs roster",
        frame["id_masked"],
    )


def _strict(column: Column, value: str) -> bool:
    """Whether a value has the strict form of its column (after normalisation)."""
    if column.kind in ("money", "int", "lon", "lat"):
        value = normalise.number(pd.Series([value], dtype="str"))[0].iloc[0]
    elif column.kind in ("id18", "household_no", "village_code", "policy_code"):
        value = normalise.code(pd.Series([value], dtype="str"))[0].iloc[0]
    form = column.form or STRICT_FORMS.get(column.kind)
    if form is None and column.choices is not None:
        form = "|".join(map(re.escape, column.choices))
    if value == "":
        return not column.required
    return form is None or re.fullmatch(form, value) is not None


def _truncated_last_record(raw: RawFeed, spec: FeedSpec) -> None:
    """Stop when a file without a final line break ends in a value cut short.

    Arrow reads a last line that stops inside its last field as a shorter value
    (``2024-07-1`` for ``2024-07-15``); that value then fails the column's strict form. A cut
    that leaves a well-formed value (free text, an optional field cut to nothing) cannot be
    told from a complete one.
    """
    if not raw.unterminated or raw.frame.empty:
        return
    name = [c for c in raw.frame.columns if c in spec.column_names][-1]
    column = next(c for c in spec.columns if c.name == name)
    value = str(raw.frame[name].iloc[-1])
    if _strict(column, value):
        return
    shown = mask_ids(pd.Series([value])).iloc[0] if column.kind == "id18" else value
    raise FeedUnreadable(
        raw.path.name,
        f"the file is truncated: its last line ({int(raw.frame[LINE].iloc[-1])}) ends without"
        f" a line break and its last field {name} = '{quoted(pd.Series([shown])).iloc[0]}' is"
        " cut short; ask the department to send the whole file again",
    )


def _content(frame: pd.DataFrame, spec: FeedSpec, raw: RawFeed) -> pd.DataFrame:
    """The typed values of a row, as compared to find copies (an ID by its token)."""
    columns = {}
    for column in spec.columns:
        if column.kind == "id18":
            columns[column.name] = frame["person_token"]
        elif column.kind == "wkt":
            columns[column.name] = raw.frame[column.name]
        else:
            columns[column.name] = frame[column.name]
    return pd.DataFrame(columns, index=frame.index)


def _conflicts(
    frame: pd.DataFrame, content: pd.DataFrame, spec: FeedSpec, verdicts: Verdicts
) -> tuple[pd.Series, list[str]]:
    """Quarantine every version of a key that valid rows give different values.

    Returns the exact copies among the remaining valid rows (to be merged) and a warning for
    the report when there were conflicts.
    """
    alive = verdicts.alive
    copies = content.loc[alive].duplicated(keep="first")
    key = ["person_token" if name == "id_no" else name for name in spec.key]
    keyed = frame.loc[alive, key].astype(str)
    distinct = keyed[~copies]
    clashing = distinct[distinct.duplicated(keep=False)].drop_duplicates()
    if clashing.empty:
        return copies.reindex(frame.index, fill_value=False), []
    marked = keyed.reset_index().merge(clashing, on=key, how="inner")["index"]
    hit = pd.Series(frame.index.isin(marked), index=frame.index)
    lines = frame.loc[hit, LINE].astype(str)
    group = keyed.loc[hit].apply("\x1f".join, axis=1)
    listed = lines.groupby(group).transform(lambda s: ", ".join(s.head(5)))
    count = lines.groupby(group).transform("size").astype(str)
    reason = (
        count
        + " rows share this "
        + "+".join(spec.key)
        + " with different values (lines "
        + listed
        + "): none is loaded; send one corrected row"
    )
    verdicts.reject(hit, spec.key[0], "conflicting_duplicate", reason)
    warning = (
        f"{len(clashing)} key(s) with conflicting rows: all {int(hit.sum())} of their rows"
        " quarantined (conflicting_duplicate)"
    )
    alive = verdicts.alive
    copies = content.loc[alive].duplicated(keep="first")
    return copies.reindex(frame.index, fill_value=False), [warning]


def validate(raw: RawFeed, spec: FeedSpec, refs: References) -> Checked:
    """Validate one feed; return the typed clean rows and the rejected rows with reasons.

    Raises
    ------
    FeedUnreadable
        When the file ends without a line break in a value cut short (a truncated upload).
    """
    _truncated_last_record(raw, spec)
    source = raw.frame
    frame = source.copy()
    verdicts = Verdicts(frame.index)
    checked = Checked(clean=frame, rejects=pd.DataFrame())
    for column in spec.columns:
        frame[column.name] = frame[column.name].astype("str")
        if column.required:
            verdicts.reject(
                frame[column.name] == "",
                column.name,
                f"blank_required:{column.name}",
                f"required field {column.name} is blank",
            )
    widened = [
        raw.widened[c.name] for c in spec.columns if c.kind != "id18" and c.name in raw.widened
    ]
    if widened:
        checked.fixed["width_normalised"] += int(pd.concat(widened, axis=1).any(axis=1).sum())
    checked.fixed["excel_date"] += raw.excel_dates
    for column in spec.columns:
        width = raw.widened.get(column.name, pd.Series(False, index=frame.index))
        check_column(frame, column, verdicts, checked, refs, widened=width)
    _check_people(frame, spec, verdicts, refs)
    _apply_rules(frame, spec, verdicts)
    copies, warnings = _conflicts(frame, _content(frame, spec, raw), spec, verdicts)
    checked.warnings += warnings
    checked.merged = int(copies.sum())
    keep = verdicts.alive & ~copies
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
    for name in ("household_no", "person_token"):
        if name in frame:
            checked.rejects[name] = frame.loc[rejected, name]
    return checked


def _masked_rows(rows: pd.DataFrame, spec: FeedSpec) -> pd.Series:
    """The rejected rows (normalised), with every ID and phone number masked."""
    shown = rows[list(spec.column_names)].astype(str).copy()
    for column in spec.columns:
        if column.kind == "id18":
            shown[column.name] = mask_ids(shown[column.name]).where(shown[column.name] != "", "")
        else:
            shown[column.name] = shown[column.name].map(mask_personal_numbers)
    return pd.Series(shown.to_dict(orient="records"), index=rows.index, dtype=object)
