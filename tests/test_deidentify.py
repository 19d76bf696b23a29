"""De-identification: displaced points stay in their village, are the same in every export and
never the true place; identifiers go; small counts are suppressed."""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, Polygon

from analytics.run import DeriveResult
from layers.deidentify import (
    deidentify,
    deidentify_features,
    deidentify_households,
    displace_points,
    drop_identifiers,
    is_identifying,
    suppress_small,
    village_polygons,
)

KEY = b"test-displacement-key-0123456789"


@st.composite
def villages_with_points(draw: st.DrawFn) -> tuple[list[str], list[Polygon], list[Point]]:
    """Star-shaped polygons around Zhejiang of 50 m to 5 km, a point inside each."""
    n = draw(st.integers(min_value=1, max_value=8))
    ids, polygons, points = [], [], []
    for i in range(n):
        cx = draw(st.floats(118.0, 122.5))
        cy = draw(st.floats(27.0, 31.0))
        size = draw(st.floats(0.0005, 0.05))
        k = draw(st.integers(min_value=3, max_value=9))
        radii = draw(st.lists(st.floats(0.3, 1.0), min_size=k, max_size=k))
        ring = [
            (
                cx + size * r * math.cos(2 * math.pi * j / k),
                cy + size * r * math.sin(2 * math.pi * j / k),
            )
            for j, r in enumerate(radii)
        ]
        polygon = Polygon(ring)
        # On the way from the centre to a vertex: inside, as the polygon is star-shaped.
        t = draw(st.floats(0.0, 0.9))
        vx, vy = ring[draw(st.integers(min_value=0, max_value=k - 1))]
        point = Point(cx + (vx - cx) * t, cy + (vy - cy) * t)
        ids.append(draw(st.text(min_size=1, max_size=20)) + f"-{i}")
        polygons.append(polygon)
        points.append(point)
    return ids, polygons, points


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(villages_with_points())
def test_displaced_points_stay_in_their_village_fixed_and_moved(
    case: tuple[list[str], list[Polygon], list[Point]],
) -> None:
    ids, polygons, points = case
    x = [p.x for p in points]
    y = [p.y for p in points]
    dx, dy = displace_points(ids, x, y, polygons, key=KEY)
    for i, polygon in enumerate(polygons):
        moved = Point(dx[i], dy[i])
        assert polygon.contains(moved), (ids[i], polygon.wkt, moved.wkt)
        assert (dx[i], dy[i]) != (x[i], y[i])
    again = displace_points(ids, x, y, polygons, key=KEY)
    np.testing.assert_array_equal(again[0], dx)
    np.testing.assert_array_equal(again[1], dy)
    # Each household's offset is its own: the order of a batch does not change it.
    reverse = displace_points(ids[::-1], x[::-1], y[::-1], polygons[::-1], key=KEY)
    np.testing.assert_array_equal(reverse[0][::-1], dx)


def test_another_key_gives_other_points_and_offsets_are_bounded() -> None:
    village = shapely.box(120.0, 28.0, 120.05, 28.05)
    ids = [f"H{i:04d}" for i in range(200)]
    x, y = np.full(200, 120.025), np.full(200, 28.025)
    ax, ay = displace_points(ids, x, y, [village] * 200, key=KEY)
    bx, _ = displace_points(ids, x, y, [village] * 200, key=b"another-key-another-key-another")
    assert (ax != bx).all()
    metres = np.hypot((ax - x) * 111_320 * math.cos(math.radians(28.025)), (ay - y) * 110_574)
    assert metres.min() >= 99 and metres.max() <= 601
    assert len({round(a, 9) for a in ax}) == 200  # households do not share offsets


def frame() -> gpd.GeoDataFrame:
    village = shapely.box(120.0, 28.0, 120.02, 28.02)
    return gpd.GeoDataFrame(
        {
            "household_id": ["H3", "H1", "H2"],
            "village_code": ["331122101201"] * 3,
            "head_token": ["t3", "t1", "t2"],
            "name": ["张三", "李四", "王五"],
            "id_masked": ["3311**********0011"] * 3,
            "phone_masked": ["138****0000"] * 3,
            "official_id": ["O1"] * 3,
            "village_name": ["新建村"] * 3,
            "warning_level": ["red", "none", "yellow"],
            "members": [3, 1, 2],
        },
        geometry=[Point(120.01, 28.01), Point(120.005, 28.012), Point(120.015, 28.004)],
        crs=4326,
    ), {"331122101201": village}


def test_households_lose_identifiers_and_small_counts() -> None:
    households, villages = frame()
    out = deidentify_households(households, villages, key=KEY, count_columns=["members"])
    assert list(out.columns) == [
        "village_code",
        "village_name",
        "warning_level",
        "members",
        "geometry",
    ]
    assert not any(is_identifying(c) for c in out.columns)
    assert set(out["members"]) == {"<5"}
    assert list(out.index) == [0, 1, 2]
    assert all(villages["331122101201"].contains(p) for p in out.geometry)
    assert not set(out.geometry.to_wkt()) & set(households.geometry.to_wkt())
    again = deidentify_households(households.iloc[::-1], villages, key=KEY)
    assert list(again.geometry.to_wkt()) == list(out.geometry.to_wkt())  # same order, same places


def test_feature_collections_are_deidentified_too() -> None:
    households, villages = frame()
    collection = {"type": "FeatureCollection", "total": 3, "features": households.iterfeatures()}
    collection["features"] = list(collection["features"])
    out = deidentify_features(collection, villages, key=KEY)
    assert out["total"] == 3 and len(out["features"]) == 3
    for feature in out["features"]:
        assert "household_id" not in feature["properties"] and "name" not in feature["properties"]
    assert (
        deidentify_features({"type": "FeatureCollection", "features": []}, villages)["features"]
        == []
    )


def test_unknown_village_is_refused() -> None:
    households, _ = frame()
    with pytest.raises(ValueError, match="no polygon"):
        deidentify_households(households, {}, key=KEY)


def test_suppress_small_frames_and_dicts() -> None:
    table = pd.DataFrame(
        {"area": ["a", "b", "c", "d"], "households": [0, 1, 4, 5], "x": [1, 2, 3, 4]}
    )
    out = suppress_small(table, ["households", "missing"])
    assert list(out["households"]) == [0, "<5", "<5", 5]
    assert list(out["x"]) == [1, 2, 3, 4] and list(table["households"]) == [0, 1, 4, 5]
    assert suppress_small(
        {"warnings": 3, "people": 12, "share": 0.5, "ok": True}, ["warnings", "people", "ok"]
    ) == {
        "warnings": "<5",
        "people": 12,
        "share": 0.5,
        "ok": True,
    }
    assert suppress_small({"n": 9}, ["n"], threshold=10) == {"n": "<10"}


def test_drop_identifiers_keeps_area_names() -> None:
    kept = drop_identifiers(
        pd.DataFrame(columns=["household_id", "warning_id", "county_name", "level"])
    )
    assert list(kept.columns) == ["county_name", "level"]


def test_real_households_stay_in_their_villages(
    derived: DeriveResult, conn: psycopg.Connection
) -> None:
    rows = conn.execute(
        "SELECT household_id, village_code, head_token, address, status, ST_X(geom), ST_Y(geom)"
        " FROM household WHERE county_code = '331122' ORDER BY household_id LIMIT 400"
    ).fetchall()
    columns = ["household_id", "village_code", "head_token", "address", "status"]
    households = gpd.GeoDataFrame(
        pd.DataFrame([r[:5] for r in rows], columns=columns),
        geometry=gpd.points_from_xy([r[5] for r in rows], [r[6] for r in rows]),
        crs=4326,
    ).rename_geometry("geom")
    out = deidentify(conn, households, key=KEY)
    assert isinstance(out, gpd.GeoDataFrame) and len(out) == len(households)
    assert set(out.columns) == {"village_code", "status", "geom"}
    polygons = village_polygons(conn, out["village_code"])
    assert all(
        polygons[v].contains(p) for v, p in zip(out["village_code"], out.geometry, strict=True)
    )
    originals = set(households.geometry.to_wkt())
    assert not originals & set(out.geometry.to_wkt())
