"""Benchmark the map at full scale: data routes, heat tiles, transfer and time to first map.

Goals (issue: the one map): each drill-down data route p95 ≤ 50 ms server time; a heat tile
≤ 30 ms uncached and ≤ 5 ms cached; the province view ≤ 500 KB transferred; first map in
headless Chromium ≤ 2.5 s; compared with the naive way (read_postgis of every household →
GeoJSON into the page).
"""

from __future__ import annotations

import math
import os
import statistics
import time

import psycopg

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


def run(rows: list[Row], url: str) -> None:
    """Add the map figures (routes on the benchmark database) to the table."""
    os.environ["DATABASE_URL"] = url
    from geo.settings import get_settings

    get_settings.cache_clear()
    from dashboards.app import create_app
    from geo import db

    db.close_pool()
    client = create_app().server.test_client()
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
    province = sum(len(client.get(f"/api/areas/{c}.geojson?v=1").data) for c in ["33"]) + len(
        client.get("/api/areas/33/children.geojson?v=1").data
    )
    rows.append(
        (
            "map province view data",
            f"{province / 1024:.0f} KB",
            "",
            "boundaries only (JS bundles excluded); goal ≤ 500 KB total",
        )
    )
    if hot is not None:
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
    started = time.perf_counter()
    import geopandas as gpd

    with psycopg.connect(url) as conn:
        frame = gpd.read_postgis(
            "SELECT household_id, status, geom FROM household"
            " WHERE month = (SELECT max(month) FROM household)",
            conn,
            geom_col="geom",
        )
    naive = frame.to_json()
    naive_seconds = time.perf_counter() - started
    rows.append(
        (
            "naive: read_postgis all households → GeoJSON",
            f"{naive_seconds:.1f} s",
            f"{len(naive) / 1e6:.0f} MB",
            f"vs the province view: {len(naive) / max(province, 1):,.0f}× the bytes",
        )
    )
