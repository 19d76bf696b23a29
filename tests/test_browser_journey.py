"""An official's whole journey in Debian chromium: log in, drill province → village (the way
down to the official's town, then its villages), open a household's portrait, switch measure,
heatmap and language, then open the copied link and see the same view. Every request the page
makes stays on 127.0.0.1, no Content-Security-Policy violation is reported, and no response the
browser received holds a national ID; each step leaves a screenshot."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import psycopg
import pytest

from core.access import Role
from tests.browser import (
    child_codes,
    click_area,
    crumbs,
    csp_violations,
    name_of,
    open_page,
    require_chromium,
    serve_app,
    visible_point,
    wait_for_children,
    wait_until_map_fits,
)
from tests.conftest import make_user
from tests.privacy import national_ids

pytestmark = pytest.mark.browser


def target(conn: psycopg.Connection) -> tuple[str, str]:
    """The household with the worst warning in 缙云县 (it has a door code), and its village."""
    row = conn.execute(
        "SELECT w.household_id, w.village_code FROM warning w"
        " JOIN household_token t USING (household_id)"
        " WHERE w.county_code = '331122' ORDER BY w.score DESC, w.household_id LIMIT 1"
    ).fetchone()
    assert row is not None
    return str(row[0]), str(row[1])


def households_in(conn: psycopg.Connection, code: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM household WHERE village_code LIKE %s"
        " AND month = (SELECT max(month) FROM published_month)",
        (code + "%",),
    ).fetchone()
    assert row is not None
    return int(row[0])


def received_bodies(page: Any) -> list[str]:
    """The text of every response body the page received (images and fonts left out)."""
    from playwright.sync_api import Error

    bodies = []
    for response in page.responses:
        if response.request.resource_type in {"image", "font"} or response.status >= 300:
            continue
        try:
            bodies.append(response.body().decode("utf-8", "replace"))
        except Error:  # a body the browser no longer holds (the page reloaded)
            continue
    return bodies


def query(page: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def wait_for_query(page: Any, **expected: str | None) -> None:
    """Wait until the URL's query has these values (None: the key is absent)."""
    page.wait_for_function(
        """(expected) => {
            const q = new URLSearchParams(location.search);
            return Object.entries(expected).every(([k, v]) => q.get(k) === v);
        }""",
        arg=expected,
        timeout=15_000,
    )


def wait_for_text(page: Any, selector: str, text: str) -> None:
    page.wait_for_function(
        "([s, t]) => (document.querySelector(s)?.textContent || '').includes(t)",
        arg=[selector, text],
        timeout=15_000,
    )


def wait_for_heat_tiles(page: Any) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('.onemap-heat img.leaflet-tile')]"
        ".filter(i => i.complete && i.naturalWidth === 256).length > 0",
        timeout=15_000,
    )


def click_household(page: Any, household: str) -> None:
    """Click a household's point where it is drawn on top, once the map has settled."""
    page.mouse.click(*visible_point(page, f".onemap-hh-{household}"))


def view_summary(page: Any) -> dict[str, Any]:
    """What a person reads of the view: the words that change with area, measure, heat, language."""
    return page.evaluate(
        """() => ({
            crumbs: document.querySelector('#breadcrumb').innerText,
            title: document.querySelector('#portrait-title')?.innerText,
            legend: document.querySelector('#legend h3').innerText,
            measure: document.querySelector('.measure.current:not(#heat-toggle)').innerText,
            heat: document.querySelector('#heat-toggle').innerText,
            topbar: document.querySelector('.topbar').innerText,
            lang: document.querySelector('.lang.current').innerText,
            htmlLang: document.documentElement.lang,
            docTitle: document.title,
        })"""
    )


def test_the_whole_journey(
    derived: Any, database_url: str, conn: psycopg.Connection, artifacts: Path
) -> None:
    require_chromium()
    household, village = target(conn)
    town, county = village[:9], village[:6]
    official = make_user(database_url, Role.OFFICIAL, town)
    with serve_app(database_url) as base, open_page(base, official.username) as page:
        # 1. The province (above the official's town: only the way down is drawn), in Chinese.
        page.goto(base + "/?area=33")
        wait_for_children(page, child_codes(conn, "33", town))
        assert crumbs(page) == ["浙江省"]
        assert "合成" in page.locator("#synthetic-notice").inner_text()
        page.screenshot(path=artifacts / "journey-1-province.png")

        # 2. Drill down to the village; the town shows its households clustered.
        trail = ["浙江省"]
        for code in (county[:4], county, town, village):
            click_area(page, code)
            wait_for_query(page, area=code)
            trail.append(name_of(conn, code))
            wait_for_children(page, child_codes(conn, code, town) or [code])
            wait_until_map_fits(page)
            wait_for_text(page, "#breadcrumb-current", trail[-1])
            page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim')")
            if code == town:
                # Every household of the town is on the map: in a cluster or on its own.
                page.wait_for_function(
                    """(n) => document.querySelectorAll('.onemap-household').length +
                        [...document.querySelectorAll('.onemap-cluster [data-count]')]
                            .reduce((sum, c) => sum + Number(c.dataset.count), 0) === n""",
                    arg=households_in(conn, town),
                    timeout=15_000,
                )
                assert page.locator(".onemap-cluster").count() > 0
                assert "点击聚合圆圈放大" in page.locator("#households-note").inner_text()
                page.screenshot(path=artifacts / "journey-2-town-clusters.png")
        assert crumbs(page) == trail
        page.wait_for_selector(f".onemap-hh-{household}", timeout=15_000)
        page.screenshot(path=artifacts / "journey-3-village.png")

        # 3. Click the household: its portrait opens, and the URL says so.
        click_household(page, household)
        wait_for_query(page, area=village, household=household)
        wait_for_text(page, "#portrait-number", f"户 {household}")
        assert page.locator(f".onemap-hh-{household}.onemap-selected").count() == 1
        assert "返贫预警" in page.locator("#side-panel").inner_text()
        page.screenshot(path=artifacts / "journey-4-portrait.png")

        # 4. Another measure: the legend follows, the portrait stays open.
        page.get_by_role("link", name="人均月收入中位数").click()
        wait_for_query(page, layer="income_median", household=household)
        wait_for_text(page, "#legend h3", "人均月收入中位数")
        assert page.locator("#portrait-title").count() == 1

        # 5. The warning heatmap.
        page.locator("#heat-toggle").click()
        wait_for_query(page, heat="1", household=household)
        wait_for_heat_tiles(page)
        page.screenshot(path=artifacts / "journey-5-heat.png")

        # 6. English: every label switches, area names stay Chinese.
        page.locator("#lang-en").click()
        wait_for_query(page, lang="en", heat="1", layer="income_median", household=household)
        wait_for_text(page, "#portrait-number", f"Household {household}")
        english = view_summary(page)
        assert english["legend"].startswith("Median income per capita")
        assert english["heat"] == "Hide warning heatmap"
        assert "synthetic" in english["topbar"] and "合成" not in english["topbar"]
        assert english["htmlLang"] == "en" and english["docTitle"].startswith("onemap")
        assert crumbs(page) == trail
        panel = page.locator("#side-panel").inner_text()
        assert "Return-to-poverty warnings" in panel and "返贫预警" not in panel
        page.locator(f".onemap-hh-{household}").hover(force=True)
        tooltip = page.locator(".leaflet-tooltip").last
        tooltip.wait_for(timeout=15_000)
        assert household in tooltip.inner_text() and "persons" in tooltip.inner_text()
        page.screenshot(path=artifacts / "journey-6-english.png")
        deep_link = page.url

        # The download in the panel is the area's GeoTIFF, labelled in English too.
        download = page.locator("#heat-download")
        assert "GeoTIFF" in download.inner_text()
        response = page.request.get(base + download.get_attribute("href"))
        assert response.ok and response.headers["content-type"] == "image/tiff"

        # 7. And back to Chinese.
        page.locator("#lang-zh").click()
        wait_for_query(page, lang=None, heat="1", household=household)
        wait_for_text(page, "#portrait-number", f"户 {household}")
        assert view_summary(page)["htmlLang"] == "zh-CN"

        # 8. The copied English link opens the same view.
        page.goto(deep_link)
        wait_for_text(page, "#portrait-number", f"Household {household}")
        wait_for_text(page, "#legend h3", "Median income per capita")
        wait_for_heat_tiles(page)
        page.wait_for_selector(f".onemap-hh-{household}.onemap-selected")
        assert view_summary(page) == english
        assert query(page) == {
            "area": village,
            "layer": "income_median",
            "heat": "1",
            "lang": "en",
            "household": household,
        }
        page.screenshot(path=artifacts / "journey-7-deep-link.png")

        made = page.requests_made  # type: ignore[attr-defined]
        assert made and page.outside_requests == []  # type: ignore[attr-defined]
        hosts = {urlparse(url).hostname for url in made if not url.startswith(("data:", "blob:"))}
        assert hosts == {"127.0.0.1"}, hosts
        assert csp_violations(page) == [] and page.dialogs == []
        # Nothing the browser received holds a national ID (the feeds did: the ETL removed them).
        bodies = received_bodies(page)
        assert len(bodies) > 20 and any(household in body for body in bodies)
        assert [id_ for body in bodies for id_ in national_ids(body)] == []
