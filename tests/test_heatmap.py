"""Warning heatmap tiles: valid 256×256 PNGs, empty outside the province, weighted by level."""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np
import psycopg
from PIL import Image

from layers.heatmap import EMPTY_TILE, HeatPoints, render_tile, to_mercator


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def pixels(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.size == (256, 256)
    return np.asarray(image.convert("RGBA"))


def points(lons: list[float], lats: list[float], weights: list[float]) -> HeatPoints:
    x, y = to_mercator(np.array(lons), np.array(lats))
    return HeatPoints(x, y, np.array(weights))


def test_empty_tiles_are_transparent() -> None:
    assert pixels(EMPTY_TILE)[..., 3].max() == 0
    far = points([120.1], [28.7], [3.0])
    x, y = tile_of(140.0, 30.0, 8)  # the Pacific
    assert render_tile(far, 8, x, y) == EMPTY_TILE


def test_a_red_warning_is_hotter_than_a_yellow_one() -> None:
    z = 12
    red = pixels(render_tile(points([120.10], [28.70], [3.0]), z, *tile_of(120.10, 28.70, z)))
    yellow = pixels(render_tile(points([120.10], [28.70], [1.0]), z, *tile_of(120.10, 28.70, z)))
    assert red[..., 3].max() > yellow[..., 3].max() > 0


def test_tiles_join_without_seams() -> None:
    # A point on a tile edge lights both tiles symmetrically.
    z = 10
    x, y = tile_of(120.0, 28.7, z)
    n = 1 << z
    edge_lon = x / n * 360 - 180
    heat = points([edge_lon], [28.7], [3.0])
    left = pixels(render_tile(heat, z, x - 1, y))
    right = pixels(render_tile(heat, z, x, y))
    assert left[..., 3].max() > 0 and right[..., 3].max() > 0
    assert abs(int(left[:, -1, 3].max()) - int(right[:, 0, 3].max())) <= 40


def test_heat_route_serves_png_tiles_of_the_warnings(
    derived: Any, database_url: str, conn: psycopg.Connection
) -> None:
    from core.access import Role
    from tests.conftest import logged_in_client, make_user

    row = conn.execute(
        "SELECT ST_X(h.geom), ST_Y(h.geom), h.village_code FROM warning_month m JOIN household h"
        " ON h.month = m.month AND h.household_id = m.household_id WHERE m.level = 'red'"
        " LIMIT 1"
    ).fetchone()
    assert row is not None
    # The official of that town: the tiles of the households as they are.
    client = logged_in_client(database_url, make_user(database_url, Role.OFFICIAL, row[2][:9]))
    z = 11
    x, y = tile_of(row[0], row[1], z)
    hot = client.get(f"/tiles/heat/{z}/{x}/{y}.png")
    assert hot.status_code == 200 and hot.mimetype == "image/png"
    assert pixels(hot.data)[..., 3].max() > 0
    sea = client.get("/tiles/heat/{}/{}/{}.png".format(z, *tile_of(125.5, 26.0, z)))
    assert sea.status_code == 200 and pixels(sea.data)[..., 3].max() == 0
    assert client.get("/tiles/heat/3/9/9.png").status_code == 404
