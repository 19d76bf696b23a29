"""Supervision of officials (纪委监察): findings, their trend and map, evidence, inspections.

Findings per official and area, their trend over the months, a map of findings per village,
each official's evidence, and the inspections auditors record.

Officials are people with rights too: their names and ids leave only for viewers entitled to
supervise the area (``names=True``); others see a stable pseudonym (干部 #n) and no record.
Evidence rows never carry a household id (auditors have no portrait rights).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import psycopg

from core.errors import OneMapError
from core.scope import Scope
from layers.deidentify import suppress_small

FINDING_KINDS = (
    "not_visited_30",
    "not_visited_60",
    "not_visited_90",
    "far_visit",
    "odd_hour",
    "copied_content",
    "benefit_anomaly",
)
OFFICIAL_COUNTS = (
    "households_paired",
    "visits",
    "not_visited_30",
    "not_visited_60",
    "not_visited_90",
    "far_visits",
    "odd_hour_visits",
    "copied_visits",
    "benefit_anomalies",
    "inspections",
)
OUTCOMES = ("no_issue", "corrected", "referred")

# Findings are first narrowed on their county (indexed, and cheap under row-level security),
# then on the household's village.
# Officials paired with households of the area that month (an official works in one county).
_OFFICIALS_SQL = """
WITH here AS (
    SELECT DISTINCT official_id FROM household_features
    WHERE month = %(month)s AND official_id IS NOT NULL
      AND village_code >= %(area)s AND village_code < %(area)s || ':'
), inspected AS (
    SELECT official_id, count(*) AS n FROM inspection
    WHERE official_id IS NOT NULL GROUP BY 1
)
SELECT o.official_id, o.official_name, o.households_paired, o.visits, o.not_visited_30,
       o.not_visited_60, o.not_visited_90, o.far_visits, o.odd_hour_visits, o.copied_visits,
       o.benefit_anomalies, coalesce(i.n, 0) AS inspections
FROM supervision_official o
JOIN here USING (official_id)
LEFT JOIN inspected i USING (official_id)
WHERE o.month = %(month)s
ORDER BY o.not_visited_90 + o.far_visits + o.odd_hour_visits + o.copied_visits
         + o.benefit_anomalies DESC, o.official_id
"""
_TREND_SQL = """
SELECT f.month, f.kind, count(*)
FROM supervision_finding f
JOIN household h ON h.month = f.month AND h.household_id = f.household_id
WHERE f.county_code >= left(%(area)s, 6)
  AND f.county_code < left(%(area)s, 6) || ':'
  AND h.village_code >= %(area)s AND h.village_code < %(area)s || ':'
GROUP BY 1, 2 ORDER BY 1, 2
"""
_MAP_SQL = """
SELECT v.code, v.name, ST_X(ST_PointOnSurface(v.geom)), ST_Y(ST_PointOnSurface(v.geom)),
       count(*) AS findings
FROM supervision_finding f
JOIN household h ON h.month = f.month AND h.household_id = f.household_id
JOIN admin_area v ON v.code = h.village_code
WHERE f.month = %(month)s AND f.county_code >= left(%(area)s, 6)
  AND f.county_code < left(%(area)s, 6) || ':'
  AND h.village_code >= %(area)s AND h.village_code < %(area)s || ':'
GROUP BY v.code, v.name, v.geom
"""
_EVIDENCE_SQL = """
SELECT f.month, f.kind, f.detail, f.visit_time, round(f.distance_m) AS distance_m,
       v.name AS village_name
FROM supervision_finding f
JOIN household h ON h.month = f.month AND h.household_id = f.household_id
JOIN admin_area v ON v.code = h.village_code
WHERE f.official_id = %(official)s AND f.month <= %(month)s AND f.county_code >= left(%(area)s, 6)
  AND f.county_code < left(%(area)s, 6) || ':'
  AND h.village_code >= %(area)s AND h.village_code < %(area)s || ':'
ORDER BY f.month DESC, f.kind, f.visit_time NULLS LAST
LIMIT %(limit)s
"""
_INSPECTIONS_SQL = """
SELECT inspection_id, inspected_on, inspector, kind, official_id, area_code, outcome, note,
       recorded_at
FROM inspection
WHERE area_code >= %(area)s AND area_code < %(area)s || ':'
ORDER BY inspected_on DESC, inspection_id DESC
LIMIT %(limit)s
"""


class BadInspection(OneMapError, ValueError):
    """An inspection that cannot be recorded (unknown official or household, bad date…)."""

    user_msg = "The inspection could not be recorded: check the official or household and date."


@dataclass(frozen=True, slots=True)
class Inspection:
    """What an inspector records."""

    inspected_on: dt.date
    outcome: str
    note: str = ""
    official_id: str | None = None
    household_id: str | None = None


def _frame(cursor: psycopg.Cursor) -> pd.DataFrame:
    return pd.DataFrame(cursor.fetchall(), columns=[d.name for d in cursor.description or ()])


def officials(conn: psycopg.Connection, area: str, month: dt.date, *, names: bool) -> pd.DataFrame:
    """One row per official paired in ``area`` in ``month`` with the findings, worst first.

    Without ``names`` the id and name become a pseudonym and counts of 1-4 are suppressed.
    """
    frame = _frame(conn.execute(_OFFICIALS_SQL, {"area": area, "month": month}))
    if names:
        return frame
    frame.insert(0, "official", [f"#{i + 1}" for i in range(len(frame))])
    frame = frame.drop(columns=["official_id", "official_name"])
    return suppress_small(frame, OFFICIAL_COUNTS)


def findings_trend(conn: psycopg.Connection, area: str, *, suppress: bool) -> pd.DataFrame:
    """Findings per month (rows) and kind (columns) in ``area``."""
    rows = conn.execute(_TREND_SQL, {"area": area}).fetchall()
    frame = pd.DataFrame(rows, columns=["month", "kind", "n"])
    table = frame.pivot_table(index="month", columns="kind", values="n", fill_value=0)
    table = table.reindex(columns=list(FINDING_KINDS), fill_value=0).astype(int).reset_index()
    table["month"] = [f"{m:%Y-%m}" for m in table["month"]]
    return suppress_small(table, FINDING_KINDS) if suppress else table


def findings_by_village(
    conn: psycopg.Connection, area: str, month: dt.date, *, suppress: bool
) -> pd.DataFrame:
    """Findings per village of ``area`` in ``month`` with a point inside each village."""
    frame = pd.DataFrame(
        conn.execute(_MAP_SQL, {"area": area, "month": month}).fetchall(),
        columns=["code", "area_name", "lon", "lat", "findings"],
    )
    return suppress_small(frame, ["findings"]) if suppress else frame


def evidence(
    conn: psycopg.Connection, area: str, official_id: str, month: dt.date, limit: int = 500
) -> pd.DataFrame:
    """The findings about one official in ``area`` up to ``month``: the evidence rows."""
    params = {"official": official_id, "area": area, "month": month, "limit": limit}
    frame = _frame(conn.execute(_EVIDENCE_SQL, params))
    frame["month"] = [f"{m:%Y-%m}" for m in frame["month"]]
    return frame


def inspections(conn: psycopg.Connection, area: str, limit: int = 500) -> pd.DataFrame:
    """The inspections recorded in ``area``, newest first.

    The household of a visit check is not listed (its village is): the page's readers have no
    portrait rights; the row and the audit trail keep it.
    """
    return _frame(conn.execute(_INSPECTIONS_SQL, {"area": area, "limit": limit}))


def _place_of(conn: psycopg.Connection, scope: Scope, entry: Inspection, month: dt.date) -> str:
    """The area an inspection belongs to: the household's village or the official's county."""
    if entry.household_id:
        row = conn.execute(
            "SELECT village_code FROM household WHERE month = %s AND household_id = %s",
            (month, entry.household_id),
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT county_code FROM supervision_official WHERE month = %s AND official_id = %s",
            (month, entry.official_id),
        ).fetchone()
    if row is None or not scope.covers(str(row[0])):
        raise BadInspection(f"{entry.household_id or entry.official_id} not found in {scope}")
    return str(row[0])


def record_inspection(
    conn: psycopg.Connection, scope: Scope, inspector: str, entry: Inspection, month: dt.date
) -> int:
    """Record an inspection inside ``scope`` (the caller audits it in the same transaction).

    Raises
    ------
    BadInspection
        No official or household given, one outside the scope, a bad outcome or a future date.
    """
    if not (entry.official_id or entry.household_id) or entry.outcome not in OUTCOMES:
        raise BadInspection("an inspection needs an official or a household and an outcome")
    if entry.inspected_on > dt.date.today() or len(entry.note) > 500:
        raise BadInspection("an inspection date cannot be in the future; notes ≤ 500 characters")
    area = _place_of(conn, scope, entry, month)
    row = conn.execute(
        "INSERT INTO inspection (county_code, area_code, inspector, official_id, household_id,"
        " inspected_on, kind, outcome, note) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " RETURNING inspection_id",
        (
            area[:6],
            area,
            inspector,
            entry.official_id,
            entry.household_id,
            entry.inspected_on,
            "household_visit" if entry.household_id else "official",
            entry.outcome,
            entry.note,
        ),
    ).fetchone()
    assert row is not None
    return int(row[0])
