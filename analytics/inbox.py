"""我的待办: the open items of the signed-in official, worst level and nearest deadline first.

Reads run scoped as the web app's role; a list that names households is audited in the same
transaction. The count for the header badge names nobody and is not audited.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.rows import dict_row

from analytics.actions import AREA_ACTOR, NotYours, acting, actor_for
from core import audit, db
from core.access import User
from core.scope import Scope

#: Worst first: red warnings, orange, requests from the door (24 h), yellow, benefit gaps.
LEVEL_RANK = {"red": 0, "orange": 1, "request": 2, "yellow": 3, "benefit_gap": 4}
#: An area actor's list is capped (a county has thousands of open items).
MAX_ITEMS = 200

_ITEMS = """
SELECT 'warning' AS kind, w.warning_id AS item_id, w.household_id, w.village_code,
       v.name AS village, w.level, w.status, w.raised_at AS created_at,
       coalesce(w.due_at, w.raised_at) AS due_at, w.version, w.reasons_zh, w.reasons_en,
       NULL AS policy_code, NULL AS policy_zh, NULL AS policy_en, NULL AS category,
       NULL AS body, w.acknowledged_at, w.visited_at, w.official_id
FROM warning w JOIN admin_area v ON v.code = w.village_code
WHERE w.status IN ('raised', 'acknowledged', 'verified')
  AND w.county_code >= %(county_low)s AND w.county_code < %(county_high)s
  AND (%(actor)s = '*' OR w.official_id = %(actor)s)
UNION ALL
SELECT 'task', t.task_id, t.household_id, t.village_code, v.name, t.kind, t.status,
       t.created_at, t.due_at, t.version, NULL, NULL, t.policy_code, p.name_zh, p.name_en,
       t.category, t.body, t.acknowledged_at, NULL, t.official_id
FROM task t JOIN admin_area v ON v.code = t.village_code
LEFT JOIN policy p ON p.code = t.policy_code
WHERE t.status IN ('open', 'acknowledged')
  AND t.county_code >= %(county_low)s AND t.county_code < %(county_high)s
  AND (%(actor)s = '*' OR t.official_id = %(actor)s)
ORDER BY due_at
"""
# The county range (Scope.counties) lets the indexes narrow the rows before row-level security
# checks each: a county leader's badge took 0.2–0.5 s at full scale without it, 14 ms with it.
_COUNT = """
WITH open AS (
    SELECT w.due_at, w.acknowledged_at, w.visited_at FROM warning w
    WHERE w.status IN ('raised', 'acknowledged', 'verified')
      AND w.county_code >= %(county_low)s AND w.county_code < %(county_high)s
      AND (%(actor)s = '*' OR w.official_id = %(actor)s)
)
SELECT (SELECT count(*) FROM open)
     + (SELECT count(*) FROM task t WHERE t.status IN ('open', 'acknowledged')
        AND t.county_code >= %(county_low)s AND t.county_code < %(county_high)s
        AND (%(actor)s = '*' OR t.official_id = %(actor)s)),
       (SELECT count(*) FROM open WHERE due_at < now()
        AND (acknowledged_at IS NULL OR visited_at IS NULL))
"""


@dataclass(frozen=True, slots=True)
class InboxItem:
    """One open item: a warning, a benefit-gap task or a request from the household's door."""

    kind: str
    item_id: int
    household_id: str
    village_code: str
    village: str
    level: str
    status: str
    created_at: dt.datetime
    due_at: dt.datetime
    version: int
    reasons_zh: list[str] | None
    reasons_en: list[str] | None
    policy_code: str | None
    policy_zh: str | None
    policy_en: str | None
    category: str | None
    body: str | None
    acknowledged_at: dt.datetime | None
    visited_at: dt.datetime | None
    official_id: str | None

    def overdue(self, now: dt.datetime) -> bool:
        """Past the deadline and not yet answered (acknowledged and, for warnings, visited)."""
        answered = self.acknowledged_at is not None and (
            self.kind != "warning" or self.visited_at is not None
        )
        return self.due_at < now and not answered


@dataclass(frozen=True, slots=True)
class Inbox:
    """What the inbox page shows."""

    actor: str | None
    items: list[InboxItem]
    now: dt.datetime
    truncated: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def sort_key(item: InboxItem) -> tuple[int, dt.datetime]:
    """Worst level first, then the nearest deadline."""
    return (LEVEL_RANK.get(item.level, 9), item.due_at)


def read_items(conn: psycopg.Connection, scope: Scope, actor: str) -> list[InboxItem]:
    """The open items ``actor`` answers for in ``scope`` (the connection's), sorted."""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(_ITEMS, {"actor": actor, **scope.counties}).fetchall()
    return sorted((InboxItem(**r) for r in rows), key=sort_key)


def open_inbox(user: User, request_id: str) -> Inbox:
    """The user's inbox (audited: it names households). Roles that act on none get none."""
    now = dt.datetime.now(dt.UTC)
    with db.scoped(user.scope) as conn:
        actor = actor_for(conn, user)
        if actor is None:
            return Inbox(None, [], now)
        items = read_items(conn, user.scope, actor)
        shown = items[:MAX_ITEMS]
        if shown:
            audit.record(
                conn,
                user=user,
                route="/inbox",
                request_id=request_id,
                household_ids=sorted({i.household_id for i in shown}),
                detail={"area": user.jurisdiction, "items": len(shown)},
            )
    return Inbox(actor, shown, now, truncated=len(items) > MAX_ITEMS)


def inbox_count(user: User) -> tuple[int, int]:
    """(open items, overdue warnings) for the header badge; (0, 0) for roles that act on none."""
    with db.scoped(user.scope) as conn:
        actor = actor_for(conn, user)
        if actor is None:
            return 0, 0
        row = conn.execute(_COUNT, {"actor": actor, **user.scope.counties}).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def household_sheet(user: User, household_id: str, request_id: str) -> dict[str, Any]:
    """One household as its paired official works on it: plan, visits, open items (audited)."""
    with acting(user) as (conn, actor), conn.cursor(row_factory=dict_row) as cur:
        head = cur.execute(
            "SELECT h.household_id, h.village_code, v.name AS village, h.address,"
            " p.official_id, o.name AS official_name"
            " FROM household h JOIN admin_area v ON v.code = h.village_code"
            " LEFT JOIN pairing p ON p.household_id = h.household_id AND p.valid_to IS NULL"
            " LEFT JOIN official o ON o.official_id = p.official_id"
            " WHERE h.household_id = %s AND h.month = (SELECT max(month) FROM published_month)",
            (household_id,),
        ).fetchone()
        if head is None or (actor != AREA_ACTOR and head["official_id"] != actor):
            raise NotYours(f"household {household_id} is not {user.username}'s")
        plan = cur.execute(
            "SELECT item_id, measure, owner, start_date, due_date, status, dropped_reason,"
            " warning_id, task_id, version FROM plan_item WHERE household_id = %s"
            " ORDER BY item_id",
            (household_id,),
        ).fetchall()
        visits = cur.execute(
            "SELECT v.visited_at, v.note, v.source, round(v.distance_m) AS distance_m,"
            " array(SELECT f.photo_id FROM visit_photo f WHERE f.visit_id = v.visit_id"
            " ORDER BY f.photo_id) AS photo_ids"
            " FROM field_visit v WHERE v.household_id = %s ORDER BY v.visited_at DESC LIMIT 10",
            (household_id,),
        ).fetchall()
        items = [i for i in read_items(conn, user.scope, actor) if i.household_id == household_id]
        audit.record(
            conn,
            user=user,
            route="/inbox/household",
            request_id=request_id,
            household_ids=[household_id],
            detail={"area": head["village_code"]},
        )
    now = dt.datetime.now(dt.UTC)
    return {"head": head, "plan": plan, "visits": visits, "items": items, "now": now}


_TEAM = """
SELECT o.official_id, o.name, official_load(o.official_id) AS households,
       count(w.warning_id) AS red,
       count(w.warning_id) FILTER (WHERE w.acknowledged_at <= w.raised_at + %(window)s
                                   AND w.visited_at <= w.raised_at + %(window)s) AS attained
FROM official o
LEFT JOIN warning w ON w.official_id = o.official_id AND w.level = 'red'
     AND w.opened_month = (SELECT max(month) FROM derive_run)
WHERE o.active AND EXISTS (SELECT 1 FROM pairing p WHERE p.official_id = o.official_id
                           AND p.valid_to IS NULL)
GROUP BY 1, 2 ORDER BY official_load(o.official_id) DESC, 1 LIMIT 500
"""


def team_sheet(user: User, hours: float) -> list[dict[str, Any]]:
    """Officials with households in the user's area: load and the month's 3-hour attainment.

    For town officials and county leaders (area actors); empty for everyone else.
    """
    with db.scoped(user.scope) as conn, conn.cursor(row_factory=dict_row) as cur:
        if actor_for(conn, user) != AREA_ACTOR:
            return []
        return cur.execute(_TEAM, {"window": dt.timedelta(hours=hours)}).fetchall()
