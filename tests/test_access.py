"""Roles and permissions, argon2id passwords, logins with a lockout, and `onemap users`."""

from __future__ import annotations

import datetime as dt
import uuid

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from core import db, users
from core.access import (
    PERMISSIONS,
    SUPPRESSED,
    PortraitAccess,
    Role,
    User,
    can_view_portrait,
    suppress,
    validate_jurisdiction,
)
from core.errors import (
    AccountDisabled,
    AccountLocked,
    AuthenticationFailed,
    InvalidUser,
    UnknownUser,
)
from core.settings import AuthSettings
from dashboards.errors import http_status
from onemap.cli import app

#: Cheap argon2id parameters keep the tests fast; the format and the checks are the same.
FAST = AuthSettings(time_cost=1, memory_kib=8192, parallelism=1)
T0 = dt.datetime(2024, 6, 3, 9, 0, tzinfo=dt.UTC)
VILLAGE_OFFICIAL = User("o", "O", Role.OFFICIAL, "331122101201")
COUNTY_LEADER = User("c", "C", Role.COUNTY_LEADER, "331122")
PLANNER = User("p", "P", Role.PLANNER, "331122")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- pure ----------------------------------------------------------------------------------


def test_kdf_round_trip_and_wrong_password() -> None:
    stored = users.hash_password("correct horse battery", FAST)
    assert stored.startswith("$argon2id$v=19$m=8192,t=1,p=1$")
    assert "correct horse" not in stored
    assert users.verify_password(stored, "correct horse battery")
    assert not users.verify_password(stored, "correct horse batterx")
    assert not users.verify_password("not a hash", "correct horse battery")
    # A fresh salt each time: equal passwords never share a hash.
    assert users.hash_password("correct horse battery", FAST) != stored


def test_every_role_has_permissions_and_leaders_only_see_warned_portraits() -> None:
    assert set(PERMISSIONS) == set(Role)
    assert PERMISSIONS[Role.OFFICIAL].portraits is PortraitAccess.ALL
    for role in (Role.PROVINCE_LEADER, Role.CITY_LEADER, Role.COUNTY_LEADER):
        assert PERMISSIONS[role].portraits is PortraitAccess.WARNED
    for role in (Role.PLANNER, Role.AUDITOR, Role.ADMIN):
        assert PERMISSIONS[role].portraits is PortraitAccess.NONE
    assert PERMISSIONS[Role.AUDITOR].audit_view and PERMISSIONS[Role.ADMIN].admin
    assert not PERMISSIONS[Role.PLANNER].identified_points


def test_can_view_portrait() -> None:
    inside, outside = "331122101201", "331122101202"
    assert can_view_portrait(VILLAGE_OFFICIAL, inside, warned=False)
    assert not can_view_portrait(VILLAGE_OFFICIAL, outside, warned=True)
    assert can_view_portrait(COUNTY_LEADER, outside, warned=True)
    assert not can_view_portrait(COUNTY_LEADER, outside, warned=False)
    assert not can_view_portrait(COUNTY_LEADER, "330127101201", warned=True)
    assert not can_view_portrait(PLANNER, inside, warned=True)


@given(st.integers(min_value=0, max_value=10_000))
def test_suppress_small_counts_for_roles_without_portrait_rights(count: int) -> None:
    shown = suppress(count, PLANNER)
    assert shown == (SUPPRESSED if 1 <= count <= 4 else count)
    assert suppress(count, COUNTY_LEADER) == shown
    assert suppress(count, VILLAGE_OFFICIAL) == count  # full portrait rights: exact counts


def test_jurisdiction_must_fit_the_role() -> None:
    validate_jurisdiction(Role.COUNTY_LEADER, "331122")
    validate_jurisdiction(Role.OFFICIAL, "331122101")
    with pytest.raises(InvalidUser, match="6 digits"):
        validate_jurisdiction(Role.COUNTY_LEADER, "3311")
    with pytest.raises(InvalidUser, match="9, 12 digits"):
        validate_jurisdiction(Role.OFFICIAL, "331122")
    with pytest.raises(InvalidUser, match="not an admin code"):
        validate_jurisdiction(Role.PLANNER, "33%")


def failures(*minutes: float) -> list[tuple[dt.datetime, str]]:
    return [(T0 + dt.timedelta(minutes=m), "failure") for m in minutes]


def test_lock_after_five_failures_within_fifteen_minutes() -> None:
    assert users.locked_until(failures(0, 1, 2, 3), T0 + dt.timedelta(minutes=4), FAST) is None
    five = failures(0, 1, 2, 3, 4)
    until = users.locked_until(five, T0 + dt.timedelta(minutes=5), FAST)
    assert until == T0 + dt.timedelta(minutes=19)
    assert users.locked_until(five, T0 + dt.timedelta(minutes=19), FAST) is None  # unlocked
    # Spread over more than 15 minutes: no lock.
    assert users.locked_until(failures(0, 4, 8, 12, 16), T0 + dt.timedelta(minutes=17)) is None
    # A success in between starts the count again.
    mixed = [*failures(0, 1, 2), (T0 + dt.timedelta(minutes=3), "success"), *failures(4, 5)]
    assert users.locked_until(mixed, T0 + dt.timedelta(minutes=6), FAST) is None


def test_errors_map_to_http_statuses() -> None:
    assert http_status(AuthenticationFailed()) == 401
    assert http_status(AccountLocked("x", T0)) == 429
    assert http_status(AccountDisabled()) == 403
    assert http_status(UnknownUser("x")) == 404


# --- on PostGIS ----------------------------------------------------------------------------


@pytest.fixture
def official(conn: psycopg.Connection) -> tuple[User, str]:
    return users.add_user(
        conn,
        unique("official"),
        role=Role.OFFICIAL,
        jurisdiction="331122101",
        display_name="村干部",
        password="s3cret-passphrase",
        settings=FAST,
    )


def test_authenticate_as_the_app_role(database_url: str, official: tuple[User, str]) -> None:
    user, password = official
    with db.app_connection() as app_conn:
        assert app_conn.info.user == db.APP_ROLE
        found = users.authenticate(app_conn, user.username, password, settings=FAST)
        assert found == user and found.scope.prefix == "331122101"
        # The app role reads users, never their hashes.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app_conn.execute("SELECT password_hash FROM app_user")


def test_unknown_user_and_wrong_password_share_one_message(
    conn: psycopg.Connection, official: tuple[User, str]
) -> None:
    user, _ = official
    with pytest.raises(AuthenticationFailed) as wrong:
        users.authenticate(conn, user.username, "not-the-password", settings=FAST)
    with pytest.raises(AuthenticationFailed) as unknown:
        users.authenticate(conn, unique("nobody"), "whatever-it-is", settings=FAST)
    assert type(wrong.value) is type(unknown.value) is AuthenticationFailed
    assert wrong.value.user_msg == unknown.value.user_msg == "Unknown user or wrong password."


def test_lockout_after_five_failures_and_unlock_after_fifteen_minutes(
    conn: psycopg.Connection, official: tuple[User, str]
) -> None:
    user, password = official
    for minute in range(5):
        with pytest.raises(AuthenticationFailed) as failed:
            users.authenticate(
                conn,
                user.username,
                "wrong-guess",
                now=T0 + dt.timedelta(minutes=minute),
                settings=FAST,
            )
        assert not isinstance(failed.value, AccountLocked)
    # Locked: even the right password is refused, and the message says until when.
    with pytest.raises(AccountLocked) as locked:
        users.authenticate(
            conn, user.username, password, now=T0 + dt.timedelta(minutes=10), settings=FAST
        )
    assert locked.value.until == T0 + dt.timedelta(minutes=19)
    assert "locked until 2024-06-03 17:19 (UTC+8)" in locked.value.user_msg
    outcomes = conn.execute(
        "SELECT outcome FROM login_attempt WHERE username = %s ORDER BY id", (user.username,)
    ).fetchall()
    assert [o for (o,) in outcomes] == ["failure"] * 5 + ["locked"]
    # Fifteen minutes after the fifth failure the account opens again.
    found = users.authenticate(
        conn, user.username, password, now=T0 + dt.timedelta(minutes=19), settings=FAST
    )
    assert found == user


def test_disabled_user_cannot_log_in(conn: psycopg.Connection, official: tuple[User, str]) -> None:
    user, password = official
    users.disable_user(conn, user.username)
    with pytest.raises(AccountDisabled):
        users.authenticate(conn, user.username, password, settings=FAST)
    users.enable_user(conn, user.username)
    assert users.authenticate(conn, user.username, password, settings=FAST) == user
    with pytest.raises(UnknownUser):
        users.disable_user(conn, unique("nobody"))


def test_add_user_checks_role_jurisdiction_and_name(conn: psycopg.Connection) -> None:
    with pytest.raises(InvalidUser, match="no area"):
        users.add_user(conn, unique("x"), role="planner", jurisdiction="339999", settings=FAST)
    with pytest.raises(InvalidUser, match="unknown role"):
        users.add_user(conn, unique("x"), role="king", jurisdiction="33", settings=FAST)
    with pytest.raises(InvalidUser, match="username"):
        users.add_user(conn, "X Y", role="planner", jurisdiction="33", settings=FAST)
    with pytest.raises(InvalidUser, match="at least"):
        users.add_user(conn, unique("x"), role="planner", jurisdiction="33", password="short")
    name = unique("twice")
    users.add_user(conn, name, role="planner", jurisdiction="33", settings=FAST)
    with pytest.raises(InvalidUser, match="taken"):
        users.add_user(conn, name, role="planner", jurisdiction="33", settings=FAST)


def test_database_checks_role_and_jurisdiction_too(conn: psycopg.Connection) -> None:
    insert = (
        "INSERT INTO app_user (username, display_name, role, jurisdiction, password_hash)"
        " VALUES (%s, 'x', %s, %s, 'x')"
    )
    for role in Role:  # every role of the enum is one the database accepts
        with conn.transaction(force_rollback=True):
            code = "331122101201"[: min(PERMISSIONS[role].jurisdiction_lengths)]
            conn.execute(insert, (unique("r"), role.value, code))
    for role, code in (
        ("official", "331122"),
        ("county_leader", "3311"),
        ("king", "33"),
        ("planner", "33%"),
    ):
        with pytest.raises(psycopg.errors.CheckViolation), conn.transaction():
            conn.execute(insert, (unique("r"), role, code))


@pytest.mark.usefixtures("loaded")
def test_demo_users_one_per_role_passwords_only_once(conn: psycopg.Connection) -> None:
    created = users.ensure_demo_users(conn)
    demo = {r.user.username: r.user for r in users.list_users(conn) if r.user.username in created}
    assert {u.role for u in demo.values()} == set(Role)
    assert demo["demo-county"].jurisdiction == "331122"
    village = demo["demo-official"].jurisdiction
    assert village.startswith("331122")
    # The demo official's village has households to show (the county's most populous).
    counts = conn.execute(
        "SELECT village_code, count(*) FROM household"
        " WHERE month = (SELECT max(month) FROM published_month) AND county_code = '331122'"
        " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    ).fetchone()
    assert counts is not None and counts[0] == village and counts[1] > 0
    assert users.ensure_demo_users(conn) == {}  # idempotent, nothing reprinted
    with db.app_connection() as app_conn:
        assert users.authenticate(app_conn, "demo-planner", created["demo-planner"]).role is (
            Role.PLANNER
        )


def test_cli_users_add_list_disable(database_url: str) -> None:
    runner = CliRunner()
    name = unique("planner")
    added = runner.invoke(
        app, ["users", "add", name, "--role", "planner", "--jurisdiction", "3311", "--name", "规划"]
    )
    assert added.exit_code == 0, added.output
    assert f"password for {name}:" in added.output
    password = added.output.split(f"password for {name}: ")[1].split()[0]
    with db.connection() as conn:
        assert users.authenticate(conn, name, password).jurisdiction == "3311"
    listed = runner.invoke(app, ["users", "list"])
    assert listed.exit_code == 0 and name in listed.output and "planner" in listed.output
    assert "argon2" not in listed.output
    disabled = runner.invoke(app, ["users", "disable", name])
    assert disabled.exit_code == 0 and f"disabled {name}" in disabled.output
    assert "disabled" in runner.invoke(app, ["users", "list"]).output
    bad = runner.invoke(
        app, ["users", "add", unique("x"), "--role", "official", "--jurisdiction", "33"]
    )
    assert bad.exit_code != 0
    assert isinstance(bad.exception, InvalidUser)
