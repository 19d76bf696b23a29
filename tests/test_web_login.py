"""Logins in the web app: the form, wrong passwords and the lockout, the idle timeout, logout,
CSRF, security headers, the door page without a login, and safe redirects after a login."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from core.access import Role, User
from dashboards import auth
from tests.accounts import warned_household
from tests.conftest import PASSWORD, logged_in_client, login, make_user


def anonymous() -> Any:
    from dashboards.app import create_app

    return create_app().server.test_client()


@pytest.fixture(scope="module")
def household(derived: Any, database_url: str) -> dict[str, str]:
    """A household with an open warning and a door code, its village and another county's."""
    return warned_household(database_url)


@pytest.fixture(scope="module")
def official(database_url: str, household: dict[str, str]) -> User:
    return make_user(database_url, Role.OFFICIAL, household["village"])


def test_the_login_page_is_bilingual_and_escapes_what_it_echoes(database_url: str) -> None:
    client = anonymous()
    zh = client.get("/login").get_data(as_text=True)
    en = client.get("/login?lang=en").get_data(as_text=True)
    assert '<html lang="zh-CN">' in zh and "用户名" in zh and 'name="csrf_token"' in zh
    assert '<html lang="en">' in en and "Username" in en and "用户名" not in en
    page = login(client, "<script>alert(1)</script>", "wrong-password-1")
    body = page.get_data(as_text=True)
    assert page.status_code == 401 and "用户名或密码错误" in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body


def test_wrong_password_then_right_one(database_url: str, official: User) -> None:
    client = anonymous()
    wrong = login(client, official.username, "not-the-password")
    assert wrong.status_code == 401
    assert client.get("/api/areas/33/children.geojson").status_code == 401
    right = login(client, official.username, next_="/h/" + "0" * 32)
    assert right.status_code == 302 and right.headers["Location"] == "/h/" + "0" * 32


def test_five_failures_lock_the_account(database_url: str) -> None:
    user = make_user(database_url, Role.PLANNER, "331122")
    client = anonymous()
    for _ in range(5):
        assert login(client, user.username, "wrong-password").status_code == 401
    locked = login(client, user.username)  # even the right password now
    text = locked.get_data(as_text=True)
    assert locked.status_code == 429 and "已锁定至" in text and "北京时间" in text
    client.get("/login?lang=en")
    english = client.post(
        "/login",
        data={
            "username": user.username,
            "password": PASSWORD,
            "csrf_token": client.get_cookie("_csrf_token").value,
            "lang": "en",
        },
    )
    assert "locked until" in english.get_data(as_text=True)


def test_a_disabled_account_cannot_log_in(database_url: str) -> None:
    from core.users import disable_user

    user = make_user(database_url, Role.PLANNER, "331122")
    client = logged_in_client(database_url, user)
    with psycopg.connect(database_url, autocommit=True) as owner:
        disable_user(owner, user.username)
    # The next request of the running session stops too: the user is read every time.
    assert client.get("/api/areas/331122.geojson").status_code == 401
    refused = login(anonymous(), user.username)
    assert refused.status_code == 403 and "已停用" in refused.get_data(as_text=True)


def test_the_session_ends_after_the_idle_timeout(
    database_url: str, official: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboards.websettings import get_web_settings

    client = logged_in_client(database_url, official)
    assert client.get("/api/areas/33/children.geojson").status_code == 200
    idle = get_web_settings().idle_minutes * 60
    assert idle <= 3600
    started = auth.now()
    monkeypatch.setattr(auth, "now", lambda: started + idle - 60)
    assert client.get("/api/areas/33/children.geojson").status_code == 200  # still in use
    monkeypatch.setattr(auth, "now", lambda: started + 2 * idle - 90)  # refreshed by that use
    assert client.get("/api/areas/33/children.geojson").status_code == 200
    monkeypatch.setattr(auth, "now", lambda: started + 3 * idle)
    assert client.get("/api/areas/33/children.geojson").status_code == 401
    page = client.get("/?area=33")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?next=")
    assert "长时间未操作" in client.get(page.headers["Location"]).get_data(as_text=True)


def test_logout_ends_the_session(database_url: str, official: User) -> None:
    client = logged_in_client(database_url, official)
    token = client.get_cookie("_csrf_token").value
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    assert client.get("/api/areas/33/children.geojson").status_code == 401
    assert client.get_cookie("_csrf_token") is None


def test_state_changing_requests_need_the_csrf_token(database_url: str, official: User) -> None:
    client = logged_in_client(database_url, official)
    body = {"output": "url.search", "inputs": [], "state": [], "changedPropIds": []}
    assert client.post("/_dash-update-component", json=body).status_code == 403
    wrong = client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": "nope"})
    assert wrong.status_code == 403
    assert client.post("/logout").status_code == 403
    assert client.post("/logout", data={"csrf_token": "nope"}).status_code == 403
    # The login form itself is protected too (login CSRF).
    fresh = anonymous()
    fresh.get("/login")
    refused = fresh.post("/login", data={"username": official.username, "password": PASSWORD})
    assert refused.status_code == 403
    # The token dash-renderer reads is a cookie it can read (not HttpOnly); the session's is not.
    cookies = "\n".join(login(anonymous(), official.username).headers.getlist("Set-Cookie"))
    session_cookie = next(c for c in cookies.splitlines() if c.startswith("onemap_session="))
    csrf_cookie = next(c for c in cookies.splitlines() if c.startswith("_csrf_token="))
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert "HttpOnly" not in csrf_cookie and "SameSite=Strict" in csrf_cookie
    assert "Secure" not in session_cookie  # plain http here…


def test_cookies_are_secure_over_https(database_url: str, official: User) -> None:
    client = anonymous()
    client.get("/login", base_url="https://localhost")
    token = client.get_cookie("_csrf_token", domain="localhost").value
    response = client.post(
        "/login",
        base_url="https://localhost",
        data={"username": official.username, "password": PASSWORD, "csrf_token": token},
    )
    cookies = response.headers.getlist("Set-Cookie")
    assert all("Secure" in c for c in cookies) and len(cookies) >= 2
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_security_headers_on_every_response(leader_client: Any) -> None:
    for path in ("/", "/login", "/api/areas/33/children.geojson", "/assets/onemap.js", "/nope.x"):
        response = leader_client.get(path)
        headers = response.headers
        csp = headers["Content-Security-Policy"]
        assert (
            "script-src 'self';" in csp and "unsafe-inline" not in csp.split("script-src")[1][:20]
        )
        assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"
        assert "camera=()" in headers["Permissions-Policy"]
        assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-Id"])
    index = leader_client.get("/").get_data(as_text=True)
    # Dash's page has no inline script left: the renderer starts from a file.
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)[^>]*>", index)
    assert inline == [] and 'src="/assets/renderer-start.js"' in index


def test_personal_data_is_never_cached(
    database_url: str, official: User, household: dict[str, str]
) -> None:
    client = logged_in_client(database_url, official)
    for path in (
        f"/h/{household['token']}",
        f"/api/areas/{household['village']}/households.geojson",
        f"/downloads/heat/{household['village']}.tif",
        "/_dash-layout",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["Cache-Control"] == "no-store", path


def test_the_door_page_without_a_login_shows_nothing_personal(
    database_url: str, household: dict[str, str], conn: psycopg.Connection
) -> None:
    page = anonymous().get(f"/h/{household['token']}?lang=en")
    text = page.get_data(as_text=True)
    # The plate's village and the paired official's work contact, a request form: no one's
    # name, ID, income or address (issue 11).
    assert page.status_code == 200 and 'id="door-request"' in text
    names = [
        r[0]
        for r in conn.execute(
            "SELECT p.name FROM person p WHERE p.household_id = %s", (household["id"],)
        ).fetchall()
    ]
    village = conn.execute(
        "SELECT name FROM admin_area WHERE code = %s", (household["village"],)
    ).fetchone()
    address = conn.execute(
        "SELECT address FROM household WHERE household_id = %s LIMIT 1", (household["id"],)
    ).fetchone()
    assert village is not None and names and address is not None
    assert village[0] in text
    for secret in (household["id"], household["village"], address[0], *names):
        assert secret not in text
    link = re.search(r'id="door-login" class="button" href="([^"]+)"', text)
    assert link is not None and "next=%2Fh%2F" in link.group(1)


def test_the_door_page_after_logging_in(
    database_url: str, household: dict[str, str], official: User
) -> None:
    client = anonymous()
    target = f"/h/{household['token']}"
    back = login(client, official.username, next_=target)
    assert back.headers["Location"] == target
    assert household["id"] in client.get(target).get_data(as_text=True)
    # An official elsewhere (the next county) gets 403, and not a word about the household.
    other = logged_in_client(database_url, make_user(database_url, Role.OFFICIAL, "330902001"))
    refused = other.get(target)
    assert refused.status_code == 403 and household["id"] not in refused.get_data(as_text=True)


def test_leaders_planners_and_auditors_at_the_door(
    database_url: str, household: dict[str, str], conn: psycopg.Connection
) -> None:
    target = f"/h/{household['token']}"
    county = household["village"][:6]
    leader = logged_in_client(database_url, make_user(database_url, Role.COUNTY_LEADER, county))
    assert leader.get(target).status_code == 200  # a warning the leader oversees
    quiet = conn.execute(
        "SELECT t.token FROM household_token t JOIN household h USING (household_id)"
        " WHERE h.county_code = %s AND NOT EXISTS (SELECT 1 FROM warning w"
        "  WHERE w.household_id = h.household_id"
        "  AND w.status IN ('raised', 'acknowledged', 'verified')) LIMIT 1",
        (county,),
    ).fetchone()
    assert quiet is not None
    assert leader.get(f"/h/{quiet[0]}").status_code == 403  # no open warning: no portrait
    for role in (Role.PLANNER, Role.AUDITOR):
        client = logged_in_client(database_url, make_user(database_url, role, county))
        assert client.get(target).status_code == 403, role


@pytest.mark.parametrize(
    ("asked", "landed"),
    [
        ("/?area=331122", "/?area=331122"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
        ("/logout", "/"),
    ],
)
def test_only_local_redirects_after_a_login(
    database_url: str, official: User, asked: str, landed: str
) -> None:
    assert login(anonymous(), official.username, next_=asked).headers["Location"] == landed


def test_pages_without_a_login_go_to_the_login_page(database_url: str) -> None:
    client = anonymous()
    page = client.get("/?area=331122&lang=en")
    assert page.status_code == 302
    assert page.headers["Location"] == "/login?next=%2F%3Farea%3D331122%26lang%3Den"
    for path in ("/_dash-layout", "/_dash-dependencies", "/tiles/heat/3/6/3.png", "/audit"):
        assert client.get(path).status_code in (302, 401), path
    assert client.get("/healthz").status_code == 200
