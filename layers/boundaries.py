"""The admin-boundary layer: the children of an area as GeoJSON, simplified for their level."""

from __future__ import annotations

import psycopg

from core.scope import Scope
from geo.admin import get_area

#: Coordinates are sent with 5 decimals (about 1 m): finer is noise at any zoom we draw.
_DECIMALS = 5

# The children of an area drawn as a coverage; a village (no children) draws itself.
_CHILDREN_SQL = """
WITH shown AS (
    SELECT a.code, a.name, a.kind, a.level, a.synthetic,
           ST_X(a.label_point) AS label_lon, ST_Y(a.label_point) AS label_lat,
           EXISTS (SELECT 1 FROM admin_area c WHERE c.parent_code = a.code) AS has_children,
           d.geom
    FROM admin_area a JOIN admin_area_display d USING (code)
    WHERE (a.parent_code = %(code)s
           OR (a.code = %(code)s
               AND NOT EXISTS (SELECT 1 FROM admin_area c WHERE c.parent_code = %(code)s)))
      AND (a.code LIKE %(scope_like)s OR %(scope_prefix)s LIKE a.code || '%%')
)
SELECT json_build_object(
    'type', 'FeatureCollection',
    'parent', %(code)s::text,
    'features', coalesce(json_agg(ST_AsGeoJSON(shown.*, 'geom', %(decimals)s)::json
                                  ORDER BY shown.code), '[]'::json)
)::text
FROM shown
"""


def children_geojson(conn: psycopg.Connection, scope: Scope, code: str) -> bytes:
    """Return the children of ``code`` (or the village itself) as a GeoJSON FeatureCollection.

    Parameters
    ----------
    conn
        An open connection.
    scope
        The viewer's jurisdiction: areas outside it are never returned.
    code
        The area whose children are drawn.

    Returns
    -------
    bytes
        UTF-8 GeoJSON; each feature has ``code``, ``name``, ``kind``, ``level``, ``synthetic``,
        ``has_children`` and a label point.
    """
    get_area(conn, scope, code)
    row = conn.execute(
        _CHILDREN_SQL,
        {
            "code": code,
            "scope_like": scope.like,
            "scope_prefix": scope.prefix,
            "decimals": _DECIMALS,
        },
    ).fetchone()
    assert row is not None  # an aggregate always returns a row
    return str(row[0]).encode()


_AREA_SQL = """
SELECT json_build_object(
    'type', 'FeatureCollection',
    'features', json_agg(ST_AsGeoJSON(shown.*, 'geom', %(decimals)s)::json)
)::text
FROM (SELECT a.code, a.name, d.geom
      FROM admin_area a JOIN admin_area_display d USING (code)
      WHERE a.code = %(code)s) AS shown
"""


def area_geojson(conn: psycopg.Connection, scope: Scope, code: str) -> bytes:
    """Return one area's outline (display geometry) as a GeoJSON FeatureCollection."""
    get_area(conn, scope, code)
    row = conn.execute(_AREA_SQL, {"code": code, "decimals": _DECIMALS}).fetchone()
    assert row is not None
    return str(row[0]).encode()
