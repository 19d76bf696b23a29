"""一键预警 routing: a month's warnings and benefit gaps go to the paired officials' inboxes.

Run as the owner after each derive (and by ``onemap pairing route``): open warnings and tasks
follow the current pairing, new warnings get a deadline by level (red 3 h, orange 24 h,
yellow 72 h: :class:`analytics.assist_settings.AssistanceSettings`), benefit gaps become 代办
tasks, and the month's rollups get the 3-hour attainment and plan coverage.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from analytics.assist_settings import AssistanceSettings
from analytics.sqlfiles import composed
from analytics.trends import mark_changed


@dataclass(frozen=True, slots=True)
class RouteResult:
    """Rows touched by each step of :func:`route`."""

    warnings_rerouted: int
    deadlines_set: int
    gap_tasks: int
    tasks_rerouted: int
    rollups: int


def route(
    conn: psycopg.Connection,
    month: dt.date,
    settings: AssistanceSettings,
    *,
    at: dt.datetime | None = None,
) -> RouteResult:
    """Route the published ``month`` (its first day) in one transaction."""
    params = {
        "month": month,
        "at": at or dt.datetime.now(dt.UTC),
        "red_hours": settings.red_hours,
        "orange_hours": settings.orange_hours,
        "yellow_hours": settings.yellow_hours,
        "gap_hours": settings.gap_hours,
    }
    with conn.transaction():
        counts = [conn.execute(s, params).rowcount for s in composed("assistance_route")]
    return RouteResult(*counts)


def refresh_rollups(conn: psycopg.Connection, month: dt.date, settings: AssistanceSettings) -> int:
    """Only the rollups' attainment and coverage (cheap; after actions, for the map)."""
    statement = composed("assistance_route")[-1]
    with conn.transaction():
        params = {"month": month, "red_hours": settings.red_hours}
        written = conn.execute(statement, params).rowcount
        mark_changed(conn, month)
    return written


def latest_month(conn: psycopg.Connection) -> dt.date | None:
    """The latest month that has been derived (None before the first derive)."""
    row = conn.execute("SELECT max(month) FROM derive_run").fetchone()
    return row[0] if row else None
