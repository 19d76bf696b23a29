"""De-identification: the one step every export and every planner-facing response goes through.

It drops names, IDs, tokens and masked IDs; moves each household point by a fixed offset that
is derived from the household with a keyed hash, so the point stays inside its own village and
is the same in every export (repeated exports cannot be averaged back to the true place); and
shows counts of 1-4 as "<5".

It also holds the one small-count rule (:func:`protect_tree`, :class:`ProtectedCounts`): every
count, rate, share, tag, tooltip or point list that leaves the server for a role without
portrait rights is shown through it, with complementary suppression ("*") so that no "<5" can
be worked out as a parent minus its siblings.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from shapely.geometry.base import BaseGeometry

from core import keyfile
from core.access import SUPPRESS_BELOW, SUPPRESSED
from core.errors import DataSourceError
from core.scope import Scope
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
        # numpy per column, one frame built at the end: pandas' per-column where/astype cost
        # more than the statistics page's whole query.
        replaced = {}
        for column in (c for c in wanted if c in data.columns):
            numbers = _as_numbers(data[column])
            small = (numbers > 0) & (numbers < threshold)  # NaN compares False
            shown = data[column].to_numpy(dtype=object, copy=True)
            shown[small] = label
            replaced[column] = shown
        out = data.copy()
        if replaced:
            out[list(replaced)] = pd.DataFrame(replaced, index=data.index, dtype=object)
        return out
    return {k: label if k in wanted and _is_small(v, threshold) else v for k, v in data.items()}


def _as_numbers(column: pd.Series) -> np.ndarray:
    """The column as floats, NaN where it holds no number (``pd.to_numeric`` coercing)."""
    if column.dtype.kind in "iuf":
        return column.to_numpy(dtype=float)
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


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


# ---------------------------------------------------------------------------------------------
# Small counts: the one suppression rule (docs/security.md, "Small counts")
# ---------------------------------------------------------------------------------------------

#: A count withheld to protect a small count elsewhere (complementary suppression): its value is
#: 5 or more, but showing it would let a "<5" be worked out as parent minus siblings.
WITHHELD = "*"
#: Counts of the rollup that leave the server (as counts, or as numerators and denominators of
#: rates and shares); ``warnings`` is the sum of the three warning levels.
PROTECTED_COLUMNS = (
    "households",
    "people",
    "warnings",
    "warnings_red",
    "warnings_orange",
    "warnings_yellow",
    "benefit_gaps",
    "housing_assessed",
    "unsafe_housing",
    "water_checked",
    "unsafe_water",
    "visited_30d",
    # The assistance loop's rates: red warnings due and answered within 3 hours, warned
    # households and those with an active measure in their plan.
    "red_due",
    "red_attained_3h",
    "warned_open",
    "plan_covered",
)
_PRIMARY = (1, SUPPRESS_BELOW - 1)


def is_small(value: object, threshold: int = SUPPRESS_BELOW) -> bool:
    """True for a count from 1 to ``threshold - 1`` (the counts that are never shown)."""
    return _is_small(value, threshold)


def _bounds(value_marker: str, total: int) -> tuple[int, int]:
    # What someone who knows this rule learns of a withheld cell: "<5" is 1-4, "*" is 5 or more.
    return _PRIMARY if value_marker != WITHHELD else (SUPPRESS_BELOW, max(total, SUPPRESS_BELOW))


def derivable(values: Mapping[str, int], hidden: Mapping[str, str]) -> set[str]:
    """The hidden cells of one sibling group that parent minus shown siblings would pin down.

    ``values`` are the true counts of the group (whose parent is shown), ``hidden`` the marker
    of each withheld cell. The hidden cells add up to ``parent - shown siblings``; a cell is
    derivable when that sum and the others' ranges leave it a single possible value.
    """
    total = sum(values[c] for c in hidden)
    bounds = {c: _bounds(m, total) for c, m in hidden.items()}
    low_sum, high_sum = sum(b[0] for b in bounds.values()), sum(b[1] for b in bounds.values())
    found = set()
    for code, (low, high) in bounds.items():
        smallest = max(low, total - (high_sum - high))
        largest = min(high, total - (low_sum - low))
        if smallest >= largest:
            found.add(code)
    return found


def _protect_group(values: Mapping[str, int], hidden: dict[str, str]) -> bool:
    """Withhold the smallest shown siblings until no hidden cell is derivable (False: cannot)."""
    candidates = sorted((v, c) for c, v in values.items() if c not in hidden and v > 0)
    while hidden and derivable(values, hidden):
        if not candidates:
            return False
        hidden[candidates.pop(0)[1]] = WITHHELD
    return True


def protect_tree(
    counts: Mapping[str, Mapping[str, int]], parents: Mapping[str, str | None]
) -> dict[str, dict[str, str]]:
    """The cells to withhold: every count 1-4 ("<5") plus complementary cells ("*").

    Parameters
    ----------
    counts
        Area code → column → count, for every published area (a whole jurisdiction).
    parents
        Area code → parent code (None, or a code not in ``counts``, for the top).

    Returns
    -------
    dict
        Area code → column → marker, for the withheld cells only.

    Groups of siblings are protected from the lowest level up: when even withholding every
    sibling leaves a small count derivable, the parent is withheld too, and its own group is
    protected in turn. A cell whose parent is withheld needs no complement (nothing to subtract
    from).
    """
    hidden: dict[str, dict[str, str]] = {}
    for code, row in counts.items():
        for column, value in row.items():
            if is_small(value):
                hidden.setdefault(code, {})[column] = SUPPRESSED
    groups: dict[str, list[str]] = {}
    for code in counts:
        parent = parents.get(code)
        if parent is not None and parent in counts:
            groups.setdefault(parent, []).append(code)
    columns = {column for row in counts.values() for column in row}
    for parent in sorted(groups, key=len, reverse=True):  # deepest level first
        for column in sorted(columns):
            if column in hidden.get(parent, {}):
                continue
            values = {c: counts[c].get(column, 0) for c in groups[parent]}
            group = {c: hidden[c][column] for c in groups[parent] if column in hidden.get(c, {})}
            protected = _protect_group(values, group)
            for code, marker in group.items():
                hidden.setdefault(code, {})[column] = marker
            if not protected:
                hidden.setdefault(parent, {})[column] = WITHHELD
    return hidden


@dataclass(frozen=True, slots=True)
class ProtectedCounts:
    """A jurisdiction's rollup counts as a role without portrait rights may see them."""

    counts: Mapping[str, Mapping[str, int]]
    hidden: Mapping[str, Mapping[str, str]]

    def count(self, code: str, column: str, value: int | None = None) -> int | str:
        """The count ``column`` of area ``code`` as shown: the value, "<5" or "*"."""
        marker = self.hidden.get(code, {}).get(column)
        if marker is not None:
            return marker
        if value is None:
            value = int(self.counts.get(code, {}).get(column, 0))
        return SUPPRESSED if is_small(value) else value

    def withheld(self, code: str, columns: Iterable[str]) -> str | None:
        """The marker when any of ``columns`` of ``code`` is withheld (a rate built on them)."""
        for column in columns:
            marker = self.hidden.get(code, {}).get(column)
            if marker is not None:
                return marker
        return None


_ROLLUP_SQL = """
SELECT r.code, a.parent_code, r.households, r.people,
       r.warnings_red + r.warnings_orange + r.warnings_yellow, r.warnings_red, r.warnings_orange,
       r.warnings_yellow, r.benefit_gaps, r.housing_assessed, r.unsafe_housing, r.water_checked,
       r.unsafe_water, r.visited_30d, coalesce(r.red_due, 0), coalesce(r.red_attained_3h, 0),
       coalesce(r.warned_open, 0), coalesce(r.plan_covered, 0)
FROM rollup r JOIN admin_area a ON a.code = r.code
WHERE r.month = coalesce(%(month)s::date, (SELECT max(month) FROM rollup))
  AND r.code LIKE %(scope_like)s
"""
_VERSION_SQL = (
    "SELECT coalesce(max(month)::text, '') || coalesce(max(derived_at)::text, '') FROM derive_run"
)
_protected_cache: OrderedDict[tuple[str, str], ProtectedCounts] = OrderedDict()
_protected_lock = threading.Lock()


def protected_counts(
    conn: psycopg.Connection, scope: Scope, month: dt.date | None = None
) -> ProtectedCounts:
    """The rollup of ``scope`` in ``month`` (default: the latest), withheld cells marked.

    :func:`protect_tree` is applied; the result is cached per scope, month and derive run.
    """
    row = conn.execute(_VERSION_SQL).fetchone()
    key = (scope.prefix, f"{month}|{row[0] if row else ''}")
    with _protected_lock:
        cached = _protected_cache.get(key)
        if cached is not None:
            _protected_cache.move_to_end(key)
            return cached
    counts: dict[str, dict[str, int]] = {}
    parents: dict[str, str | None] = {}
    for code, parent, *values in conn.execute(
        _ROLLUP_SQL, {"scope_like": scope.like, "month": month}
    ):
        counts[code] = dict(zip(PROTECTED_COLUMNS, (int(v) for v in values), strict=True))
        parents[code] = parent
    result = ProtectedCounts(counts, protect_tree(counts, parents))
    with _protected_lock:
        _protected_cache[key] = result
        while len(_protected_cache) > 32:
            _protected_cache.popitem(last=False)
    return result
