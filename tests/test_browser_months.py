"""What a person sees in Debian chromium: the statistics page with one point per month on
every chart, the map's choropleth changing with the month picker, and the wall screen at
1920x1080 and 3840x2160 (KPI type ≥ 48 px at 1080p, no personal data, revocation at once)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.access import Role, User
from core.wall_tokens import issue, revoke
from dashboards.wall_page import trend_type
from tests.browser import csp_violations, open_page, require_chromium, serve_app
from tests.conftest import MONTH, NEXT, make_user
from tests.months import two_months
from tests.privacy import national_ids
from tests.test_wall import PERSONAL, personal_values

__all__ = ["two_months"]
pytestmark = pytest.mark.browser
COUNTY = "331122"
_STATIC = ("/_dash-component-suites/", "/assets/", "/_favicon.ico")
_FILLS = "() => [...document.querySelectorAll('path.onemap-area')].map(p => p.getAttribute('fill'))"
# Every element and text of the KPI tiles and the worst villages must lie inside its column, and
# the columns side by side inside the screen (the wall clips whatever sticks out). A text is
# measured where it is drawn, except inside a box that ellipsises it (then the box is the text).
_OUTSIDE = """() => {
    const outside = [], slack = 0.5;
    const sticksOut = (box, frame) => box.width > 0 && (
        box.left < frame.left - slack || box.right > frame.right + slack
        || box.top < frame.top - slack || box.bottom > frame.bottom + slack);
    const describe = (what, box) => ({what, left: box.left, right: box.right,
        top: box.top, bottom: box.bottom});
    const screen = {left: 0, top: 0, right: innerWidth, bottom: innerHeight};
    const columns = [...document.querySelectorAll('.wall-main > *')];
    columns.forEach((column, i) => {
        const frame = column.getBoundingClientRect();
        if (sticksOut(frame, screen)) outside.push(describe(column.className, frame));
        const next = columns[i + 1];
        if (next && frame.right > next.getBoundingClientRect().left + slack) {
            outside.push(describe(column.className + ' overlaps ' + next.className, frame));
        }
        if (!column.matches('.wall-kpis, .wall-worst')) return;
        for (const el of column.querySelectorAll('*')) {
            const box = el.getBoundingClientRect();
            if (sticksOut(box, frame)) outside.push(describe(el.outerHTML.slice(0, 80), box));
            const style = getComputedStyle(el);
            if (style.overflowX === 'hidden' && style.textOverflow === 'ellipsis') continue;
            for (const node of el.childNodes) {
                if (node.nodeType !== Node.TEXT_NODE || !node.textContent.trim()) continue;
                const range = document.createRange();
                range.selectNode(node);
                const drawn = range.getBoundingClientRect();
                if (sticksOut(drawn, frame)) outside.push(describe(node.textContent, drawn));
            }
        }
    });
    return outside;
}"""
_TREND_FONTS = """() => [...document.querySelectorAll(
    '.wall-trend .xtick text, .wall-trend .ytick text, .wall-trend .gtitle')]
    .map(e => parseFloat(getComputedStyle(e).fontSize))"""


@pytest.fixture(scope="module")
def base_url(two_months: str, database_url: str) -> Iterator[str]:
    require_chromium()
    with serve_app(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def leader(database_url: str) -> User:
    return make_user(database_url, Role.COUNTY_LEADER, COUNTY)


def test_statistics_has_every_month_on_every_chart(
    base_url: str, leader: User, conn: psycopg.Connection, artifacts: Path
) -> None:
    months = conn.execute("SELECT count(*) FROM derive_run").fetchone()[0]  # type: ignore[index]
    with open_page(base_url, leader.username) as page:
        page.set_viewport_size({"width": 1500, "height": 1000})
        page.goto(f"{base_url}/stats/?area={COUNTY}&layer=red_warnings")
        page.wait_for_selector("#chart-factors .main-svg", timeout=30_000)
        points = page.evaluate(
            "() => [...document.querySelectorAll('.js-plotly-plot')]"
            ".map(g => g.data.map(d => d.x.length))"
        )
        assert len(points) == 10 and all(n == months for trace in points for n in trace)
        assert page.locator("#ranking-table tbody tr").count() > 10
        page.wait_for_selector("#effect-table, #effect-empty", timeout=60_000)
        page.screenshot(path=artifacts / "statistics-county.png", full_page=True)
        with page.expect_download() as download:
            page.click("#download-series-xlsx")
        assert download.value.suggested_filename.endswith("-synthetic.xlsx")
        assert csp_violations(page) == [] and page.outside_requests == []


def test_month_picker_changes_the_choropleth(base_url: str, leader: User) -> None:
    with open_page(base_url, leader.username) as page:
        page.goto(f"{base_url}/?area={COUNTY}&layer=warnings_per_100")
        page.wait_for_selector("#month-current", timeout=30_000)
        assert page.inner_text("#month-current") == NEXT
        page.wait_for_function(f"() => {_FILLS}().length > 10")
        latest = page.evaluate(_FILLS)
        page.click(f"#month-picker a:has-text('{MONTH}')")
        page.wait_for_url(f"**month={MONTH}*")
        # The panel, the legend and the fills come in one answer of the server: wait for the
        # panel to name the month (fills changing alone is no sign that the answer came: they
        # changed while the panel and the legend still showed the month before).
        page.wait_for_function(
            f"() => document.querySelector('#month-current')?.innerText === '{MONTH}'"
        )
        assert page.evaluate(_FILLS) != latest
        assert MONTH in page.inner_text("#legend")


@dataclass(frozen=True, slots=True)
class WallSeen:
    """What one wall screen showed: KPI type, the answers' texts, what sticks out, chart type."""

    kpi_sizes: list[float]
    texts: list[str]
    #: Elements and text of the KPIs and the worst villages outside their column or the screen.
    outside: list[dict[str, Any]]
    #: Font sizes (px) of the trend strip's tick labels and title (which keys the colours).
    trend_fonts: list[float]
    #: The right edge of the worst villages' list (px).
    worst_right: float


def _wall(base: str, token: str, size: tuple[int, int], shot: Path) -> WallSeen:
    with open_page() as page:
        page.set_viewport_size({"width": size[0], "height": size[1]})
        texts: list[str] = []
        # What the server answers with data (the static scripts and styles are the same for
        # every wall and hold none; scanning their megabytes for every name took minutes).
        page.on(
            "response",
            lambda r: (
                texts.append(r.text())
                if r.ok
                and "image" not in r.headers.get("content-type", "")
                and not any(part in r.url for part in _STATIC)
                else None
            ),
        )
        page.goto(f"{base}/wall/login?token={token}")
        page.wait_for_selector("#kpi-households", timeout=30_000)
        page.wait_for_selector("#wall-trend .main-svg", timeout=30_000)
        page.wait_for_selector("path.onemap-area", timeout=30_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=shot)
        sizes = page.evaluate(
            "() => [...document.querySelectorAll('.wall-kpi-value')]"
            ".map(e => parseFloat(getComputedStyle(e).fontSize))"
        )
        seen = WallSeen(
            sizes,
            texts,
            page.evaluate(_OUTSIDE),
            page.evaluate(_TREND_FONTS),
            page.evaluate(
                "() => document.querySelector('#wall-worst-list').getBoundingClientRect().right"
            ),
        )
        # Half as high (a window moved to a smaller screen): the trend's ticks follow.
        page.set_viewport_size({"width": size[0], "height": size[1] // 2})
        page.wait_for_function(
            f"(ticks) => Math.abs(Math.min(...({_TREND_FONTS})()) - ticks) < 0.1",
            arg=trend_type(size[1] // 2),
            timeout=15_000,
        )
        assert csp_violations(page) == [] and page.outside_requests == []
        return seen


def test_wall_screen(base_url: str, conn: psycopg.Connection, artifacts: Path) -> None:
    token_id, token = issue(conn, COUNTY, "browser test", "tester")
    personal = personal_values(conn)
    seen: dict[tuple[int, int], WallSeen] = {}
    for width, height in ((1920, 1080), (3840, 2160)):
        wall = _wall(base_url, token, (width, height), artifacts / f"wall-{width}x{height}.png")
        seen[width, height] = wall
        print(
            f"wall {width}x{height}: worst villages end at {wall.worst_right:.0f} px of {width},"
            f" trend type {sorted(set(wall.trend_fonts))} px"
        )
        assert len(wall.kpi_sizes) == 6 and min(wall.kpi_sizes) >= 48 * height / 1080
        assert len(wall.texts) > 5
        for text in wall.texts:
            assert national_ids(text) == [] and PERSONAL.findall(text) == []
            assert not [value for value in personal if value in text]
    revoke(conn, token_id)
    with open_page() as page:
        response: Any = page.goto(f"{base_url}/wall/login?token={token}")
        assert response.status == 401
    # Nothing clipped at the screen's edge or run into the next column, at either size.
    assert {size: wall.outside for size, wall in seen.items() if wall.outside} == {}
    # The trend strip's type grows with the screen, as the rest of the wall's type does.
    small, large = seen[1920, 1080].trend_fonts, seen[3840, 2160].trend_fonts
    assert len(small) > 5 and min(small) >= 22
    assert min(large) >= 1.8 * min(small) and max(large) >= 1.8 * max(small)
