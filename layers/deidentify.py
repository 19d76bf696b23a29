"""De-identification: the one step every export and every planner-facing response goes through.

It drops names, IDs, tokens and masked IDs; moves each household point by a fixed offset that
is derived from the household with a keyed hash, so the point stays inside its own village and
is the same in every export (repeated exports cannot be averaged back to the true place); and
shows counts of 1-4 as "<5".
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from shapely.geometry.base import BaseGeometry

from core import keyfile
from core.access import SUPPRESS_BELOW
from core.errors import DataSourceError
from core.settings import PrivacySettings, get_settings

#: Columns that identify a household or a person (or link to one) and never leave de-identified.
IDENTIFYING_COLUMNS = frozenset(
    {
        "household_id",
        "person_token",
        "head_token",
        "token",
        "name",
        "names",
        "id_masked",
        "national_id",
        "address",
        "phone",
        "phone_masked",
        "official_id",
        "official_name",
        "claim_no",
        "school_name",
        "birth_date",
        "request_id",
    }
)
_IDENTIFYING_SUFFIXES = ("_id", "_ids", "_token", "_masked", "_name", "_phone", "_address")
#: Names of areas are not personal: they stay.
_AREA_NAMES = frozenset({"area_name", "village_name", "town_name", "county_name", "city_name"})

_M_PER_DEG_LAT = 110_574.0
_M_PER_DEG_LON = 111_320.0  # at the equator; times cos(latitude)
#: Offsets tried per household and round (one HMAC-SHA512: 16 x (angle, distance)).
_PER_ROUND = 16
#: Rounds of halving distances before falling back to a point inside the village.
_ROUNDS = 8

Data = TypeVar("Data", pd.DataFrame, gpd.GeoDataFrame)


def displacement_key(settings: PrivacySettings | None = None) -> bytes:
    """The HMAC key fixing each household's offset: from settings, else a file made once."""
    settings = settings or get_settings().privacy
    if settings.displacement_key is not None:
        return settings.displacement_key.get_secret_value().encode()
    return keyfile.read_or_create(settings.key_file).encode()


def is_identifying(column: str) -> bool:
    """True for a column that names, identifies or links to a household or person."""
    if column in _AREA_NAMES:
        return False
    return column in IDENTIFYING_COLUMNS or column.endswith(_IDENTIFYING_SUFFIXES)


def drop_identifiers(frame: Data) -> Data:
    """Return ``frame`` without identifying columns, re-indexed 0…n-1 (an index can be an ID)."""
    keep = [c for c in frame.columns if not is_identifying(str(c))]
    return frame.loc[:, keep].reset_index(drop=True)


def _offsets(household_id: str, key: bytes, round_: int) -> tuple[np.ndarray, np.ndarray]:
    digest = hmac.digest(key, f"displace:{round_}:{household_id}".encode(), hashlib.sha512)
    words = np.frombuffer(digest, dtype=">u2").reshape(_PER_ROUND, 2).astype(float)
    return words[:, 0] * (2 * math.pi / 65536), words[:, 1] / 65535


def displace_points(
    household_ids: Sequence[str],
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    villages: Sequence[BaseGeometry] | np.ndarray,
    *,
    key: bytes,
    min_offset_m: float = 100.0,
    max_offset_m: float = 600.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Move each point by its household's fixed offset, staying inside its village polygon.

    The offsets come from HMAC-SHA512(key, household id): a distance between ``min_offset_m``
    and ``max_offset_m`` and a direction, 16 per round; the first that lands inside the
    village wins. When none does (a small or narrow village), the next round tries 16 more at
    half the distance; after 8 rounds the village's point-on-surface is used. The result
    depends only on the key, the household id, its point and its village: every export
    shows the same displaced point.

    Returns
    -------
    tuple of numpy.ndarray
        The displaced longitudes and latitudes (degrees, WGS84).
    """
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    polygons = np.asarray(villages, dtype=object)
    if not (len(household_ids) == len(xs) == len(ys) == len(polygons)):
        raise ValueError("household_ids, x, y and villages must have one entry per household")
    shapely.prepare(polygons)
    out_x, out_y = np.full(len(xs), np.nan), np.full(len(ys), np.nan)
    pending = np.arange(len(xs))
    for round_ in range(_ROUNDS):
        if not len(pending):
            break
        drawn = [_offsets(str(household_ids[int(i)]), key, round_) for i in pending]
        angle = np.stack([d[0] for d in drawn])
        fraction = np.stack([d[1] for d in drawn])
        metres = (min_offset_m + (max_offset_m - min_offset_m) * fraction) * 0.5**round_
        lat = np.radians(ys[pending])[:, None]
        cx = xs[pending][:, None] + metres * np.sin(angle) / (_M_PER_DEG_LON * np.cos(lat))
        cy = ys[pending][:, None] + metres * np.cos(angle) / _M_PER_DEG_LAT
        inside = shapely.contains_xy(polygons[pending][:, None], cx, cy)
        found = inside.any(axis=1)
        first = inside.argmax(axis=1)
        rows = np.nonzero(found)[0]
        out_x[pending[rows]] = cx[rows, first[rows]]
        out_y[pending[rows]] = cy[rows, first[rows]]
        pending = pending[~found]
    if len(pending):
        surface = shapely.point_on_surface(polygons[pending])
        out_x[pending], out_y[pending] = shapely.get_x(surface), shapely.get_y(surface)
    return out_x, out_y


def suppress_small(
    data: Data | Mapping[str, Any], columns: Iterable[str], threshold: int = SUPPRESS_BELOW
) -> Data | dict[str, Any]:
    """Show counts from 1 to ``threshold - 1`` as ``"<5"`` (0 and larger counts stay).

    Works on a (Geo)DataFrame, whose count columns become object columns, or on a dict (one
    aggregate row). Columns not present are ignored.
    """
    label = f"<{threshold}"
    wanted = list(columns)
    if isinstance(data, pd.DataFrame):
        out = data.copy()
        for column in (c for c in wanted if c in out.columns):
            values = pd.to_numeric(out[column], errors="coerce")
            small = values.notna() & (values > 0) & (values < threshold)
            out[column] = out[column].astype(object).where(~small, label)
        return out
    return {k: label if k in wanted and _is_small(v, threshold) else v for k, v in data.items()}


def _is_small(value: Any, threshold: int) -> bool:
    number = isinstance(value, int | float | np.integer | np.floating)
    return number and not isinstance(value, bool) and bool(0 < value < threshold)


def village_polygons(conn: psycopg.Connection, codes: Iterable[str]) -> dict[str, BaseGeometry]:
    """The polygons of the villages ``codes`` (reference data: readable in any scope)."""
    rows = conn.execute(
        "SELECT code, ST_AsBinary(geom) FROM admin_area WHERE level = 'village' AND code = ANY(%s)",
        (sorted(set(codes)),),
    ).fetchall()
    return {code: shapely.from_wkb(bytes(wkb)) for code, wkb in rows}


def _release_order(household_ids: Iterable[str], key: bytes) -> np.ndarray:
    # Rows leave in an order fixed by a keyed hash: not the IDs' order, the same every time.
    keys = [hmac.digest(key, f"order:{h}".encode(), hashlib.sha256) for h in household_ids]
    return np.argsort(np.array(keys, dtype=object), kind="stable")


def deidentify_households(
    frame: gpd.GeoDataFrame,
    villages: Mapping[str, BaseGeometry],
    *,
    key: bytes | None = None,
    count_columns: Iterable[str] = (),
    settings: PrivacySettings | None = None,
) -> gpd.GeoDataFrame:
    """De-identify household points: displaced, without identifiers, small counts suppressed.

    Parameters
    ----------
    frame
        One row per household with ``household_id``, ``village_code`` and point geometry
        (EPSG:4326); other columns pass unless identifying.
    villages
        Village code → polygon (:func:`village_polygons`).
    key
        The displacement key; :func:`displacement_key` by default.
    count_columns
        Columns of counts to suppress below 5.

    Raises
    ------
    DataSourceError
        A household whose village polygon is unknown, or a frame not in EPSG:4326.
    """
    settings = settings or get_settings().privacy
    key = key if key is not None else displacement_key(settings)
    if frame.crs is not None and frame.crs.to_epsg() != 4326:
        raise DataSourceError(f"household points must be EPSG:4326, not {frame.crs}")
    missing = sorted(set(frame["village_code"]) - set(villages))
    if missing:
        raise DataSourceError(f"no polygon for villages {missing[:5]} ({len(missing)})")
    ids = frame["household_id"].astype(str).tolist()
    x, y = displace_points(
        ids,
        shapely.get_x(frame.geometry.values),
        shapely.get_y(frame.geometry.values),
        [villages[code] for code in frame["village_code"]],
        key=key,
        min_offset_m=settings.min_offset_m,
        max_offset_m=settings.max_offset_m,
    )
    moved = frame.copy()
    moved[frame.geometry.name] = gpd.points_from_xy(x, y, crs=4326)
    moved = moved.iloc[_release_order(ids, key)]
    return suppress_small(drop_identifiers(moved), count_columns)


def deidentify(
    conn: psycopg.Connection,
    frame: gpd.GeoDataFrame | pd.DataFrame,
    *,
    count_columns: Iterable[str] = (),
    key: bytes | None = None,
) -> gpd.GeoDataFrame | pd.DataFrame:
    """The de-identification step for any export or planner-facing frame.

    Household rows (with ``household_id``, ``village_code`` and geometry) are displaced inside
    their villages; any frame loses its identifying columns and has ``count_columns``
    suppressed below 5.
    """
    households = isinstance(frame, gpd.GeoDataFrame) and {"household_id", "village_code"} <= set(
        frame.columns
    )
    if households:
        villages = village_polygons(conn, frame["village_code"].unique().tolist())
        return deidentify_households(frame, villages, key=key, count_columns=count_columns)
    return suppress_small(drop_identifiers(frame), count_columns)


def deidentify_features(
    collection: Mapping[str, Any],
    villages: Mapping[str, BaseGeometry],
    *,
    key: bytes | None = None,
    settings: PrivacySettings | None = None,
) -> dict[str, Any]:
    """De-identify a GeoJSON FeatureCollection of household points (the map's layer).

    Each feature needs ``household_id`` and ``village_code`` in its properties; the result has
    displaced points and no identifying properties, in the keyed release order.
    """
    features = list(collection.get("features", []))
    if not features:
        return {**collection, "features": []}
    frame = gpd.GeoDataFrame.from_features(features, crs=4326)
    moved = deidentify_households(frame, villages, key=key, settings=settings)
    return {**collection, "features": moved.__geo_interface__["features"]}
