"""Benchmark the monthly ETL at full scale: 496,000 households, ~3.8 million feed rows.

Goal (issue: department feeds and the monthly ETL): ≥ 100,000 feed rows/s end to end and a
full province month in ≤ 120 s on the 2-core machine. Runs in its own database
(`onemap_bench`) on the configured server; the feeds are generated once and kept.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
from psycopg import sql

from analytics.cli import policy_codes
from analytics.run import derive_month
from core import cluster, db, migrate
from core.scope import PROVINCE_SCOPE
from core.settings import get_settings
from etl.pseudonymise import Pseudonymiser
from etl.run import run_month
from geo.admin import villages_frame
from geo.admin_load import load_geography
from synth.geography import synthesise_towns_villages

MONTH = "2024-06"
#: A second full month (the same synthetic households, a month on): trends, entries and exits
#: and the effectiveness estimates then have data at full scale.
NEXT_MONTH = "2024-07"
FEEDS = Path(".onemap/bench/feeds-full") / MONTH
DATABASE = "onemap_bench"


def bench_database() -> str:
    """Create (once) and migrate the benchmark database; return its URL."""
    settings = get_settings()
    if settings.db.url is None:
        cluster.start(settings.db)
    base = db.database_url(settings.db)
    info = psycopg.conninfo.conninfo_to_dict(base)
    with psycopg.connect(base, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    info["dbname"] = DATABASE
    url = psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items() if v})
    with psycopg.connect(url, autocommit=True) as conn:
        migrate.migrate(conn)
        load_geography(conn, settings.geo, synthesise_towns_villages)
    return url


def run(rows: list[tuple[str, str, str, str]]) -> str:
    """Add the ETL and derive figures to the benchmark table; return the database URL."""
    from synth import generate

    url = bench_database()
    if not (FEEDS / "manifest.json").is_file():
        with psycopg.connect(url) as conn:
            villages = villages_frame(conn, PROVINCE_SCOPE)
        started = time.perf_counter()
        generate(villages, scale="full", month=MONTH, seed=7, out_dir=FEEDS)
        rows.append(("synth full month", f"{time.perf_counter() - started:.1f} s", "—", ""))
    with psycopg.connect(url, autocommit=True) as conn:
        result = run_month(
            conn,
            FEEDS,
            MONTH,
            Pseudonymiser(b"bench-key-0123456789abcdef"),
            policy_codes=policy_codes(),
            force=True,
        )
    total_rows = sum(r.rows_read for r in result.reports)
    for report in result.reports:
        rate = report.rows_read / report.seconds if report.seconds else 0.0
        rows.append(
            (
                f"etl feed {report.feed} (read, validate, facts)",
                f"{report.seconds:.2f} s",
                f"{rate:,.0f} rows/s",
                f"{report.rows_read:,} rows",
            )
        )
    for stage, seconds in result.stage_seconds.items():
        rows.append((f"etl stage {stage}", f"{seconds:.1f} s", "", ""))
    rate = total_rows / result.seconds
    with psycopg.connect(url, autocommit=True) as conn:
        derived = derive_month(conn, MONTH, get_settings().warn)
    for stage, seconds in derived.stage_seconds.items():
        rows.append((f"derive step {stage} (steps overlap)", f"{seconds:.1f} s", "", ""))
    rows.append(
        (
            "derive full month (60 policies, warnings, supervision, rollups)",
            f"{derived.seconds:.1f} s",
            "",
            f"{derived.counts['household_features']:,} households; goal ≤ 15 s: "
            f"{'met' if derived.seconds <= 15 else 'NOT met'}",
        )
    )
    rows.append(
        (
            "etl full month end to end",
            f"{result.seconds:.1f} s",
            f"{rate:,.0f} rows/s",
            f"{total_rows:,} rows; goal ≥ 100,000 rows/s and ≤ 120 s: "
            f"{'met' if rate >= 100_000 and result.seconds <= 120 else 'NOT met'}",
        )
    )
    return url


def next_month(rows: list[tuple[str, str, str, str]], url: str) -> None:
    """Load and derive :data:`NEXT_MONTH` once (not a goal of its own: the later benches' data)."""
    from synth import generate

    feeds = FEEDS.parent / NEXT_MONTH
    with psycopg.connect(url) as conn:
        loaded = conn.execute(
            "SELECT 1 FROM derive_run WHERE month = %s", (f"{NEXT_MONTH}-01",)
        ).fetchone()
        if loaded:
            return
        villages = villages_frame(conn, PROVINCE_SCOPE)
    started = time.perf_counter()
    if not (feeds / "manifest.json").is_file():
        generate(villages, scale="full", month=NEXT_MONTH, seed=7, out_dir=feeds)
    with psycopg.connect(url, autocommit=True) as conn:
        run_month(
            conn,
            feeds,
            NEXT_MONTH,
            Pseudonymiser(b"bench-key-0123456789abcdef"),
            policy_codes=policy_codes(),
        )
        derive_month(conn, NEXT_MONTH, get_settings().warn)
    rows.append(
        (
            f"second full month {NEXT_MONTH} (synth, ETL, derive, effects)",
            f"{time.perf_counter() - started:.1f} s",
            "",
            "once; the statistics and load benches read both months",
        )
    )
