"""The warning-density GeoTIFF: read back with rasterio, it covers the area and adds up."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from rasterio.io import MemoryFile

from core.errors import OutOfScope
from core.scope import Scope
from layers.deidentify import protected_counts
from layers.heat_export import NODATA, _grid_frame, heat_grid
from layers.heatmap import HeatPoints, to_mercator, weighted_grid


@pytest.fixture(scope="module")
def client(leader_client: Any) -> Any:
    """A province leader: exports are de-identified and audited for every role."""
    return leader_client


def weighted_count(
    conn: psycopg.Connection, code: str, leaving_out: Iterable[str] = ()
) -> tuple[float, int]:
    row = conn.execute(
        "SELECT coalesce(sum(CASE level WHEN 'red' THEN 3 WHEN 'orange' THEN 2 ELSE 1 END), 0),"
        " count(*) FROM warning_month"
        " WHERE month = (SELECT max(month) FROM warning_month) AND village_code LIKE %s"
        " AND NOT village_code = ANY(%s)",
        (code + "%", list(leaving_out)),
    ).fetchone()
    assert row is not None
    return float(row[0]), int(row[1])


def mercator_bbox(conn: psycopg.Connection, code: str) -> tuple[float, float, float, float]:
    row = conn.execute(
        "SELECT ST_XMin(bbox), ST_YMin(bbox), ST_XMax(bbox), ST_YMax(bbox)"
        " FROM admin_area WHERE code = %s",
        (code,),
    ).fetchone()
    assert row is not None
    x, y = to_mercator(np.array([row[0], row[2]]), np.array([row[1], row[3]]))
    return float(x[0]), float(y[0]), float(x[1]), float(y[1])


@pytest.mark.parametrize("code", ["33", "3311", "331122", "331122207"])
def test_geotiff_round_trip(derived: Any, client: Any, conn: psycopg.Connection, code: str) -> None:
    response = client.get(f"/downloads/heat/{code}.tif?v=1")
    assert response.status_code == 200 and response.mimetype == "image/tiff"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f"onemap-heat-{code}-" in disposition
    # The leader's counts pass the small-count rule: villages whose warning count is withheld
    # add nothing to the grid.
    protected = protected_counts(conn, Scope("33"))
    withheld = [c for c in protected.hidden if len(c) == 12 and protected.withheld(c, ["warnings"])]
    total, warnings = weighted_count(conn, code, withheld)
    with MemoryFile(response.data) as memory, memory.open() as dataset:
        assert dataset.driver == "GTiff" and dataset.count == 1
        assert dataset.crs.to_epsg() == 3857
        assert dataset.nodata == NODATA
        # The one GeoTIFF profile (geo.rasters.geotiff_profile): tiled, DEFLATE + float predictor.
        assert dataset.profile["compress"] == "deflate" and dataset.profile["tiled"]
        assert dataset.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR") == "3"
        assert dataset.descriptions[0].startswith("warning-weighted households")
        tags = dataset.tags()
        assert tags["SYNTHETIC"] == "true" and tags["AREA_CODE"] == code
        assert tags["DATA_VERSION"] and tags["DATA_VERSION"] != "none"
        assert tags["MONTH"] == "2024-06-01"
        west, south, east, north = mercator_bbox(conn, code)
        bounds = dataset.bounds
        assert bounds.left <= west and bounds.bottom <= south
        assert bounds.right >= east and bounds.top >= north
        grid = dataset.read(1, masked=True)
    assert grid.mask.any() and not grid.mask.all()  # outside the area is nodata
    assert math.isclose(float(grid.sum()), total)
    assert tags["WARNINGS"] == str(protected.count(code, "warnings", warnings))
    if code != "33":  # the province holds every warning; a part holds fewer
        assert total < weighted_count(conn, "33")[0]


def test_unknown_or_foreign_areas(derived: Any, client: Any, conn: psycopg.Connection) -> None:
    for code in ("339999", "abc", "11"):
        response = client.get(f"/downloads/heat/{code}.tif")
        assert response.status_code in (403, 404), code
        assert response.mimetype == "application/json"
        assert "Traceback" not in response.get_data(as_text=True)
    assert client.get("/downloads/heat/339999.tif?lang=en").get_json() == {"error": "Unknown area."}
    with pytest.raises(OutOfScope):
        heat_grid(conn, Scope("330127"), "331122")


@given(
    st.lists(
        st.tuples(
            st.floats(-5e3, 5e3, allow_nan=False),
            st.floats(-5e3, 5e3, allow_nan=False),
            st.sampled_from([1.0, 2.0, 3.0]),
        ),
        min_size=1,
        max_size=50,
    ),
    st.sampled_from([25.0, 100.0, 1000.0]),
)
def test_the_grid_holds_every_point(points: list[tuple[float, float, float]], cell: float) -> None:
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    weight = np.array([p[2] for p in points])
    west, north, width, height = _grid_frame((x.min(), y.min(), x.max(), y.max()), cell)
    assert west % cell == 0 and north % cell == 0
    grid = weighted_grid(HeatPoints(x, y, weight), west, north, cell, (height, width))
    assert math.isclose(grid.sum(), weight.sum())
