"""Users the benchmarks log in as: the map is only served to people who have logged in."""

from __future__ import annotations

import os
from typing import Any

import psycopg

from core.access import Role
from core.errors import InvalidUser
from core.users import add_user, hash_password, set_password

#: The benchmark users' password (benchmark database only).
PASSWORD = "bench-password-0123"


def use_database(url: str) -> None:
    """Point this process, and the servers it starts, at ``url`` (``DATABASE_URL``).

    The app role is one per cluster. With ``DATABASE_URL`` set, the settings name another
    password file than the embedded cluster's; giving the role that password would lock out
    a demo served from the same cluster. So the embedded cluster's file is kept.
    """
    from core import cluster
    from core.settings import get_settings

    get_settings.cache_clear()
    settings = get_settings().db
    if settings.url is None:
        os.environ["ONEMAP_DB_APP_PASSWORD_FILE"] = str(cluster.locate(settings).app_password_file)
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()


def bench_user(url: str, role: Role, jurisdiction: str) -> str:
    """Create (or reset) the benchmark user of ``role`` over ``jurisdiction``; its username."""
    username = f"bench-{role.value.replace('_', '-')}-{jurisdiction}"
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            add_user(conn, username, role=role, jurisdiction=jurisdiction, password=PASSWORD)
        except InvalidUser:  # it exists from an earlier run
            set_password(conn, username, PASSWORD)
    return username


def bench_users(url: str, role: Role, jurisdiction: str, count: int) -> list[str]:
    """``count`` benchmark users of ``role`` over ``jurisdiction`` (one per simulated person).

    People do not share a login: attempts on one name are counted one at a time (lockout), so
    a load run with one shared account would measure that queue. The password is hashed once.
    """
    base = f"bench-{role.value.replace('_', '-')}-{jurisdiction}"
    names = [f"{base}-{i:03d}" for i in range(count)]
    hashed = hash_password(PASSWORD)
    with psycopg.connect(url, autocommit=True) as conn, conn.transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO app_user (username, display_name, role, jurisdiction, password_hash)"
                " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (username) DO UPDATE"
                " SET password_hash = excluded.password_hash, disabled = false",
                [(name, name, role.value, jurisdiction, hashed) for name in names],
            )
    return names


def log_in_client(client: Any, username: str) -> None:
    """Log a Flask test client in through the login form (with its CSRF token)."""
    client.get("/login")
    token = client.get_cookie("_csrf_token").value
    response = client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )
    if response.status_code != 302:
        raise RuntimeError(f"benchmark login failed: {response.status_code}")


def log_in_page(page: Any, base: str, username: str) -> None:
    """Log a Playwright page in through the login form, landing on /healthz.

    Landing there (not on the map) leaves the browser's cache cold for the map's bundles.
    """
    page.goto(f"{base}/login?next=/healthz")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_function("() => location.pathname !== '/login'", timeout=30_000)
