"""The field page and the offline village map (Chromium with every network request blocked)."""

from __future__ import annotations

import re
from pathlib import Path

import psycopg
import pytest

from analytics.run import DeriveResult
from core.access import Role, User
from core.db import scoped
from layers.village_map import write_village_map
from tests.browser import CHROMIUM, CHROMIUM_ARGS, open_page, require_chromium, serve_app
from tests.conftest import MONTH, logged_in_client, make_user

EXTERNAL_ASSET = re.compile(
    r"<script[^>]+src=[\"']?https?://|<link[^>]+href=[\"']?https?://|@import\s+url\([\"']?https?://",
    re.IGNORECASE,
)


@pytest.fixture(scope="module")
def village(derived: DeriveResult, database_url: str) -> str:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT village_code FROM household WHERE month = %s AND county_code = '331122'"
            " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
            (f"{MONTH}-01",),
        ).fetchone()
    assert row
    return str(row[0])


@pytest.fixture(scope="module")
def official(database_url: str, village: str) -> User:
    return make_user(database_url, Role.OFFICIAL, village, display_name="张<村干部>")


@pytest.mark.browser
def test_offline_village_map_opens_with_the_network_blocked(
    official: User, village: str, conn: psycopg.Connection, tmp_path: Path, artifacts: Path
) -> None:
    require_chromium()
    out = tmp_path / "village.html"
    with scoped(official.scope) as app:
        result = write_village_map(app, official, village, out)
    text = out.read_text("utf-8")
    assert not EXTERNAL_ASSET.search(text)
    assert "synthetic data" in text and official.username in text
    assert "张&lt;村干部&gt;" in text  # names render as text
    audit = conn.execute(
        "SELECT route, cardinality(household_ids) FROM audit_log WHERE username = %s",
        (official.username,),
    ).fetchone()
    assert audit == ("export:village-map", result.households) and result.households > 20
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
        asked: list[str] = []

        def block(route):  # type: ignore[no-untyped-def]
            asked.append(route.request.url)
            if route.request.url.startswith("file://"):
                route.continue_()
            else:
                route.abort()

        page.route("**/*", block)
        page.goto(out.as_uri())
        page.wait_for_function(
            "n => document.querySelectorAll('path.leaflet-interactive').length >= n",
            arg=result.households + 1,
            timeout=20_000,
        )
        assert page.evaluate("typeof L") == "object"
        assert page.locator("#export-mark").inner_text().count(official.username) == 1
        page.locator("path.leaflet-interactive").nth(5).click(force=True)
        page.wait_for_selector(".leaflet-popup-content", timeout=5_000)
        # The popup holds the household's fields (it once opened empty).
        shown = page.locator(".leaflet-popup-content").inner_text()
        assert "户编号" in shown and "预警" in shown, shown
        page.screenshot(path=str(artifacts / "village-map-offline-390.png"))
        browser.close()
    assert [u for u in asked if not u.startswith("file://")] == []


def test_field_page_lists_and_searches_for_the_official_only(
    official: User, village: str, database_url: str, conn: psycopg.Connection
) -> None:
    client = logged_in_client(database_url, official)
    page = client.get("/field")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "field-households" in body and "locate.js" in body
    head = conn.execute(
        "SELECT p.name, h.address FROM household h JOIN person p ON p.month = h.month"
        " AND p.person_token = h.head_token WHERE h.month = %s AND h.village_code = %s"
        " ORDER BY h.household_id LIMIT 1",
        (f"{MONTH}-01", village),
    ).fetchone()
    assert head
    plate = re.search(r"(\d+)号$", head[1])
    assert plate
    found = client.get("/field", query_string={"q": plate.group(1)}).get_data(as_text=True)
    assert head[1] in found and found.count("<li ") >= 1
    download = client.get(f"/downloads/village-map/{village}.html")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    assert not EXTERNAL_ASSET.search(download.get_data(as_text=True))
    planner = logged_in_client(database_url, make_user(database_url, Role.PLANNER, "331122"))
    assert planner.get("/field").status_code == 403
    assert planner.get(f"/downloads/village-map/{village}.html").status_code == 403


@pytest.mark.browser
def test_field_page_on_a_phone(official: User, database_url: str, artifacts: Path) -> None:
    require_chromium()
    with serve_app(database_url) as base, open_page(base, official.username) as page:
        page.set_viewport_size({"width": 390, "height": 844})
        page.goto(f"{base}/field")
        page.wait_for_selector("#field-households li")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390  # no sideways scrolling on a phone
        page.screenshot(path=str(artifacts / "field-page-390.png"))
        assert page.outside_requests == []
