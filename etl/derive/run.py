"""`onemap derive --month`: the month's derived analytics, in one transaction.

Features, benefit lists, warnings, supervision and rollups, computed set-based in PostGIS.
"""

from __future__ import annotations

import calendar
import datetime as dt
import hashlib
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from etl.derive.benefits import benefit_statement
from etl.derive.catalog import catalog_hash, load_catalog, portrait_fields
from etl.derive.messages import reason_params
from etl.derive.sqlfiles import statements
from geo.errors import OneMapError
from geo.regions import MOUNTAIN_COUNTIES
from geo.settings import WarningSettings

#: Rows of these tables for the month are replaced by each derive run.
DERIVED_TABLES = (
    "household_features",
    "member_features",
    "benefit",
    "warning_month",
    "supervision_finding",
    "supervision_official",
    "rollup",
)
#: Visits checked in farther than this from the household are findings.
FAR_METRES = 1000.0
_LOCK = 7_402_114


class NotPublished(OneMapError, LookupError):
    """The month has not been loaded by `onemap etl run` yet."""


@dataclass(frozen=True, slots=True)
class DeriveResult:
    """The outcome of a derive run."""

    month: str
    data_version: str
    #: Over every derived row of the month (None unless asked for: it costs a full read).
    checksum: str | None
    seconds: float
    stage_seconds: dict[str, float]
    counts: dict[str, int]


def _month_bounds(month: str) -> tuple[dt.date, dt.date]:
    first = dt.date.fromisoformat(f"{month}-01")
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    return first, last


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


def portrait_auto_sql() -> sql.Composable:
    """SQL counting a household_features row's portrait fields filled from department feeds."""
    fields = [f for f in portrait_fields() if f.automatic]
    always = sum(1 for f in fields if f.requires is None)
    terms = [sql.Literal(always)] + [
        sql.SQL("({} IS NOT NULL)::int").format(sql.Identifier("f", f.requires))
        for f in fields
        if f.requires is not None
    ]
    return sql.SQL(" + ").join(terms)


def _data_version(conn: psycopg.Connection, first: dt.date) -> str:
    row = conn.execute("SELECT run_id FROM published_month WHERE month = %s", (first,)).fetchone()
    if row is None:
        raise NotPublished(f"month {first:%Y-%m} is not published; run `onemap etl run` first")
    return f"run{row[0]}-catalog{catalog_hash()}"


def _checksum(conn: psycopg.Connection, first: dt.date) -> tuple[str, dict[str, int]]:
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


def _counts(conn: psycopg.Connection, first: dt.date) -> dict[str, int]:
    counts = {}
    for table in DERIVED_TABLES:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE month = %s").format(sql.Identifier(table)),
            (first,),
        ).fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def derive_month(
    conn: psycopg.Connection, month: str, settings: WarningSettings, *, checksum: bool = False
) -> DeriveResult:
    """Derive everything for ``month`` (``YYYY-MM``) in one transaction.

    With ``checksum``, a checksum over every derived row is computed and stored (the same
    month derived twice gives the same checksum).

    Raises
    ------
    NotPublished
        If the month has not been loaded.
    """
    started = time.perf_counter()
    first, last = _month_bounds(month)
    stages: dict[str, float] = {}
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        version = _data_version(conn, first)
        sync_policies(conn)
        clock = time.perf_counter()
        for table in DERIVED_TABLES:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE month = %s").format(sql.Identifier(table)), (first,)
            )
        stages["clear"] = time.perf_counter() - clock
        base = {"month": first, "month_end": last}
        clock = time.perf_counter()
        for statement in statements("derive_features"):
            conn.execute(statement.encode(), {**base, "mountain": sorted(MOUNTAIN_COUNTIES)})
        # Fresh statistics: the month's rows were just replaced inside this transaction.
        conn.execute("ANALYZE household_features, member_features")
        stages["features"] = time.perf_counter() - clock
        clock = time.perf_counter()
        paid = frozenset(
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT policy_code FROM subsidy WHERE month = %s", (first,)
            ).fetchall()
        )
        benefit_sql, benefit_params = benefit_statement(load_catalog(), first.month, paid)
        conn.execute(benefit_sql, {**base, **benefit_params})
        conn.execute("ANALYZE benefit")
        stages["benefits"] = time.perf_counter() - clock
        clock = time.perf_counter()
        warn = {
            **settings.model_dump(),
            **reason_params(),
            **base,
            "raised_at": dt.datetime.now(dt.UTC),
        }
        for statement in statements("derive_warnings"):
            conn.execute(statement.encode(), warn)
        stages["warnings"] = time.perf_counter() - clock
        clock = time.perf_counter()
        for statement in statements("derive_supervision"):
            conn.execute(statement.encode(), {**base, "far_metres": FAR_METRES})
        stages["supervision"] = time.perf_counter() - clock
        clock = time.perf_counter()
        previous = (first - dt.timedelta(days=1)).replace(day=1)
        has_prev = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM published_month WHERE month = %s)", (previous,)
        ).fetchone()
        rollup = {
            **base,
            "prev_month": previous,
            "has_prev": bool(has_prev and has_prev[0]),
            "data_version": version,
        }
        for statement in statements("derive_rollup"):
            conn.execute(
                sql.SQL(statement).format(  # static SQL from our own file
                    portrait_auto=portrait_auto_sql()
                ),
                rollup,
            )
        stages["rollups"] = time.perf_counter() - clock
        clock = time.perf_counter()
        digest, counts = _checksum(conn, first) if checksum else (None, _counts(conn, first))
        stages["checksum" if checksum else "count"] = time.perf_counter() - clock
        seconds = time.perf_counter() - started
        conn.execute(
            "INSERT INTO derive_run (month, data_version, seconds, checksum)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (month) DO UPDATE SET"
            " data_version = excluded.data_version, derived_at = now(),"
            " seconds = excluded.seconds, checksum = excluded.checksum",
            (first, version, seconds, digest),
        )
    return DeriveResult(month, version, digest, time.perf_counter() - started, stages, counts)
