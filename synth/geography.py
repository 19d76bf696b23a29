"""Deterministic synthetic towns (乡镇街道) and villages (村/社区) tiling real county boundaries."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar, cast

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.crs import METRES_PER_DEGREE

# Real rurality is not published per county; this small table only has to order counties
# plausibly: city-seat core districts are mostly streets and communities, counties mostly villages.
_CORE_DISTRICT_RURALITY: dict[str, float] = {
    "330102": 0.2,  # 杭州 上城区
    "330105": 0.2,  # 杭州 拱墅区
    "330106": 0.3,  # 杭州 西湖区
    "330108": 0.2,  # 杭州 滨江区
    "330203": 0.3,  # 宁波 海曙区
    "330205": 0.3,  # 宁波 江北区
    "330302": 0.3,  # 温州 鹿城区
    "330402": 0.4,  # 嘉兴 南湖区
    "330502": 0.4,  # 湖州 吴兴区
    "330602": 0.4,  # 绍兴 越城区
    "330702": 0.4,  # 金华 婺城区
    "330802": 0.4,  # 衢州 柯城区
    "330902": 0.4,  # 舟山 定海区
    "331002": 0.4,  # 台州 椒江区
    "331102": 0.4,  # 丽水 莲都区
}
_KIND_RURALITY: dict[str, float] = {"市辖区": 0.6, "县级市": 0.8, "县": 1.0, "自治县": 1.0}

# Share of a county's towns that are 街道 and 乡 (the rest are 镇), by how urban the county is.
_URBAN_TOWN_MIX = (0.85, 0.0)
_TOWN_MIX: dict[str, tuple[float, float]] = {
    "市辖区": (0.40, 0.05),
    "县级市": (0.25, 0.15),
    "县": (0.12, 0.35),
    "自治县": (0.12, 0.35),
}
_URBAN_RURALITY = 0.5

# GB/T 10114 numbering: streets 001-099, towns 101-199, townships 201-399; within a town,
# residents' committees (社区) 001-099 and villagers' committees (村) 201-399.
_TOWN_CODE_BASE: dict[str, int] = {"街道": 1, "镇": 101, "乡": 201}
_TOWN_CODE_LIMIT: dict[str, int] = {"街道": 99, "镇": 99, "乡": 199}
_VILLAGE_CODE_BASE: dict[str, int] = {"社区": 1, "村": 201}
_VILLAGE_CODE_LIMIT: dict[str, int] = {"社区": 99, "村": 199}

# Place names are a qualifier followed by a landform, as in 石桥, 青溪, 东岙.
_NAME_QUALIFIERS = (
    "东西南北上下前后中大小新古老长高双三五九百千金银玉石铁铜青白红黄紫绿"
    "龙凤鹤鹿马牛安宁平和丰富福寿永兴隆昌泰康乐仁义德孝文武吉祥瑞庆太云"
)
_NAME_LANDFORMS = (
    "山溪岭坑塘桥岙湖竹桃梅枫松泉源洋岩坦口头田坪垟庄埠江河港浦湾洲潭渡"
    "峰岗坞墩堰坝林樟桂兰莲茶桑花园家堂亭店仓埭沙井岛礁门陈"
)

# Streets sit in the built-up seat, townships in the hills; communities are the urban end of a town.
_TOWN_RURALITY_OFFSET: dict[str, float] = {"街道": -0.1, "镇": 0.0, "乡": 0.05}
_COMMUNITY_RURALITY_OFFSET = -0.1
_RURALITY_JITTER = 0.02

_MIN_TOWNS_PER_COUNTY = 3
_MIN_VILLAGES_PER_TOWN = 3
_LLOYD_ITERATIONS = 3
_MAX_ATTEMPTS = 5
_METRES_PER_DEGREE_LAT = 110_574.0
# Equal-area projection centred on Zhejiang, used only to weigh counties against each other.
_EQUAL_AREA_CRS = (
    "+proj=aea +lat_1=27.5 +lat_2=30.5 +lat_0=29 +lon_0=120.5 +ellps=GRS80 +units=m +no_defs"
)
_Geometries = TypeVar("_Geometries", np.ndarray, shapely.Geometry)
_OUTPUT_COLUMNS = [
    "code",
    "level",
    "parent_code",
    "county_code",
    "name",
    "kind",
    "rurality",
    "geometry",
]


@dataclass(frozen=True)
class _LocalFrame:
    """Equirectangular metres around a county: conformal enough for compact Voronoi cells."""

    lon0: float
    lat0: float
    kx: float
    ky: float

    @classmethod
    def around(cls, geometry: shapely.Geometry) -> _LocalFrame:
        minx, miny, maxx, maxy = shapely.bounds(geometry)
        lat0 = (miny + maxy) / 2
        kx = METRES_PER_DEGREE * float(np.cos(np.radians(lat0)))
        return cls((minx + maxx) / 2, lat0, kx, _METRES_PER_DEGREE_LAT)

    def to_local(self, geometry: _Geometries) -> _Geometries:
        shift, scale = (self.lon0, self.lat0), (self.kx, self.ky)
        return cast(_Geometries, shapely.transform(geometry, lambda xy: (xy - shift) * scale))

    def to_lonlat(self, geometry: _Geometries) -> _Geometries:
        shift, scale = (self.lon0, self.lat0), (self.kx, self.ky)
        return cast(_Geometries, shapely.transform(geometry, lambda xy: xy / scale + shift))


def _county_rurality(code: str, kind: str) -> float:
    if code in _CORE_DISTRICT_RURALITY:
        return _CORE_DISTRICT_RURALITY[code]
    return _KIND_RURALITY.get(kind, 1.0)


def _allocate(weights: np.ndarray, total: int, minimum: np.ndarray | int) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights``, each at least ``minimum``.

    Largest-remainder rounding with ties broken by position keeps the split deterministic.
    """
    counts = np.broadcast_to(np.asarray(minimum, dtype=np.int64), len(weights)).copy()
    spare = total - int(counts.sum())
    if spare <= 0:
        return counts
    share = weights / weights.sum() * spare
    counts += np.floor(share).astype(np.int64)
    remainder = share - np.floor(share)
    leftover = int(total - counts.sum())
    counts[np.argsort(-remainder, kind="stable")[:leftover]] += 1
    return counts


def _polygonal(geometries: np.ndarray) -> np.ndarray:
    """Keep only the polygon parts of each geometry, as MultiPolygons (empty when none)."""
    parts, index = shapely.get_parts(geometries, return_index=True)
    parts, inner = shapely.get_parts(parts, return_index=True)
    index = index[inner]
    keep = (shapely.get_type_id(parts) == shapely.GeometryType.POLYGON) & (shapely.area(parts) > 0)
    out = np.array([shapely.MultiPolygon()] * len(geometries), dtype=object)
    if keep.any():
        shapely.multipolygons(parts[keep], indices=index[keep], out=out)
    return out


def _sample_points(polygon: shapely.Geometry, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` uniform points inside ``polygon`` by rejection from its bounding box."""
    if shapely.area(polygon) <= 0:
        raise RuntimeError("cannot place seed points in an empty cell")
    minx, miny, maxx, maxy = shapely.bounds(polygon)
    fill = max(shapely.area(polygon) / ((maxx - minx) * (maxy - miny)), 1e-3)
    accepted: list[np.ndarray] = []
    found = 0
    while found < n:
        batch = int((n - found) / fill * 1.5) + 16
        xy = rng.uniform((minx, miny), (maxx, maxy), size=(batch, 2))
        inside = xy[shapely.contains_xy(polygon, xy[:, 0], xy[:, 1])]
        accepted.append(inside)
        found += len(inside)
    return np.concatenate(accepted)[:n]


def _voronoi_cells(points: list[np.ndarray], extents: np.ndarray) -> np.ndarray:
    """Voronoi cells of each group of points, flattened in point order, covering its extent."""
    diagrams = shapely.voronoi_polygons(
        shapely.multipoints(np.concatenate(points), indices=_group_index(points)),
        extend_to=extents,
        ordered=True,
    )
    cells = shapely.get_parts(diagrams)
    if len(cells) != sum(len(p) for p in points):
        raise RuntimeError("Voronoi diagram lost cells: seed points coincide")
    return cells


def _group_index(points: list[np.ndarray]) -> np.ndarray:
    return np.repeat(np.arange(len(points)), [len(p) for p in points])


def _town_kinds(county_kind: str, rurality: float, n: int) -> list[str]:
    """Kinds of a county's towns ordered from the county seat outwards."""
    street_share, township_share = (
        _URBAN_TOWN_MIX if rurality < _URBAN_RURALITY else _TOWN_MIX.get(county_kind, (0.1, 0.3))
    )
    streets = max(1, round(street_share * n))
    townships = min(round(township_share * n), n - streets)
    return ["街道"] * streets + ["镇"] * (n - streets - townships) + ["乡"] * townships


def _village_kinds(town_kind: str, rurality: float, n: int) -> list[str]:
    """Kinds of a town's villages ordered from the town seat outwards."""
    if town_kind == "街道":
        communities = round(n * 0.8 * (1 - rurality))
    elif town_kind == "镇":
        communities = 1 if n >= 6 else 0
    else:
        communities = 0
    return ["社区"] * communities + ["村"] * (n - communities)


def _codes(
    prefix: str, kinds: list[str], bases: dict[str, int], limits: dict[str, int]
) -> list[str]:
    seen: dict[str, int] = {}
    codes = []
    for kind in kinds:
        ordinal = seen.get(kind, 0)
        if ordinal >= limits[kind]:
            raise ValueError(f"more than {limits[kind]} {kind} under {prefix}")
        seen[kind] = ordinal + 1
        codes.append(f"{prefix}{bases[kind] + ordinal:03d}")
    return codes


def _names(rng: np.random.Generator, kinds: list[str], taken: set[str]) -> list[str]:
    """Draw a unique two-character stem per area and append its kind (石桥镇, 青溪村)."""
    names = []
    for kind in kinds:
        while True:
            stem = (
                _NAME_QUALIFIERS[rng.integers(len(_NAME_QUALIFIERS))]
                + _NAME_LANDFORMS[rng.integers(len(_NAME_LANDFORMS))]
            )
            if stem not in taken:
                break
        taken.add(stem)
        names.append(stem + kind)
    return names


def _seat_order(points: np.ndarray, seat: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Order points from a seat outwards, jittered so kinds do not form perfect rings."""
    distance = np.hypot(*(points - seat).T) * rng.lognormal(0.0, 0.25, len(points))
    return np.argsort(distance, kind="stable")


def _relax_points(points: list[np.ndarray], extents: np.ndarray) -> list[np.ndarray]:
    """Lloyd-relax each group of points inside its extent so the cells become compact.

    A centroid that falls outside its (concave or multi-part) cell is replaced by a point on
    the cell's surface, so every point stays inside the extent and owns a non-empty cell.
    """
    group = _group_index(points)
    sizes = np.cumsum([len(p) for p in points])[:-1]
    for _ in range(_LLOYD_ITERATIONS):
        cells = _polygonal(shapely.intersection(_voronoi_cells(points, extents), extents[group]))
        centres = shapely.centroid(cells)
        stray = ~shapely.contains(cells, centres)
        centres[stray] = shapely.point_on_surface(cells[stray])
        points = np.split(shapely.get_coordinates(centres), sizes)
    return points


@dataclass(frozen=True)
class _CountyPlan:
    """What one county must be split into; fixed before any county is drawn."""

    code: str
    kind: str
    geometry: shapely.Geometry
    rurality: float
    n_towns: int
    n_villages: int


@dataclass(frozen=True)
class _TownDraft:
    """One attempt at a county's towns: seeds, cells and attributes, ordered from the seat."""

    xy: np.ndarray
    local: np.ndarray
    lonlat: np.ndarray
    kinds: list[str]
    rurality: np.ndarray


def _plan_counties(counties: gpd.GeoDataFrame, n_towns: int, n_villages: int) -> list[_CountyPlan]:
    """Allocate towns and villages to every county in proportion to area x rurality."""
    ordered = counties.reset_index(drop=True).sort_values("code", kind="stable")
    rurality = np.array(
        [_county_rurality(c, k) for c, k in zip(ordered["code"], ordered["kind"], strict=True)]
    )
    area = ordered.geometry.to_crs(_EQUAL_AREA_CRS).area.to_numpy()
    weights = area * rurality
    towns = _allocate(weights, n_towns, _MIN_TOWNS_PER_COUNTY)
    villages = _allocate(weights, n_villages, towns * _MIN_VILLAGES_PER_TOWN)
    return [
        _CountyPlan(str(code), str(kind), geometry, float(r), int(t), int(v))
        for code, kind, geometry, r, t, v in zip(
            ordered["code"],
            ordered["kind"],
            ordered.geometry,
            rurality,
            towns,
            villages,
            strict=True,
        )
    ]


def _draw_towns(plan: _CountyPlan, frame: _LocalFrame, rng: np.random.Generator) -> _TownDraft:
    """Place and relax town seeds, then cut the county into their Voronoi cells."""
    county_local = frame.to_local(plan.geometry)
    extent = np.array([county_local])
    (town_xy,) = _relax_points([_sample_points(county_local, plan.n_towns, rng)], extent)
    seat = shapely.get_coordinates(shapely.point_on_surface(county_local))[0]
    town_xy = town_xy[_seat_order(town_xy, seat, rng)]
    cells = _voronoi_cells([town_xy], extent)
    town_kinds = _town_kinds(plan.kind, plan.rurality, len(town_xy))
    offset = np.array([_TOWN_RURALITY_OFFSET[kind] for kind in town_kinds])
    town_rurality = plan.rurality + offset + rng.normal(0.0, _RURALITY_JITTER, len(town_xy))
    return _TownDraft(
        xy=town_xy,
        local=_polygonal(shapely.intersection(cells, county_local)),
        # Clip in lon/lat against the untouched county so the towns follow its exact outline.
        lonlat=_polygonal(shapely.intersection(frame.to_lonlat(cells), plan.geometry)),
        kinds=town_kinds,
        rurality=np.clip(town_rurality, 0.0, 1.0),
    )


def _draw_villages(
    towns: _TownDraft, plan: _CountyPlan, frame: _LocalFrame, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Place and relax village seeds in every town and cut each town into their cells.

    Returns the village cells (some possibly empty) and the index of each one's town.
    """
    weights = shapely.area(towns.local) * np.maximum(towns.rurality, 0.1)
    counts = _allocate(weights, plan.n_villages, _MIN_VILLAGES_PER_TOWN)
    seeds = [
        _sample_points(town, int(n), rng)
        for town, n in zip(towns.local.tolist(), counts, strict=True)
    ]
    seeds = _relax_points(seeds, towns.local)
    seeds = [xy[_seat_order(xy, seat, rng)] for xy, seat in zip(seeds, towns.xy, strict=True)]
    cells = frame.to_lonlat(_voronoi_cells(seeds, towns.local))
    town = _group_index(seeds)
    return _polygonal(shapely.intersection(cells, towns.lonlat[town])), town


def _clean_villages(
    villages: np.ndarray, town: np.ndarray, n_towns: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """Drop empty cells and edge-match the villages into a valid coverage.

    Clipping each town's cells separately leaves a vertex where a village edge meets the town
    border on one side only; ``coverage_clean`` inserts the missing vertices (snapping at
    sub-millimetre distance). Returns None when the attempt cannot be repaired.
    """
    keep = ~shapely.is_empty(villages)
    if np.bincount(town[keep], minlength=n_towns).min() < _MIN_VILLAGES_PER_TOWN:
        return None
    try:
        # shapely 2.2 has coverage_clean; its bundled type stubs do not list it yet.
        cleaned = _polygonal(shapely.coverage_clean(villages[keep]))  # type: ignore[attr-defined]
    except shapely.errors.GEOSException:
        return None
    if (
        shapely.is_empty(cleaned).any()
        or not shapely.is_valid(cleaned).all()
        or not shapely.coverage_is_valid(cleaned)
    ):
        return None
    return cleaned, town[keep]


def _town_frame(
    plan: _CountyPlan,
    draft: _TownDraft,
    villages: np.ndarray,
    town: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Name and number the towns; each town is the union of its villages, so both tile alike."""
    geometry = _polygonal(
        np.array([shapely.coverage_union_all(villages[town == j]) for j in range(len(draft.xy))])
    )
    return pd.DataFrame(
        {
            "code": _codes(plan.code, draft.kinds, _TOWN_CODE_BASE, _TOWN_CODE_LIMIT),
            "level": "town",
            "parent_code": plan.code,
            "county_code": plan.code,
            "name": _names(rng, draft.kinds, set()),
            "kind": draft.kinds,
            "rurality": draft.rurality,
            "geometry": geometry,
        }
    )


def _village_frame(
    plan: _CountyPlan,
    towns: pd.DataFrame,
    villages: np.ndarray,
    town: np.ndarray,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Name and number the villages of every town, communities first (nearest the seat)."""
    codes: list[str] = []
    kinds: list[str] = []
    rurality: list[np.ndarray] = []
    for j, (town_code, town_kind, town_rurality) in enumerate(
        zip(towns["code"], towns["kind"], towns["rurality"], strict=True)
    ):
        town_kinds = _village_kinds(town_kind, town_rurality, int((town == j).sum()))
        codes += _codes(town_code, town_kinds, _VILLAGE_CODE_BASE, _VILLAGE_CODE_LIMIT)
        kinds += town_kinds
        offset = np.where(np.array(town_kinds) == "社区", _COMMUNITY_RURALITY_OFFSET, 0.0)
        jitter = rng.normal(0.0, _RURALITY_JITTER, len(town_kinds))
        rurality.append(np.clip(town_rurality + offset + jitter, 0.0, 1.0))
    return pd.DataFrame(
        {
            "code": codes,
            "level": "village",
            "parent_code": towns["code"].to_numpy()[town],
            "county_code": plan.code,
            "name": _names(rng, kinds, set()),
            "kind": kinds,
            "rurality": np.concatenate(rurality),
            "geometry": villages,
        }
    )


def _synthesise_county(plan: _CountyPlan, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Draw one county, re-drawing with the next sub-seed if an attempt cannot be cleaned."""
    frame = _LocalFrame.around(plan.geometry)
    for attempt in range(_MAX_ATTEMPTS):
        rng = np.random.default_rng([seed, int(plan.code), attempt])
        draft = _draw_towns(plan, frame, rng)
        cleaned = _clean_villages(*_draw_villages(draft, plan, frame, rng), len(draft.xy))
        if cleaned is None:
            continue
        villages, town = cleaned
        towns = _town_frame(plan, draft, villages, town, rng)
        return towns, _village_frame(plan, towns, villages, town, rng)
    raise RuntimeError(f"county {plan.code} could not be tiled in {_MAX_ATTEMPTS} attempts")


def synthesise_towns_villages(
    counties: gpd.GeoDataFrame,
    seed: int = 20240601,
    n_towns: int = 1360,
    n_villages: int = 20000,
    county_codes: Iterable[str] | None = None,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Synthesise towns and villages that exactly tile the given counties.

    Towns are Lloyd-relaxed Voronoi cells of seeded points in each county and villages the same
    inside each town, so villages tile their town, towns tile their county and a county's
    villages form a valid polygon coverage. Output is identical for identical input and seed.

    Parameters
    ----------
    counties : geopandas.GeoDataFrame
        County rows as returned by ``geo.boundaries.load_real_boundaries`` (columns ``code``,
        ``kind`` and ``geometry``), in EPSG:4326.
    seed : int
        Seed of the whole synthesis; each county draws from its own stream of it.
    n_towns, n_villages : int
        Totals to allocate over all ``counties`` in proportion to area x rurality, with at
        least 3 towns per county and 3 villages per town.
    county_codes : Iterable[str] | None
        Only build these counties. Allocation still covers all ``counties``, so a county gets
        the same towns and villages whether or not others are built.

    Returns
    -------
    tuple[geopandas.GeoDataFrame, geopandas.GeoDataFrame]
        Towns and villages in EPSG:4326 with columns ``code`` (9 / 12 digits), ``level``
        (town / village), ``parent_code``, ``county_code``, ``name``, ``kind`` (街道 / 镇 / 乡,
        社区 / 村), ``rurality`` (0..1) and ``geometry`` (valid MultiPolygons).

    Raises
    ------
    ValueError
        If ``counties`` is not in EPSG:4326, lacks a column, or ``county_codes`` names an
        unknown county.
    """
    _check_counties(counties)
    plans = _plan_counties(counties, n_towns, n_villages)
    if county_codes is not None:
        wanted = set(county_codes)
        unknown = wanted - {plan.code for plan in plans}
        if unknown:
            raise ValueError(f"unknown county codes: {sorted(unknown)}")
        plans = [plan for plan in plans if plan.code in wanted]
    built = [_synthesise_county(plan, seed) for plan in plans]
    if not built:
        empty = pd.DataFrame({column: [] for column in _OUTPUT_COLUMNS})
        built = [(empty, empty)]
    towns = pd.concat([t for t, _ in built], ignore_index=True)
    villages = pd.concat([v for _, v in built], ignore_index=True)
    return (
        gpd.GeoDataFrame(towns[_OUTPUT_COLUMNS], geometry="geometry", crs="EPSG:4326"),
        gpd.GeoDataFrame(villages[_OUTPUT_COLUMNS], geometry="geometry", crs="EPSG:4326"),
    )


def _check_counties(counties: gpd.GeoDataFrame) -> None:
    missing = {"code", "kind"} - set(counties.columns)
    if missing:
        raise ValueError(f"counties lack columns {sorted(missing)}")
    if counties.crs is None or counties.crs.to_epsg() != 4326:
        raise ValueError(f"counties must be in EPSG:4326, got {counties.crs}")
    if counties.empty:
        raise ValueError("no counties given")
