"""Simplified, topology-preserving display geometries for drawing areas on the web map."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

# About one screen pixel at the zoom where the level is first drawn (its parent in view):
# city at z7 (~0.009 deg/px at 30N), county at z9, town at z11, village at z13 (~0.00015 deg/px).
# coverage_simplify removes triangles smaller than tolerance**2, so edges stay within a pixel.
DISPLAY_TOLERANCE_DEG: dict[str, float] = {
    "province": 0.01,
    "city": 0.004,
    "county": 0.0015,
    "town": 0.0006,
    "village": 0.0002,
}
# Towns and villages are only edge-matched within a county, so each county is one coverage.
_PER_COUNTY_LEVELS = frozenset({"town", "village"})


def _multipolygons(geometries: np.ndarray) -> np.ndarray:
    """Promote Polygons to MultiPolygons; other types pass through to be rejected later."""
    out = geometries.copy()
    is_polygon = shapely.get_type_id(out) == shapely.GeometryType.POLYGON
    out[is_polygon] = [shapely.MultiPolygon([g]) for g in out[is_polygon]]
    return out


def _simplify_coverage(geometries: np.ndarray, tolerance: float) -> np.ndarray:
    """Simplify one coverage, keeping the original of any member that does not survive."""
    simplified = _multipolygons(shapely.coverage_simplify(geometries, tolerance))
    broken = (
        shapely.is_empty(simplified)
        | ~shapely.is_valid(simplified)
        | (shapely.get_type_id(simplified) != shapely.GeometryType.MULTIPOLYGON)
    )
    simplified[broken] = _multipolygons(geometries[broken])
    return simplified


def display_geometries(areas: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """Simplify the geometries of one level of areas for display, keeping shared edges shared.

    Parameters
    ----------
    areas : geopandas.GeoDataFrame
        Rows of a single ``level`` (province, city, county, town or village) in EPSG:4326;
        towns and villages also need ``county_code``. Each level's rows, or each county's
        towns or villages, must form a polygon coverage.

    Returns
    -------
    geopandas.GeoSeries
        Valid, non-empty MultiPolygons with the same index and CRS as ``areas``. A geometry
        that simplification would empty or invalidate is returned unsimplified.

    Raises
    ------
    ValueError
        If ``areas`` mixes levels, names an unknown level, or lacks ``county_code`` for towns
        or villages.
    """
    if areas.empty:
        return gpd.GeoSeries([], index=areas.index, crs=areas.crs)
    levels = areas["level"].unique()
    if len(levels) != 1 or levels[0] not in DISPLAY_TOLERANCE_DEG:
        raise ValueError(f"display_geometries needs rows of one known level, got {list(levels)}")
    level = str(levels[0])
    tolerance = DISPLAY_TOLERANCE_DEG[level]
    geometries = np.asarray(areas.geometry.values, dtype=object)
    if level not in _PER_COUNTY_LEVELS:
        simplified = _simplify_coverage(geometries, tolerance)
    else:
        if "county_code" not in areas.columns:
            raise ValueError(f"{level} rows need a county_code column to group coverages")
        simplified = np.empty(len(areas), dtype=object)
        county = areas["county_code"].to_numpy()
        for code in np.unique(county):
            members = county == code
            simplified[members] = _simplify_coverage(geometries[members], tolerance)
    return gpd.GeoSeries(simplified, index=areas.index, crs=areas.crs)
