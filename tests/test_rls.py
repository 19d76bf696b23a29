"""Jurisdictions enforced by PostGIS: the app role sees only rows in the transaction's scope,
nothing without one, no partition directly; and dropping a policy is caught by the leak check."""

from __future__ import annotations

import re

import psycopg
import pytest
from psycopg import sql

from analytics.lifecycle import BadTransition, advance
from analytics.run import DeriveResult
from core import db
from core.access import RLS_TABLES
from core.errors import ClusterError
from core.scope import Scope
from core.settings import DatabaseSettings

#: How a row of each granularity lies OUTSIDE village/town ``%(code)s`` (evaluated as the app
#: role; never relying on another table's policy, so one dropped policy shows up on its own).
_OUTSIDE = {
    "village": "NOT (t.village_code LIKE %(like)s)",
    "warning": "NOT EXISTS (SELECT 1 FROM warning w WHERE w.warning_id = t.warning_id"
    " AND w.village_code LIKE %(like)s)",
    "household": "NOT EXISTS (SELECT 1 FROM household h WHERE h.month = t.month"
    " AND h.household_id = t.household_id AND h.village_code LIKE %(like)s)",
    "county": "t.county_code <> %(county)s",
    "area": "NOT (t.code LIKE %(like)s OR %(code)s LIKE t.code || '%%')",
    "scope": "NOT (t.scope LIKE %(like)s)",
}


#: Protected, but not granted to the app at all (the ETL's rejected rows).
NOT_GRANTED = frozenset({"quarantine", "household_code"})
#: The protected tables the app role may read.
READABLE = [t for t in RLS_TABLES if t not in NOT_GRANTED]


def _params(code: str) -> dict[str, str]:
    return {"like": code + "%", "code": code, "county": code[:6]}


def leak_counts(conn: psycopg.Connection, table: str, code: str) -> tuple[int, int]:
    """(rows visible, rows visible that lie outside ``code``) of one protected table."""
    statement = sql.SQL("SELECT count(*), count(*) FILTER (WHERE {}) FROM {} t").format(
        sql.SQL(_OUTSIDE[RLS_TABLES[table]]), sql.Identifier(table)
    )
    row = conn.execute(statement, _params(code)).fetchone()
    assert row is not None
    return row[0], row[1]


def assert_no_leak(
    conn: psycopg.Connection, table: str, code: str, expected: dict[str, int]
) -> None:
    """As the app role in scope ``code``: nothing outside it, everything inside it."""
    visible, outside = leak_counts(conn, table, code)
    assert outside == 0, f"{table}: {outside} rows outside {code} are visible"
    assert visible == expected[table], f"{table}: {visible} rows visible, {expected[table]} in"


def expected_counts(owner: psycopg.Connection, code: str) -> dict[str, int]:
    """Rows of each protected table inside ``code``, counted by the owner (who sees all)."""
    counts = {}
    for table in RLS_TABLES:
        statement = sql.SQL("SELECT count(*) FILTER (WHERE NOT ({})) FROM {} t").format(
            sql.SQL(_OUTSIDE[RLS_TABLES[table]]), sql.Identifier(table)
        )
        row = owner.execute(statement, _params(code)).fetchone()
        assert row is not None
        counts[table] = row[0]
    return counts


@pytest.fixture(scope="module")
def village(derived: DeriveResult, database_url: str) -> str:
    """The village of 缙云县 with most households that have a warning."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT village_code FROM warning WHERE county_code = '331122'"
            " GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()
    assert row is not None
    return row[0]


def test_protected_tables_match_the_catalog(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,"
        " array(SELECT polname FROM pg_policy p WHERE p.polrelid = c.oid ORDER BY 1)"
        " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relname = ANY(%s)",
        (list(RLS_TABLES),),
    ).fetchall()
    assert {r[0] for r in rows} == set(RLS_TABLES)
    for name, enabled, forced, policies in rows:
        assert enabled and forced, name
        # plus, on tables the app writes, RESTRICTIVE `app_act_*` policies naming who acts
        base = [p for p in policies if not p.startswith("app_act_")]
        assert base == ["app_access", "app_jurisdiction", "owner_all"], name
    # Every parent table that holds household- or person-level rows is protected.
    personal = conn.execute(
        "SELECT DISTINCT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition"
        " AND a.attname IN ('household_id', 'person_token', 'household_ids')"
        " AND c.relname !~ '_[0-9]{6}_(load|d)[0-9]+$'"
    ).fetchall()
    assert {r[0] for r in personal} <= set(RLS_TABLES)


def test_policies_read_the_scope_once_per_query(conn: psycopg.Connection) -> None:
    # onemap_visible()/onemap_within() inlined re-read and re-checked the setting for every
    # row; a scalar subquery is evaluated once (migration 0033; a tile's p95 halved).
    rows = conn.execute(
        "SELECT tablename, qual FROM pg_policies WHERE policyname = 'app_jurisdiction'"
        " AND tablename = ANY(%s)",
        (list(RLS_TABLES),),
    ).fetchall()
    assert {r[0] for r in rows} == set(RLS_TABLES)
    for table, qual in rows:
        assert "SELECT onemap_scope()" in qual, table
        assert not re.search(r"onemap_(visible|within)\(|[^ ]onemap_scope\(\)", qual), table


def test_app_role_owns_nothing_and_cannot_bypass(conn: psycopg.Connection) -> None:
    role = conn.execute(
        "SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles"
        " WHERE rolname = %s",
        (db.APP_ROLE,),
    ).fetchone()
    assert role == (False, False, False, False)
    owned = conn.execute(
        "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles"
        " WHERE rolname = %s)",
        (db.APP_ROLE,),
    ).fetchone()
    assert owned == (0,)


def test_app_pool_refuses_a_login_that_bypasses_rls(database_url: str) -> None:
    db.close_pool()  # pools reopen on next use
    with pytest.raises(ClusterError, match="bypasses row-level security"):
        db.open_app_pool(DatabaseSettings(url=database_url, app_url=database_url))


def test_scoped_to_a_village_sees_only_that_village(conn: psycopg.Connection, village: str) -> None:
    expected = expected_counts(conn, village)
    for table in ("household", "person", "benefit", "household_features", "warning"):
        assert expected[table] > 0, table  # the check below means something
    outside_county = conn.execute(
        "SELECT count(*) FROM person WHERE county_code <> %s", (village[:6],)
    ).fetchone()
    assert outside_county is not None and outside_county[0] > 0
    with db.scoped(Scope(village)) as app_conn:
        assert app_conn.info.user == db.APP_ROLE
        for table in READABLE:
            assert_no_leak(app_conn, table, village, expected)
        for table in NOT_GRANTED:
            with pytest.raises(psycopg.errors.InsufficientPrivilege), app_conn.transaction():
                app_conn.execute(sql.SQL("SELECT 1 FROM {}").format(sql.Identifier(table)))


@pytest.mark.parametrize("level", [6, 9])
def test_scoped_to_a_county_or_town(conn: psycopg.Connection, village: str, level: int) -> None:
    code = village[:level]
    expected = expected_counts(conn, code)
    with db.scoped(Scope(code)) as app_conn:
        for table in ("household", "person", "member_features", "visit", "warning_event"):
            assert_no_leak(app_conn, table, code, expected)


@pytest.mark.parametrize("setting", [None, "", "%", "33%", "3311221012011"])
def test_no_scope_sees_no_rows(derived: DeriveResult, setting: str | None) -> None:
    with db.app_connection() as app_conn, app_conn.transaction():
        if setting is not None:
            app_conn.execute("SELECT set_config('onemap.scope', %s, true)", (setting,))
        for table in READABLE:
            count = app_conn.execute(
                sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
            ).fetchone()
            assert count == (0,), f"{table} shows rows with scope {setting!r}"


def test_scope_ends_with_the_transaction(village: str) -> None:
    with db.scoped(Scope(village)) as app_conn:
        assert app_conn.execute("SELECT count(*) FROM household").fetchone() != (0,)
    with db.app_connection() as app_conn:  # the pool hands the same connection back
        assert app_conn.execute("SELECT count(*) FROM household").fetchone() == (0,)


def test_partitions_are_not_readable_directly(derived: DeriveResult, village: str) -> None:
    with db.scoped(Scope(village)) as app_conn:
        partitions = [
            r[0]
            for r in app_conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                " JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = ANY(%s)",
                (list(RLS_TABLES),),
            ).fetchall()
        ]
        assert "household_202406" in partitions and "person_202406" in partitions
        privileged = app_conn.execute(
            "SELECT relname FROM unnest(%s::text[]) relname"
            " WHERE has_table_privilege(relname, 'SELECT')",
            (partitions,),
        ).fetchall()
        assert privileged == []
    with pytest.raises(psycopg.errors.InsufficientPrivilege), db.scoped(Scope(village)) as c:
        c.execute("SELECT count(*) FROM household_202406")


def test_no_default_privileges_for_new_tables(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        "SELECT count(*) FROM pg_default_acl d, aclexplode(d.defaclacl) a"
        " WHERE a.grantee = (SELECT oid FROM pg_roles WHERE rolname = %s)",
        (db.APP_ROLE,),
    ).fetchone()
    assert rows == (0,)


def test_app_role_writes_only_what_the_app_writes(village: str) -> None:
    for statement in (
        "INSERT INTO household (month) VALUES ('2024-06-01')",
        "UPDATE household SET size = 1",
        "DELETE FROM person",
        "UPDATE warning SET score = 0",
        "CREATE TABLE public.app_made (x int)",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), db.scoped(Scope(village)) as c:
            c.execute(statement)


def _warning_ids(conn: psycopg.Connection, village: str) -> tuple[int, int]:
    inside = conn.execute(
        "SELECT warning_id FROM warning WHERE village_code = %s AND status = 'raised' LIMIT 1",
        (village,),
    ).fetchone()
    outside = conn.execute(
        "SELECT warning_id FROM warning WHERE county_code <> %s AND status = 'raised' LIMIT 1",
        (village[:6],),
    ).fetchone()
    if inside is None or outside is None:
        pytest.skip("no raised warnings to move")
    return inside[0], outside[0]


def test_warning_lifecycle_only_inside_the_scope(conn: psycopg.Connection, village: str) -> None:
    inside, outside = _warning_ids(conn, village)
    with db.app_connection() as app_conn, app_conn.transaction(force_rollback=True):
        db.set_scope(app_conn, Scope(village))
        # Writes also need an actor (migration 0010): '*' acts on the whole scope.
        app_conn.execute("SELECT set_config('onemap.actor', '*', true)")
        advance(app_conn, inside, "acknowledged", actor="test-official")
        status = app_conn.execute(
            "SELECT status FROM warning WHERE warning_id = %s", (inside,)
        ).fetchone()
        assert status == ("acknowledged",)
        with pytest.raises(BadTransition, match="no warning"):
            advance(app_conn, outside, "acknowledged", actor="test-official")


def test_dropping_a_policy_makes_the_leak_check_fail(
    rolled_back: psycopg.Connection, village: str
) -> None:
    conn = rolled_back  # the owner's, able to SET ROLE
    expected = expected_counts(conn, village)

    def check_as_app(table: str) -> None:
        with conn.transaction():
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(db.APP_ROLE)))
            db.set_scope(conn, Scope(village))
            try:
                assert_no_leak(conn, table, village, expected)
            finally:
                conn.execute("RESET ROLE")

    for table in ("household", "person"):
        check_as_app(table)  # the policies hold
        conn.execute(sql.SQL("DROP POLICY app_jurisdiction ON {}").format(sql.Identifier(table)))
        with pytest.raises(AssertionError, match="outside"):
            check_as_app(table)
    # The permissive policy gone: the rows the user should see vanish, and that fails too.
    conn.execute("DROP POLICY app_access ON benefit")
    with pytest.raises(AssertionError, match="rows visible"):
        check_as_app("benefit")
