"""The warning-density download: an area's warning-weighted household counts as a GeoTIFF.

The same grid binning as the heat tiles (:func:`layers.heatmap.weighted_grid`, never
clustering), on a grid of whole cells in Web Mercator (EPSG:3857). Each cell holds the sum of
the warning weights (red 3, orange 2, yellow 1) of the households inside it, so the grid adds up
to the area's weighted warning count; cells outside the area are nodata. Like every export the
points are de-identified first (each moved inside its own village), so the grid adds up the
same but no cell pins a household down. :func:`export_for` is the audited export.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np
import psycopg
import shapely
from numpy.typing import NDArray
from rasterio.features import geometry_mask
from rasterio.io import MemoryFile
from rasterio.transform import Affine

from core.audit import Audited
from core.scope import Scope
from geo.admin import Area, get_area
from geo.rasters import geotiff_profile
from layers.deidentify import ProtectedCounts, protected_counts
from layers.heatmap import (
    LEVEL_WEIGHTS,
    HeatPoints,
    heat_version,
    to_mercator,
    warning_points,
    weighted_grid,
)

#: Cell size in metres (Web Mercator) by the level of the area downloaded.
CELL_METRES = {"province": 1000.0, "city": 500.0, "county": 250.0, "town": 100.0, "village": 25.0}
NODATA = -9999.0
CRS = "EPSG:3857"
BAND_DESCRIPTION = "warning-weighted households per cell (red=3, orange=2, yellow=1)"

_POINTS_SQL = """
SELECT h.household_id, h.village_code, ST_X(h.geom), ST_Y(h.geom), m.level, m.month
FROM warning_month m
JOIN household h ON h.month = m.month AND h.household_id = m.household_id
WHERE m.month = (SELECT max(month) FROM warning_month)
  AND m.village_code >= %(area)s AND m.village_code < %(area)s || ':'
  AND m.village_code LIKE %(scope_like)s
"""
_GEOMETRY_SQL = "SELECT ST_AsBinary(geom) FROM admin_area WHERE code = %(code)s"


@dataclass(frozen=True, slots=True)
class HeatGrid:
    """An area's warning-density grid and what describes it."""

    area: Area
    #: float32 counts, row 0 north; :data:`NODATA` outside the area.
    values: NDArray[np.float32]
    transform: Affine
    cell: float
    version: str
    month: dt.date | None
    #: The area's warned households and weighted total: "<5" or "*" when the small-count rule
    #: withholds them (:mod:`layers.deidentify`).
    warnings: int | str
    weighted_total: float | str
    #: The households whose warnings went into the grid (for the audit trail; never written
    #: into the file).
    household_ids: tuple[str, ...] = ()


def _mercator_geometry(wkb: bytes) -> shapely.Geometry:
    def project(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        x, y = to_mercator(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(shapely.from_wkb(wkb), project)


def _extent(outline: shapely.Geometry, points: HeatPoints) -> tuple[float, float, float, float]:
    """The outline's box, widened to any household placed just outside its own area."""
    west, south, east, north = (float(v) for v in shapely.bounds(outline))
    if points.x.size:
        west, east = min(west, points.x.min()), max(east, points.x.max())
        south, north = min(south, points.y.min()), max(north, points.y.max())
    return west, south, east, north


def _grid_frame(
    bounds: tuple[float, float, float, float], cell: float
) -> tuple[float, float, int, int]:
    """West, north, width, height of the whole-cell grid holding ``bounds`` (snapped outward).

    Cells are half-open like :func:`~layers.heatmap.weighted_grid` (west and north edges in),
    so the east and south edges are pushed past any point lying exactly on them.
    """
    west = math.floor(bounds[0] / cell) * cell
    east = (math.floor(bounds[2] / cell) + 1) * cell
    north = math.ceil(bounds[3] / cell) * cell
    south = (math.ceil(bounds[1] / cell) - 1) * cell
    # A division that rounds (a coordinate of 5e-324 over 25 m is 0.0) must not leave the
    # westmost or northmost point outside: widen by a cell then.
    west -= cell if west > bounds[0] else 0.0
    north += cell if north < bounds[3] else 0.0
    return west, north, round((east - west) / cell), round((north - south) / cell)


def heat_grid(
    conn: psycopg.Connection, scope: Scope, code: str, *, protected: ProtectedCounts | None = None
) -> HeatGrid:
    """Bin the latest month's warnings of area ``code`` (inside ``scope``) into a grid.

    With ``protected`` (roles without portrait rights) the small-count rule applies: villages
    whose warning count is withheld add nothing to the grid, and the tags say "<5" or "*"
    where the rule withholds the area's counts.

    Raises
    ------
    UnknownArea
        If there is no such area.
    OutOfScope
        If the area is not inside ``scope``.
    """
    area = get_area(conn, scope, code)
    scope.require(code)
    rows = conn.execute(_POINTS_SQL, {"area": code, "scope_like": scope.like}).fetchall()
    if protected is not None:
        rows = [r for r in rows if not protected.withheld(str(r[1]), ["warnings"])]
    geometry_row = conn.execute(_GEOMETRY_SQL, {"code": code}).fetchone()
    assert geometry_row is not None  # get_area found it
    outline = _mercator_geometry(bytes(geometry_row[0]))
    # An export: the points go through the de-identification step (displaced in their village).
    points = warning_points(conn, [r[:5] for r in rows], deidentified=True)
    cell = CELL_METRES[area.level]
    west, north, width, height = _grid_frame(_extent(outline, points), cell)
    transform = Affine(cell, 0.0, west, 0.0, -cell, north)
    counts = weighted_grid(points, west, north, cell, (height, width))
    inside = geometry_mask(
        [outline], out_shape=(height, width), transform=transform, invert=True, all_touched=True
    )
    values = np.where(inside | (counts > 0), counts, NODATA).astype(np.float32)
    grid = HeatGrid(
        area=area,
        values=values,
        transform=transform,
        cell=cell,
        version=heat_version(conn),
        month=rows[0][5] if rows else None,
        warnings=len(rows),
        weighted_total=float(points.weight.sum()),
        household_ids=tuple(sorted({str(r[0]) for r in rows})),
    )
    return grid if protected is None else _protected_tags(grid, protected)


def _protected_tags(grid: HeatGrid, protected: ProtectedCounts) -> HeatGrid:
    code = grid.area.code
    warnings = protected.count(code, "warnings", int(grid.warnings))
    levels = ("warnings", "warnings_red", "warnings_orange", "warnings_yellow")
    weighted: float | str = grid.weighted_total
    marker = protected.withheld(code, levels)
    if marker is not None or not isinstance(warnings, int):
        weighted = marker or str(warnings)
    return replace(grid, warnings=warnings, weighted_total=weighted)


def export_for(trail: Audited, code: str) -> HeatGrid:
    """The warning-density grid of area ``code``, if the user's role may export; audited.

    Every household counted is declared for the audit row, with the file's name.

    Raises
    ------
    NotPermitted
        The role may not export layers.
    UnknownArea, OutOfScope
        As :func:`heat_grid`.
    """
    trail.require(trail.user.permissions.may_export, "export layers")
    user = trail.user
    # Roles without portrait rights: the small-count rule (layers.deidentify).
    protected = (
        protected_counts(trail.conn, user.scope) if user.permissions.suppress_small_counts else None
    )
    grid = heat_grid(trail.conn, user.scope, code, protected=protected)
    trail.shows(grid.household_ids, area=code, export=heat_filename(grid), warnings=grid.warnings)
    return grid


def geotiff_bytes(grid: HeatGrid) -> bytes:
    """Write the grid as a GeoTIFF (:func:`geo.rasters.geotiff_profile`) with its band and tags."""
    profile = geotiff_profile(grid.values, crs=CRS, transform=grid.transform, nodata=NODATA)
    with MemoryFile() as memory:
        with memory.open(**profile) as dataset:
            dataset.write(grid.values, 1)
            dataset.set_band_description(1, BAND_DESCRIPTION)
            dataset.update_tags(
                SYNTHETIC="true",
                NOTE="onemap demo: all household data is synthetic",
                DATA_VERSION=grid.version,
                MONTH=grid.month.isoformat() if grid.month else "",
                AREA_CODE=grid.area.code,
                AREA_NAME=grid.area.name,
                AREA_LEVEL=grid.area.level,
                CELL_SIZE_M=f"{grid.cell:g}",
                WARNINGS=str(grid.warnings),
                WEIGHTED_TOTAL=(
                    f"{grid.weighted_total:g}"
                    if isinstance(grid.weighted_total, float)
                    else grid.weighted_total
                ),
                WEIGHTS=",".join(f"{k}={v:g}" for k, v in LEVEL_WEIGHTS.items()),
            )
            dataset.update_tags(1, UNITS="weighted warnings per cell")
        return bytes(memory.read())


def heat_filename(grid: HeatGrid) -> str:
    """The download's file name: area code and data month."""
    month = grid.month.strftime("%Y-%m") if grid.month else "none"
    return f"onemap-heat-{grid.area.code}-{month}.tif"
