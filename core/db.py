"""Database access: connection strings, the owner's and the web app's pools, transactions.

Two roles connect. The owner (the CLI, the ETL, derive) owns the tables and loads them through
:func:`connection` and :func:`transaction`. The web app connects as :data:`APP_ROLE`, which owns
nothing and cannot bypass row-level security, through :func:`scoped`: one transaction whose
jurisdiction is set with ``set_config('onemap.scope', …, true)`` (docs/security.md).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from core import cluster, keyfile, migrate
from core.errors import ClusterError, DatabaseUnreachable, SchemaMissing
from core.scope import Scope
from core.settings import DatabaseSettings, get_settings

#: The web app's database role, created by migration 0006 (cluster-wide, shared by databases).
APP_ROLE = "onemap_app"

_pool: ConnectionPool | None = None
_app_pool: ConnectionPool | None = None
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


def _new_pool(dsn: str, settings: DatabaseSettings, max_size: int, suffix: str) -> ConnectionPool:
    """An open pool of autocommit connections, named ``onemap<suffix>`` (also in pg_stat)."""
    pool = ConnectionPool(
        dsn,
        min_size=settings.pool_min_size,
        max_size=max_size,
        kwargs={"application_name": f"{settings.application_name}{suffix}"},
        configure=_configure,
        open=True,
        name=f"onemap{suffix}",
    )
    pool.wait(timeout=30)
    return pool


def _where(settings: DatabaseSettings) -> str:
    if settings.url is not None:
        return "the database of DATABASE_URL"
    return f"the embedded database ({settings.host}:{settings.port})"


def probe(settings: DatabaseSettings | None = None) -> str:
    """Return the DSN after one quick connection; say what to run when there is no server.

    Raises
    ------
    DatabaseUnreachable
        When the server cannot be reached (its ``user_msg`` names the command to run).
    """
    settings = settings or get_settings().db
    hint = (
        "check DATABASE_URL and that its server runs"
        if settings.url is not None
        else "start it with `onemap db start`, then run `onemap init`"
    )
    try:
        dsn = database_url(settings)
        with psycopg.connect(dsn, connect_timeout=5):
            pass
    except (psycopg.OperationalError, ClusterError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DatabaseUnreachable(
            f"cannot connect to {_where(settings)}: {first}",
            user_msg=f"cannot connect to {_where(settings)}: {hint}.",
        ) from error
    return dsn


def open_pool(settings: DatabaseSettings | None = None) -> ConnectionPool:
    """Open the process-wide pool (idempotent); the entry point (CLI, app) calls this once.

    Raises
    ------
    DatabaseUnreachable
        When the server cannot be reached (rather than waiting for the pool's timeout).
    """
    global _pool  # noqa: PLW0603 — one pool per process is the design
    settings = settings or get_settings().db
    with _pool_lock:
        if _pool is None:
            _pool = _new_pool(probe(settings), settings, settings.pool_max_size, "")
    return _pool


def require_schema(conn: psycopg.Connection, *, geography: bool = False) -> None:
    """Refuse to work on a database that is not initialised; say what to run instead.

    Every verb that reads or writes onemap's tables calls this first, so that a fresh or
    outdated database gives one clear line rather than a driver traceback.

    Parameters
    ----------
    conn
        A connection to the database.
    geography
        Also require the admin areas (`onemap init` loads them).

    Raises
    ------
    SchemaMissing
        When no migration, not every migration, or (with ``geography``) no admin area is there.
    """
    where = conn.info.dbname
    row = conn.execute("SELECT to_regclass('schema_migration') IS NOT NULL").fetchone()
    applied: set[int] = set()
    if row and row[0]:
        applied = {r[0] for r in conn.execute("SELECT version FROM schema_migration").fetchall()}
    if not applied:
        raise SchemaMissing(
            f"database {where!r} has no onemap schema",
            user_msg=f"the database {where!r} is not initialised: run `onemap init`.",
        )
    pending = [m for m in migrate.available() if m.version not in applied]
    if pending:
        names = ", ".join(f"{m.version:04d}_{m.name}" for m in pending)
        raise SchemaMissing(
            f"database {where!r} lacks migrations {names}",
            user_msg=(
                f"the database {where!r} is not up to date ({len(pending)} migration(s) "
                f"pending: {names}): run `onemap db migrate`."
            ),
        )
    if geography and conn.execute("SELECT NOT EXISTS (SELECT FROM admin_area)").fetchone() == (
        True,
    ):
        raise SchemaMissing(
            f"database {where!r} has no admin areas",
            user_msg=f"the database {where!r} has no geography yet: run `onemap init`.",
        )


def get_pool() -> ConnectionPool:
    """Return the open pool, opening it from the settings on first use."""
    return _pool if _pool is not None else open_pool()


def close_pool() -> None:
    """Close the process-wide pools, the owner's and the app's (tests and shutdown)."""
    global _pool, _app_pool  # noqa: PLW0603
    with _pool_lock:
        for pool in (_pool, _app_pool):
            if pool is not None:
                pool.close()
        _pool = _app_pool = None


@contextmanager
def connection() -> Iterator[psycopg.Connection]:
    """Borrow a connection from the pool."""
    with get_pool().connection() as conn:
        yield conn


@contextmanager
def ready_connection(*, geography: bool = False) -> Iterator[psycopg.Connection]:
    """Borrow a connection to an initialised database (:func:`require_schema`): for verbs."""
    with connection() as conn:
        require_schema(conn, geography=geography)
        yield conn


@contextmanager
def transaction() -> Iterator[psycopg.Connection]:
    """Borrow a connection and run the block in one transaction (rolled back on error)."""
    with get_pool().connection() as conn, conn.transaction():
        yield conn


# --- the web app's role -----------------------------------------------------------------------


def app_password_file(settings: DatabaseSettings | None = None) -> Path:
    """Where the app role's password is kept.

    Beside the embedded cluster's own password file, or ``ONEMAP_DB_APP_PASSWORD_FILE`` when
    ``DATABASE_URL`` names an external server.
    """
    settings = settings or get_settings().db
    if settings.url is None:
        return cluster.locate(settings).app_password_file
    return settings.app_password_file


def _app_conninfo(owner_dsn: str, password: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(owner_dsn)
    info.update(user=APP_ROLE, password=password)
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items() if v is not None})


def app_database_url(settings: DatabaseSettings | None = None) -> str:
    """Return the web app's DSN.

    ``ONEMAP_DB_APP_URL`` when set, else the owner's server and database as :data:`APP_ROLE`
    with the password from :func:`app_password_file`.

    Raises
    ------
    ClusterError
        When the password file does not exist yet (run ``onemap db migrate``).
    """
    settings = settings or get_settings().db
    if settings.app_url is not None:
        return settings.app_url.get_secret_value()
    path = app_password_file(settings)
    try:
        password = path.read_text().strip()
    except FileNotFoundError as error:
        raise ClusterError(
            f"no password for the {APP_ROLE} role at {path}: run `onemap db migrate` "
            "(or set ONEMAP_DB_APP_URL)"
        ) from error
    return _app_conninfo(database_url(settings), password)


def _password_works(conn: psycopg.Connection, password: str) -> bool:
    try:
        with psycopg.connect(_app_conninfo(conn.info.dsn, password), connect_timeout=10):
            return True
    except psycopg.OperationalError:
        return False


def ensure_app_login(conn: psycopg.Connection, settings: DatabaseSettings | None = None) -> None:
    """Give :data:`APP_ROLE` its login: create the role if missing, set its password.

    The password is made once at random and kept in :func:`app_password_file`; it reaches the
    server only as a SCRAM verifier. Nothing is done when ``ONEMAP_DB_APP_URL`` is set (the
    operator manages that login). Needs a connection of a role allowed to manage roles (the
    embedded cluster's superuser).
    """
    settings = settings or get_settings().db
    if settings.app_url is not None:
        return
    password = keyfile.read_or_create(app_password_file(settings), nbytes=24)
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,)).fetchone()
    if exists and _password_works(conn, password):
        return  # already set (another database of this cluster, or an earlier run)
    verifier = conn.pgconn.encrypt_password(password.encode(), APP_ROLE.encode(), b"scram-sha-256")
    role = sql.Identifier(APP_ROLE)
    with conn.transaction():
        if not exists:
            conn.execute(
                sql.SQL(
                    "CREATE ROLE {} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT"
                ).format(role)
            )
        conn.execute(
            sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(role, sql.Literal(verifier.decode()))
        )


def _check_app_login(dsn: str) -> None:
    # Refuse a misconfigured app login up front: scoping is only as good as the role it binds.
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        row = conn.execute(
            "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        user = conn.info.user
    if row is None or row[0]:
        raise ClusterError(
            f"the web app connects as {user!r}, which bypasses row-level security; "
            f"it must connect as {APP_ROLE} or a member of it (see docs/security.md)"
        )


def open_app_pool(settings: DatabaseSettings | None = None) -> ConnectionPool:
    """Open the web app's pool (idempotent): connections as :data:`APP_ROLE`."""
    global _app_pool  # noqa: PLW0603 — one pool per process is the design
    settings = settings or get_settings().db
    with _pool_lock:
        if _app_pool is None:
            dsn = app_database_url(settings)
            _check_app_login(dsn)
            _app_pool = _new_pool(dsn, settings, settings.app_pool_max_size, "-app")
    return _app_pool


def get_app_pool() -> ConnectionPool:
    """Return the web app's pool, opening it from the settings on first use."""
    return _app_pool if _app_pool is not None else open_app_pool()


def set_scope(conn: psycopg.Connection, scope: Scope) -> None:
    """Set the jurisdiction of the connection's current transaction (``SET LOCAL`` semantics).

    Call inside a transaction: the setting ends with it, so a pooled connection never carries
    one request's scope into the next. Outside a transaction it has no effect at all.
    """
    conn.execute("SELECT set_config('onemap.scope', %s, true)", (scope.prefix,))


@contextmanager
def app_connection() -> Iterator[psycopg.Connection]:
    """Borrow an app-role connection without a scope (logins: no personal data is visible)."""
    with get_app_pool().connection() as conn:
        yield conn


@contextmanager
def scoped(scope: Scope) -> Iterator[psycopg.Connection]:
    """Run the block in one transaction as :data:`APP_ROLE`, in jurisdiction ``scope``.

    Row-level security shows the block only rows inside the scope; the transaction commits
    when the block ends (rolled back on error). Write the audit row (:func:`core.audit.record`)
    last, inside this block: if it fails, the block fails and no data is returned.

    Examples
    --------
    >>> with scoped(user.scope) as conn:  # doctest: +SKIP
    ...     rows = conn.execute("SELECT household_id FROM household").fetchall()
    """
    with get_app_pool().connection() as conn, conn.transaction():
        set_scope(conn, scope)
        yield conn
