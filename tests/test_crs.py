"""Property and known-value tests of the WGS-84 / GCJ-02 / BD-09 conversions."""

from __future__ import annotations

import numpy as np
import pytest
from fast_geocn import coord as reference
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    out_of_china,
    to_wgs84,
    wgs84_to_gcj02,
)

M_PER_DEG = 111_320.0
china_lon = st.floats(min_value=73.0, max_value=135.0, allow_nan=False)
china_lat = st.floats(min_value=18.0, max_value=53.0, allow_nan=False)


def metres(lon_a, lat_a, lon_b, lat_b) -> float:
    dx = (np.asarray(lon_a) - lon_b) * M_PER_DEG * np.cos(np.radians(lat_b))
    dy = (np.asarray(lat_a) - lat_b) * M_PER_DEG
    return float(np.max(np.hypot(dx, dy)))


def test_known_shift_in_zhejiang():
    lon, lat = wgs84_to_gcj02(120.0, 29.0)
    assert abs(float(lon) - 120.0 - 0.0047) < 0.0003
    assert abs(float(lat) - 29.0 + 0.0026) < 0.0005


def test_known_value_in_beijing():
    lon, lat = wgs84_to_gcj02(116.404, 39.915)
    assert float(lon) == pytest.approx(116.41024449916938, abs=1e-9)
    assert float(lat) == pytest.approx(39.91640428150164, abs=1e-9)


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_gcj02_round_trip_within_a_centimetre(lon, lat):
    back = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert metres(*back, lon, lat) < 0.01


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_bd09_round_trip_within_a_centimetre(lon, lat):
    assert metres(*bd09_to_gcj02(*gcj02_to_bd09(lon, lat)), lon, lat) < 0.01
    bd = gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))
    assert metres(*bd09_to_wgs84(*bd), lon, lat) < 0.01


@settings(max_examples=200, deadline=None)
@given(china_lon, china_lat)
def test_forward_matches_an_independent_implementation(lon, lat):
    # fast_geocn's BD-09 step uses sin(y * pi) instead of Baidu's x_pi, so compare GCJ-02 only.
    assert np.allclose(wgs84_to_gcj02(lon, lat), reference.wgs84_to_gcj02(lon, lat), atol=1e-9)


def test_known_bd09_value():
    lon, lat = gcj02_to_bd09(128.543, 37.065)
    assert float(lon) == pytest.approx(128.54944656269413, abs=1e-9)
    assert float(lat) == pytest.approx(37.07113427883019, abs=1e-9)


def test_vectorised_equals_pointwise():
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(118, 123, 500), rng.uniform(27, 31.5, 500)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    assert g_lon.shape == (500,)
    one = [wgs84_to_gcj02(x, y) for x, y in zip(lon[:20], lat[:20], strict=True)]
    assert np.allclose(np.array(one)[:, 0], g_lon[:20], rtol=0, atol=0)
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    assert metres(w_lon, w_lat, lon, lat) < 0.01


def test_points_outside_china_unchanged():
    lon, lat = np.array([2.35, -74.0, 151.2]), np.array([48.85, 40.7, -33.9])
    assert out_of_china(lon, lat).all()
    for convert in (wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, bd09_to_wgs84):
        out_lon, out_lat = convert(lon, lat)
        assert np.array_equal(out_lon, lon)
        assert np.array_equal(out_lat, lat)


def test_nan_propagates():
    lon, lat = wgs84_to_gcj02(np.array([np.nan, 120.0]), np.array([29.0, 29.0]))
    assert np.isnan(lon[0]) and not np.isnan(lon[1])
    back_lon, _ = gcj02_to_wgs84(lon, lat)
    assert np.isnan(back_lon[0]) and back_lon[1] == pytest.approx(120.0, abs=1e-9)


def test_to_wgs84_per_row_names():
    lon, lat = np.array([120.0, 120.0, 120.0]), np.array([29.0, 29.0, 29.0])
    g = wgs84_to_gcj02(lon, lat)
    b = gcj02_to_bd09(*g)
    mixed_lon = np.array([lon[0], g[0][1], b[0][2]])
    mixed_lat = np.array([lat[0], g[1][1], b[1][2]])
    out_lon, out_lat = to_wgs84(mixed_lon, mixed_lat, ["wgs84", " GCJ02 ", "bd09"])
    assert metres(out_lon, out_lat, lon, lat) < 0.01
    same_lon, _ = to_wgs84(lon, lat, "wgs84")
    assert np.array_equal(same_lon, lon)
    one_lon, one_lat = to_wgs84(*g, "gcj02")
    assert metres(one_lon, one_lat, lon, lat) < 0.01


def test_to_wgs84_names_an_unknown_crs():
    with pytest.raises(ValueError, match="cgcs2000"):
        to_wgs84(120.0, 29.0, "cgcs2000")
    with pytest.raises(ValueError, match="mars"):
        to_wgs84([120.0, 121.0], [29.0, 29.0], ["wgs84", "mars"])
