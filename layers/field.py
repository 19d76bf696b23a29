"""The field page's data: a village's households for its official, by plate number or name."""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg.rows import dict_row

from core.access import PortraitAccess, User
from layers.layerdata import NotPermitted

_VILLAGES = """
SELECT a.code, a.name, count(h.household_id) AS households
FROM admin_area a
LEFT JOIN household h ON h.village_code = a.code AND h.month = %(month)s
WHERE a.level = 'village' AND a.code LIKE %(scope_like)s
GROUP BY a.code, a.name ORDER BY count(h.household_id) DESC, a.code
"""
_HOUSEHOLDS = """
SELECT h.household_id, p.name AS head_name, h.address, h.status, h.size, h.poverty_cause,
       coalesce(w.level, '') AS warning_level, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat
FROM household h
LEFT JOIN person p ON p.month = h.month AND p.person_token = h.head_token
LEFT JOIN warning w ON w.household_id = h.household_id
     AND w.status IN ('raised', 'acknowledged', 'verified')
WHERE h.month = %(month)s AND h.village_code = %(village)s AND h.village_code LIKE %(scope_like)s
  AND (%(q)s = '' OR p.name LIKE '%%' || %(q)s || '%%' OR h.address LIKE '%%' || %(plate)s)
ORDER BY CASE w.level WHEN 'red' THEN 0 WHEN 'orange' THEN 1 WHEN 'yellow' THEN 2 ELSE 3 END,
         h.household_id
LIMIT 500
"""


def villages_of(conn: psycopg.Connection, user: User, month: dt.date) -> list[tuple[str, str, int]]:
    """The villages of the official's jurisdiction, most households first."""
    rows = conn.execute(_VILLAGES, {"month": month, "scope_like": user.scope.like}).fetchall()
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]


def field_households(
    conn: psycopg.Connection, user: User, village: str, month: dt.date, query: str = ""
) -> list[dict[str, Any]]:
    """The village's households (at most 500), warned first; ``query`` = a name or plate number.

    Raises
    ------
    NotPermitted
        A role without full portrait rights or a village outside the jurisdiction.
    """
    if user.permissions.portraits is not PortraitAccess.ALL or not user.scope.covers(village):
        raise NotPermitted(f"{user.username} may not list the households of {village}")
    text = query.strip()[:40]
    plate = text.removesuffix("号") + "号" if text else ""
    params = {
        "month": month,
        "village": village,
        "scope_like": user.scope.like,
        "q": text,
        "plate": plate,
    }
    with conn.cursor(row_factory=dict_row) as cursor:
        return list(cursor.execute(_HOUSEHOLDS, params).fetchall())
