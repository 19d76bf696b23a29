"""Place households: GPS when a department measured it, else a fixed point inside the village."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
_ATTEMPTS = 64


def _stable_seeds(keys: pd.Series) -> NDArray[np.uint64]:
    """A 64-bit seed per key, the same on every machine and run (not Python's hash())."""
    return np.fromiter(
        (
            int.from_bytes(hashlib.blake2b(k.encode(), digest_size=8).digest(), "little")
            for k in keys
        ),
        dtype=np.uint64,
        count=len(keys),
    )


def _splitmix64(state: NDArray[np.uint64]) -> NDArray[np.uint64]:
    with np.errstate(over="ignore"):
        z = state + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return (z ^ (z >> np.uint64(31))) & _MASK64


def _unit(state: NDArray[np.uint64]) -> NDArray[np.float64]:
    return (_splitmix64(state) >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def village_points(
    keys: pd.Series, village_geoms: NDArray[np.object_]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return a deterministic point inside each row's village polygon.

    The point depends only on the key (a household number) and the polygon, so re-running a
    month puts every household on the same spot, and households of a village are spread over it
    rather than stacked on its centre.

    Parameters
    ----------
    keys
        One key per row (e.g. the household number).
    village_geoms
        The village polygon of each row (shapely geometries), aligned with ``keys``.

    Returns
    -------
    tuple of numpy.ndarray
        Longitudes and latitudes (WGS84).
    """
    n = len(keys)
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    seeds = _stable_seeds(keys)
    west, south, east, north = shapely.bounds(village_geoms).T
    pending = np.arange(n)
    for attempt in range(_ATTEMPTS):
        if not pending.size:
            break
        with np.errstate(over="ignore"):  # wrapping uint64 arithmetic is the point
            base = seeds[pending] + np.uint64(2 * attempt) * np.uint64(0x632BE59BD9B4E019)
        cx = west[pending] + _unit(base) * (east[pending] - west[pending])
        cy = south[pending] + _unit(base + np.uint64(1)) * (north[pending] - south[pending])
        inside = shapely.contains_xy(village_geoms[pending], cx, cy)
        x[pending[inside]] = cx[inside]
        y[pending[inside]] = cy[inside]
        pending = pending[~inside]
    if pending.size:  # slivers the sampler missed: a point on the surface is still inside
        surface = shapely.point_on_surface(village_geoms[pending])
        x[pending], y[pending] = shapely.get_x(surface), shapely.get_y(surface)
    return x, y
