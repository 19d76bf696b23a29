"""Test fixtures: a real PostGIS (never a mock) and a fresh database per session, cloned from a
migrated template that already holds the geography."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from analytics.cli import policy_codes
from analytics.lifecycle import simulate_responses
from analytics.run import DeriveResult, derive_month
from core import cluster, db, migrate
from core.access import Role, User
from core.scope import Scope
from core.settings import (
    AuthSettings,
    DatabaseSettings,
    GeographySettings,
    WarningSettings,
    get_settings,
)
from core.users import add_user
from etl.pseudonymise import Pseudonymiser
from etl.run import RunResult, run_month
from geo.admin import villages_frame
from synth import generate
from tests.accounts import PASSWORD

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
#: The private test cluster: its own folder and port, durability off (it is thrown away).
#: ONEMAP_TEST_DB_PORT lets two checkouts on one machine run their suites side by side.
TEST_CLUSTER = DatabaseSettings(
    url=None,
    data_dir=ROOT / ".onemap" / "test-pg",
    port=int(os.environ.get("ONEMAP_TEST_DB_PORT", "55433")),
    fsync=False,
)
_TEMPLATE_LOCK = 7_402_113_302
SETTINGS = WarningSettings()

#: The months the ETL fixtures load (synthetic feeds, demo scale, three counties).
MONTH, NEXT = "2024-06", "2024-07"
SEED = 11
KEY = b"test-hmac-key-0123456789abcdef"
#: The policy catalog's codes, as `onemap etl run` passes them to the ETL.
POLICY_CODES = policy_codes()
#: Three counties keep the fixture quick; the ETL does not care how many there are.
COUNTIES = ("331122", "330127", "330902")


def _server_url() -> str:
    """A URL on which we may create databases: DATABASE_URL, or the private test cluster."""
    external = os.environ.get("DATABASE_URL")
    if external:
        return external
    cluster.start(TEST_CLUSTER)
    return cluster.dsn(TEST_CLUSTER, "postgres")


def _with_database(url: str, name: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(url)
    info["dbname"] = name
    return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in info.items() if v is not None})


def _ensure_template(admin: psycopg.Connection, server_url: str) -> str:
    from geo.admin_load import input_fingerprint, load_geography
    from synth.geography import synthesise_towns_villages as subdivide

    geo_settings = GeographySettings()
    name = (
        f"onemap_tpl_{migrate.fingerprint()[:10]}_{input_fingerprint(geo_settings, subdivide)[:10]}"
    )
    admin.execute("SELECT pg_advisory_lock(%s)", (_TEMPLATE_LOCK,))
    try:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s AND datistemplate", (name,)
        ).fetchone()
        if exists:
            return name
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        with psycopg.connect(_with_database(server_url, name), autocommit=True) as conn:
            migrate.migrate(conn)
            load_geography(conn, geo_settings, subdivide)
        admin.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE true").format(sql.Identifier(name)))
        return name
    finally:
        admin.execute("SELECT pg_advisory_unlock(%s)", (_TEMPLATE_LOCK,))


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh database for this test session, cloned from the migrated, loaded template."""
    server_url = _server_url()
    name = f"onemap_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        template = _ensure_template(admin, server_url)
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    url = _with_database(server_url, name)
    previous = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url  # the app, the CLI and subprocesses all use this database
    get_settings.cache_clear()
    db.close_pool()
    with psycopg.connect(url, autocommit=True) as owner:
        db.ensure_app_login(owner)  # the web app's role (onemap_app) can log in: db.scoped()
    try:
        yield url
    finally:
        db.close_pool()
        if previous is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = previous
        get_settings.cache_clear()
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    """A connection to the session database (autocommit)."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def rolled_back(conn: psycopg.Connection) -> Iterator[psycopg.Connection]:
    """The owner's connection in one transaction, rolled back afterwards: nothing outlives the
    test (hand-built rows, tampering, dropped policies)."""
    conn.autocommit = False
    try:
        yield conn
    finally:
        conn.rollback()
        conn.autocommit = True


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots and other test artifacts are kept."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def villages(database_url: str):  # type: ignore[no-untyped-def]
    """Villages of three counties (the ETL fixtures' geography)."""
    with psycopg.connect(database_url) as conn:
        frame = villages_frame(conn, Scope("33"))
    return frame[frame["county_code"].isin(COUNTIES)].reset_index(drop=True)


@pytest.fixture(scope="session")
def feeds(villages, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    """Two consecutive months of synthetic feeds."""
    root = tmp_path_factory.mktemp("feeds")
    out = {}
    for month in (MONTH, NEXT):
        out[month] = root / month
        generate(villages, scale="demo", month=month, seed=SEED, out_dir=out[month])
    return out


@pytest.fixture(scope="session")
def loaded(database_url: str, feeds: dict[str, Path]) -> RunResult:
    """The first month, loaded by the ETL into the session database."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        return run_month(conn, feeds[MONTH], MONTH, Pseudonymiser(KEY), policy_codes=POLICY_CODES)


@pytest.fixture(scope="session")
def derived(loaded: RunResult, database_url: str) -> DeriveResult:
    """The loaded month derived, after synthetic officials answered its warnings."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        derive_month(
            conn, MONTH, SETTINGS, checksum=True
        )  # raises the warnings the officials answer
        simulate_responses(conn, MONTH, seed=3)
        return derive_month(conn, MONTH, SETTINGS, checksum=True)


# --- logins ---------------------------------------------------------------------------------------

#: Test users' passwords are hashed cheaply (argon2id at its floor): tests log in often.
FAST_AUTH = AuthSettings(time_cost=1, memory_kib=8_192, parallelism=1)
#: A user the unit tests of view code pass around (an official over the whole province cannot
#: exist in the database: ``core.users`` only gives officials a town or village).
PROVINCE_OFFICIAL = User("test-unit", "测试", Role.OFFICIAL, "33")


def make_user(
    database_url: str, role: Role | str, jurisdiction: str, *, display_name: str | None = None
) -> User:
    """A new user with :data:`PASSWORD` (a fresh name every call)."""
    username = f"t-{Role(role).value.replace('_', '-')}-{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as owner:
        user, _ = add_user(
            owner,
            username,
            role=role,
            jurisdiction=jurisdiction,
            display_name=display_name,
            password=PASSWORD,
            settings=FAST_AUTH,
        )
    return user


def login(client: Any, username: str, password: str = PASSWORD, next_: str = "/") -> Any:
    """Log a Flask test client in through the login form (CSRF token included)."""
    client.get("/login")
    token = client.get_cookie("_csrf_token").value
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_},
    )


def logged_in_client(database_url: str, user: User) -> Any:
    """A Flask test client of a fresh app, logged in as ``user``."""
    from dashboards.app import create_app

    client = create_app().server.test_client()
    response = login(client, user.username)
    assert response.status_code == 302, response.get_data(as_text=True)
    return client


@pytest.fixture(scope="session")
def province_leader(database_url: str) -> User:
    """A province leader (aggregates of the whole province, de-identified points)."""
    return make_user(database_url, Role.PROVINCE_LEADER, "33")


@pytest.fixture(scope="session")
def province_planner(database_url: str) -> User:
    """A planner over the whole province (every household point, de-identified)."""
    return make_user(database_url, Role.PLANNER, "33")


@pytest.fixture(scope="session")
def leader_client(database_url: str, province_leader: User) -> Any:
    """A test client logged in as the province leader."""
    return logged_in_client(database_url, province_leader)


#: Modules that publish the NEXT month with altered feeds of their own: they run last.
_LAST_MODULES = ("test_xss_and_national_ids.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the tests of one derived month first, then those of two months, then the altered ones.

    The session database holds MONTH until a test asks for ``two_months`` (NEXT published and
    derived too); the tests written for one month (latest month = MONTH, no growth yet) must
    have run by then. The order inside each group is the collection order.
    """

    def group(item: pytest.Item) -> int:
        if item.path.name in _LAST_MODULES:
            return 3
        if "two_months" in getattr(item, "fixturenames", ()):
            return 2
        # Publishes NEXT without deriving it: after the one-month tests (the map shows the
        # latest month published *and* derived, but counts read from the latest published).
        return 1 if item.get_closest_marker("publishes_next") else 0

    items.sort(key=group)  # stable: each group keeps its order
