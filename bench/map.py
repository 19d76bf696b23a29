"""Benchmark the map at full scale: data routes, heat tiles, transfer and time to first map.

Goals (issue: the one map): each drill-down data route p95 ≤ 50 ms server time; a heat tile
≤ 30 ms uncached and ≤ 5 ms cached; the province view ≤ 500 KB transferred; first map in
headless Chromium ≤ 2.5 s; never more than 20,000 households in one response; compared with
the naive way (read_postgis of every household → GeoJSON into the page).
"""

from __future__ import annotations

import json
import math
import statistics
import time
from typing import Any

import psycopg

from bench import browser
from bench.accounts import bench_user, log_in_client, use_database
from core.access import Role

Row = tuple[str, str, str, str]


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    return (
        int((lon + 180) / 360 * n),
        int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n),
    )


def _client(url: str, username: str) -> Any:
    use_database(url)  # the served app and this process: one app password
    from core.settings import get_settings

    get_settings.cache_clear()
    from core import db
    from dashboards.app import create_app

    db.close_pool()
    with psycopg.connect(url, autocommit=True) as conn:
        db.ensure_app_login(conn)  # the app's role, with the password this process will use
    client = create_app().server.test_client()
    log_in_client(client, username)
    return client


def _routes(rows: list[Row], client: Any, codes: list[str]) -> None:
    for name, template in (
        ("children GeoJSON", "/api/areas/{}/children.geojson?v=1"),
        ("households GeoJSON", "/api/areas/{}/households.geojson?v=1"),
    ):
        samples, sizes = [], []
        for _ in range(5):
            for code in codes:
                started = time.perf_counter()
                response = client.get(template.format(code))
                samples.append((time.perf_counter() - started) * 1000)
                sizes.append(len(response.data))
        p95 = _p95(samples)
        rows.append(
            (
                f"map route {name}",
                f"p95 {p95:.1f} ms",
                f"median {statistics.median(samples):.1f} ms",
                f"max {max(sizes) / 1024:.0f} KB; goal p95 ≤ 50 ms: "
                f"{'met' if p95 <= 50 else 'NOT met'}",
            )
        )


def _household_cap(rows: list[Row], client: Any, conn: psycopg.Connection) -> None:
    from layers.households import MAX_FEATURES

    row = conn.execute(
        "SELECT left(village_code, 9), count(*) FROM household"
        " WHERE month = (SELECT max(month) FROM published_month) GROUP BY 1 ORDER BY 2 DESC"
        " LIMIT 1"
    ).fetchone()
    if row is None:
        return
    started = time.perf_counter()
    collection = json.loads(client.get(f"/api/areas/{row[0]}/households.geojson?v=1").data)
    seconds = time.perf_counter() - started
    shown = len(collection["features"])
    rows.append(
        (
            "map households of the largest town",
            f"{seconds * 1000:.0f} ms",
            f"{shown:,} of {collection['total']:,} features",
            f"cap {MAX_FEATURES:,}: {'met' if shown <= MAX_FEATURES else 'NOT met'}"
            f"{' (truncated, flagged)' if collection['truncated'] else ''}",
        )
    )


def _heat_tiles(rows: list[Row], client: Any, hot: tuple[float, float]) -> None:
    tiles = [(z, *_tile(hot[0], hot[1], z)) for z in (7, 9, 11, 13)]
    cold, warm = [], []
    for z, x, y in tiles:
        started = time.perf_counter()
        client.get(f"/tiles/heat/{z}/{x}/{y}.png")
        cold.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        client.get(f"/tiles/heat/{z}/{x}/{y}.png")
        warm.append((time.perf_counter() - started) * 1000)
    rows.append(
        (
            "heat tile uncached (first includes loading points)",
            f"max {max(cold[1:]):.1f} ms",
            f"first {cold[0]:.0f} ms",
            "goal ≤ 30 ms",
        )
    )
    rows.append(("heat tile cached", f"max {max(warm):.1f} ms", "", "goal ≤ 5 ms"))


def _heat_download(rows: list[Row], client: Any) -> None:
    for code in ("33", "331122"):
        started = time.perf_counter()
        response = client.get(f"/downloads/heat/{code}.tif")
        seconds = time.perf_counter() - started
        rows.append(
            (
                f"heat GeoTIFF download {code}",
                f"{seconds * 1000:.0f} ms",
                f"{len(response.data) / 1024:.0f} KB",
                "warning-weighted grid, EPSG:3857",
            )
        )


def _naive(url: str) -> tuple[int, float]:
    """Bytes and seconds of the naive way: every household through read_postgis → GeoJSON."""
    import geopandas as gpd

    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        frame = gpd.read_postgis(
            "SELECT household_id, status, geom FROM household"
            " WHERE month = (SELECT max(month) FROM household)",
            conn,
            geom_col="geom",
        )
    naive = frame.to_json()
    return len(naive.encode()), time.perf_counter() - started


def run(rows: list[Row], url: str) -> None:
    """Add the map figures (routes on the benchmark database, then Chromium) to the table.

    Measured as a province leader (the wall-screen user: aggregates everywhere, identified
    points only for warned households), through row-level security as the app role.
    """
    leader = bench_user(url, Role.PROVINCE_LEADER, "33")
    client = _client(url, leader)
    with psycopg.connect(url) as conn:
        codes = ["33", "3311", "331122"] + [
            r[0]
            for r in conn.execute(
                "SELECT code FROM admin_area WHERE parent_code = '331122' LIMIT 5"
            ).fetchall()
        ]
        hot = conn.execute(
            "SELECT ST_X(h.geom), ST_Y(h.geom) FROM warning_month m JOIN household h"
            " ON h.month = m.month AND h.household_id = m.household_id"
            " LIMIT 1"
        ).fetchone()
        _routes(rows, client, codes)
        _household_cap(rows, client, conn)
    if hot is not None:
        _heat_tiles(rows, client, (hot[0], hot[1]))
    _heat_download(rows, client)
    naive_bytes, naive_seconds = _naive(url)
    rows.append(
        (
            "naive: read_postgis all households → GeoJSON",
            f"{naive_seconds:.1f} s",
            f"{naive_bytes / 1e6:.0f} MB",
            "what the page would load without the layers above",
        )
    )
    browser.run(rows, url, naive_bytes, naive_seconds, leader)
