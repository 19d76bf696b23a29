"""The household layer: points of the latest published month inside an area, for the map.

Each point carries the level of its open warning (the map colours points and clusters by it).
One response never holds more than :data:`MAX_FEATURES` households: when an area has more,
households with warnings come first and the collection says ``"truncated": true`` and ``total``.
"""

from __future__ import annotations

import datetime as dt

import psycopg

from core.scope import Scope
from geo.admin import get_area
from layers.catalog import warning_colours

#: Never more household features than this in one response (the browser stays responsive).
MAX_FEATURES = 20_000
#: Households are drawn from this level down (a town has hundreds, a county thousands).
HOUSEHOLD_LEVELS = ("town", "village")
#: Levels and sizes at which the map clusters the points (a village's few stay single).
CLUSTER_LEVELS = ("town",)
CLUSTER_FROM = 200
#: Point and cluster colours by warning level, worst first (a cluster takes its worst level):
#: the catalog's warning colours.
HOUSEHOLD_COLOURS: dict[str, str] = warning_colours()
_DECIMALS = 6

# A range on village_code, not LIKE: it uses the (month, village_code) index in any collation
# (':' sorts right after '9', so it bounds every code that starts with the prefix).
_IN_AREA = """
    h.month = %(month)s::date
    AND h.village_code >= %(area)s AND h.village_code < %(area)s || ':'
    AND h.village_code LIKE %(scope_like)s
"""
_HOUSEHOLDS_SQL = (
    """
SELECT json_build_object(
    'type', 'FeatureCollection',
    'month', %(month)s::text,
    'total', count(*),
    'limit', %(limit)s::int,
    'truncated', count(*) > %(limit)s,
    'features', coalesce(json_agg(f.feature ORDER BY f.n) FILTER (WHERE f.n <= %(limit)s),
                         '[]'::json)
)::text
FROM (
    SELECT row_number() OVER (
               ORDER BY CASE w.level WHEN 'red' THEN 0 WHEN 'orange' THEN 1
                                     WHEN 'yellow' THEN 2 ELSE 3 END,
                        h.household_id) AS n,
           json_build_object(
               'type', 'Feature',
               'geometry', ST_AsGeoJSON(h.geom, %(decimals)s)::json,
               'properties', json_build_object(
                   'household_id', h.household_id, 'village_code', h.village_code,
                   'status', h.status, 'size', h.size, 'precision', h.geo_precision,
                   'warning_level', coalesce(w.level, 'none'))) AS feature
    FROM household h
    -- Coloured by the month's warning only while it is open: a resolved one no longer alarms.
    LEFT JOIN (warning_month w JOIN warning o
               ON o.warning_id = w.warning_id
                  AND o.status IN ('raised', 'acknowledged', 'verified'))
        ON w.month = h.month AND w.household_id = h.household_id
    WHERE"""
    + _IN_AREA
    + ") f"
)
_COUNT_SQL = "SELECT count(*) FROM household h WHERE" + _IN_AREA


def latest_month(conn: psycopg.Connection) -> dt.date | None:
    """The most recent published month, or None before the first ETL run."""
    row = conn.execute("SELECT max(month) FROM published_month").fetchone()
    return row[0] if row else None


def published_version(conn: psycopg.Connection) -> int:
    """A number that changes whenever a month is (re)published: caches key on it."""
    row = conn.execute("SELECT coalesce(max(run_id), 0) FROM published_month").fetchone()
    return int(row[0]) if row else 0


def households_geojson(
    conn: psycopg.Connection,
    scope: Scope,
    code: str,
    month: dt.date,
    *,
    limit: int | None = None,
) -> bytes:
    """Return the households of an area (town or village) as GeoJSON points.

    Parameters
    ----------
    conn
        An open connection.
    scope
        The viewer's jurisdiction; ``code`` must lie inside it.
    code
        The area (any level; the map asks for towns and villages only).
    month
        The published month drawn.
    limit
        At most this many features (default and ceiling :data:`MAX_FEATURES`).

    Returns
    -------
    bytes
        A UTF-8 FeatureCollection with ``month``, ``total`` (households in the area), ``limit``
        and ``truncated`` (true when ``total`` exceeds ``limit``). Each feature has
        ``household_id``, ``status``, ``size``, ``precision`` (``gps`` or ``village``: placed
        inside the village, drawn differently), ``warning_level`` (``red`` … ``none``) and
        ``village_code``.
        Households with warnings come first, so a truncated map still shows them.
    """
    get_area(conn, scope, code)
    scope.require(code)
    cap = min(limit or MAX_FEATURES, MAX_FEATURES)
    row = conn.execute(
        _HOUSEHOLDS_SQL,
        {
            "month": month.isoformat(),
            "area": code,
            "scope_like": scope.like,
            "limit": cap,
            "decimals": _DECIMALS,
        },
    ).fetchone()
    assert row is not None
    return str(row[0]).encode()


def household_count(conn: psycopg.Connection, scope: Scope, code: str, month: dt.date) -> int:
    """How many households of ``month`` live in ``code`` (inside ``scope``)."""
    row = conn.execute(
        _COUNT_SQL, {"month": month.isoformat(), "area": code, "scope_like": scope.like}
    ).fetchone()
    return int(row[0]) if row else 0


def clustered(level: str, count: int) -> bool:
    """Whether the map clusters an area's household points (a town, or many households)."""
    return level in HOUSEHOLD_LEVELS and (level in CLUSTER_LEVELS or count > CLUSTER_FROM)
