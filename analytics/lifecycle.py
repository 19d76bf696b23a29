"""The life of a warning, every step timed and recorded.

raised → acknowledged → (visited) → verified on site → resolved, or dismissed with a reason.
Every step bumps the warning's ``version``: a caller that read version *n* passes it as
``expected_version`` and loses cleanly (:class:`StaleVersion`) if someone moved first. The
app's actions (analytics/actions.py) and the demo's :func:`simulate_responses` both go
through :func:`advance` and :func:`mark_visited`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import psycopg

from core.errors import OneMapError
from core.month import Month

#: Allowed moves: from a status to the statuses it may go to.
TRANSITIONS: dict[str, frozenset[str]] = {
    "raised": frozenset({"acknowledged", "dismissed"}),
    "acknowledged": frozenset({"verified", "dismissed"}),
    "verified": frozenset({"resolved", "dismissed"}),
    "resolved": frozenset(),
    "dismissed": frozenset(),
}
_TIME_COLUMN = {
    "acknowledged": "acknowledged_at",
    "verified": "verified_at",
    "resolved": "closed_at",
    "dismissed": "closed_at",
}


class BadTransition(OneMapError, ValueError):
    """A warning cannot move to that status from where it is."""


class NotActionable(BadTransition):
    """The warning is unknown, outside the scope, or not the caller's to change (RLS)."""


class StaleVersion(OneMapError, RuntimeError):
    """Someone else changed the item since it was read (two tabs: the second is told)."""

    user_msg = "Someone else has already changed this item; reload to see what they did."


def _lock(
    conn: psycopg.Connection, warning_id: int, expected_version: int | None
) -> tuple[str, dt.datetime, int]:
    """Lock the warning row; check it exists (for the caller's write) and is unchanged."""
    row = conn.execute(
        "SELECT status, raised_at, version FROM warning WHERE warning_id = %s FOR UPDATE",
        (warning_id,),
    ).fetchone()
    if row is None:
        # Unknown, outside the scope, or not the caller's to change (row-level security).
        raise NotActionable(f"no warning {warning_id}")
    if expected_version is not None and row[2] != expected_version:
        raise StaleVersion(f"warning {warning_id} is at version {row[2]}, not {expected_version}")
    return str(row[0]), row[1], int(row[2])


def advance(
    conn: psycopg.Connection,
    warning_id: int,
    to: str,
    *,
    actor: str,
    note: str | None = None,
    at: dt.datetime | None = None,
    expected_version: int | None = None,
) -> int:
    """Move a warning to status ``to`` and record the event (one transaction).

    Returns the warning's new version.

    Raises
    ------
    BadTransition
        Unknown warning, a move the lifecycle does not allow, or a dismissal without reason.
    StaleVersion
        ``expected_version`` was given and the warning has moved since.
    """
    at = at or dt.datetime.now(dt.UTC)
    with conn.transaction():
        current, raised_at, version = _lock(conn, warning_id, expected_version)
        if to not in TRANSITIONS.get(current, frozenset()):
            raise BadTransition(f"warning {warning_id} is {current}; it cannot become {to}")
        if to == "dismissed" and not (note and note.strip()):
            raise BadTransition("a dismissal needs a reason")
        if at < raised_at:
            raise BadTransition("an event cannot precede the warning")
        column = _TIME_COLUMN[to]
        conn.execute(
            psycopg.sql.SQL(
                "UPDATE warning SET status = %s, {} = %s, version = version + 1,"
                " visited_at = CASE WHEN %s = 'verified' THEN coalesce(visited_at, %s)"
                " ELSE visited_at END,"
                " dismiss_reason = CASE WHEN %s = 'dismissed' THEN %s"
                " ELSE dismiss_reason END WHERE warning_id = %s"
            ).format(psycopg.sql.Identifier(column)),
            (to, at, to, at, to, note, warning_id),
        )
        conn.execute(
            "INSERT INTO warning_event (warning_id, at, status, actor, note)"
            " VALUES (%s, %s, %s, %s, %s)",
            (warning_id, at, to, actor, note),
        )
    return int(version) + 1


def mark_visited(
    conn: psycopg.Connection, warning_id: int, *, actor: str, at: dt.datetime, note: str
) -> int:
    """Record that the household of an open warning was visited (the first visit counts).

    Returns the new version. A visit never changes the status; a closed warning is left as
    it is (the visit is still kept by the caller).
    """
    with conn.transaction():
        current, raised_at, version = _lock(conn, warning_id, None)
        if current not in {"raised", "acknowledged", "verified"} or at < raised_at:
            return int(version)
        conn.execute(
            "UPDATE warning SET visited_at = coalesce(visited_at, %s), version = version + 1"
            " WHERE warning_id = %s",
            (at, warning_id),
        )
        conn.execute(
            "INSERT INTO warning_event (warning_id, at, status, actor, note)"
            " VALUES (%s, %s, 'visited', %s, %s)",
            (warning_id, at, actor, note),
        )
    return int(version) + 1


def _month_frame(month: Month) -> tuple[dt.datetime, dt.datetime]:
    """The first instant of ``month`` and of the month after, in UTC."""
    start = dt.datetime.combine(month.first_day, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(month.next().first_day, dt.time(), tzinfo=dt.UTC)
    return start, end


def simulate_responses(conn: psycopg.Connection, month: Month | str, *, seed: int) -> int:
    """Play the paired officials' responses to a month's new warnings (demo data only).

    Everything happens inside the data month, as if the month were being lived: each warning is
    raised at a time in its first three weeks (the ``raised`` timestamps are moved there), most
    are acknowledged within hours (lognormal, median ~1.5 h; some miss the 3-hour target), most
    acknowledged ones are verified on site within days, and some resolved; a step that would
    fall after the month's end has not happened yet. Returns the number of warnings touched.
    The actor is recorded as ``synthetic``.
    """
    month = Month.coerce(month)
    start, end = _month_frame(month)
    rows = conn.execute(
        "SELECT warning_id FROM warning WHERE opened_month = %s::date"
        " AND status = 'raised' ORDER BY warning_id",
        (month.first_day,),
    ).fetchall()
    rng = np.random.default_rng([seed, month.year * 100 + month.number])
    window = (end - start).total_seconds() * 0.7
    # One transaction for the month (each step's own becomes a savepoint): a commit per step
    # spent 6 s a month in the demo waiting for the log to reach the disk.
    with conn.transaction():
        _play(conn, rows, rng, window, (start, end))
    return len(rows)


def _play(
    conn: psycopg.Connection,
    rows: list[tuple[int]],
    rng: np.random.Generator,
    window: float,
    frame: tuple[dt.datetime, dt.datetime],
) -> None:
    """The officials' steps on each warning (see :func:`simulate_responses`)."""
    start, end = frame
    for (warning_id,) in rows:
        at = start + dt.timedelta(seconds=float(rng.uniform(0, window)))
        _move_raised(conn, warning_id, at)
        if rng.random() < 0.08:
            continue  # not yet seen
        at += dt.timedelta(minutes=float(rng.lognormal(np.log(90), 0.8)))
        if at >= end:
            continue
        advance(conn, warning_id, "acknowledged", actor="synthetic", at=at)
        if rng.random() < 0.8:  # the home visit, most within the hour after acknowledging
            visit = at + dt.timedelta(minutes=float(rng.lognormal(np.log(45), 0.9)))
            mark_visited(conn, warning_id, actor="synthetic", at=visit, note="入户走访")
        if rng.random() < 0.7:
            at += dt.timedelta(hours=float(rng.uniform(4, 96)))
            if at >= end:
                continue
            advance(conn, warning_id, "verified", actor="synthetic", note="上门核实", at=at)
            if rng.random() < 0.4:
                at += dt.timedelta(days=float(rng.uniform(1, 10)))
                if at < end:
                    advance(
                        conn, warning_id, "resolved", actor="synthetic", note="已落实帮扶", at=at
                    )


def _move_raised(conn: psycopg.Connection, warning_id: int, at: dt.datetime) -> None:
    """Date a demo warning's raise (and its recorded event) inside the data month.

    Routing has already set the deadline from the original raise; it moves with the raise
    (the right-hand sides read the old ``raised_at``), so it stays the level's hours after it.
    """
    with conn.transaction():
        conn.execute(
            "UPDATE warning SET raised_at = %s, due_at = due_at + (%s - raised_at)"
            " WHERE warning_id = %s",
            (at, at, warning_id),
        )
        conn.execute(
            "UPDATE warning_event SET at = %s WHERE warning_id = %s AND status = 'raised'",
            (at, warning_id),
        )
