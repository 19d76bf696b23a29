"""The admin hierarchy in PostGIS: look up areas, their lineage and children, inside a scope."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import psycopg
from psycopg.rows import class_row

from core.errors import OutOfScope, UnknownArea
from core.scope import LEVEL_CODE_LENGTHS, Scope, is_admin_code

if TYPE_CHECKING:
    import geopandas as gpd


@dataclass(frozen=True, slots=True)
class Area:
    """One admin area, without its geometry."""

    code: str
    level: str
    parent_code: str | None
    name: str
    kind: str
    synthetic: bool
    #: (west, south, east, north) in degrees.
    west: float
    south: float
    east: float
    north: float

    @property
    def bounds(self) -> list[list[float]]:
        """Leaflet-style bounds ``[[south, west], [north, east]]``."""
        return [[self.south, self.west], [self.north, self.east]]


_AREA_COLUMNS = """
    a.code, a.level, a.parent_code, a.name, a.kind, a.synthetic,
    ST_XMin(a.bbox) AS west, ST_YMin(a.bbox) AS south,
    ST_XMax(a.bbox) AS east, ST_YMax(a.bbox) AS north
"""
# Visible in a scope: inside it, or one of its ancestors (so breadcrumbs can show the way down).
_IN_SCOPE = "(a.code LIKE %(scope_like)s OR %(scope_prefix)s LIKE a.code || '%%')"


def _scope_params(scope: Scope) -> dict[str, str]:
    return {"scope_like": scope.like, "scope_prefix": scope.prefix}


def ancestor_codes(code: str) -> list[str]:
    """Return the codes from the province down to ``code`` itself."""
    return [code[:n] for n in LEVEL_CODE_LENGTHS.values() if n <= len(code)]


def get_area(conn: psycopg.Connection, scope: Scope, code: str) -> Area:
    """Return one area.

    Raises
    ------
    UnknownArea
        If no such area exists (or ``code`` is not an admin code).
    OutOfScope
        If the area is neither inside ``scope`` nor one of its ancestors.
    """
    if not is_admin_code(code):
        raise UnknownArea(f"not an admin code: {code!r}", user_msg="Unknown area.")
    if not scope.sees(code):
        raise OutOfScope(f"area {code} is outside scope {scope.prefix}")
    with conn.cursor(row_factory=class_row(Area)) as cur:
        cur.execute(
            "SELECT "
            + _AREA_COLUMNS
            + " FROM admin_area a WHERE a.code = %(code)s AND "
            + _IN_SCOPE,
            {"code": code, **_scope_params(scope)},
        )
        area = cur.fetchone()
    if area is None:
        raise UnknownArea(f"no admin area {code}", user_msg="Unknown area.")
    return area


def lineage(conn: psycopg.Connection, scope: Scope, code: str) -> list[Area]:
    """Return the areas from the province down to ``code`` (the breadcrumb)."""
    get_area(conn, scope, code)  # existence and scope
    with conn.cursor(row_factory=class_row(Area)) as cur:
        cur.execute(
            "SELECT " + _AREA_COLUMNS + " FROM admin_area a JOIN admin_level l USING (level)"
            " WHERE a.code = ANY(%(codes)s) AND " + _IN_SCOPE + " ORDER BY l.depth",
            {"codes": ancestor_codes(code), **_scope_params(scope)},
        )
        return cur.fetchall()


def children(conn: psycopg.Connection, scope: Scope, code: str) -> list[Area]:
    """Return the visible children of ``code`` ordered by code (empty for a village)."""
    get_area(conn, scope, code)
    with conn.cursor(row_factory=class_row(Area)) as cur:
        cur.execute(
            "SELECT " + _AREA_COLUMNS + " FROM admin_area a"
            " WHERE a.parent_code = %(code)s AND " + _IN_SCOPE + " ORDER BY a.code",
            {"code": code, **_scope_params(scope)},
        )
        return cur.fetchall()


def level_counts(conn: psycopg.Connection, scope: Scope) -> dict[str, int]:
    """Count the areas of each level inside ``scope``."""
    rows = conn.execute(
        "SELECT a.level, count(*) FROM admin_area a WHERE a.code LIKE %(scope_like)s"
        " GROUP BY a.level",
        _scope_params(scope),
    ).fetchall()
    return dict(rows)


def data_version(conn: psycopg.Connection, dataset: str = "geography") -> int:
    """Return the load counter of a dataset (0 when never loaded): caches key on it."""
    row = conn.execute(
        "SELECT version FROM dataset_version WHERE dataset = %s", (dataset,)
    ).fetchone()
    return int(row[0]) if row else 0


_VILLAGES_SQL = """
SELECT v.code, v.name, t.name AS town_name, v.county_code, c.name AS county_name,
       ci.name AS city_name, ST_AsBinary(v.geom) AS wkb
FROM admin_area v
JOIN admin_area t ON t.code = v.parent_code
JOIN admin_area c ON c.code = v.county_code
JOIN admin_area ci ON ci.code = c.parent_code
WHERE v.level = 'village' AND v.code LIKE %(scope_like)s
ORDER BY v.code
"""


def villages_frame(conn: psycopg.Connection, scope: Scope) -> gpd.GeoDataFrame:
    """Return the villages inside ``scope`` with their town, county and city names.

    Columns: ``code, name, town_name, county_code, county_name, city_name, geometry``
    (EPSG:4326).
    """
    import geopandas as gpd  # noqa: PLC0415 — keep this module light for the web app
    import shapely  # noqa: PLC0415

    rows = conn.execute(_VILLAGES_SQL, {"scope_like": scope.like}).fetchall()
    columns = ["code", "name", "town_name", "county_code", "county_name", "city_name"]
    frame = gpd.GeoDataFrame(
        [r[:6] for r in rows],
        columns=columns,
        geometry=shapely.from_wkb([r[6] for r in rows]),
        crs="EPSG:4326",
    )
    return frame
