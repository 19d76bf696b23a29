"""Fresh tables a derive run writes a month into, the connections that fill them, the swap.

Each table is created, filled and indexed in one transaction: on a cluster with
``wal_level=minimal`` (the embedded one) its rows skip the WAL, and indexes are built once
instead of maintained row by row. Publishing swaps the month's partitions in the caller's
transaction, as the ETL does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from queue import SimpleQueue
from typing import TypeVar

import psycopg
from psycopg import sql

from analytics.sqlfiles import DERIVED_TABLES
from core.month import Month
from etl.publish import build_indexes, partition_name, swap_partitions

T = TypeVar("T")
_STAGED = re.compile(r"^(" + "|".join(DERIVED_TABLES) + r")_\d{6}_d\d+$")
#: Settings of every connection that derives: hash tables of half a million groups fit; a
#: lock that cannot be had in two minutes fails the run instead of hanging it.
SESSION_SETTINGS = {"work_mem": "256MB", "jit": "off", "lock_timeout": "120s"}


class StagedMonth:
    """The fresh tables of one run for one month, named ``<table>_<yyyymm>_d<run>``."""

    def __init__(self, month: Month, run: int) -> None:
        self.month = month
        self.names = {t: f"{partition_name(t, month)}_d{run}" for t in DERIVED_TABLES}

    def create(self, conn: psycopg.Connection, table: str) -> None:
        """Create ``table``'s fresh table, with a CHECK on the month so attaching needs no scan."""
        conn.execute(
            sql.SQL(
                "CREATE TABLE {staged} (LIKE {parent} INCLUDING DEFAULTS INCLUDING CONSTRAINTS,"
                " CHECK (month = {month}::date))"
            ).format(
                staged=sql.Identifier(self.names[table]),
                parent=sql.Identifier(table),
                month=sql.Literal(self.month.first_day),
            )
        )

    def finish(self, conn: psycopg.Connection, table: str) -> None:
        """Give the filled table fresh statistics and its parent's indexes."""
        self.analyze(conn, table)
        self.index(conn, table)

    def analyze(self, conn: psycopg.Connection, table: str) -> None:
        """Fresh statistics for the filled table (later steps plan with them)."""
        conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(self.names[table])))

    def index(self, conn: psycopg.Connection, table: str) -> None:
        """The parent's indexes, built once over the filled table."""
        build_indexes(conn, table, self.names[table])

    def publish(self, conn: psycopg.Connection) -> None:
        """Swap the month's partitions for the fresh tables (in the caller's transaction)."""
        swap_partitions(conn, self.names, self.month)

    def drop(self, conn: psycopg.Connection) -> None:
        """Drop whatever fresh tables exist (a failed or abandoned run)."""
        for name in self.names.values():
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))


def drop_leftovers(conn: psycopg.Connection) -> list[str]:
    """Drop fresh tables of runs that died; call only while holding the derive lock."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relname ~ '_[0-9]{6}_d[0-9]+$'"
        ).fetchall()
    ]
    dropped = [name for name in names if _STAGED.match(name)]
    for name in dropped:
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(name)))
    return dropped


def configure(conn: psycopg.Connection) -> None:
    """Apply :data:`SESSION_SETTINGS` to a connection."""
    for name, value in SESSION_SETTINGS.items():
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))


class Workers:
    """Two more connections to the same database, each running one task at a time.

    A task is a function of a connection; it runs in its own transaction and its result comes
    back through a future. With the caller's own connection, the two cores both work.
    """

    def __init__(self, conn: psycopg.Connection, size: int = 2) -> None:
        info = conn.info
        self._idle: SimpleQueue[psycopg.Connection] = SimpleQueue()
        self._all: list[psycopg.Connection] = []
        for _ in range(size):
            worker = psycopg.connect(
                psycopg.conninfo.make_conninfo(info.dsn, password=info.password or None),
                autocommit=True,
                application_name="onemap-derive-worker",
            )
            configure(worker)
            self._all.append(worker)
            self._idle.put(worker)
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="onemap-derive")

    def submit(self, task: Callable[[psycopg.Connection], T]) -> Future[T]:
        """Run ``task`` in a transaction on the next free connection."""
        return self._executor.submit(self._run, task)

    def _run(self, task: Callable[[psycopg.Connection], T]) -> T:
        conn = self._idle.get()
        try:
            with conn.transaction():
                return task(conn)
        finally:
            self._idle.put(conn)

    def close(self, *, cancel: bool = False) -> None:
        """Drop queued tasks, wait for running ones (cancelled if asked), close the connections."""
        if cancel:
            for conn in self._all:
                conn.cancel_safe()
        self._executor.shutdown(wait=True, cancel_futures=True)
        for conn in self._all:
            conn.close()


@contextmanager
def workers(conn: psycopg.Connection, size: int = 2) -> Iterator[Workers]:
    """:class:`Workers` for the duration of a block."""
    pool = Workers(conn, size)
    try:
        yield pool
    except BaseException:
        pool.close(cancel=True)
        raise
    pool.close()
