"""Mapbox vector tiles of catalog layers, made by PostGIS ``ST_AsMVT``.

Household points: roles without identified points read the month's de-identified points
(:mod:`layers.displaced`), officials their households' true places; both through row-level
security. At most :data:`FEATURE_CAP` points per tile, worst warnings first. Area layers: the
admin level that suits the zoom, simplified per zoom; counts are left out of the tiles of roles
whose small counts are suppressed (rates, codes and names stay). Tiles carry no household id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

import psycopg
from psycopg import sql

from core.access import User
from core.errors import UnknownArea
from layers.catalog import Layer
from layers.layerdata import NoData, NotPermitted, layer_query, parse_month

EXTENT = 4096
BUFFER = 64
FEATURE_CAP = 20_000
MAX_ZOOM = 18
#: Half the Web Mercator world's width in metres.
_HALF_WORLD = 20_037_508.342789244
#: The admin level drawn at each zoom (from this zoom up).
_AREA_LEVEL_BY_ZOOM = ((0, "city"), (7, "county"), (9, "town"), (11, "village"))

_DEIDENTIFIED_POINTS = """
SELECT ST_AsMVT(t, %(name)s, %(extent)s, 'geom') FROM (
    SELECT ST_AsMVTGeom(p.geom, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), %(extent)s, %(buffer)s,
                        true) AS geom,
           p.status, p.poverty_cause, p.warning_level
    FROM household_tile_point p
    WHERE p.month = %(month)s
      AND p.x16 BETWEEN %(x16_low)s AND %(x16_high)s AND p.y16 BETWEEN %(y16_low)s AND %(y16_high)s
      AND p.geom && ST_TileEnvelope(%(z)s, %(x)s, %(y)s)
      AND p.village_code LIKE %(scope_like)s AND (NOT %(warned_only)s OR p.warning_rank < 3)
    ORDER BY p.warning_rank
    LIMIT %(cap)s
) t
"""
_IDENTIFIED_POINTS = """
SELECT ST_AsMVT(t, %(name)s, %(extent)s, 'geom') FROM (
    SELECT ST_AsMVTGeom(ST_Transform(h.geom, 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s),
                        %(extent)s, %(buffer)s, true) AS geom,
           h.status, h.poverty_cause, coalesce(w.level, '') AS warning_level
    FROM household h
    LEFT JOIN warning_month w ON w.month = h.month AND w.household_id = h.household_id
    WHERE h.month = %(month)s
      AND h.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4326)
      AND h.village_code LIKE %(scope_like)s AND (NOT %(warned_only)s OR w.level IS NOT NULL)
    ORDER BY CASE w.level WHEN 'red' THEN 0 WHEN 'orange' THEN 1 WHEN 'yellow' THEN 2 ELSE 3 END
    LIMIT %(cap)s
) t
"""
_AREA_WHERE = sql.SQL(
    "a.level = %(level)s AND a.geom && ST_Transform(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4326)"
)
_AREAS = """
SELECT ST_AsMVT(t, %(name)s, %(extent)s, 'geom') FROM (
    SELECT ST_AsMVTGeom(
               ST_SimplifyPreserveTopology(
                   ST_Transform(ST_GeomFromWKB(q.geometry, 4326), 3857), %(tolerance)s),
               ST_TileEnvelope(%(z)s, %(x)s, %(y)s), %(extent)s, %(buffer)s, true) AS geom,
           {fields}
    FROM ({query}) q
) t
"""


class BadTile(UnknownArea):
    """Tile coordinates outside the pyramid."""

    user_msg = "No such tile."


@dataclass(frozen=True, slots=True)
class TileRequest:
    """One tile of one layer for one user and month."""

    layer: Layer
    z: int
    x: int
    y: int
    month: dt.date
    user: User

    def check(self) -> None:
        """Refuse coordinates outside the pyramid and raster layers."""
        if self.layer.geometry == "raster" or self.layer.composition:
            raise BadTile(f"layer {self.layer.key} has no vector tiles")
        if not (0 <= self.z <= MAX_ZOOM and 0 <= self.x < 2**self.z and 0 <= self.y < 2**self.z):
            raise BadTile(f"no tile {self.z}/{self.x}/{self.y}")


def area_level(z: int) -> str:
    """The admin level drawn at zoom ``z``."""
    return [level for start, level in _AREA_LEVEL_BY_ZOOM if z >= start][-1]


def simplify_tolerance(z: int) -> float:
    """Metres to simplify by at zoom ``z``: about a quarter of a tile pixel (4096 units)."""
    return 2 * _HALF_WORLD / (2**z) / EXTENT * 4


def z16_range(z: int, x: int, y: int) -> dict[str, int]:
    """The z16 tile columns and rows a tile covers, one more on each side (the buffer)."""
    if z >= 16:
        shift = z - 16
        x16, y16 = x >> shift, y >> shift
        return {"x16_low": x16 - 1, "x16_high": x16 + 1, "y16_low": y16 - 1, "y16_high": y16 + 1}
    span = 1 << (16 - z)
    return {
        "x16_low": x * span - 1,
        "x16_high": (x + 1) * span,
        "y16_low": y * span - 1,
        "y16_high": (y + 1) * span,
    }


def _identified(request: TileRequest) -> bool:
    return request.user.permissions.identified_points


_MONTH_VERSION = """
SELECT m.month, p.run_id, d.data_version, (extract(epoch FROM d.derived_at) * 1e6)::bigint
FROM (SELECT coalesce(%(month)s::date, (SELECT max(month) FROM published_month)) AS month) m
LEFT JOIN published_month p USING (month)
LEFT JOIN derive_run d USING (month)
"""


def open_tile(
    conn: psycopg.Connection, layer: Layer, zxy: tuple[int, int, int], month: str | None, user: User
) -> tuple[TileRequest, str]:
    """The tile request (``month`` ``YYYY-MM``, None for the latest published) and its ETag.

    One small query gives the month and its data version (ETL run and derive): a tile is asked
    for many times a second, and each round trip to the database counts. The ETag covers the
    version, layer, tile and scope, and whether points are identified.

    Raises
    ------
    NoData
        When nothing is published (or ``month`` is not ``YYYY-MM``).
    """
    wanted = None if month is None else parse_month(month, conn)  # no query for a given month
    row = conn.execute(_MONTH_VERSION, {"month": wanted}).fetchone()
    if row is None or row[0] is None:
        raise NoData("nothing is published yet")
    request = TileRequest(layer, *zxy, row[0], user)
    parts = [
        "|".join(map(str, row[1:])),
        layer.key,
        "/".join(map(str, zxy)),
        user.scope.prefix,
        "identified" if _identified(request) else "deidentified",
    ]
    return request, hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def tile_bytes(conn: psycopg.Connection, request: TileRequest) -> bytes:
    """The tile as MVT bytes (empty bytes for an empty tile). Run inside ``scoped()``."""
    request.check()
    layer, user = request.layer, request.user
    params = {
        "name": layer.key,
        "extent": EXTENT,
        "buffer": BUFFER,
        "z": request.z,
        "x": request.x,
        "y": request.y,
        "month": request.month,
        "scope_like": user.scope.like,
        "warned_only": layer.warned_only,
        "cap": FEATURE_CAP,
        **z16_range(request.z, request.x, request.y),
    }
    if layer.privacy == "households":
        if not (user.permissions.identified_points or user.permissions.deidentified_layers):
            raise NotPermitted(f"{user.role.value} may not see household points")
        query: sql.SQL | sql.Composed = sql.SQL(
            _IDENTIFIED_POINTS if _identified(request) else _DEIDENTIFIED_POINTS
        )
    else:
        suppress = user.permissions.suppress_small_counts
        names = [f.name for f in layer.fields if not (suppress and f.is_count)]
        query = sql.SQL(_AREAS).format(
            fields=sql.SQL(", ").join(sql.Identifier("q", n) for n in names),
            query=layer_query(layer, _AREA_WHERE),
        )
        params |= {"level": area_level(request.z), "tolerance": simplify_tolerance(request.z)}
    row = conn.execute(query, params).fetchone()
    return bytes(row[0]) if row and row[0] is not None else b""
