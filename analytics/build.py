"""The steps of one derive run and the order they run in, over three connections.

Two workers build the features, the benefit list and the supervision tables in fresh tables;
meanwhile the caller's connection opens the publishing transaction, scores the warnings and
updates their lifecycle, then builds the rollups and swaps every partition of the month.

    worker A: household features ─┬─ benefit 1/2 ─┬─ supervision visits ─ supervision ──┐
    worker B: member features ─────┼─ benefit 2/2 ─┴─ benefit indexes ─┐                  │
    caller:                        └─ warnings ─ rollups ──────────────┴─ rollup benefits ┴─ swap

The benefit list, the largest step, is built in two halves of the households at once; the
rollups wait for it only for their benefit counts.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from analytics.benefits import benefit_statement
from analytics.catalog import load_catalog, portrait_fields
from analytics.sqlfiles import composed
from analytics.staging import SESSION_SETTINGS, StagedMonth, Workers
from analytics.warning_factors import warning_params, warning_statements
from core.settings import WarningSettings
from geo.regions import MOUNTAIN_COUNTIES

T = TypeVar("T")
#: Visits checked in farther than this from the household are findings.
FAR_METRES = 1000.0


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


class MonthBuild:
    """One run's steps for one month; timings and row counts are kept as they finish."""

    def __init__(
        self,
        conn: psycopg.Connection,
        staged: StagedMonth,
        settings: WarningSettings,
        data_version: str,
        bounds: tuple[dt.date, dt.date],
    ) -> None:
        self.conn, self.staged, self.settings = conn, staged, settings
        self.data_version = data_version
        self.first, self.last = bounds
        self.base: dict[str, Any] = {"month": self.first, "month_end": self.last}
        self.stages: dict[str, float] = {}
        self.counts: dict[str, int] = {}
        self._lock = threading.Lock()
        #: The household ID splitting the month's households in halves (set with the features).
        self._middle = ""

    def run(self, pool: Workers) -> None:
        """Build the month and publish it (see the module's diagram).

        A task that needs another's result waits for it on its worker; the order tasks are
        submitted in guarantees that what it waits for is already running.
        """
        household = pool.submit(self._timed("household features", self.household_features))
        member = pool.submit(self._timed("member features", self.member_features))
        shares = [
            pool.submit(self._after([member], self._timed(f"benefit list {n}/2", share)))
            for n, share in enumerate(self._benefit_shares(household), start=1)
        ]
        visits = pool.submit(self._timed("supervision visits", self.supervision_visits))
        indexes = pool.submit(self._after(shares, self._timed("benefit indexes", self._indexes)))
        officials = pool.submit(
            self._after([*shares, visits], self._timed("supervision", self.supervision_rest))
        )
        household.result()
        with self.conn.transaction():
            for name, value in SESSION_SETTINGS.items():
                self.conn.execute("SELECT set_config(%s, %s, true)", (name, value))
            self._timed("warnings", self.warnings)(self.conn)
            member.result()
            self._timed("rollups", self.rollups)(self.conn)
            # Adding the primary key locks the benefit table exclusively: this transaction must
            # not hold a lock on it before the key is built, or the two would wait for each other.
            indexes.result()
            self._timed("rollup benefits", self.rollup_benefits)(self.conn)
            self.staged.finish(self.conn, "rollup")
            officials.result()
            self._timed("publish", self.publish)(self.conn)

    @staticmethod
    def _after(
        futures: list[Future[None]], step: Callable[[psycopg.Connection], None]
    ) -> Callable[[psycopg.Connection], None]:
        def after(conn: psycopg.Connection) -> None:
            for future in futures:
                future.result()
            step(conn)

        return after

    def _timed(
        self, stage: str, step: Callable[[psycopg.Connection], None]
    ) -> Callable[[psycopg.Connection], None]:
        def timed(conn: psycopg.Connection) -> None:
            clock = time.perf_counter()
            step(conn)
            self.stages[stage] = time.perf_counter() - clock

        return timed

    def _execute(self, conn: psycopg.Connection, statement: sql.Composed, params: Any) -> int:
        return conn.execute(statement, params).rowcount

    def _count(self, table: str, rows: int) -> None:
        with self._lock:
            self.counts[table] = self.counts.get(table, 0) + rows

    def household_features(self, conn: psycopg.Connection) -> None:
        """Household features, then door-code tokens for households that have none."""
        features, _member, tokens = composed("derive_features", self.staged.names)
        params = {**self.base, "mountain": sorted(MOUNTAIN_COUNTIES)}
        self.staged.create(conn, "household_features")
        self._count("household_features", self._execute(conn, features, params))
        self.staged.finish(conn, "household_features")
        self._execute(conn, tokens, params)
        row = conn.execute(
            sql.SQL(
                "SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY household_id) FROM {}"
            ).format(sql.Identifier(self.staged.names["household_features"]))
        ).fetchone()
        self._middle = row[0] if row and row[0] is not None else ""
        self.staged.create(conn, "benefit")  # empty: the two halves fill it

    def member_features(self, conn: psycopg.Connection) -> None:
        """Member features."""
        _household, member, _tokens = composed("derive_features", self.staged.names)
        self.staged.create(conn, "member_features")
        self._count("member_features", self._execute(conn, member, self.base))
        self.staged.finish(conn, "member_features")

    def _benefit_shares(
        self, household: Future[None]
    ) -> list[Callable[[psycopg.Connection], None]]:
        """Two steps building the benefit list of one half of the households each."""

        def first_half(conn: psycopg.Connection) -> None:
            household.result()
            self.benefits(conn, "", self._middle)

        def second_half(conn: psycopg.Connection) -> None:
            household.result()
            self.benefits(conn, self._middle, None)

        return [first_half, second_half]

    def benefits(
        self, conn: psycopg.Connection, households_from: str = "", households_to: str | None = None
    ) -> None:
        """The benefit list of households in ``[households_from, households_to)``.

        Rows go into the (existing) fresh table; only policies that can produce a row this
        month are evaluated.
        """
        paid = frozenset(
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT policy_code FROM subsidy WHERE month = %s", (self.first,)
            ).fetchall()
        )
        statement, params = benefit_statement(
            load_catalog(), self.first.month, paid, self.staged.names
        )
        params |= {"households_from": households_from, "households_to": households_to}
        self._count("benefit", self._execute(conn, statement, {**self.base, **params}))

    def _indexes(self, conn: psycopg.Connection) -> None:
        self.staged.finish(conn, "benefit")

    def supervision_visits(self, conn: psycopg.Connection) -> None:
        """Findings about visits and visit gaps (they need only the features)."""
        visits = composed("derive_supervision", self.staged.names)[0]
        self.staged.create(conn, "supervision_finding")
        rows = self._execute(conn, visits, {**self.base, "far_metres": FAR_METRES})
        self._count("supervision_finding", rows)

    def supervision_rest(self, conn: psycopg.Connection) -> None:
        """Benefit anomalies as findings, then the summary per official."""
        _visits, anomalies, officials = composed("derive_supervision", self.staged.names)
        self._count("supervision_finding", self._execute(conn, anomalies, self.base))
        self.staged.finish(conn, "supervision_finding")
        self.staged.create(conn, "supervision_official")
        self._count("supervision_official", self._execute(conn, officials, self.base))
        self.staged.finish(conn, "supervision_official")

    def warnings(self, conn: psycopg.Connection) -> None:
        """Score households, raise or update warnings, and record the month's warnings."""
        score, update, insert, events, month_rows = warning_statements(self.staged.names)
        params = {
            **warning_params(self.settings, self.first, dt.datetime.now(dt.UTC)),
            **self.base,
        }
        for statement in (score, update, insert, events):
            self._execute(conn, statement, params)
        self.staged.create(conn, "warning_month")
        self._count("warning_month", self._execute(conn, month_rows, params))
        self.staged.finish(conn, "warning_month")

    def rollups(self, conn: psycopg.Connection) -> None:
        """Rollups per admin level, with income growth against earlier months."""
        previous = (self.first - dt.timedelta(days=1)).replace(day=1)
        has_prev = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM published_month WHERE month = %s)", (previous,)
        ).fetchone()
        params = {
            **self.base,
            "prev_month": previous,
            "has_prev": bool(has_prev and has_prev[0]),
            "data_version": self.data_version,
        }
        insert, *growth, _benefits = composed(
            "derive_rollup", self.staged.names, portrait_auto=portrait_auto_sql()
        )
        self.staged.create(conn, "rollup")
        self._count("rollup", self._execute(conn, insert, params))
        for statement in growth:
            self._execute(conn, statement, params)

    def rollup_benefits(self, conn: psycopg.Connection) -> None:
        """Benefit gaps and anomalies into the rollups, once the benefit list is built."""
        statement = composed("derive_rollup", self.staged.names, portrait_auto=sql.SQL(""))[-1]
        self._execute(conn, statement, self.base)

    def publish(self, conn: psycopg.Connection) -> None:
        """Swap the month's partitions and record the run (in the caller's transaction)."""
        self.staged.publish(conn)
        conn.execute(
            "INSERT INTO derive_run (month, data_version, seconds, checksum)"
            " VALUES (%s, %s, 0, NULL) ON CONFLICT (month) DO UPDATE SET"
            " data_version = excluded.data_version, derived_at = now(),"
            " seconds = excluded.seconds, checksum = excluded.checksum",
            (self.first, self.data_version),
        )
