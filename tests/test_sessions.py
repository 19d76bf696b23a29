"""Server-side sessions: a cookie copied before logout, disable, a new password or an admin's
"log out" opens nothing afterwards; ids are hashed at rest and rotated at login."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from core import users
from core.access import Role, User
from dashboards.auth import CSRF_COOKIE, SESSION_COOKIE
from onemap.cli import app
from tests.conftest import FAST_AUTH, logged_in_client, make_user

DATA = "/api/areas/33/children.geojson"


def _copy(client: Any) -> Any:
    """Another browser holding a copy of ``client``'s session cookie."""
    from dashboards.app import create_app

    thief = create_app().server.test_client()
    thief.set_cookie(SESSION_COOKIE, client.get_cookie(SESSION_COOKIE).value)
    return thief


def _session_id(client: Any) -> str:
    from dashboards.app import create_app

    server = create_app().server
    serializer = server.session_interface.get_signing_serializer(server)  # type: ignore[attr-defined]
    return str(serializer.loads(client.get_cookie(SESSION_COOKIE).value)["sid"])


def _logout(client: Any, user: User, database_url: str) -> None:
    token = client.get_cookie(CSRF_COOKIE).value
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302


def _disable(client: Any, user: User, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        users.disable_user(conn, user.username)


def _new_password(client: Any, user: User, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        users.set_password(conn, user.username, "another-password-42", FAST_AUTH)


def _new_jurisdiction(client: Any, user: User, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE app_user SET jurisdiction = '3311' WHERE username = %s", [user.username]
        )


def _admin_logout(client: Any, user: User, database_url: str) -> None:
    result = CliRunner().invoke(app, ["users", "logout", user.username])
    assert result.exit_code == 0 and f"ended 1 sessions of {user.username}" in result.output


@pytest.mark.parametrize(
    "end",
    [_logout, _disable, _new_password, _new_jurisdiction, _admin_logout],
    ids=["logout", "disable", "password", "privilege-change", "users-logout"],
)
def test_a_copied_cookie_dies_with_the_session(
    database_url: str, end: Callable[[Any, User, str], None]
) -> None:
    user = make_user(database_url, Role.PLANNER, "33")
    client = logged_in_client(database_url, user)
    thief = _copy(client)
    assert thief.get(DATA).status_code == 200  # the copy works while the session lives
    end(client, user, database_url)
    assert thief.get(DATA).status_code == 401
    assert client.get(DATA).status_code == 401


def test_ids_are_hashed_at_rest_and_rotated_at_login(database_url: str) -> None:
    user = make_user(database_url, Role.PLANNER, "33")
    first = logged_in_client(database_url, user)
    sid = _session_id(first)
    with psycopg.connect(database_url, autocommit=True) as conn:
        stored = [
            bytes(r[0])
            for r in conn.execute(
                "SELECT id_hash FROM app_session WHERE username = %s", [user.username]
            )
        ]
        dump = conn.execute(
            "SELECT string_agg(s::text, ' ') FROM app_session s WHERE username = %s",
            [user.username],
        ).fetchone()
    assert stored == [hashlib.sha256(sid.encode()).digest()]
    assert dump is not None and sid not in str(dump[0])
    # Logging in again in the same browser: a new id, the old one ends.
    old = _copy(first)
    from tests.conftest import login

    assert login(first, user.username).status_code == 302
    assert _session_id(first) != sid
    assert old.get(DATA).status_code == 401 and first.get(DATA).status_code == 200


def test_unknown_user_logout_is_an_error(database_url: str) -> None:
    result = CliRunner().invoke(app, ["users", "logout", "nobody-here"])
    assert result.exit_code != 0
