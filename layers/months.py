"""The months a view can show: published and derived, newest last."""

from __future__ import annotations

import datetime as dt

import psycopg

_MONTHS_SQL = """
SELECT p.month FROM published_month p JOIN derive_run d USING (month) ORDER BY p.month
"""


def shown_months(conn: psycopg.Connection) -> list[dt.date]:
    """Every month that is published and derived (first days), oldest first."""
    return [row[0] for row in conn.execute(_MONTHS_SQL).fetchall()]


def resolve_month(months: list[dt.date], wanted: str | None) -> dt.date | None:
    """The month ``wanted`` (``YYYY-MM``) when it is one of ``months``, else the latest."""
    if wanted:
        for month in months:
            if f"{month:%Y-%m}" == wanted:
                return month
    return months[-1] if months else None


def month_label(month: dt.date | None) -> str:
    """``YYYY-MM`` (or a dash)."""
    return f"{month:%Y-%m}" if month else "—"
