"""Benchmark the layer services at full scale: household vector tiles against tipg, and exports.

Goals (issue: layers for planners and field teams): our household MVT tiles' median ≤ 0.8 ×
tipg's on the same table (``household_tile_point``), same database, same tile list (z8–z16 over
the province), cold then warm; and a full-province export in each format with its time and
peak memory. tipg is an optional bench dependency (``pip install '.[bench]'``); without it the
tile comparison is skipped with a note. Run alone with ``python -m bench.layers``.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import psycopg

from bench.accounts import bench_user, use_database
from bench.report import print_table
from core.access import Role

Row = tuple[str, str, str, str]
MONTH = "2024-06"
ZOOMS = range(8, 17)
POINTS_PER_ZOOM = 12
_BENCH_PORT = int(os.environ.get("ONEMAP_MAP_PORT", "8050")) + 40


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)


def tile_list(url: str, seed: int = 5) -> list[tuple[int, int, int]]:
    """Tiles z8–z16 around randomly drawn households of the province (fixed seed)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM household WHERE month = %s"
            " ORDER BY md5(household_id || %s) LIMIT %s",
            (f"{MONTH}-01", str(seed), POINTS_PER_ZOOM * len(ZOOMS)),
        ).fetchall()
    random.Random(seed).shuffle(rows)
    tiles = []
    for i, z in enumerate(ZOOMS):
        for lon, lat in rows[i * POINTS_PER_ZOOM : (i + 1) * POINTS_PER_ZOOM]:
            tiles.append((z, *_tile(float(lon), float(lat), z)))
    return tiles


def _fetch(url: str, headers: dict[str, str]) -> tuple[float, int]:
    started = time.perf_counter()
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=120) as response:
        size = len(response.read())
    if os.environ.get("ONEMAP_BENCH_VERBOSE"):
        print(
            f"{(time.perf_counter() - started) * 1000:8.1f} ms {size:>9,} B {url}", file=sys.stderr
        )
    return (time.perf_counter() - started) * 1000, size


def _wait(url: str, headers: dict[str, str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            _fetch(url, headers)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _serve(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = Path(tempfile.gettempdir()) / f"onemap-bench-{Path(command[2]).name}.log"
    return subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)


def _postgres_url(conninfo: str) -> str:
    """``postgresql://user:password@host:port/dbname`` for a libpq conninfo string."""
    info = psycopg.conninfo.conninfo_to_dict(conninfo)
    user = quote(str(info.get("user", "")), safe="")
    password = quote(str(info.get("password", "")), safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@" if user else ""
    host, port = info.get("host", "127.0.0.1"), info.get("port", 5432)
    return f"postgresql://{credentials}{host}:{port}/{info.get('dbname', '')}"


def _measure(
    name: str, template: str, tiles: list[tuple[int, int, int]], headers: dict[str, str]
) -> list[Row]:
    rows = []
    figures = {}
    for run in ("cold", "warm"):
        times, sizes = [], []
        for z, x, y in tiles:
            ms, size = _fetch(template.format(z=z, x=x, y=y), headers)
            times.append(ms)
            sizes.append(size)
        figures[run] = statistics.median(times)
        rows.append(
            (
                f"household MVT {name} ({run}, {len(tiles)} tiles z8–z16)",
                f"p50 {figures[run]:.1f} ms",
                f"p95 {_p(times, 0.95):.1f} ms",
                f"bytes/tile median {statistics.median(sizes):,.0f}, max {max(sizes):,}",
            )
        )
    return rows


def tiles_vs_tipg(rows: list[Row], url: str) -> None:
    """Our tiles (planner, de-identified, RLS) and tipg's on the same table."""
    from core import db, tokens
    from layers.displaced import refresh

    use_database(url)  # the served app and this process: one app password
    with psycopg.connect(url, autocommit=True) as conn:
        db.ensure_app_login(conn)  # the served app's role can log in to this database
        started = time.perf_counter()
        count = refresh(conn, MONTH)
        rows.append(
            (
                "de-identified points refresh (after derive)",
                f"{time.perf_counter() - started:.1f} s",
                "",
                f"{count:,} households",
            )
        )
        planner = bench_user(url, Role.PLANNER, "33")
        token = tokens.issue(conn, planner, "bench").token
    tiles = tile_list(url)
    env = os.environ | {"DATABASE_URL": url}
    ours = _serve([sys.executable, "-m", "onemap", "serve", "--port", str(_BENCH_PORT)], env)
    auth = {"Authorization": f"Bearer {token}"}
    try:
        base = f"http://127.0.0.1:{_BENCH_PORT}"
        _wait(f"{base}/healthz", {})
        rows += _measure(
            "ours (planner, RLS)",
            base + "/tiles/households/{z}/{x}/{y}.mvt?month=" + MONTH,
            tiles,
            auth,
        )
    finally:
        ours.terminate()
        ours.wait()
    try:
        import tipg  # noqa: F401
    except ImportError:
        rows.append(("household MVT tipg", "skipped", "", "pip install '.[bench]' for tipg"))
        return
    tipg_env = env | {
        "DATABASE_URL": _postgres_url(url),  # tipg's settings want the URL form
        "TIPG_DB_SCHEMAS": '["public"]',
        "TIPG_DB_TABLES": '["public.household_tile_point"]',
        "TIPG_MAX_FEATURES_PER_TILE": "20000",
    }
    port = _BENCH_PORT + 1
    server = _serve(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "tipg.main:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        tipg_env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait(f"{base}/collections", {})
        template = (
            base + "/collections/public.household_tile_point/tiles/WebMercatorQuad/{z}/{x}/{y}"
            "?properties=status,poverty_cause,warning_level"
        )
        rows += _measure("tipg 1.6 (owner, no RLS)", template, tiles, {})
    finally:
        server.terminate()
        server.wait()


_EXPORT = """
import resource, sys, time
from onemap.cli import main
sys.argv = ["onemap", "export", "households", "--user", sys.argv[1], "--area", "33",
            "--format", sys.argv[2], "--out", sys.argv[3], "--month", sys.argv[4]]
started = time.perf_counter()
try:
    main()
except SystemExit:
    pass
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"RESULT {time.perf_counter() - started:.2f} {peak}")
"""


def exports(
    rows: list[Row], url: str, formats: tuple[str, ...] = ("gpkg", "geojson", "shp", "csv", "xlsx")
) -> None:
    """Full-province household layer per format, as a province planner: time, peak memory, size."""
    planner = bench_user(url, Role.PLANNER, "33")
    folder = Path(tempfile.mkdtemp(prefix="onemap-bench-export-"))
    env = os.environ | {"DATABASE_URL": url}
    for fmt in formats:
        out = folder / f"households.{fmt}"
        done = subprocess.run(
            [sys.executable, "-c", _EXPORT, planner, fmt, str(out), MONTH],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        result = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
        if not result or not out.exists():
            rows.append((f"export households.{fmt} (province)", "FAILED", "", done.stderr[-200:]))
            continue
        seconds, rss_kib = result[-1].split()[1:]
        rows.append(
            (
                f"export households.{fmt} (province, planner, de-identified)",
                f"{float(seconds):.1f} s",
                f"peak {int(rss_kib) / 1024:,.0f} MiB",
                f"{out.stat().st_size / 1e6:,.1f} MB",
            )
        )
    for part in folder.iterdir():
        part.unlink()
    folder.rmdir()


def run(rows: list[Row], url: str) -> None:
    """Add the tile and export figures to the benchmark table."""
    tiles_vs_tipg(rows, url)
    exports(rows, url)


def main() -> None:
    """Run only these benchmarks (loading the full month first if the database lacks it)."""
    from bench import etl

    rows: list[Row] = []
    url = etl.bench_database()
    with psycopg.connect(url) as conn:
        published = conn.execute(
            "SELECT 1 FROM rollup WHERE month = %s LIMIT 1", (f"{MONTH}-01",)
        ).fetchone()
    if not published:
        url = etl.run(rows)
    run(rows, url)
    print_table("onemap layer benchmarks (2-core machine)", rows)


if __name__ == "__main__":
    main()
