"""The household layer: points of the latest published month inside an area, for the map."""

from __future__ import annotations

import datetime as dt

import psycopg

from geo.admin import get_area
from geo.scope import Scope

#: Never more household features than this in one response (the browser stays responsive).
MAX_FEATURES = 20_000
_DECIMALS = 6

_HOUSEHOLDS_SQL = """
SELECT json_build_object(
    'type', 'FeatureCollection',
    'month', %(month)s::text,
    'truncated', count(*) > %(limit)s,
    'features', coalesce(json_agg(f.feature) FILTER (WHERE f.n <= %(limit)s), '[]'::json)
)::text
FROM (
    SELECT row_number() OVER (ORDER BY h.household_id) AS n,
           json_build_object(
               'type', 'Feature',
               'geometry', ST_AsGeoJSON(h.geom, %(decimals)s)::json,
               'properties', json_build_object(
                   'household_id', h.household_id, 'status', h.status, 'size', h.size,
                   'precision', h.geo_precision)) AS feature
    FROM household h
    WHERE h.month = %(month)s::date
      -- A range, not LIKE: it uses the (month, village_code) index in any collation
      -- (':' sorts right after '9', so it bounds every code that starts with the prefix).
      AND h.village_code >= %(area)s AND h.village_code < %(area)s || ':'
      AND h.village_code LIKE %(scope_like)s
) f
"""


def latest_month(conn: psycopg.Connection) -> dt.date | None:
    """The most recent published month, or None before the first ETL run."""
    row = conn.execute("SELECT max(month) FROM published_month").fetchone()
    return row[0] if row else None


def published_version(conn: psycopg.Connection) -> int:
    """A number that changes whenever a month is (re)published: caches key on it."""
    row = conn.execute("SELECT coalesce(max(run_id), 0) FROM published_month").fetchone()
    return int(row[0]) if row else 0


def households_geojson(conn: psycopg.Connection, scope: Scope, code: str, month: dt.date) -> bytes:
    """Return the households of an area (town or village) as GeoJSON points.

    At most :data:`MAX_FEATURES` features; ``truncated`` says when there were more.
    ``precision`` is ``gps`` or ``village`` (placed inside the village, drawn differently).
    """
    get_area(conn, scope, code)
    scope.require(code)
    row = conn.execute(
        _HOUSEHOLDS_SQL,
        {
            "month": month.isoformat(),
            "area": code,
            "scope_like": scope.like,
            "limit": MAX_FEATURES,
            "decimals": _DECIMALS,
        },
    ).fetchone()
    assert row is not None
    return str(row[0]).encode()
