"""Every write a person makes in the assistance loop, in one place (issue 11).

Each action runs in ONE transaction as the web app's role (:func:`core.db.scoped`): the
jurisdiction is set for row-level security, ``onemap.actor`` says who acts (the signed-in
official's roster id, or ``*`` for a town official or county leader acting on their area),
the application checks the same thing first (:func:`check_may_act`), the write compares the
version it read (two tabs: one wins, the other gets :class:`StaleVersion`), and the audit row
is written last in the same transaction (:func:`core.audit.record`). When the personal-data
gateway lands (``layers/portrait.py`` ``audited(...)``), only :func:`acting` changes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from analytics import photos as visit_photos
from analytics.action_errors import InvalidAction, NotYours
from analytics.assist_settings import AssistanceSettings, get_assist_settings, get_photo_settings
from analytics.help_measures import help_measures
from analytics.lifecycle import NotActionable, StaleVersion, advance, mark_visited
from core import audit, db
from core.access import Role, User

#: Warning actions and the status each moves to.
WARNING_ACTIONS = {
    "acknowledge": "acknowledged",
    "verify": "verified",
    "resolve": "resolved",
    "dismiss": "dismissed",
}
#: Task (代办, door request) moves: from a status to the statuses it may go to.
TASK_MOVES = {
    "open": {"acknowledged", "resolved", "dismissed"},
    "acknowledged": {"resolved", "dismissed"},
}
TASK_ACTIONS = {"acknowledge": "acknowledged", "resolve": "resolved", "dismiss": "dismissed"}
PLAN_STATUSES = ("planned", "in_progress", "done", "dropped")
MAX_NOTE = 2000
#: An area actor (town official, county leader) may act on every household of the area.
AREA_ACTOR = "*"


@dataclass(frozen=True, slots=True)
class Done:
    """What an action changed: the item and its new version."""

    kind: str
    item_id: int
    version: int
    household_id: str


def is_area_actor(user: User) -> bool:
    """Town officials and county leaders act on every household of their area."""
    return user.role is Role.COUNTY_LEADER or (
        user.role is Role.OFFICIAL and len(user.jurisdiction) == 9
    )


def actor_for(conn: psycopg.Connection, user: User) -> str | None:
    """Who ``user`` acts as: their roster id (village official), ``*`` (area), or None."""
    if is_area_actor(user):
        return AREA_ACTOR
    if user.role is not Role.OFFICIAL:
        return None
    row = conn.execute(
        "SELECT official_id FROM official WHERE username = %s AND active", (user.username,)
    ).fetchone()
    return row[0] if row else None


@contextmanager
def acting(user: User) -> Iterator[tuple[psycopg.Connection, str]]:
    """One scoped transaction in which ``user`` may write (RLS sees who acts).

    Raises
    ------
    NotYours
        The user's role does not act on households, or their login is not on the roster.
    """
    try:
        with db.scoped(user.scope) as conn:
            actor = actor_for(conn, user)
            if actor is None:
                raise NotYours(f"{user.username} ({user.role.value}) acts on no household")
            conn.execute("SELECT set_config('onemap.actor', %s, true)", (actor,))
            yield conn, actor
    except psycopg.errors.InsufficientPrivilege as error:
        # Row-level security refused a write the application let through.
        raise NotYours(f"refused by row-level security: {error}") from error


def check_may_act(actor: str, paired_official: str | None) -> None:
    """The application's own check (row-level security checks it again)."""
    if actor not in (AREA_ACTOR, paired_official):
        raise NotYours(f"actor {actor} is not paired with this household ({paired_official})")


def _text(value: str | None, field: str, *, required: bool, limit: int = MAX_NOTE) -> str | None:
    text = (value or "").strip()
    if required and not text:
        raise InvalidAction(f"{field} is required", user_msg=f"Please fill in: {field}.")
    if len(text) > limit:
        raise InvalidAction(f"{field} is longer than {limit} characters")
    return text or None


def _audit(
    conn: psycopg.Connection,
    user: User,
    what: str,
    household_ids: Sequence[str],
    request_id: str,
    **detail: Any,
) -> None:
    audit.record(
        conn,
        user=user,
        route=f"action:{what}",
        request_id=request_id,
        household_ids=household_ids,
        detail=detail,
    )


#: The items an official acts on from the inbox: table → its id column.
_ITEMS = {"warning": "warning_id", "task": "task_id"}


def _item_to_act_on(
    conn: psycopg.Connection, user: User, actor: str, kind: str, item_id: int
) -> tuple[str, str]:
    """The household and village of a warning or task ``actor`` may act on.

    Raises
    ------
    NotYours
        Not visible under the user's scope (row-level security), or paired with another official.
    """
    statement = sql.SQL(
        "SELECT household_id, official_id, village_code FROM {} WHERE {} = %s"
    ).format(sql.Identifier(kind), sql.Identifier(_ITEMS[kind]))
    row = conn.execute(statement, (item_id,)).fetchone()
    if row is None:
        raise NotYours(f"{kind} {item_id} is not visible in {user.jurisdiction}")
    household_id, paired, village = row
    check_may_act(actor, paired)
    return household_id, village


def act_on_warning(
    user: User,
    warning_id: int,
    action: str,
    *,
    version: int,
    note: str | None,
    request_id: str,
    at: dt.datetime | None = None,
) -> Done:
    """Acknowledge, verify, resolve (with the measure taken) or dismiss (with a reason).

    Raises
    ------
    NotYours, StaleVersion, InvalidAction, analytics.lifecycle.BadTransition
    """
    if action not in WARNING_ACTIONS:
        raise InvalidAction(f"unknown warning action {action!r}")
    text = _text(note, "note", required=action in {"resolve", "dismiss"})
    with acting(user) as (conn, actor):
        household_id, village = _item_to_act_on(conn, user, actor, "warning", warning_id)
        try:
            new = advance(
                conn,
                warning_id,
                WARNING_ACTIONS[action],
                actor=user.username,
                note=text,
                at=at,
                expected_version=version,
            )
        except NotActionable as error:
            raise NotYours(str(error)) from error
        _audit(
            conn,
            user,
            f"warning.{action}",
            [household_id],
            request_id,
            area=village,
            warning_id=warning_id,
            version=new,
        )
    return Done("warning", warning_id, new, household_id)


def act_on_task(
    user: User,
    task_id: int,
    action: str,
    *,
    version: int,
    note: str | None,
    request_id: str,
    at: dt.datetime | None = None,
) -> Done:
    """Acknowledge, resolve or dismiss (reason required) a 代办 task or a door request."""
    to = TASK_ACTIONS.get(action)
    if to is None:
        raise InvalidAction(f"unknown task action {action!r}")
    text = _text(note, "note", required=action == "dismiss")
    at = at or dt.datetime.now(dt.UTC)
    with acting(user) as (conn, actor):
        household_id, village = _item_to_act_on(conn, user, actor, "task", task_id)
        locked = conn.execute(
            "SELECT status, version FROM task WHERE task_id = %s FOR UPDATE", (task_id,)
        ).fetchone()
        if locked is None:
            raise NotYours(f"task {task_id} may not be changed by {actor}")
        if locked[1] != version:
            raise StaleVersion(f"task {task_id} is at version {locked[1]}, not {version}")
        if to not in TASK_MOVES.get(locked[0], set()):
            raise InvalidAction(f"task {task_id} is {locked[0]}; it cannot become {to}")
        conn.execute(
            "UPDATE task SET status = %s, version = version + 1, note = coalesce(%s, note),"
            " acknowledged_at = CASE WHEN %s = 'acknowledged' THEN %s ELSE acknowledged_at END,"
            " closed_at = CASE WHEN %s IN ('resolved', 'dismissed') THEN %s ELSE closed_at END"
            " WHERE task_id = %s",
            (to, text, to, at, to, at, task_id),
        )
        _audit(
            conn,
            user,
            f"task.{action}",
            [household_id],
            request_id,
            area=village,
            task_id=task_id,
            version=version + 1,
        )
    return Done("task", task_id, version + 1, household_id)


def _paired_official(conn: psycopg.Connection, household_id: str) -> tuple[str | None, str]:
    row = conn.execute(
        "SELECT h.village_code, p.official_id FROM household h"
        " LEFT JOIN pairing p ON p.household_id = h.household_id AND p.valid_to IS NULL"
        " WHERE h.household_id = %s AND h.month = (SELECT max(month) FROM published_month)",
        (household_id,),
    ).fetchone()
    if row is None:
        raise NotYours(f"household {household_id} is not visible")
    return row[1], row[0]


@dataclass(frozen=True, slots=True)
class Location:
    """Where the browser said the official was (WGS84), when the person allowed it."""

    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not (-90 <= self.lat <= 90 and -180 <= self.lon <= 180):
            raise InvalidAction(f"not a WGS84 position: {self.lat}, {self.lon}")


def record_visit(
    user: User,
    household_id: str,
    *,
    note: str,
    request_id: str,
    location: Location | None = None,
    at: dt.datetime | None = None,
    photos: Sequence[bytes] = (),
) -> Done:
    """Record a home visit (source 'app'); an open warning of the household counts it visited.

    The distance from the household is kept: more than 1 km is a supervision finding. The
    visit's ``photos`` (uploaded bytes) are checked and re-encoded before anything is written
    (:func:`analytics.photos.clean_all`), then stored in the visit's transaction; their files
    are removed again when it does not commit.

    Raises
    ------
    NotYours, InvalidAction, analytics.photos.PhotoRefused
    """
    text = _text(note, "note", required=True)
    cleaned = visit_photos.clean_all(photos)
    at = at or dt.datetime.now(dt.UTC)
    files = visit_photos.PhotoFiles(get_photo_settings().dir)
    try:
        with acting(user) as (conn, actor):
            paired, village = _paired_official(conn, household_id)
            check_may_act(actor, paired)
            who = actor if actor != AREA_ACTOR else (paired or user.username)
            visit_id, distance_m = _insert_visit(
                conn, household_id, who=who, user=user, at=at, text=text, location=location
            )
            warning = conn.execute(
                "SELECT warning_id FROM warning WHERE household_id = %s"
                " AND status IN ('raised', 'acknowledged', 'verified')",
                (household_id,),
            ).fetchone()
            if warning is not None:
                mark_visited(conn, warning[0], actor=user.username, at=at, note=text or "")
            photo_ids = visit_photos.save(conn, visit_id, cleaned, files, created_by=user.username)
            _audit(
                conn,
                user,
                "visit.record",
                [household_id],
                request_id,
                area=village,
                visit_id=visit_id,
                distance_m=distance_m,
                located=location is not None,
                photos=len(photo_ids),
            )
    except BaseException:
        files.discard()  # the rows are gone with the transaction: so are their files
        raise
    return Done("visit", visit_id, 0, household_id)


def _insert_visit(
    conn: psycopg.Connection,
    household_id: str,
    *,
    who: str,
    user: User,
    at: dt.datetime,
    text: str | None,
    location: Location | None,
) -> tuple[int, float | None]:
    """Insert the visit row; return its id and the distance from the household (metres)."""
    point = (location.lon, location.lat) if location else (None, None)
    row = conn.execute(
        "INSERT INTO field_visit (household_id, county_code, village_code, official_id,"
        " username, visited_at, note, geom, distance_m)"
        " SELECT h.household_id, h.county_code, h.village_code, %s, %s, %s, %s, g.geom,"
        " ST_Distance(g.geom::geography, h.geom::geography)"
        " FROM household h, (SELECT ST_SetSRID(ST_MakePoint(%s, %s), 4326) AS geom) g"
        " WHERE h.household_id = %s AND h.month = (SELECT max(month) FROM published_month)"
        " RETURNING visit_id, distance_m",
        (who, user.username, at, text, *point, household_id),
    ).fetchone()
    if row is None:
        raise NotYours(f"visit to {household_id} refused")
    return int(row[0]), row[1]


def add_plan_item(
    user: User,
    household_id: str,
    *,
    measure: str,
    owner: str,
    start: dt.date,
    due: dt.date,
    request_id: str,
    warning_id: int | None = None,
    task_id: int | None = None,
) -> Done:
    """Add a measure from the catalog to the household's help plan (一户一策)."""
    if measure not in help_measures():
        raise InvalidAction(f"unknown help measure {measure!r}")
    owner_text = _text(owner, "owner", required=True, limit=100)
    if due < start:
        raise InvalidAction("the due date is before the start")
    with acting(user) as (conn, actor):
        paired, village = _paired_official(conn, household_id)
        check_may_act(actor, paired)
        row = conn.execute(
            "INSERT INTO plan_item (household_id, county_code, village_code, measure, owner,"
            " start_date, due_date, warning_id, task_id, created_by, created_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now()) RETURNING item_id",
            (
                household_id,
                village[:6],
                village,
                measure,
                owner_text,
                start,
                due,
                warning_id,
                task_id,
                user.username,
            ),
        ).fetchone()
        assert row is not None
        _audit(
            conn,
            user,
            "plan.add",
            [household_id],
            request_id,
            area=village,
            item_id=row[0],
            measure=measure,
        )
    return Done("plan", int(row[0]), 0, household_id)


def set_plan_status(
    user: User, item_id: int, status: str, *, version: int, reason: str | None, request_id: str
) -> Done:
    """Move a plan item to planned / in progress / done, or drop it (reason required)."""
    if status not in PLAN_STATUSES:
        raise InvalidAction(f"unknown plan status {status!r}")
    text = _text(reason, "reason", required=status == "dropped", limit=500)
    with acting(user) as (conn, actor):
        row = conn.execute(
            "SELECT household_id, village_code FROM plan_item WHERE item_id = %s", (item_id,)
        ).fetchone()
        if row is None:
            raise NotYours(f"plan item {item_id} is not visible")
        paired, _village = _paired_official(conn, row[0])
        check_may_act(actor, paired)
        updated = conn.execute(
            "UPDATE plan_item SET status = %s, version = version + 1,"
            " dropped_reason = CASE WHEN %s = 'dropped' THEN %s ELSE dropped_reason END"
            " WHERE item_id = %s AND version = %s RETURNING version",
            (status, status, text, item_id, version),
        ).fetchone()
        if updated is None:
            raise StaleVersion(f"plan item {item_id} changed since version {version}")
        _audit(conn, user, "plan.status", [row[0]], request_id, area=row[1], item_id=item_id)
    return Done("plan", item_id, int(updated[0]), row[0])


def reassign(
    user: User,
    household_ids: Sequence[str],
    to_official: str,
    *,
    reason: str,
    request_id: str,
    settings: AssistanceSettings | None = None,
    allow_over: bool = False,
) -> int:
    """Pair households with another official (single or bulk; town/county officials only).

    The old pairing is closed, the new one opened, open warnings and tasks follow it.

    Raises
    ------
    NotYours
        The caller is not an area actor, or a household is outside their area.
    InvalidAction
        No reason, an unknown official, or the official would carry more than the cap.
    """
    settings = settings or get_assist_settings()
    text = _text(reason, "reason", required=True, limit=500)
    wanted = sorted(set(household_ids))
    with acting(user) as (conn, actor):
        if actor != AREA_ACTOR:
            raise NotYours(f"{user.username} may not reassign households")
        target = conn.execute(
            "SELECT official_load(o.official_id) FROM official o"
            " WHERE o.official_id = %s AND o.active",
            (to_official,),
        ).fetchone()
        if target is None:
            raise InvalidAction(f"no active official {to_official} in this area")
        if not allow_over and target[0] + len(wanted) > settings.max_households_per_official:
            raise InvalidAction(
                f"{to_official} would carry {target[0] + len(wanted)} households"
                f" (at most {settings.max_households_per_official})"
            )
        moved = _move_pairings(conn, wanted, to_official, text or "", user.username)
        if len(moved) != len(wanted):
            raise NotYours("some households are outside the area or unknown")
        _audit(
            conn,
            user,
            "pairing.reassign",
            wanted,
            request_id,
            to_official=to_official,
            reason=text,
            count=len(wanted),
        )
    return len(moved)


def _move_pairings(
    conn: psycopg.Connection, households: list[str], to_official: str, reason: str, by: str
) -> list[str]:
    at = dt.datetime.now(dt.UTC)
    conn.execute(
        "UPDATE pairing SET valid_to = %s WHERE household_id = ANY(%s) AND valid_to IS NULL",
        (at, households),
    )
    rows = conn.execute(
        "INSERT INTO pairing (household_id, county_code, village_code, official_id, valid_from,"
        " reason, changed_by) SELECT h.household_id, h.county_code, h.village_code, %s, %s, %s, %s"
        " FROM household h WHERE h.household_id = ANY(%s)"
        " AND h.month = (SELECT max(month) FROM published_month) RETURNING household_id",
        (to_official, at, reason, by, households),
    ).fetchall()
    conn.execute(
        "UPDATE warning SET official_id = %s, version = version + 1 WHERE household_id = ANY(%s)"
        " AND status IN ('raised', 'acknowledged', 'verified')",
        (to_official, households),
    )
    conn.execute(
        "UPDATE task SET official_id = %s, version = version + 1 WHERE household_id = ANY(%s)"
        " AND status IN ('open', 'acknowledged')",
        (to_official, households),
    )
    return [r[0] for r in rows]
