"""Vectorised conversions between WGS-84, GCJ-02 (国测局) and BD-09 (百度) coordinates."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CRS_NAMES",
    "METRES_PER_DEGREE",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "out_of_china",
    "to_wgs84",
    "wgs84_to_gcj02",
]

FloatArray = NDArray[np.float64]

CRS_NAMES = ("wgs84", "gcj02", "bd09")
#: Metres per degree of longitude at the equator (times cos(latitude) elsewhere); also the
#: round figure for a degree of latitude where a simple model does not need 110,574.
METRES_PER_DEGREE = 111_320.0

# GCJ-02 perturbs positions on the Krasovsky 1940 ellipsoid; these constants are part of the
# published (reverse-engineered) algorithm every Chinese map SDK reproduces.
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

# Stop the fixed-point inverses once a step moves less than ~1e-7 m; a handful of iterations.
_TOLERANCE_DEG = 1e-12
_MAX_ITERATIONS = 30


def _pair(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    lon_a, lat_a = np.broadcast_arrays(
        np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)
    )
    return lon_a, lat_a


def out_of_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Flag points outside the rough China bounding box where no offset is applied.

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes in degrees.

    Returns
    -------
    numpy.ndarray of bool
        True where the point lies outside China's box (NaN counts as inside, so NaN propagates).
    """
    lon_a, lat_a = _pair(lon, lat)
    return (lon_a < 72.004) | (lon_a > 137.8347) | (lat_a < 0.8293) | (lat_a > 55.8271)


def _gcj_offset(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Return the GCJ-02 shift (degrees) at WGS-84 positions."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    shared = (20.0 * np.sin(6.0 * x * pi) + 20.0 * np.sin(2.0 * x * pi)) * 2.0 / 3.0
    dlat = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + shared
        + (20.0 * np.sin(y * pi) + 40.0 * np.sin(y / 3.0 * pi)) * 2.0 / 3.0
        + (160.0 * np.sin(y / 12.0 * pi) + 320.0 * np.sin(y * pi / 30.0)) * 2.0 / 3.0
    )
    dlon = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + shared
        + (20.0 * np.sin(x * pi) + 40.0 * np.sin(x / 3.0 * pi)) * 2.0 / 3.0
        + (150.0 * np.sin(x / 12.0 * pi) + 300.0 * np.sin(x / 30.0 * pi)) * 2.0 / 3.0
    )
    radlat = lat / 180.0 * pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * pi)
    dlon = dlon * 180.0 / (_A / sqrtmagic * np.cos(radlat) * pi)
    return dlon, dlat


def _max_abs(*arrays: FloatArray) -> float:
    """Largest finite absolute value, 0 when there is none (all NaN or empty)."""
    return max(
        (float(np.max(np.abs(a), initial=0.0, where=np.isfinite(a))) for a in arrays),
        default=0.0,
    )


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert WGS-84 coordinates to GCJ-02.

    Parameters
    ----------
    lon, lat : array_like
        WGS-84 longitudes and latitudes in degrees; broadcast against each other.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 longitudes and latitudes. Points outside China are returned unchanged.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(120.0, 29.0)
    >>> round(float(lon) - 120.0, 4), round(float(lat) - 29.0, 4)
    (0.0046, -0.0029)
    """
    lon_a, lat_a = _pair(lon, lat)
    dlon, dlat = _gcj_offset(lon_a, lat_a)
    outside = out_of_china(lon_a, lat_a)
    return np.where(outside, lon_a, lon_a + dlon), np.where(outside, lat_a, lat_a + dlat)


def _invert(
    forward: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    lon: FloatArray,
    lat: FloatArray,
    guess_lon: FloatArray,
    guess_lat: FloatArray,
) -> tuple[FloatArray, FloatArray]:
    """Invert a slowly varying shift by fixed-point iteration: ``p <- p - (f(p) - target)``."""
    for _ in range(_MAX_ITERATIONS):
        out_lon, out_lat = forward(guess_lon, guess_lat)
        err_lon, err_lat = out_lon - lon, out_lat - lat
        guess_lon, guess_lat = guess_lon - err_lon, guess_lat - err_lat
        if _max_abs(err_lon, err_lat) < _TOLERANCE_DEG:
            break
    return guess_lon, guess_lat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 coordinates back to WGS-84 by fixed-point iteration.

    The forward shift varies slowly in space, so iterating ``w <- w - (gcj(w) - g)`` converges
    in a few steps; the result is within 1e-12 degrees (well under 0.01 m) of the exact inverse.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 longitudes and latitudes. Points outside China are returned unchanged.
    """
    lon_a, lat_a = _pair(lon, lat)

    def forward(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
        dlon, dlat = _gcj_offset(x, y)
        return x + dlon, y + dlat

    w_lon, w_lat = _invert(forward, lon_a, lat_a, lon_a.copy(), lat_a.copy())
    outside = out_of_china(lon_a, lat_a)
    return np.where(outside, lon_a, w_lon), np.where(outside, lat_a, w_lat)


def _gcj_to_bd_raw(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert GCJ-02 coordinates to BD-09.

    Parameters
    ----------
    lon, lat : array_like
        GCJ-02 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        BD-09 longitudes and latitudes. Points outside China are returned unchanged.
    """
    lon_a, lat_a = _pair(lon, lat)
    b_lon, b_lat = _gcj_to_bd_raw(lon_a, lat_a)
    outside = out_of_china(lon_a, lat_a)
    return np.where(outside, lon_a, b_lon), np.where(outside, lat_a, b_lat)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 coordinates to GCJ-02.

    Starts from the usual closed-form approximation (good to ~1e-6 degrees) and refines it by
    fixed-point iteration so that ``gcj02_to_bd09`` of the result reproduces the input.

    Parameters
    ----------
    lon, lat : array_like
        BD-09 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        GCJ-02 longitudes and latitudes. Points outside China are returned unchanged.
    """
    lon_a, lat_a = _pair(lon, lat)
    x = lon_a - 0.0065
    y = lat_a - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    g_lon, g_lat = _invert(_gcj_to_bd_raw, lon_a, lat_a, z * np.cos(theta), z * np.sin(theta))
    outside = out_of_china(lon_a, lat_a)
    return np.where(outside, lon_a, g_lon), np.where(outside, lat_a, g_lat)


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert BD-09 coordinates to WGS-84 (through GCJ-02).

    Parameters
    ----------
    lon, lat : array_like
        BD-09 longitudes and latitudes in degrees.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 longitudes and latitudes. Points outside China are returned unchanged.
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _one_crs_to_wgs84(lon: FloatArray, lat: FloatArray, crs: str) -> tuple[FloatArray, FloatArray]:
    if crs == "wgs84":
        return lon.copy(), lat.copy()
    if crs == "gcj02":
        return gcj02_to_wgs84(lon, lat)
    return bd09_to_wgs84(lon, lat)


def to_wgs84(lon: ArrayLike, lat: ArrayLike, crs: str | ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Convert coordinates given in any supported system to WGS-84.

    Parameters
    ----------
    lon, lat : array_like
        Longitudes and latitudes in degrees.
    crs : str or array_like of str
        ``"wgs84"``, ``"gcj02"`` or ``"bd09"`` (case and surrounding spaces ignored), either one
        name for all points or one name per point, as in a feed's ``coord_sys`` column.

    Returns
    -------
    tuple of numpy.ndarray
        WGS-84 longitudes and latitudes.

    Raises
    ------
    ValueError
        If a coordinate system name is not one of :data:`CRS_NAMES`; the message names it.
    """
    lon_a, lat_a = _pair(lon, lat)
    if isinstance(crs, str):
        name = crs.strip().lower()
        if name not in CRS_NAMES:
            raise ValueError(f"unknown coordinate system {crs!r}; expected one of {CRS_NAMES}")
        return _one_crs_to_wgs84(lon_a, lat_a, name)
    names = np.char.lower(np.char.strip(np.asarray(crs, dtype=str)))
    names = np.broadcast_to(names, lon_a.shape)
    unknown = sorted(set(np.unique(names).tolist()) - set(CRS_NAMES))
    if unknown:
        raise ValueError(f"unknown coordinate system(s) {unknown}; expected one of {CRS_NAMES}")
    out_lon, out_lat = lon_a.copy(), lat_a.copy()
    for name in CRS_NAMES:
        rows = names == name
        if rows.any():
            out_lon[rows], out_lat[rows] = _one_crs_to_wgs84(lon_a[rows], lat_a[rows], name)
    return out_lon, out_lat
