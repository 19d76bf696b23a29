"""Tests of the synthetic hazard raster and of vectorised point sampling against rasterio."""

from __future__ import annotations

import hashlib
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from rasterio.errors import NotGeoreferencedWarning
from rasterio.io import DatasetReader
from rasterio.transform import Affine, rowcol

from core.errors import DataSourceError
from geo.rasters import RasterSample, sample_points
from synth.hazard import (
    BAND_DESCRIPTION,
    HAZARD_FILE_NAME,
    NODATA,
    ZHEJIANG_BOUNDS,
    write_hazard_raster,
)

SEED = 20240601
WEST, SOUTH, EAST, NORTH = ZHEJIANG_BOUNDS

# A grid whose origin and cell size are binary fractions: (x - x0) / dx is then exact, so the
# textbook pixel formula and rasterio's inverse affine must agree even on pixel edges.
DYADIC = Affine(0.25, 0.0, 118.0, 0.0, -0.25, 31.25)
DYADIC_DATA = np.arange(17 * 21, dtype=np.float32).reshape(17, 21)
DYADIC_DATA[::4, ::3] = -1.0  # some nodata pixels


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def hazard(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_hazard_raster(tmp_path_factory.mktemp("hazard") / HAZARD_FILE_NAME, seed=SEED)


@pytest.fixture(scope="module")
def hazard_band(hazard: Path) -> np.ndarray:
    with rasterio.open(hazard) as dataset:
        return dataset.read(1)


def write_tiny(
    path: Path,
    data: np.ndarray,
    *,
    crs: str | None = "EPSG:4326",
    transform: Affine | None = None,
    nodata: float | None = -1.0,
) -> Path:
    profile = {
        "driver": "GTiff",
        "width": data.shape[1],
        "height": data.shape[0],
        "count": 1,
        "dtype": str(data.dtype),
        "crs": crs,
        "transform": transform or DYADIC,
        "nodata": nodata,
    }
    with warnings.catch_warnings():
        # A raster without a CRS is what we want to write here.
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as dataset:
            dataset.write(data, 1)
    return path


# --- the generated raster -------------------------------------------------------------------


def test_hazard_raster_layout(hazard: Path):
    assert hazard.name == HAZARD_FILE_NAME
    assert hazard.stat().st_size < 5_000_000
    with rasterio.open(hazard) as dataset:
        assert dataset.crs.to_epsg() == 4326
        assert dataset.count == 1
        assert dataset.dtypes == ("float32",)
        assert dataset.nodata == NODATA == -1.0
        assert dataset.res == pytest.approx((0.005, 0.005))
        assert tuple(dataset.bounds) == pytest.approx(ZHEJIANG_BOUNDS, abs=1e-9)
        assert (dataset.height, dataset.width) == (860, 1060)
        assert dataset.block_shapes == [(256, 256)]
        assert dataset.compression is not None
        assert dataset.compression.value == "DEFLATE"
        assert dataset.descriptions == (BAND_DESCRIPTION,)
        tags = dataset.tags()
        image_tags = dataset.tags(ns="IMAGE_STRUCTURE")
    assert tags["synthetic"] == "true"
    assert tags["seed"] == str(SEED)
    assert tags["source"] == "onemap synth"
    assert not any("DATE" in key.upper() or "TIME" in key.upper() for key in tags)
    assert image_tags["PREDICTOR"] == "3"


def test_hazard_values(hazard_band: np.ndarray):
    valid = hazard_band != NODATA
    values = hazard_band[valid]
    # The province covers about 43 % of its box; the rest (sea, neighbours) is nodata.
    assert 0.35 < valid.mean() < 0.5
    assert values.min() >= 0.0
    assert values.max() <= 1.0
    assert np.isfinite(values).all()
    share = float((values > 0.7).mean())
    assert 0.03 <= share <= 0.15
    # Values are multiples of 1/1024, exact in float32.
    assert np.array_equal(values * 1024, np.round(values * 1024))


def box_values(path: Path, west: float, south: float, east: float, north: float) -> np.ndarray:
    lon, lat = np.meshgrid(np.arange(west, east, 0.01), np.arange(south, north, 0.01))
    values = sample_points(path, lon, lat)
    return values[~np.isnan(values)]


def test_hazard_geography_is_plausible(hazard: Path, hazard_band: np.ndarray):
    province_mean = float(hazard_band[hazard_band != NODATA].mean())
    # Landslides: the Lishui / Longquan south-west is the most hazardous upland.
    southwest = box_values(hazard, 119.0, 27.7, 119.8, 28.2)
    assert southwest.mean() > province_mean + 0.1
    assert (southwest > 0.7).mean() > 0.15
    # Floods: the Hangzhou-Jiaxing-Huzhou plain scores high, the Jinhua-Quzhou basin does not.
    north_plain = box_values(hazard, 120.3, 30.4, 121.0, 30.8)
    assert north_plain.mean() > province_mean + 0.1
    basin = box_values(hazard, 119.3, 28.95, 119.8, 29.15)
    assert basin.mean() < north_plain.mean() - 0.1
    # The nodata surround: East China Sea and inland Jiangxi.
    assert np.isnan(sample_points(hazard, [123.0, 118.05], [28.0, 28.0])).all()


def test_hazard_raster_is_deterministic(hazard: Path, tmp_path: Path):
    again = write_hazard_raster(tmp_path / "again.tif", seed=SEED)
    other = write_hazard_raster(tmp_path / "other.tif", seed=SEED + 1)
    assert sha256(again) == sha256(hazard)
    assert sha256(other) != sha256(hazard)
    with rasterio.open(other) as dataset:
        assert dataset.tags()["seed"] == str(SEED + 1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["again.tif", "other.tif"]


def test_hazard_raster_into_folder_and_bad_arguments(tmp_path: Path):
    with pytest.raises(ValueError, match="seed"):
        write_hazard_raster(tmp_path, seed=-1)
    with pytest.raises(ValueError, match="resolution"):
        write_hazard_raster(tmp_path, seed=1, resolution_deg=0.0)
    written = write_hazard_raster(tmp_path, seed=1, resolution_deg=0.05)
    assert written == tmp_path / HAZARD_FILE_NAME
    with rasterio.open(written) as dataset:
        assert (dataset.height, dataset.width) == (86, 106)


# --- sample_points against rasterio ---------------------------------------------------------


def edge_points(dataset: DatasetReader, rng: np.random.Generator, n: int):
    """Pixel corners as the forward transform computes them, nudged by -1, 0 or +1 ulp."""
    cols = rng.integers(-2, dataset.width + 3, n).astype(np.float64)
    rows = rng.integers(-2, dataset.height + 3, n).astype(np.float64)
    x, y = dataset.transform @ (cols, rows)
    x = x + rng.integers(-1, 2, n) * np.spacing(x)
    y = y + rng.integers(-1, 2, n) * np.spacing(y)
    return x, y


def test_sample_points_equals_dataset_sample(hazard: Path):
    rng = np.random.default_rng(7)
    inside = rng.uniform([WEST, SOUTH], [EAST, NORTH], (250, 2)).T
    # Off the raster: 50 points beyond the east or west edge, 50 beyond the north or south one.
    beyond = rng.choice([-1.0, 1.0], 100) * rng.uniform(1e-9, 2.0, 100)
    across = rng.uniform(-1.0, 1.0, 100)
    outside = np.array(
        [
            np.r_[np.where(beyond[:50] > 0, EAST, WEST) + beyond[:50], 120.0 + 3 * across[50:]],
            np.r_[29.0 + 3 * across[:50], np.where(beyond[50:] > 0, NORTH, SOUTH) + beyond[50:]],
        ]
    )
    bounds = np.array(
        [[WEST, SOUTH], [WEST, NORTH], [EAST, NORTH], [EAST, SOUTH], [120.0, NORTH], [EAST, 29.0]]
    ).T
    with rasterio.open(hazard) as dataset:
        edges = edge_points(dataset, rng, 150)
        lon = np.concatenate([inside[0], outside[0], bounds[0], edges[0]])
        lat = np.concatenate([inside[1], outside[1], bounds[1], edges[1]])
        expected = np.array([value[0] for value in dataset.sample(zip(lon, lat, strict=True))])
        rows, cols = rowcol(dataset.transform, lon, lat)
    in_bounds = (rows >= 0) & (rows < 860) & (cols >= 0) & (cols < 1060)
    got = sample_points(hazard, lon, lat)
    assert got.dtype == np.float64
    assert got.shape == lon.shape
    # dataset.sample() returns the nodata value both off the raster and on nodata pixels.
    assert np.array_equal(np.isnan(got), expected == NODATA)
    assert np.array_equal(got[~np.isnan(got)], expected[expected != NODATA].astype(np.float64))
    # The mix really covers each case.
    assert (~in_bounds).sum() > 100
    assert (in_bounds & (expected == NODATA)).sum() > 50
    assert (expected != NODATA).sum() > 100


def test_sample_points_on_exact_bounds(dyadic: Path):
    # The left and top edges belong to the raster, the right and bottom ones do not (GDAL).
    west, north = 118.0, 31.25
    east, south = west + 21 * 0.25, north - 17 * 0.25
    got = sample_points(dyadic, [west, east, 118.3, 118.3], [30.95, 30.95, north, south])
    np.testing.assert_array_equal(got, [DYADIC_DATA[1, 0], np.nan, DYADIC_DATA[0, 1], np.nan])
    with rasterio.open(dyadic) as dataset:
        expected = [v[0] for v in dataset.sample([(west, 30.95), (118.3, north), (east, 30.95)])]
    assert expected == [DYADIC_DATA[1, 0], DYADIC_DATA[0, 1], NODATA]


def test_sample_points_nonfinite_and_shapes(hazard: Path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = sample_points(
            hazard, [np.nan, np.inf, -np.inf, 1e300, 120.5], [29.0, 29.0, 29.0, 29.0, np.nan]
        )
    assert np.isnan(got).all()
    scalar = sample_points(hazard, 120.5, 29.0)
    assert scalar.shape == ()
    grid = sample_points(hazard, np.full((3, 4), 120.5), 29.0)
    assert grid.shape == (3, 4)
    assert np.array_equal(grid, np.full((3, 4), scalar))
    assert sample_points(hazard, [], []).shape == (0,)
    with pytest.raises(ValueError):
        sample_points(hazard, [120.0, 121.0], [29.0, 29.5, 30.0])


def test_raster_sample_helpers():
    sample = RasterSample(np.array([0.2, np.nan, 0.71, 0.7]))
    assert sample.valid.tolist() == [True, False, True, True]
    assert sample.above(0.7).tolist() == [False, False, True, False]


# --- property: the pixel under a point ------------------------------------------------------


@pytest.fixture(scope="module")
def dyadic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny(
        tmp_path_factory.mktemp("dyadic") / "dyadic.tif", DYADIC_DATA, transform=DYADIC
    )


def textbook_pixel(
    data: np.ndarray, x0: float, y0: float, dx: float, dy: float, x: float, y: float
):
    row, col = math.floor((y0 - y) / dy), math.floor((x - x0) / dx)
    value = float(data[row, col])
    return np.nan if value == NODATA else value


@settings(max_examples=300, deadline=None)
@given(
    x=st.floats(118.0, 118.0 + 21 * 0.25, exclude_max=True),
    y=st.floats(31.25 - 17 * 0.25, 31.25, exclude_min=True),
)
def test_sampling_reads_the_pixel_under_the_point_dyadic(dyadic: Path, x: float, y: float):
    expected = textbook_pixel(DYADIC_DATA, 118.0, 31.25, 0.25, 0.25, x, y)
    np.testing.assert_array_equal(sample_points(dyadic, x, y), expected)


@settings(max_examples=300, deadline=None)
@given(
    x=st.floats(WEST, EAST, exclude_max=True),
    y=st.floats(SOUTH, NORTH, exclude_min=True),
)
def test_sampling_reads_the_pixel_under_the_point_hazard(
    hazard: Path, hazard_band: np.ndarray, x: float, y: float
):
    # 0.005 is not a binary fraction: within ~1e-12 of a pixel edge the textbook formula and the
    # inverse affine may round to different sides (rasterio's side is checked above).
    col, row = (x - WEST) / 0.005, (NORTH - y) / 0.005
    assume(min(abs(col - round(col)), abs(row - round(row))) > 1e-6)
    assume(row < 860)
    expected = textbook_pixel(hazard_band, WEST, NORTH, 0.005, 0.005, x, y)
    np.testing.assert_array_equal(sample_points(hazard, x, y), expected)


# --- errors ---------------------------------------------------------------------------------


def test_crs_mismatch_raises(tmp_path: Path):
    mercator = write_tiny(
        tmp_path / "mercator.tif",
        np.ones((4, 4), dtype=np.float32),
        crs="EPSG:3857",
        transform=Affine(1000.0, 0.0, 13_358_000.0, 0.0, -1000.0, 3_620_000.0),
    )
    with pytest.raises(DataSourceError, match="EPSG:3857"):
        sample_points(mercator, [120.0], [29.0])
    bare = write_tiny(tmp_path / "bare.tif", np.ones((4, 4), dtype=np.float32), crs=None)
    with pytest.raises(DataSourceError, match="no CRS"):
        sample_points(bare, [120.0], [29.0])


def test_unreadable_rasters_raise(tmp_path: Path, dyadic: Path):
    with pytest.raises(DataSourceError, match="cannot be read"):
        sample_points(tmp_path / "missing.tif", [120.0], [29.0])
    junk = tmp_path / "junk.tif"
    junk.write_text("not a raster")
    with pytest.raises(DataSourceError, match="cannot be read"):
        sample_points(junk, [120.0], [29.0])
    with pytest.raises(DataSourceError, match="no band 2"):
        sample_points(dyadic, [120.0], [29.0], band=2)
    # A user message rides along for the UI, and the error is a ValueError for plain callers.
    with pytest.raises(ValueError):
        sample_points(str(tmp_path / "missing.tif"), 120.0, 29.0)
