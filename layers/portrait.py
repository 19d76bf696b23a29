"""A household's portrait (画像): the base fields grouped as officials read them.

Open a portrait only through :func:`open_for` or :func:`open_by_token`, inside
``core.audit.audited``: they check the role's right to it, read it and declare it for the
audit row of the same transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from core.access import can_view_portrait
from core.audit import Audited
from core.errors import OutOfScope, UnknownArea
from core.scope import Scope


class UnknownHousehold(UnknownArea):
    """No such household (or token) inside the viewer's scope."""

    user_msg = "Unknown household."


class DoorCodeRefused(OutOfScope):
    """A door code that is unknown or whose household lies outside the user's jurisdiction.

    One answer for both: the page never says whether a code exists elsewhere.
    """

    user_msg = "Unknown door code, or the household is outside your jurisdiction."


@dataclass
class Portrait:
    """Everything the portrait panel and the /h/<token> page show. No raw ID is ever here."""

    household_id: str
    month: dt.date
    token: str | None
    basics: dict[str, Any]
    members: list[dict[str, Any]]
    income_history: list[tuple[dt.date, float]]
    benefits: list[dict[str, Any]]
    warnings: list[dict[str, Any]]
    visits: list[dict[str, Any]]
    place: tuple[float, float]
    extra: dict[str, Any] = field(default_factory=dict)


_BASICS = """
SELECT h.household_id, h.status, h.size, h.address, h.phone_masked, h.geo_precision,
       h.village_code, v.name AS village, t.name AS town, c.name AS county,
       ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat, h.hazard,
       f.income_per_capita, f.income_change_pct, f.housing_grade, f.water_safe, f.water_source,
       f.deposit_total, f.oop_medical, f.education_net, f.in_disaster, f.mountain,
       f.official_id, f.last_visit, k.token
FROM household h
JOIN admin_area v ON v.code = h.village_code
JOIN admin_area t ON t.code = v.parent_code
JOIN admin_area c ON c.code = h.county_code
LEFT JOIN household_features f ON f.month = h.month AND f.household_id = h.household_id
LEFT JOIN household_token k ON k.household_id = h.household_id
WHERE h.month = %(month)s AND h.household_id = %(household)s AND h.village_code LIKE %(scope)s
"""
_MEMBERS = """
SELECT p.name, p.relation, p.sex, p.id_masked, mf.age, mf.disability_grade, mf.disability_type,
       mf.school_stage, mf.chronic_illness, mf.serious_illness
FROM person p
LEFT JOIN member_features mf ON mf.month = p.month AND mf.person_token = p.person_token
WHERE p.month = %(month)s AND p.household_id = %(household)s
ORDER BY p.relation <> '户主', mf.age DESC NULLS LAST
"""
_INCOME = """
SELECT month, income_per_capita FROM income_survey
WHERE household_id = %(household)s AND month <= %(month)s ORDER BY month
"""
_BENEFITS = """
SELECT b.policy_code, p.name_zh, p.name_en, p.category, b.state, b.amount_due, b.amount_paid
FROM benefit b JOIN policy p ON p.code = b.policy_code
WHERE b.month = %(month)s AND b.household_id = %(household)s
ORDER BY b.state = 'received', b.policy_code
"""
_WARNINGS = """
SELECT w.warning_id, w.level, w.score, w.status, w.reasons_zh, w.reasons_en, w.official_id,
       w.raised_at, w.acknowledged_at, w.verified_at, w.closed_at, w.dismiss_reason
FROM warning w WHERE w.household_id = %(household)s ORDER BY w.raised_at DESC LIMIT 5
"""
_VISITS = """
SELECT official_id, official_name, visit_time, content FROM visit
WHERE household_id = %(household)s AND month <= %(month)s ORDER BY visit_time DESC LIMIT 10
"""


def latest_household_month(conn: psycopg.Connection) -> dt.date:
    """The most recent published month."""
    row = conn.execute("SELECT max(month) FROM published_month").fetchone()
    if row is None or row[0] is None:
        raise UnknownHousehold("no month is published yet")
    return row[0]


def household_portrait(
    conn: psycopg.Connection, scope: Scope, household_id: str, month: dt.date | None = None
) -> Portrait:
    """Return a household's portrait for ``month`` (the latest by default).

    Raises
    ------
    UnknownHousehold
        If the household is not in that month or outside ``scope``.
    """
    month = month or latest_household_month(conn)
    params = {"month": month, "household": household_id, "scope": scope.like}
    with conn.cursor(row_factory=dict_row) as cur:
        basics = cur.execute(_BASICS, params).fetchone()
        if basics is None:
            raise UnknownHousehold(
                f"household {household_id!r} not found in scope {scope.prefix} for {month}"
            )
        members = cur.execute(_MEMBERS, params).fetchall()
        benefits = cur.execute(_BENEFITS, params).fetchall()
        warnings = cur.execute(_WARNINGS, params).fetchall()
        visits = cur.execute(_VISITS, params).fetchall()
    income = [(m, float(v)) for m, v in conn.execute(_INCOME, params).fetchall()]
    return Portrait(
        household_id=household_id,
        month=month,
        token=basics.pop("token"),
        basics=basics,
        members=members,
        income_history=income,
        benefits=benefits,
        warnings=warnings,
        visits=visits,
        place=(basics["lon"], basics["lat"]),
    )


def household_for_token(conn: psycopg.Connection, scope: Scope, token: str) -> str:
    """The household behind a door-code token (inside ``scope``)."""
    row = conn.execute(
        "SELECT household_id FROM household_token WHERE token = %s AND county_code LIKE %s",
        (token, scope.like if len(scope.prefix) <= 6 else scope.prefix[:6] + "%"),
    ).fetchone()
    if row is None:
        raise UnknownHousehold("unknown door-code token")
    return str(row[0])


_ACCESS = """
SELECT h.village_code,
       EXISTS (SELECT 1 FROM warning w WHERE w.household_id = h.household_id
               AND w.status IN ('raised', 'acknowledged', 'verified')) AS warned
FROM household h
WHERE h.month = (SELECT max(month) FROM published_month) AND h.household_id = %s
  AND h.village_code LIKE %s
"""


def household_access(
    conn: psycopg.Connection, scope: Scope, household_id: str
) -> tuple[str, bool] | None:
    """The village of a household and whether it has an open warning; None outside ``scope``.

    What ``core.access.can_view_portrait`` needs to decide on a portrait.
    """
    row = conn.execute(_ACCESS, (household_id, scope.like)).fetchone()
    return None if row is None else (str(row[0]), bool(row[1]))


def open_for(trail: Audited, household_id: str, *, view: str = "portrait") -> Portrait:
    """The portrait of a household, if the user of ``trail`` may open it; declared for audit.

    Parameters
    ----------
    trail
        The audited transaction (``core.audit.audited``) in the user's jurisdiction.
    household_id
        The household asked for.
    view
        Where it is shown (kept in the audit row: ``portrait``, ``door``…).

    Raises
    ------
    UnknownHousehold
        No such household in the latest month inside the user's jurisdiction.
    NotPermitted
        The household is in the jurisdiction but the role may not open its portrait.
    """
    facts = household_access(trail.conn, trail.user.scope, household_id)
    if facts is None:
        raise UnknownHousehold(f"household {household_id} outside scope {trail.user.jurisdiction}")
    return _open(trail, household_id, facts, view)


def open_by_token(trail: Audited, token: str) -> Portrait:
    """The portrait behind a door code, if the user of ``trail`` may open it; declared for audit.

    Raises
    ------
    DoorCodeRefused
        An unknown code or a household outside the user's jurisdiction (one answer for both).
    NotPermitted
        The household is in the jurisdiction but the role may not open its portrait.
    """
    user = trail.user
    try:
        household_id = household_for_token(trail.conn, user.scope, token)
    except UnknownHousehold as error:
        raise DoorCodeRefused(f"door code not visible in scope {user.jurisdiction}") from error
    facts = household_access(trail.conn, user.scope, household_id)
    if facts is None:
        raise DoorCodeRefused(f"household {household_id} outside scope {user.jurisdiction}")
    return _open(trail, household_id, facts, "door")


def _open(trail: Audited, household_id: str, facts: tuple[str, bool], view: str) -> Portrait:
    village_code, warned = facts
    trail.require(
        can_view_portrait(trail.user, village_code, warned=warned),
        f"open the portrait of {household_id}",
    )
    portrait = household_portrait(trail.conn, trail.user.scope, household_id)
    trail.shows([household_id], area=portrait.basics["village_code"], view=view)
    return portrait


#: How the civil-affairs roster names the head of household (a stored value, not a UI text).
HEAD_OF_HOUSEHOLD = "户主"


def head_of_household(portrait: Portrait) -> str | None:
    """The name of the head of household, when the portrait lists one."""
    for member in portrait.members:
        if member.get("relation") == HEAD_OF_HOUSEHOLD and member.get("name"):
            return str(member["name"])
    return None
