"""Users the benchmarks log in as: the map is only served to people who have logged in."""

from __future__ import annotations

from typing import Any

import psycopg

from core.access import Role
from core.errors import InvalidUser
from core.users import add_user, set_password

#: The benchmark users' password (benchmark database only).
PASSWORD = "bench-password-0123"


def bench_user(url: str, role: Role, jurisdiction: str) -> str:
    """Create (or reset) the benchmark user of ``role`` over ``jurisdiction``; its username."""
    username = f"bench-{role.value.replace('_', '-')}-{jurisdiction}"
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            add_user(conn, username, role=role, jurisdiction=jurisdiction, password=PASSWORD)
        except InvalidUser:  # it exists from an earlier run
            set_password(conn, username, PASSWORD)
    return username


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
