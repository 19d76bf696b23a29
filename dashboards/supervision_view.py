"""What the supervision page shows for one view, read in one go (no Dash components)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from urllib.parse import parse_qs

import pandas as pd
import psycopg

from core.access import Role, User
from core.errors import NotPermitted
from dashboards.messages import normalise_lang
from dashboards.state import parse_month
from geo.admin import Area, lineage
from layers.months import resolve_month, shown_months
from layers.supervision import evidence, findings_by_village, findings_trend, inspections, officials

#: Leaders oversee the figures but may not see who the officials are.
_LEADERS = frozenset({Role.PROVINCE_LEADER, Role.CITY_LEADER, Role.COUNTY_LEADER})
_OFFICIAL_ID = re.compile(r"[A-Za-z0-9_-]{1,40}")


def may_open_supervision(user: User) -> bool:
    """Auditors (with names) and leaders (officials numbered) open the page; no one else."""
    return user.permissions.supervision_view or user.role in _LEADERS


def require_supervision(user: User) -> None:
    """Raise :class:`NotPermitted` (403) for roles that may not open the supervision page."""
    if not may_open_supervision(user):
        raise NotPermitted(f"{user.role.value} may not open the supervision page")


def names_visible(user: User, area: str) -> bool:
    """Officials' names and ids only for roles entitled to supervise ``area``."""
    return user.permissions.supervision_view and user.scope.covers(area)


@dataclass(frozen=True, slots=True)
class SupervisionQuery:
    """The page's URL: ``?area=…&month=YYYY-MM&official=…&lang=…``."""

    area: str
    month: str | None
    official: str | None
    lang: str

    @classmethod
    def parse(cls, search: str | None, default_area: str) -> SupervisionQuery:
        """Read the query string; malformed values fall back to the defaults."""
        query = {k: v[0] for k, v in parse_qs((search or "").lstrip("?")).items()}
        official = query.get("official")
        return cls(
            query.get("area") or default_area,
            parse_month(query.get("month")),
            official if official and _OFFICIAL_ID.fullmatch(official) else None,
            normalise_lang(query.get("lang")),
        )


@dataclass(frozen=True, slots=True)
class SupervisionData:
    """The page's tables for one area and month."""

    query: SupervisionQuery
    trail: list[Area]
    month: dt.date | None
    months: list[dt.date]
    names: bool
    officials: pd.DataFrame
    trend: pd.DataFrame
    by_village: pd.DataFrame
    evidence: pd.DataFrame | None
    inspections: pd.DataFrame


def load_supervision(
    conn: psycopg.Connection, user: User, query: SupervisionQuery
) -> SupervisionData:
    """Read the page in ``user``'s scope.

    Raises
    ------
    NotPermitted
        A role that may not open the page.
    UnknownArea, OutOfScope
        An area that does not exist or lies outside the user's jurisdiction.
    """
    require_supervision(user)
    user.scope.require(query.area)
    trail = lineage(conn, user.scope, query.area)
    months = shown_months(conn)
    month = resolve_month(months, query.month)
    names = names_visible(user, query.area)
    suppress = not names
    empty = pd.DataFrame()
    if month is None:
        return SupervisionData(query, trail, None, months, names, empty, empty, empty, None, empty)
    record = evidence(conn, query.area, query.official, month) if names and query.official else None
    return SupervisionData(
        query,
        trail,
        month,
        months,
        names,
        officials(conn, query.area, month, names=names),
        findings_trend(conn, query.area, suppress=suppress),
        findings_by_village(conn, query.area, month, suppress=suppress),
        record,
        inspections(conn, query.area) if names else empty,
    )
