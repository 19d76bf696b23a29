"""Shared helpers for browser tests: serve the app against the test database, drive chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest

from tests.accounts import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# A point inside an element (elementFromPoint hits it), nearest its bounding-box centre.
FIND_POINT_INSIDE = """
(el) => {
    const box = el.getBoundingClientRect();
    const cx = box.left + box.width / 2, cy = box.top + box.height / 2;
    let best = null, bestDistance = Infinity;
    for (let i = 1; i < 24; i++) {
        for (let j = 1; j < 24; j++) {
            const x = box.left + box.width * i / 24, y = box.top + box.height * j / 24;
            if (document.elementFromPoint(x, y) === el) {
                const d = (x - cx) ** 2 + (y - cy) ** 2;
                if (d < bestDistance) { best = [x, y]; bestDistance = d; }
            }
        }
    }
    return best;
}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_chromium() -> None:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Debian chromium is missing: .ci/run must install it")
        pytest.skip("Debian chromium not installed (make test installs it when run as root)")


def server_log(base: str) -> Path:
    """Where :func:`serve_app` keeps the output of the server at ``base`` (kept afterwards)."""
    port = urlparse(base).port
    return Path(os.environ.get("TMPDIR", "/tmp")) / f"onemap-serve-{port}.log"


@contextmanager
def serve_app(database_url: str) -> Iterator[str]:
    """Run `onemap serve` on a free port against ``database_url``; yield its base URL."""
    port = free_port()
    env = os.environ | {"DATABASE_URL": database_url}
    log = open(server_log(f"http://127.0.0.1:{port}"), "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "onemap", "serve", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    raise RuntimeError(Path(log.name).read_text()[-3000:]) from None
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


@contextmanager
def open_page(
    base: str | None = None,
    username: str | None = None,
    *,
    size: tuple[int, int] = (1280, 800),
    touch: bool = False,
) -> Iterator[Any]:
    """A Playwright page in Debian chromium that refuses (and records) non-local requests.

    With ``base`` and ``username`` it logs in first (password :data:`tests.accounts.PASSWORD`).
    ``size`` is the viewport; ``touch`` makes it a phone (touch screen, no hover).
    The page records what it asked for (``requests_made``), the responses it got
    (``responses``), its console messages (``console``: CSP violations show up there) and any
    JavaScript dialog (``dialogs``: an injected ``alert`` would land there, dismissed).
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport={"width": size[0], "height": size[1]},
            locale="zh-CN",
            is_mobile=touch,
            has_touch=touch,
        )
        page: Any = context.new_page()  # carries the request records below
        page.outside_requests = []
        page.requests_made = []  # every URL the page asked for, in order
        page.responses = []
        page.console = []
        page.dialogs = []
        page.on("request", lambda request: page.requests_made.append(request.url))
        page.on("response", lambda response: page.responses.append(response))  # noqa: PLW0108 — Playwright tags its handlers
        page.on("console", lambda message: page.console.append(message.text))

        def dialog(box: Any) -> None:
            page.dialogs.append(box.message)
            box.dismiss()

        page.on("dialog", dialog)

        def guard(route: Any) -> None:
            if is_local(route.request.url):
                route.continue_()
            else:
                page.outside_requests.append(route.request.url)
                route.abort()

        page.route("**/*", guard)
        try:
            if base is not None and username is not None:
                log_in(page, base, username)
            yield page
        finally:
            context.close()
            browser.close()


def log_in(page: Any, base: str, username: str, next_: str = "/") -> None:
    """Log in through the login form, as a person does."""
    page.goto(f"{base}/login?next={next_}")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_function("() => location.pathname !== '/login'", timeout=15_000)


def csp_violations(page: Any) -> list[str]:
    """Console messages in which Chromium reports a Content-Security-Policy violation."""
    return [text for text in page.console if "Content Security Policy" in text]


def is_local(url: str) -> bool:
    """True for URLs that stay on this machine (data: and blob: URLs included)."""
    parsed = urlparse(url)
    if parsed.scheme in {"data", "blob", "about"}:
        return True
    return parsed.hostname in {"127.0.0.1", "localhost", "::1"}


def wait_for_children(page: Any, codes: list[str]) -> None:
    """Wait until the map draws exactly these areas."""
    page.wait_for_function(
        """(codes) => {
            const drawn = [...document.querySelectorAll('path.onemap-area')]
                .map(p => [...p.classList].find(c => c.startsWith('onemap-area-')).slice(12));
            return drawn.length === codes.length && codes.every(c => drawn.includes(c));
        }""",
        arg=codes,
        timeout=15_000,
    )


def wait_until_map_fits(page: Any) -> None:
    """Wait until the drawn areas fill the map (the view zoomed to the current area)."""
    page.wait_for_function(
        """() => {
            const map = document.querySelector('.leaflet-container').getBoundingClientRect();
            const boxes = [...document.querySelectorAll('path.onemap-area')]
                .map(p => p.getBoundingClientRect());
            if (!boxes.length) return false;
            const w = Math.max(...boxes.map(b => b.right)) - Math.min(...boxes.map(b => b.left));
            const h = Math.max(...boxes.map(b => b.bottom)) - Math.min(...boxes.map(b => b.top));
            return w > 0.5 * map.width || h > 0.5 * map.height;
        }""",
        timeout=15_000,
    )


def visible_point(page: Any, selector: str) -> tuple[float, float]:
    """A screen point where the first ``selector`` path is drawn on top, once the map settled."""
    element = page.locator(selector).first
    point = None
    for _ in range(60):  # the map may still be settling after a zoom animation
        if page.locator(".leaflet-zoom-anim").count() == 0:
            point = element.evaluate(FIND_POINT_INSIDE)
            if point is not None:
                break
        page.wait_for_timeout(100)
    assert point is not None, f"nothing visible to point at: {selector}"
    return point[0], point[1]


def click_area(page: Any, code: str) -> None:
    """Click inside an area's polygon, as a person would."""
    page.mouse.click(*visible_point(page, f"path.onemap-area-{code}"))


def crumbs(page: Any) -> list[str]:
    text = page.locator("#breadcrumb").inner_text()
    return [part.strip() for part in text.split("›")]


def child_codes(conn: psycopg.Connection, code: str, scope: str = "33") -> list[str]:
    """The children of ``code`` a user of jurisdiction ``scope`` sees (its subtree and the way
    down to it)."""
    rows = conn.execute(
        "SELECT code FROM admin_area WHERE parent_code = %s"
        " AND (code LIKE %s OR %s LIKE code || '%%') ORDER BY code",
        (code, scope + "%", scope),
    ).fetchall()
    return [r[0] for r in rows]


def name_of(conn: psycopg.Connection, code: str) -> str:
    row = conn.execute("SELECT name FROM admin_area WHERE code = %s", (code,)).fetchone()
    assert row is not None
    return str(row[0])
