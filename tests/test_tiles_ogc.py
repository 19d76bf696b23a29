"""Vector tiles (decoded with mapbox-vector-tile) and the OGC API read by GDAL's OAPIF driver."""

from __future__ import annotations

import math
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import mapbox_vector_tile
import psycopg
import pyogrio
import pytest

from analytics.run import DeriveResult
from core import tokens
from core.access import Role, User
from layers.displaced import refresh
from tests.browser import serve_app
from tests.conftest import MONTH, logged_in_client, make_user

COUNTY = "331122"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


@pytest.fixture(scope="module")
def points(derived: DeriveResult, database_url: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return refresh(conn, MONTH)


@pytest.fixture(scope="module")
def planner(database_url: str) -> User:
    return make_user(database_url, Role.PLANNER, COUNTY)


def _centre(conn: psycopg.Connection, code: str) -> tuple[float, float]:
    row = conn.execute(
        "SELECT ST_X(label_point), ST_Y(label_point) FROM admin_area WHERE code = %s", (code,)
    ).fetchone()
    assert row
    return float(row[0]), float(row[1])


def test_planner_tiles_hold_only_in_scope_deidentified_points(
    points: int, database_url: str, conn: psycopg.Connection, planner: User
) -> None:
    client = logged_in_client(database_url, planner)
    z = 10
    x, y = tile_of(*_centre(conn, COUNTY), z)
    response = client.get(f"/tiles/households/{z}/{x}/{y}.mvt")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.mapbox-vector-tile"
    features = mapbox_vector_tile.decode(response.data)["households"]["features"]
    expected = conn.execute(
        "SELECT count(*) FROM household_tile_point WHERE month = %s AND village_code LIKE %s"
        " AND geom && ST_TileEnvelope(%s, %s, %s)",
        (f"{MONTH}-01", COUNTY + "%", z, x, y),
    ).fetchone()
    assert expected and len(features) == min(expected[0], 20_000) > 0
    assert all(
        set(f["properties"]) <= {"status", "poverty_cause", "warning_level"} for f in features
    )
    # Repeat with the ETag: 304; another county's tile is empty for this planner.
    again = client.get(
        f"/tiles/households/{z}/{x}/{y}.mvt", headers={"If-None-Match": response.headers["ETag"]}
    )
    assert again.status_code == 304
    ox, oy = tile_of(*_centre(conn, "330127"), z)
    assert client.get(f"/tiles/households/{z}/{ox}/{oy}.mvt").data == b""


def test_tile_points_are_displaced_not_true_places(
    points: int, database_url: str, conn: psycopg.Connection, planner: User
) -> None:
    moved = conn.execute(
        """
        SELECT count(*) FILTER (WHERE ST_Distance(ST_Transform(h.geom, 3857), p.geom) > 50),
               count(*)
        FROM household h JOIN household_tile_point p USING (month, household_id)
        WHERE h.month = %s AND h.county_code = %s
        """,
        (f"{MONTH}-01", COUNTY),
    ).fetchone()
    assert moved and moved[0] > 0.95 * moved[1]


def test_area_tiles_leave_counts_out_for_a_planner(
    points: int, database_url: str, conn: psycopg.Connection, planner: User
) -> None:
    client = logged_in_client(database_url, planner)
    z = 10
    x, y = tile_of(*_centre(conn, COUNTY), z)
    tile = mapbox_vector_tile.decode(client.get(f"/tiles/areas/{z}/{x}/{y}.mvt").data)
    towns = tile["areas"]["features"]
    assert towns and all(f["properties"]["code"].startswith(COUNTY) for f in towns)
    assert all("households" not in f["properties"] for f in towns)
    assert all("warnings_per_100" in f["properties"] for f in towns)


@pytest.fixture(scope="module")
def served(points: int, database_url: str) -> Iterator[str]:
    # A subprocess, not a thread: GDAL holds the GIL while it waits for the server.
    with serve_app(database_url) as base:
        yield f"{base}/ogc"


def _status(url: str, headers: dict[str, str] | None = None) -> int:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {})) as r:
            return int(r.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_gdal_reads_the_ogc_api_page_by_page_with_a_token(
    served: str, conn: psycopg.Connection, planner: User
) -> None:
    issued = tokens.issue(conn, planner.username, "qgis")
    assert _status(served) == 401
    assert _status(served + "/collections", {"Authorization": "Bearer om_wrong"}) == 401
    auth = {"Authorization": f"Bearer {issued.token}"}
    assert _status(served, auth) == 200
    warned = conn.execute(
        "SELECT count(*) FROM warning_month WHERE month = %s AND county_code = %s",
        (f"{MONTH}-01", COUNTY),
    ).fetchone()
    assert warned
    page = warned[0] // 3 + 1  # three pages: GDAL follows the "next" links
    options: dict[str, Any] = {"GDAL_HTTP_AUTH": "BEARER", "GDAL_HTTP_BEARER": issued.token}
    pyogrio.set_gdal_config_options(options)
    try:
        names = {name for name, _ in pyogrio.list_layers(f"OAPIF:{served}")}
        assert {"households", "warnings", "areas", "poverty_causes"} <= names
        frame = pyogrio.read_dataframe(f"OAPIF:{served}", layer="warnings", PAGE_SIZE=page)
        causes = pyogrio.read_dataframe(f"OAPIF:{served}", layer="poverty_causes")
    finally:
        pyogrio.set_gdal_config_options(dict.fromkeys(options))
    assert len(frame) == warned[0] > page  # more than one page, none lost or repeated
    assert "household_id" not in frame.columns and frame.crs.to_epsg() == 4326
    assert len(causes) > 5 and set(causes["area_name"]) and "dominant_cause" in causes.columns
    tokens.revoke(conn, issued.token_id)
    assert _status(served, auth) == 401
