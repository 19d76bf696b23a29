"""The assistance loop in Debian chromium on a phone (390 px): a red warning in the official's
inbox with a live countdown → acknowledge → record a visit with a mocked location → add a
measure to the plan → verify → resolve; the county leader's map then colours the village by
plan coverage; the door page as a household sees it. Screenshots kept in test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from analytics.assist_settings import AssistanceSettings
from analytics.routing import route
from core import audit
from core.access import Role
from tests.assist_fixtures import FIRST, Field, field_fixture  # noqa: F401 — the fixture
from tests.browser import CHROMIUM, CHROMIUM_ARGS, log_in, require_chromium, serve_app
from tests.conftest import make_user

pytestmark = pytest.mark.browser
PHONE: Any = {"width": 390, "height": 844}


@contextmanager
def phone(lat: float = 0.0, lon: float = 0.0) -> Iterator[Any]:
    """A phone-sized chromium page whose location is (lat, lon) once the page asks for it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            viewport=PHONE,
            locale="zh-CN",
            geolocation={"latitude": lat, "longitude": lon},
            permissions=["geolocation"],
        )
        page: Any = context.new_page()
        page.dialogs = []

        def dialog(box: Any) -> None:  # an injected alert() would land here
            page.dialogs.append(box.message)
            box.dismiss()

        page.on("dialog", dialog)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def _fills(page: Any) -> dict[str, str]:
    return dict(
        page.evaluate("""() => Object.fromEntries([...document.querySelectorAll(
        'path.onemap-area')].map(p => [[...p.classList].find(c => c.startsWith('onemap-area-'))
        .slice(12), p.getAttribute('fill')]))""")
    )


def _leader_view(base: str, leader: str, town: str, artifacts: Path, name: str) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        log_in(page, base, leader)
        page.goto(f"{base}/?area={town}&layer=plan_coverage")
        page.wait_for_selector("path.onemap-area", timeout=20_000)
        page.wait_for_function(
            "() => document.querySelector('#legend h3')?.textContent.includes('帮扶计划覆盖率')"
        )
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts / name))
        # The values the map coloured the villages by (its tooltip reads the same).
        values = page.evaluate("() => (window.onemap._hideout || {}).values || {}")
        assert set(_fills(page)) == set(values)
        browser.close()
    return dict(values)


def submit(page: Any, selector: str) -> None:
    """Click a button that posts a form and wait for the page it leads to."""
    with page.expect_navigation():
        page.click(selector)


def test_the_officials_loop_on_a_phone(field: Field, artifacts: Path) -> None:
    require_chromium()
    leader = make_user(field.url, Role.COUNTY_LEADER, field.village[:6])
    with psycopg.connect(field.url) as conn:
        row = conn.execute(
            "SELECT w.household_id, ST_Y(h.geom), ST_X(h.geom) FROM warning w"
            " JOIN household h ON h.household_id = w.household_id AND h.month = %s"
            " WHERE w.warning_id = %s",
            (FIRST, field.red_warning),
        ).fetchone()
    assert row is not None
    household, lat, lon = row
    with serve_app(field.url) as base:
        before = _leader_view(base, leader.username, field.village[:9], artifacts, "a11-map-0.png")
        with phone(lat + 0.0005, lon) as page:
            log_in(page, base, field.official.username, next_="/inbox")
            page.goto(f"{base}/inbox")
            card = page.locator(f"#item-warning-{field.red_warning}")
            assert "level-red" in (
                page.locator("#inbox-items > li").first.get_attribute("class") or ""
            )
            first = card.locator("time.countdown").inner_text()
            page.wait_for_timeout(1_100)
            second = card.locator("time.countdown").inner_text()
            assert re.match(r"[0-2]:\d\d:\d\d", first) and first != second  # it ticks
            page.screenshot(path=str(artifacts / "a11-inbox-phone.png"), full_page=True)
            width = page.evaluate("() => document.documentElement.scrollWidth")
            assert width <= PHONE["width"]  # no sideways scrolling on a phone
            submit(page, f"#acknowledge-warning-{field.red_warning}")
            assert page.locator(".done").count() == 1
            submit(page, f"#open-{household}")
            page.wait_for_load_state("load")  # inbox.js has attached its handlers
            page.click("#locate")
            page.wait_for_function("() => document.getElementById('visit-lat').value !== ''")
            page.fill("#visit-note", "入户核实：户主住院，子女在外务工")
            submit(page, "#visit-submit")
            assert "米" in page.locator(".visits").inner_text()
            page.select_option("#plan-measure", "medical_aid")
            page.fill("#plan-owner", "村卫生室 王医生")
            submit(page, "#plan-submit")
            assert page.locator("#plan-items li[id^=plan-]").count() == 1
            page.screenshot(path=str(artifacts / "a11-household-phone.png"), full_page=True)
            submit(page, f"#verify-warning-{field.red_warning}")
            page.fill(
                f"#item-warning-{field.red_warning} .act-resolve input[name=note]", "已申请医疗救助"
            )
            submit(page, f"#resolve-warning-{field.red_warning}")
            assert page.locator(f"#item-warning-{field.red_warning}").count() == 0
            assert page.dialogs == []
        with psycopg.connect(field.url, autocommit=True) as conn:
            route(conn, FIRST, AssistanceSettings())  # the routing run after each derive
            state = conn.execute(
                "SELECT status, acknowledged_at IS NOT NULL, visited_at IS NOT NULL FROM warning"
                " WHERE warning_id = %s",
                (field.red_warning,),
            ).fetchone()
            visit = conn.execute(
                "SELECT distance_m FROM field_visit WHERE household_id = %s", (household,)
            ).fetchone()
            verdict = audit.verify(conn)
        assert state == ("resolved", True, True)
        assert visit is not None and 30 < visit[0] < 80  # 0.0005° north ≈ 55 m
        assert verdict.ok, verdict.summary()
        after = _leader_view(base, leader.username, field.village[:9], artifacts, "a11-map-1.png")
    # Plan coverage of the official's village rose: one more warned household has a measure.
    assert (after[field.village] or 0) > (before[field.village] or 0)


def test_the_door_page_on_a_phone(field: Field, artifacts: Path) -> None:
    require_chromium()
    with psycopg.connect(field.url) as conn:
        row = conn.execute(
            "SELECT k.token FROM pairing p JOIN household_token k USING (household_id)"
            " WHERE p.official_id = %s AND p.valid_to IS NULL ORDER BY 1 LIMIT 1",
            (field.official_id,),
        ).fetchone()
    assert row is not None
    with serve_app(field.url) as base, phone() as page:
        page.goto(f"{base}/h/{row[0]}")
        page.select_option("#door-category", "errand")
        page.fill("#door-text", "<img src=x onerror=alert(1)> 请帮忙代缴医保")
        submit(page, "#door-send")
        assert "已收到" in page.locator("#door-message").inner_text()
        page.screenshot(path=str(artifacts / "a11-door-phone.png"), full_page=True)
        assert page.dialogs == []
