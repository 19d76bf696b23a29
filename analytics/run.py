"""`onemap derive --month`: the month's derived analytics, published at once.

Features, benefit lists, warnings, supervision and rollups, computed set-based in PostGIS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass
from typing import Literal

import psycopg
from psycopg import sql

from analytics.assist_settings import get_assist_settings
from analytics.build import MonthBuild
from analytics.catalog import catalog_hash, load_catalog
from analytics.effect_rollup import build_effect_rollup
from analytics.routing import route
from analytics.sqlfiles import DERIVED_TABLES
from analytics.staging import StagedMonth, drop_leftovers, workers
from analytics.trends import build_trend_rollup
from core.errors import OneMapError
from core.month import Month
from core.settings import WarningSettings

#: Which effectiveness windows a derive computes ahead (see :func:`derive_month`).
Effects = Literal["stale", "month", "none"]

_LOCK = 7_402_114


class NotPublished(OneMapError, LookupError):
    """The month has not been loaded by `onemap etl run` yet."""


@dataclass(frozen=True, slots=True)
class DeriveResult:
    """The outcome of a derive run."""

    month: Month
    data_version: str
    #: Over every derived row of the month (None unless asked for: it costs a full read).
    checksum: str | None
    seconds: float
    stage_seconds: dict[str, float]
    counts: dict[str, int]


def sync_policies(conn: psycopg.Connection) -> None:
    """Write the catalog into the policy table (benefit rows refer to it)."""
    catalog, digest = load_catalog(), catalog_hash()
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO policy (code, name_zh, name_en, category, department, paid_months,"
            " eligibility, amount, catalog_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (code) DO UPDATE SET name_zh = excluded.name_zh,"
            " name_en = excluded.name_en, category = excluded.category,"
            " department = excluded.department, paid_months = excluded.paid_months,"
            " eligibility = excluded.eligibility, amount = excluded.amount,"
            " catalog_hash = excluded.catalog_hash",
            [
                (
                    p.code,
                    p.name_zh,
                    p.name_en,
                    p.category,
                    p.department,
                    list(p.paid_months) if p.paid_months else None,
                    p.eligibility,
                    p.amount,
                    digest,
                )
                for p in catalog.policies
            ],
        )


def _data_version(conn: psycopg.Connection, first: dt.date) -> str:
    row = conn.execute("SELECT run_id FROM published_month WHERE month = %s", (first,)).fetchone()
    if row is None:
        raise NotPublished(f"month {first:%Y-%m} is not published; run `onemap etl run` first")
    return f"run{row[0]}-catalog{catalog_hash()}"


def month_checksum(conn: psycopg.Connection, first: dt.date) -> tuple[str, dict[str, int]]:
    """A checksum over every derived row of the month, and the row count of each table."""
    digest = hashlib.sha256()
    counts: dict[str, int] = {}
    for table in DERIVED_TABLES:
        # warning_id depends on history, not on the month's data: leave it out of the sum.
        row = conn.execute(
            sql.SQL(
                "SELECT count(*), coalesce(sum(hashtextextended("
                "(to_jsonb(t) - 'warning_id')::text, 0)::numeric), 0)"
                " FROM {} t WHERE month = %s"
            ).format(sql.Identifier(table)),
            (first,),
        ).fetchone()
        assert row is not None
        counts[table] = int(row[0])
        digest.update(f"{table}:{row[0]}:{row[1]}\n".encode())
    return digest.hexdigest(), counts


def derive_month(
    conn: psycopg.Connection,
    month: Month | str,
    settings: WarningSettings,
    *,
    checksum: bool = False,
    effects: Effects = "stale",
) -> DeriveResult:
    """Derive everything for ``month`` (``YYYY-MM``) and publish it at once.

    The month is built in fresh tables on two worker connections while this one scores the
    warnings; the rollups, the warnings' lifecycle rows and the swap of the month's partitions
    happen in one transaction here, so readers see the old month or the new one and a failed
    run leaves the published month as it was. ``conn`` must be in autocommit mode.

    With ``checksum``, a checksum over every derived row is computed and stored (the same
    month derived twice gives the same checksum). ``effects`` says which effectiveness
    estimates are computed ahead (:func:`analytics.effect_rollup.build_effect_rollup`): every
    window whose months changed (``stale``), only the one ending this month (``month``) or
    none (``none``: they are estimated when asked).

    Raises
    ------
    NotPublished
        If the month has not been loaded.
    """
    started = time.perf_counter()
    month = Month.coerce(month)
    first, _last = month.first_day, month.last_day
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK,))
    try:
        drop_leftovers(conn)
        version = _data_version(conn, first)
        with conn.transaction():
            sync_policies(conn)
        staged = StagedMonth(month, conn.info.backend_pid)
        try:
            build = MonthBuild(conn, staged, settings, version, (first, _last))
            with workers(conn) as pool:
                build.run(pool)
            stages = build.stages
            clock = time.perf_counter()
            route(conn, first, get_assist_settings())  # warnings and gaps to the officials
            stages["routing"] = time.perf_counter() - clock
            clock = time.perf_counter()
            digest = month_checksum(conn, first)[0] if checksum else None
            if checksum:
                stages["checksum"] = time.perf_counter() - clock
            seconds = time.perf_counter() - started
            conn.execute(
                "UPDATE derive_run SET seconds = %s, checksum = %s WHERE month = %s",
                (seconds, digest, first),
            )
        finally:
            staged.drop(conn)
        clock = time.perf_counter()
        build_trend_rollup(conn, first)
        stages["trends"] = time.perf_counter() - clock
        clock = time.perf_counter()
        if effects != "none":
            build_effect_rollup(conn, ending=first if effects == "month" else None)
        stages["effects"] = time.perf_counter() - clock
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK,))
    return DeriveResult(month, version, digest, seconds, stages, build.counts)
