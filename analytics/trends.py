"""Month-on-month figures beside the rollups (``trend_rollup``), written after each derive."""

from __future__ import annotations

import datetime as dt

import psycopg

from analytics.catalog import load_catalog
from analytics.sqlfiles import composed
from core.month import Month


def previous_month(first: dt.date) -> dt.date:
    """The first day of the month before ``first``."""
    return Month.coerce(first).previous().first_day


def build_trend_rollup(conn: psycopg.Connection, first: dt.date) -> int:
    """Replace the trend figures of the month starting ``first``; return the rows written.

    One transaction: readers see the old figures or the new ones.
    """
    params = {
        "month": first,
        "prev_month": previous_month(first),
        "standard": load_catalog().standard,
    }
    written = 0
    with conn.transaction():
        for statement in composed("derive_trends"):
            written = conn.execute(statement, params).rowcount
    return written


def mark_changed(conn: psycopg.Connection, first: dt.date) -> None:
    """Record that a derived month's figures changed in place (in the caller's transaction).

    Caches keyed on the data version (:func:`layers.wall.wall_version`, the tiles' ETags) then
    see a new one, as after a derive.
    """
    conn.execute("UPDATE derive_run SET derived_at = now() WHERE month = %s", (first,))


def refresh_responses(conn: psycopg.Connection, first: dt.date) -> None:
    """Update a derived month's response figures after officials answered its warnings.

    The rollups' median response time and the trend figures (3-hour attainment) change; the
    rest of the month does not, so deriving it again is not needed.
    """
    with conn.transaction():
        for statement in composed("refresh_responses"):
            conn.execute(statement, {"month": first})
        build_trend_rollup(conn, first)
        mark_changed(conn, first)
