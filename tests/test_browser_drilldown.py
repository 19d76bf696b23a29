"""A province leader drills province → city → county → town → village in Debian chromium and
the breadcrumb follows; nothing is fetched from outside 127.0.0.1, and the page runs under its
Content-Security-Policy without a single violation."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.access import User
from tests.accounts import PASSWORD
from tests.browser import (
    child_codes,
    click_area,
    crumbs,
    csp_violations,
    name_of,
    open_page,
    require_chromium,
    serve_app,
    wait_for_children,
    wait_until_map_fits,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def base_url(database_url: str) -> Iterator[str]:
    require_chromium()
    with serve_app(database_url) as url:
        yield url


@pytest.fixture
def page(base_url: str, province_leader: User) -> Iterator[Any]:
    with open_page(base_url, province_leader.username) as page:
        yield page
        assert csp_violations(page) == []
        assert page.dialogs == []


def test_drill_down_and_back(
    page: Any, base_url: str, conn: psycopg.Connection, artifacts: Path
) -> None:
    page.goto(base_url + "/")
    wait_for_children(page, child_codes(conn, "33"))
    assert crumbs(page) == ["浙江省"]
    page.screenshot(path=artifacts / "drill-0-province.png")

    trail = ["浙江省"]
    # 丽水市 → 缙云县 → its largest town → that town's first village.
    town = conn.execute(
        "SELECT code FROM admin_area WHERE parent_code = '331122' ORDER BY area_km2 DESC LIMIT 1"
    ).fetchone()[0]
    village = child_codes(conn, town)[0]
    for step, code in enumerate(["3311", "331122", town, village], start=1):
        click_area(page, code)
        page.wait_for_url(f"**/?area={code}&layer=*", timeout=15_000)
        trail.append(name_of(conn, code))
        kids = child_codes(conn, code)
        wait_for_children(page, kids or [code])  # a village draws itself
        wait_until_map_fits(page)
        page.wait_for_function(
            "(n) => document.querySelector('#breadcrumb-current')?.textContent === n",
            arg=trail[-1],
        )
        assert crumbs(page) == trail
        page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim')")
        page.screenshot(path=artifacts / f"drill-{step}-{code}.png")

    # The breadcrumb goes back up: 丽水市 shows its 9 counties again.
    page.get_by_role("link", name="丽水市").click()
    page.wait_for_url("**/?area=3311&layer=*")
    wait_for_children(page, child_codes(conn, "3311"))
    assert crumbs(page) == ["浙江省", "丽水市"]
    assert page.outside_requests == []  # type: ignore[attr-defined]


def test_deep_link_opens_the_same_view(page: Any, base_url: str, conn: psycopg.Connection) -> None:
    page.goto(base_url + "/?area=331122")
    wait_for_children(page, child_codes(conn, "331122"))
    assert crumbs(page) == ["浙江省", "丽水市", "缙云县"]
    assert "合成" in page.locator(".topbar").inner_text()  # the UI says the data is synthetic


def fills(page: Any) -> dict[str, str]:
    return page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        'path.onemap-area')].map(p => [[...p.classList].find(c => c.startsWith('onemap-area-'))
        .slice(12), p.getAttribute('fill')]))""")


def test_switching_the_measure_recolours_the_map(
    derived: Any, page: Any, base_url: str, conn: psycopg.Connection
) -> None:
    page.goto(base_url + "/?area=33&layer=warnings_per_100")
    wait_for_children(page, child_codes(conn, "33"))
    page.wait_for_selector("#legend h3")
    assert "预警数（个/百户）" in page.locator("#legend h3").inner_text()
    before = fills(page)
    page.get_by_role("link", name="人均月收入中位数").click()
    page.wait_for_url("**/?area=33&layer=income_median")
    page.wait_for_function(
        "() => document.querySelector('#legend h3').textContent.includes('人均月收入中位数')"
    )
    page.wait_for_timeout(300)
    after = fills(page)
    assert set(before) == set(after) == set(child_codes(conn, "33"))
    assert before != after  # the classes of another measure colour the cities differently


def test_the_warning_heatmap_toggles(
    derived: Any, page: Any, base_url: str, conn: psycopg.Connection, artifacts: Path
) -> None:
    page.goto(base_url + "/?area=3311&layer=warnings_per_100")
    wait_for_children(page, child_codes(conn, "3311"))
    assert page.locator("img.leaflet-tile").count() == 0
    page.locator("#heat-toggle").click()
    page.wait_for_url("**/?area=3311&layer=warnings_per_100&heat=1")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.onemap-heat img.leaflet-tile')]"
        ".filter(i => i.complete && i.naturalWidth === 256).length > 0",
        timeout=15_000,
    )
    sources = page.eval_on_selector_all(
        ".onemap-heat img.leaflet-tile", "els => els.map(e => e.src)"
    )
    assert all("/tiles/heat/" in s and "?v=" in s for s in sources)
    page.screenshot(path=artifacts / "heatmap-lishui.png")
    page.locator("#heat-toggle").click()
    page.wait_for_url("**/?area=3311&layer=warnings_per_100")
    page.wait_for_function("() => !document.querySelector('.onemap-heat')")
    assert page.outside_requests == []


def test_an_ended_session_goes_to_the_login_page_and_back(
    page: Any, base_url: str, conn: psycopg.Connection, province_leader: User, artifacts: Path
) -> None:
    page.goto(base_url + "/?area=3311")
    wait_for_children(page, child_codes(conn, "3311"))
    page.context.clear_cookies()  # the session ends (as after the idle timeout)
    page.get_by_role("link", name="人均月收入中位数").click()  # a callback: 401
    page.wait_for_url("**/login?next=*", timeout=15_000)
    assert "next=%2F%3Farea%3D3311" in page.url
    page.screenshot(path=artifacts / "login-page.png")
    page.fill("#username", province_leader.username)
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    page.wait_for_url("**/?area=3311*", timeout=15_000)
    wait_for_children(page, child_codes(conn, "3311"))
