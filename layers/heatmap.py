"""The warning heatmap: server-rendered 256×256 PNG tiles, weighted by warning level.

Points are read once per data version and scope, projected to Web Mercator, and binned per
tile with ``numpy.histogram2d`` then blurred — grid binning, never clustering — so a tile costs
milliseconds even with every warning of the province.
"""

from __future__ import annotations

import io
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any

import geopandas as gpd
import numpy as np
import psycopg
import shapely
from numpy.typing import NDArray
from PIL import Image, ImageDraw
from scipy.ndimage import gaussian_filter

from core.errors import UnknownArea
from core.scope import Scope
from layers.deidentify import deidentify


class UnknownTile(UnknownArea):
    """An XYZ address outside the tile pyramid."""

    user_msg = "No such tile."


TILE = 256
#: Red counts three times a yellow warning.
LEVEL_WEIGHTS = {"red": 3.0, "orange": 2.0, "yellow": 1.0}
#: Blur radius in pixels, and the margin of neighbouring tiles read so edges match.
SIGMA_PX = 6.0
_MARGIN_PX = int(4 * SIGMA_PX)
#: Density at which the colour saturates at least (about three red warnings on one spot).
_SATURATION = 8.0 / (2 * math.pi * SIGMA_PX**2)
#: Where warnings are many, the colour saturates at this many times their mean density over
#: their extent: a county of thousands of warnings is not one dark blot, a few still show.
_HOTSPOT = 8.0
_HALF_WORLD = 20037508.342789244
#: Transparent → cyan → blue → violet → deep purple, with rising opacity: it contrasts with the
#: yellow→red choropleth beneath it (the legend of the map page draws the same stops).
HEAT_STOPS = (
    (29, 145, 192, 0),
    (29, 145, 192, 190),
    (37, 52, 148, 215),
    (122, 1, 119, 235),
    (45, 0, 75, 245),
)
_RAMP = np.array(HEAT_STOPS, dtype=float)


@dataclass(frozen=True, slots=True)
class HeatPoints:
    """Warning locations in Web Mercator metres with their weights."""

    x: NDArray[np.float64]
    y: NDArray[np.float64]
    weight: NDArray[np.float64]
    #: The outline (Web Mercator) the tiles are clipped to: the area in view, or None.
    clip: shapely.Geometry | None = None

    def saturation(self, pixel: float) -> float:
        """The density (weight per pixel of ``pixel`` metres) drawn in the darkest colour."""
        if self.x.size < 2:
            return _SATURATION
        extent = max(float(np.ptp(self.x)) * float(np.ptp(self.y)), pixel**2)
        mean = float(self.weight.sum()) / extent * pixel**2
        return max(_SATURATION, _HOTSPOT * mean)


_POINTS_SQL = """
SELECT h.household_id, h.village_code, ST_X(h.geom), ST_Y(h.geom), m.level
FROM warning_month m
JOIN household h ON h.month = m.month AND h.household_id = m.household_id
WHERE m.month = (SELECT max(month) FROM warning_month)
  AND m.village_code LIKE %(scope_like)s AND m.village_code LIKE %(area_like)s
"""
_OUTLINE_SQL = """
SELECT ST_AsBinary(ST_Transform(d.geom, 3857))
FROM admin_area a JOIN admin_area_display d USING (code) WHERE a.code = %(code)s
"""
#: Warning points per (data version, scope, de-identified, area): a few are kept at once.
_cache: OrderedDict[tuple[str, str, bool, str], HeatPoints] = OrderedDict()
_POINTS_CACHE_SIZE = 16
_cache_lock = threading.Lock()


def to_mercator(
    lon: NDArray[np.float64], lat: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """WGS84 degrees → Web Mercator metres (EPSG:3857)."""
    x = np.radians(lon) * 6378137.0
    y = np.log(np.tan(np.pi / 4 + np.radians(np.clip(lat, -85.05, 85.05)) / 2)) * 6378137.0
    return x, y


def warning_points(
    conn: psycopg.Connection, rows: list[tuple[Any, ...]], *, deidentified: bool
) -> HeatPoints:
    """Rows of (household_id, village_code, lon, lat, level) as weighted Mercator points.

    De-identified points are moved by :func:`layers.deidentify.deidentify` first (each stays in
    its village, at its household's fixed offset): the tiles of roles without identified points
    and every export never show where a household really is.
    """
    if deidentified and rows:
        frame = gpd.GeoDataFrame(
            {
                "household_id": [r[0] for r in rows],
                "village_code": [r[1] for r in rows],
                "level": [r[4] for r in rows],
            },
            geometry=gpd.points_from_xy([r[2] for r in rows], [r[3] for r in rows]),
            crs=4326,
        )
        moved = deidentify(conn, frame)
        lon, lat = shapely.get_x(moved.geometry.values), shapely.get_y(moved.geometry.values)
        levels = list(moved["level"])
    else:
        lon = np.array([r[2] for r in rows], dtype=float)
        lat = np.array([r[3] for r in rows], dtype=float)
        levels = [r[4] for r in rows]
    x, y = to_mercator(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return HeatPoints(x, y, np.array([LEVEL_WEIGHTS[lv] for lv in levels], dtype=float))


def heat_points(
    conn: psycopg.Connection,
    scope: Scope,
    version: str,
    *,
    deidentified: bool = False,
    area: str | None = None,
) -> HeatPoints:
    """The latest month's warnings inside ``scope`` (and ``area``), cached per data version.

    With ``area`` the points carry its outline, to which :func:`render_tile` clips.
    """
    key = (version, scope.prefix, deidentified, area or "")
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    params = {"scope_like": scope.like, "area_like": (area or "") + "%"}
    rows = conn.execute(_POINTS_SQL, params).fetchall()
    points = warning_points(conn, rows, deidentified=deidentified)
    if area is not None:
        outline = conn.execute(_OUTLINE_SQL, {"code": area}).fetchone()
        if outline is not None:
            points = replace(points, clip=shapely.from_wkb(bytes(outline[0])))
    with _cache_lock:
        for old in [k for k in _cache if k[0] != version]:
            del _cache[old]  # only the current version is worth keeping
        _cache[key] = points
        while len(_cache) > _POINTS_CACHE_SIZE:
            _cache.popitem(last=False)
    return points


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """(west, south, east, north) of an XYZ tile in Web Mercator metres."""
    size = 2 * _HALF_WORLD / (1 << z)
    west = -_HALF_WORLD + x * size
    north = _HALF_WORLD - y * size
    return west, north - size, west + size, north


def weighted_grid(
    points: HeatPoints, west: float, north: float, cell: float, shape: tuple[int, int]
) -> NDArray[np.float64]:
    """Sum the weights of the points falling in each cell of a north-up grid (grid binning).

    ``shape`` is (height, width) in cells; row 0 is the northern edge. The grid covers
    ``[west, west + width·cell)`` × ``(north − height·cell, north]`` in Web Mercator metres.
    Points outside are left out, so the grid's sum is the weight of the points inside it.
    Shared by the heat tiles and the GeoTIFF download.
    """
    height, width = shape
    east, south = west + width * cell, north - height * cell
    inside = (points.x >= west) & (points.x < east) & (points.y > south) & (points.y <= north)
    if not inside.any():
        return np.zeros((height, width))
    grid, _, _ = np.histogram2d(
        north - points.y[inside],
        points.x[inside] - west,
        bins=(height, width),
        range=[[0, height * cell], [0, width * cell]],
        weights=points.weight[inside],
    )
    return grid


def _empty_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", (TILE, TILE), (0, 0, 0, 0)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


EMPTY_TILE = _empty_png()


def render_tile(points: HeatPoints, z: int, x: int, y: int) -> bytes:
    """Render one tile as PNG bytes (a transparent tile where there are no warnings)."""
    if not (0 <= z <= 22 and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
        raise ValueError(f"no tile {z}/{x}/{y}")
    west, _, east, north = tile_bounds(z, x, y)
    pixel = (east - west) / TILE
    margin = _MARGIN_PX * pixel
    size = TILE + 2 * _MARGIN_PX
    grid = weighted_grid(points, west - margin, north + margin, pixel, (size, size))
    if not grid.any():
        return EMPTY_TILE
    density = gaussian_filter(grid, SIGMA_PX, mode="constant")
    density = density[_MARGIN_PX : _MARGIN_PX + TILE, _MARGIN_PX : _MARGIN_PX + TILE]
    level = np.clip(density / points.saturation(pixel), 0, 1) * (len(_RAMP) - 1)
    low = np.floor(level).astype(int)
    high = np.minimum(low + 1, len(_RAMP) - 1)
    mix = (level - low)[..., None]
    rgba = _RAMP[low] * (1 - mix) + _RAMP[high] * mix
    rgba[density < 1e-4 * _SATURATION] = 0
    if points.clip is not None:
        rgba[..., 3] *= _inside(points.clip, west, north, pixel)
    image = Image.fromarray(rgba.astype(np.uint8), mode="RGBA")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _inside(
    outline: shapely.Geometry, west: float, north: float, pixel: float
) -> NDArray[np.float64]:
    """1 for the tile's pixels inside ``outline`` (Web Mercator), 0 outside."""
    mask = Image.new("L", (TILE, TILE), 0)
    draw = ImageDraw.Draw(mask)
    for polygon in shapely.get_parts(outline):
        rings = [polygon.exterior, *polygon.interiors]
        for fill, ring in zip([255] + [0] * (len(rings) - 1), rings, strict=True):
            xy = np.asarray(ring.coords)
            pixels = np.column_stack(((xy[:, 0] - west) / pixel, (north - xy[:, 1]) / pixel))
            draw.polygon([(float(a), float(b)) for a, b in pixels], fill=fill)
    return np.asarray(mask, dtype=float) / 255.0


_TILE_CACHE_SIZE = 4096
_tiles: OrderedDict[tuple[str, str, bool, str, int, int, int], bytes] = OrderedDict()


def heat_version(conn: psycopg.Connection) -> str:
    """Changes whenever warnings are derived again: tiles and URLs key on it."""
    row = conn.execute(
        "SELECT data_version, (extract(epoch FROM derived_at) * 1e6)::bigint"
        " FROM derive_run ORDER BY month DESC LIMIT 1"
    ).fetchone()
    return f"{row[0]}-{row[1]}" if row else "none"


def tile_png(
    conn: psycopg.Connection,
    scope: Scope,
    z: int,
    x: int,
    y: int,
    *,
    deidentified: bool = False,
    area: str | None = None,
) -> bytes:
    """A heat tile for ``scope`` (only ``area``'s warnings, clipped to it, when given).

    From the memory cache when it was rendered before. The cache is keyed by data version,
    scope, de-identification and area: a tile rendered for one jurisdiction is never served to
    another.
    """
    version = heat_version(conn)
    key = (version, scope.prefix, deidentified, area or "", z, x, y)
    with _cache_lock:
        hit = _tiles.get(key)
        if hit is not None:
            _tiles.move_to_end(key)
            return hit
    points = heat_points(conn, scope, version, deidentified=deidentified, area=area)
    png = render_tile(points, z, x, y)
    with _cache_lock:
        _tiles[key] = png
        while len(_tiles) > _TILE_CACHE_SIZE:
            _tiles.popitem(last=False)
    return png
