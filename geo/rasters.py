"""Rasters: values at many points at once, and the one profile onemap writes GeoTIFFs with.

Sampled: hazard susceptibility at household locations. Written: the synthetic hazard raster and
the warning-density download.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from numpy.typing import ArrayLike, NDArray
from rasterio.errors import RasterioError
from rasterio.io import DatasetReader
from rasterio.transform import Affine, rowcol
from rasterio.windows import Window

from core.errors import DataSourceError

__all__ = ["RASTER_EPSG", "RasterSample", "geotiff_profile", "sample_points"]

FloatArray = NDArray[np.float64]

#: Rasters we sample must be in WGS-84 lon/lat, the CRS every household position is stored in.
RASTER_EPSG = 4326


@dataclass(frozen=True, eq=False, slots=True)
class RasterSample:
    """Raster values at points: float64, NaN where a point is outside the raster or on nodata.

    ``eq=False``: element-wise array comparison has no single truth value, so instances compare
    by identity; compare ``values`` with numpy instead.
    """

    values: FloatArray

    @property
    def valid(self) -> NDArray[np.bool_]:
        """True where the point got a value."""
        return ~np.isnan(self.values)

    def above(self, threshold: float) -> NDArray[np.bool_]:
        """True where the value exceeds ``threshold``; points without a value are False."""
        with np.errstate(invalid="ignore"):
            return np.greater(self.values, threshold)


def geotiff_profile(
    values: NDArray[np.floating[Any]], *, crs: str, transform: Affine, nodata: float
) -> dict[str, Any]:
    """The profile of every GeoTIFF onemap writes: one float band, tiled, DEFLATE-compressed.

    256×256 tiles, DEFLATE with the floating-point predictor (about threefold smaller on
    quantised values). Everything that could vary between runs or GDAL defaults is pinned
    (level, single-threaded compression, no BigTIFF switch on size guesses), so the same grid
    always gives the same bytes.

    Parameters
    ----------
    values : numpy.ndarray
        The band (rows × columns, row 0 north) in a floating-point dtype.
    crs : str
        The CRS, e.g. ``"EPSG:4326"``.
    transform : affine.Affine
        Pixel to CRS coordinates.
    nodata : float
        The value of cells without data.

    Returns
    -------
    dict
        Keyword arguments for ``rasterio.open(path, "w", **profile)`` or ``MemoryFile.open``.

    Raises
    ------
    ValueError
        If ``values`` is not a 2-D floating-point array (the predictor needs floats).
    """
    if values.ndim != 2 or values.dtype.kind != "f":
        raise ValueError(f"a GeoTIFF band is 2-D floats, not {values.ndim}-D {values.dtype}")
    height, width = values.shape
    return {
        "driver": "GTiff",
        "width": width,
        "height": height,
        "count": 1,
        "dtype": str(values.dtype),
        "crs": crs,
        "transform": transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
        "compress": "deflate",
        "zlevel": 9,
        "predictor": 3,
        "num_threads": 1,
        "bigtiff": "no",
        "interleave": "band",
    }


def sample_points(path: Path | str, lon: ArrayLike, lat: ArrayLike, *, band: int = 1) -> FloatArray:
    """Sample one band of an EPSG:4326 raster at many points, vectorised.

    Rows and columns come from :func:`rasterio.transform.rowcol` with ``numpy.floor`` on the whole
    arrays (the arithmetic ``dataset.sample()`` uses, so a point on a pixel edge falls in the same
    pixel), then one window covering the points is read and indexed. About 600 times faster than
    ``dataset.sample()`` for 500,000 points.

    Parameters
    ----------
    path : pathlib.Path or str
        A raster file GDAL can open, in EPSG:4326.
    lon, lat : array_like
        Longitudes and latitudes in degrees; broadcast against each other.
    band : int, default 1
        1-based band index.

    Returns
    -------
    numpy.ndarray of float64
        One value per point, in the broadcast shape of ``lon`` and ``lat``. NaN where the point
        lies outside the raster (the right and bottom edges are outside, as in GDAL), where the
        coordinates are NaN or infinite, and where the pixel is nodata or masked.

    Raises
    ------
    core.errors.DataSourceError
        (a ``ValueError``) If the file is missing or unreadable, has no CRS or a CRS other than
        EPSG:4326, or has no band ``band``.
    ValueError
        If ``lon`` and ``lat`` cannot be broadcast together.
    """
    lon_a, lat_a = np.broadcast_arrays(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    shape = lon_a.shape
    try:
        with rasterio.open(path) as dataset:
            _check_dataset(dataset, path, band)
            values = _sample_open(dataset, lon_a.ravel(), lat_a.ravel(), band)
    # RasterioIOError covers a missing file; other RasterioErrors a corrupt header or tile.
    except (RasterioError, OSError) as exc:
        raise DataSourceError(f"raster {path} cannot be read: {exc}") from exc
    return values.reshape(shape)


def _check_dataset(dataset: DatasetReader, path: Path | str, band: int) -> None:
    # A CRS mismatch raises, never warns: sampling lon/lat against projected metres would give
    # plausible-looking values from the wrong place.
    if dataset.crs is None:
        raise DataSourceError(f"raster {path} has no CRS; expected EPSG:{RASTER_EPSG}")
    if dataset.crs.to_epsg() != RASTER_EPSG:
        raise DataSourceError(
            f"raster {path} is in {dataset.crs.to_string()}; expected EPSG:{RASTER_EPSG} "
            "(reproject it first)"
        )
    if band not in dataset.indexes:
        raise DataSourceError(f"raster {path} has no band {band} (bands: {dataset.indexes})")


def _sample_open(dataset: DatasetReader, lon: FloatArray, lat: FloatArray, band: int) -> FloatArray:
    """Sample an open dataset at 1-D coordinate arrays."""
    out = np.full(lon.shape, np.nan)
    if lon.size == 0:
        return out
    # op=np.floor keeps the result float: NaN and huge coordinates stay out of bounds instead of
    # wrapping around in an int32 cast; inf * 0 in the affine product makes NaN, on purpose.
    with np.errstate(invalid="ignore", over="ignore"):
        rows_f, cols_f = rowcol(dataset.transform, lon, lat, op=np.floor)
        inside = (
            (rows_f >= 0) & (rows_f < dataset.height) & (cols_f >= 0) & (cols_f < dataset.width)
        )
    if not inside.any():
        return out
    rows = rows_f[inside].astype(np.intp)
    cols = cols_f[inside].astype(np.intp)
    # Read only the window the points span; masked=True applies nodata, mask bands and alpha.
    row0, col0 = int(rows.min()), int(cols.min())
    window = Window(col0, row0, int(cols.max()) - col0 + 1, int(rows.max()) - row0 + 1)
    data = dataset.read(band, window=window, masked=True)
    picked = data[rows - row0, cols - col0]
    out[inside] = np.ma.filled(picked.astype(np.float64), np.nan)
    return out
