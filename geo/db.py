"""Database access: the connection string, one psycopg connection pool per process, transactions."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool

from geo import cluster
from geo.settings import DatabaseSettings, get_settings

_pool: ConnectionPool | None = None
_pool_lock = threading.Lock()


def database_url(settings: DatabaseSettings | None = None) -> str:
    """Return the DSN: ``DATABASE_URL`` when set, else the embedded cluster's."""
    settings = settings or get_settings().db
    if settings.url is not None:
        return settings.url.get_secret_value()
    return cluster.dsn(settings)


def _configure(conn: psycopg.Connection) -> None:
    # Each pooled connection starts clean in autocommit; callers open explicit transactions.
    conn.autocommit = True


def open_pool(settings: DatabaseSettings | None = None) -> ConnectionPool:
    """Open the process-wide pool (idempotent); the entry point (CLI, app) calls this once."""
    global _pool  # noqa: PLW0603 — one pool per process is the design
    settings = settings or get_settings().db
    with _pool_lock:
        if _pool is None:
            _pool = ConnectionPool(
                database_url(settings),
                min_size=settings.pool_min_size,
                max_size=settings.pool_max_size,
                kwargs={"application_name": settings.application_name},
                configure=_configure,
                open=True,
                name="onemap",
            )
            _pool.wait(timeout=30)
    return _pool


def get_pool() -> ConnectionPool:
    """Return the open pool, opening it from the settings on first use."""
    return _pool if _pool is not None else open_pool()


def close_pool() -> None:
    """Close the process-wide pool (tests and shutdown)."""
    global _pool  # noqa: PLW0603
    with _pool_lock:
        if _pool is not None:
            _pool.close()
            _pool = None


@contextmanager
def connection() -> Iterator[psycopg.Connection]:
    """Borrow a connection from the pool."""
    with get_pool().connection() as conn:
        yield conn


@contextmanager
def transaction() -> Iterator[psycopg.Connection]:
    """Borrow a connection and run the block in one transaction (rolled back on error)."""
    with get_pool().connection() as conn, conn.transaction():
        yield conn
