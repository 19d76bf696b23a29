"""The wall screen's figures (大屏): a few KPIs, a trend strip and the worst villages of an area.

Aggregates only, and every count of 1-4 shown as "<5" whatever the viewer's role: a wall
hangs where anyone walking by can read it. Nothing here names a household or an official.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import pandas as pd
import psycopg

from core.access import SUPPRESSED
from core.scope import Scope
from geo.admin import Area, children, get_area
from layers.deidentify import suppress_small
from layers.statistics import COUNT_COLUMNS, read_series

#: Villages listed as the worst (most open warnings, then most per 100 households).
WORST_VILLAGES = 8
#: A village needs this many households to be ranked.
MIN_HOUSEHOLDS = 3

_WORST_SQL = """
SELECT v.code, v.name, t.name AS town,
       r.warnings_red + r.warnings_orange + r.warnings_yellow AS warnings, r.warnings_red,
       r.households
FROM rollup r
JOIN admin_area v ON v.code = r.code
LEFT JOIN admin_area t ON t.code = v.parent_code
WHERE r.month = %(month)s AND r.level = 'village'
  AND r.code >= %(area)s AND r.code < %(area)s || ':' AND r.code LIKE %(scope_like)s
  AND r.households >= %(min_households)s
ORDER BY r.warnings_red + r.warnings_orange + r.warnings_yellow DESC, r.warnings_red DESC,
         (r.warnings_red + r.warnings_orange + r.warnings_yellow)::float / r.households DESC,
         r.code
LIMIT %(limit)s
"""
_VERSION_SQL = """
SELECT coalesce((SELECT max(run_id) FROM published_month), 0)::text || '-' ||
       coalesce((SELECT (extract(epoch FROM max(derived_at)) * 1e6)::bigint FROM derive_run),
                0)::text
       || '-' || coalesce((SELECT max(warning_id) FROM warning), 0)::text
"""


@dataclass(frozen=True, slots=True)
class WallFigures:
    """What the wall shows of one area in one month."""

    area: Area
    month: dt.date | None
    #: KPI key → value shown (a number, "<5", or None for no data).
    kpis: dict[str, Any]
    #: Month labels and per-month values of the trend strip (suppressed counts → None).
    trend_months: list[str]
    trend: dict[str, list[float | None]]
    #: (village, town, warnings, red, warnings per 100 households) worst first.
    worst: list[tuple[str, str, Any, Any, float | None]]


def wall_version(conn: psycopg.Connection) -> str:
    """Changes when a month is published, derived or refreshed, or a warning is raised.

    Cheap to poll. A month's figures refreshed in place (officials' answers: response times,
    attainment) move its ``derive_run.derived_at`` (:func:`analytics.trends.mark_changed`).
    """
    row = conn.execute(_VERSION_SQL).fetchone()
    return str(row[0]) if row else "0"


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _change(now: Any, before: Any) -> float | None:
    if not isinstance(now, int | float) or not isinstance(before, int | float) or not before:
        return None
    return round(100 * (now / before - 1), 1)


def wall_figures(
    conn: psycopg.Connection, scope: Scope, code: str, month: dt.date | None = None
) -> WallFigures:
    """The KPIs, trend and worst villages of ``code`` in ``month`` (default: the latest).

    Raises
    ------
    UnknownArea, OutOfScope
        An area that does not exist or lies outside ``scope``.
    """
    area = get_area(conn, scope, code)
    scope.require(code)
    series, _factors, shown = read_series(conn, code, month)
    raw = series.tail(6)
    shown_series = pd.DataFrame(suppress_small(raw, COUNT_COLUMNS))
    last = shown_series.iloc[-1].to_dict() if len(shown_series) else {}
    before = raw.iloc[-2].to_dict() if len(raw) > 1 else {}
    now_raw = raw.iloc[-1].to_dict() if len(raw) else {}

    def warned(row: dict[str, Any]) -> Any:
        keys = ("warnings_red", "warnings_orange", "warnings_yellow")
        return sum(int(row[k]) for k in keys) if row else None

    kpis = {
        "households": _plain(last.get("households")),
        "red": _plain(last.get("warnings_red")),
        "orange": _plain(last.get("warnings_orange")),
        "yellow": _plain(last.get("warnings_yellow")),
        "response_3h": _plain(last.get("response_3h_pct")),
        "benefit_gaps": _plain(last.get("gaps_open")),
        "sharing": _plain(last.get("sharing_pct")),
        "warnings_change": _change(warned(now_raw), warned(before)),
    }
    trend = {
        column: [v if isinstance(v, int | float) else None for v in map(_plain, raw[column])]
        for column in ("warnings_red", "warnings_orange", "warnings_yellow")
    }
    trend = {k: [None if _small(v) else v for v in values] for k, values in trend.items()}
    return WallFigures(
        area, shown, kpis, list(raw["month"]), trend, _worst(conn, scope, code, shown)
    )


def _small(value: float | None) -> bool:
    return value is not None and 0 < value < 5


def _worst(
    conn: psycopg.Connection, scope: Scope, code: str, month: dt.date | None
) -> list[tuple[str, str, Any, Any, float | None]]:
    if month is None:
        return []
    rows = conn.execute(
        _WORST_SQL,
        {
            "month": month,
            "area": code,
            "scope_like": scope.like,
            "min_households": MIN_HOUSEHOLDS,
            "limit": WORST_VILLAGES,
        },
    ).fetchall()
    out = []
    for _code, name, town, warnings, red, households in rows:
        shown = suppress_small({"w": int(warnings), "r": int(red)}, ["w", "r"])
        # A rate of a suppressed count would give the count away (with the households).
        rate = None if shown["w"] == SUPPRESSED else round(100 * int(warnings) / households, 1)
        out.append((str(name), str(town or ""), shown["w"], shown["r"], rate))
    return out


def tour_areas(conn: psycopg.Connection, scope: Scope, code: str) -> list[Area]:
    """The areas a wall tours: the area itself, then each of its children."""
    return [get_area(conn, scope, code), *children(conn, scope, code)]
