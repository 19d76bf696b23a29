"""The map on a phone (390×844) and on desks and walls, as its people read it.

On a phone the map takes most of the height, every household can be hit by a finger, a tap
opens a popup that stays on screen, the sheet can be pulled up, and a lost network is said.
On every size, in both languages, labels never overlap and nothing runs off the screen; the
screenshots are kept in ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.access import Role, User
from tests.accounts import warned_household
from tests.browser import csp_violations, open_page, require_chromium, serve_app
from tests.conftest import make_user

pytestmark = pytest.mark.browser
PHONE = (390, 844)
SIZES = {"phone": PHONE, "desk": (1440, 900), "1080p": (1920, 1080), "4k": (3840, 2160)}

# Boxes of what is on screen, for the geometry checks below.
_BOXES = """(selector) => [...document.querySelectorAll(selector)]
    .filter(e => getComputedStyle(e).visibility !== 'hidden' && e.getClientRects().length)
    .map(e => { const b = e.getBoundingClientRect();
                return [b.left, b.top, b.right, b.bottom]; })"""


_WATCH_POPUPS = """() => {
    window.popupBoxes = [];
    window.onemap.map.on('popupopen', (event) => {
        const grab = () => {
            const box = event.popup.getElement()?.querySelector('.leaflet-popup-content-wrapper');
            if (box && box.isConnected) {
                const b = box.getBoundingClientRect();
                window.popupBoxes.push([b.left, b.top, b.right, b.bottom]);
            }
        };
        setTimeout(grab, 350);  // after the pan that keeps it in view (0.25 s)
    });
}"""


def boxes(page: Any, selector: str) -> list[list[float]]:
    return list(page.evaluate(_BOXES, selector))


def inside_viewport(box: list[float], size: tuple[int, int]) -> bool:
    return box[0] >= 0 and box[1] >= 0 and box[2] <= size[0] and box[3] <= size[1]


def overlapping(rects: list[list[float]]) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i, a in enumerate(rects)
        for j, b in enumerate(rects[i + 1 :], start=i + 1)
        if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
    ]


@pytest.fixture(scope="module")
def base_url(database_url: str, derived: Any) -> Iterator[str]:
    require_chromium()
    with serve_app(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def household(derived: Any, database_url: str) -> dict[str, str]:
    return warned_household(database_url, rank=2)


@pytest.fixture(scope="module")
def town_official(database_url: str, household: dict[str, str]) -> User:
    return make_user(database_url, Role.OFFICIAL, household["village"][:9])


def settle(page: Any) -> None:
    """Wait for the view's callback, the map's fit and the labels' layout."""
    page.wait_for_selector("#area-title", timeout=15_000)
    page.wait_for_function("() => !document.querySelector('.leaflet-zoom-anim')")
    page.wait_for_timeout(400)


def test_phone_map_targets_popups_sheet_and_network(
    base_url: str, town_official: User, household: dict[str, str], artifacts: Path
) -> None:
    village = household["village"]
    with open_page(base_url, town_official.username, size=PHONE, touch=True) as page:
        page.goto(f"{base_url}/?area={village}")
        settle(page)
        page.wait_for_selector(".onemap-household", timeout=15_000)
        # The top bar is one line and the map has most of the height.
        bar = boxes(page, ".topbar")[0]
        assert bar[3] - bar[1] <= 48
        map_box = boxes(page, ".leaflet-container")[0]
        sheet_top = boxes(page, "#sheet")[0][1]
        visible = min(map_box[3], sheet_top) - map_box[1]
        assert visible >= 0.6 * PHONE[1], (visible, map_box, sheet_top)
        # Every household is a target a finger can hit.
        targets = boxes(page, ".onemap-household")
        assert targets
        assert all(b[2] - b[0] >= 44 and b[3] - b[1] >= 44 for b in targets), targets
        # A tap opens a popup (not a hover tooltip) that stays on screen, near the edge too.
        rightmost = max(targets, key=lambda b: b[2])
        # The popup's box is taken once the map has panned it into view (the portrait the tap
        # also opens redraws the points, which closes the popup).
        page.evaluate(_WATCH_POPUPS)
        page.touchscreen.tap((rightmost[0] + rightmost[2]) / 2, (rightmost[1] + rightmost[3]) / 2)
        page.wait_for_function("() => window.popupBoxes.length > 0", timeout=10_000)
        popup = page.evaluate("() => window.popupBoxes.at(-1)")
        assert inside_viewport(popup, PHONE), popup
        assert boxes(page, ".leaflet-tooltip") == []
        page.screenshot(path=artifacts / "phone-popup.png")
        # The sheet is pulled up and down with its handle (a portrait opened pulls it up).
        expanded = "() => document.querySelector('#sheet').classList.contains('expanded')"
        for _ in range(2):
            was = page.evaluate(expanded)
            page.tap("#sheet-handle")
            page.wait_for_function(f"() => ({expanded})() !== {str(was).lower()}")
        if not page.evaluate(expanded):
            page.tap("#sheet-handle")
        page.wait_for_function(
            "() => document.querySelector('#sheet').getBoundingClientRect().top < 200"
        )
        assert "关键指标" in page.locator("#side-panel").inner_text()
        # Offline: a step that cannot reach the server says so and keeps what is shown.
        legend = page.locator("#legend h3").inner_text()
        page.context.set_offline(True)
        page.locator("#heat-toggle").dispatch_event("click")
        page.wait_for_selector("#network-notice", state="visible", timeout=10_000)
        assert "网络已断开" in page.locator("#network-notice").inner_text()
        assert page.locator("#legend h3").inner_text() == legend
        page.screenshot(path=artifacts / "phone-offline.png")
        page.context.set_offline(False)
        page.locator("#lang-en").dispatch_event("click")
        page.wait_for_selector("#network-notice", state="hidden", timeout=15_000)
        assert csp_violations(page) == []
        assert not any("BOUNDS" in text for text in page.console), page.console


def test_phone_tooltips_stay_inside_the_viewport_with_a_mouse(
    base_url: str, town_official: User, household: dict[str, str]
) -> None:
    # A narrow window with a mouse: hover tooltips, moved back inside the screen at its edges.
    with open_page(base_url, town_official.username, size=PHONE) as page:
        page.goto(f"{base_url}/?area={household['village']}")
        settle(page)
        page.wait_for_selector(".onemap-household", timeout=15_000)
        points = boxes(page, ".onemap-household")
        for box in (max(points, key=lambda b: b[2]), min(points, key=lambda b: b[0])):
            page.mouse.move((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
            page.wait_for_selector(".leaflet-tooltip", timeout=5_000)
            tips = boxes(page, ".leaflet-tooltip")
            assert tips and all(inside_viewport(b, PHONE) for b in tips), tips
        map_box = boxes(page, ".leaflet-container")[0]
        page.mouse.move(map_box[2] - 3, map_box[1] + 40)  # an area's sticky tooltip at the edge
        page.mouse.move(map_box[2] - 2, map_box[1] + 42)
        page.wait_for_timeout(200)
        assert all(inside_viewport(b, PHONE) for b in boxes(page, ".leaflet-tooltip"))


def look(page: Any, url: str, view: str, size: tuple[int, int], shot: Path) -> None:
    """Open ``url``, check what a person would see wrong, keep a screenshot."""
    page.goto(url)
    settle(page)
    if view == "county-heat":
        page.wait_for_selector("#heat-legend")
        labels = boxes(page, ".onemap-label span")
        assert len(labels) >= 3 and overlapping(labels) == [], (shot.name, labels)
        assert boxes(page, ".leaflet-control-scale-line")
    else:
        page.wait_for_selector("#portrait-number")
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= size[0], (shot.name, width)
    page.screenshot(path=shot)


def test_screenshot_set(
    base_url: str, database_url: str, household: dict[str, str], artifacts: Path
) -> None:
    # A county leader's county with the heatmap at every size, an official's portrait on the
    # phone and the desk; in Chinese and English.
    leader = make_user(database_url, Role.COUNTY_LEADER, household["village"][:6])
    official = make_user(database_url, Role.OFFICIAL, household["village"])
    county = f"{base_url}/?area={household['village'][:6]}&heat=1"
    portrait = f"{base_url}/?area={household['village']}&household={household['id']}"
    for name, size in SIZES.items():
        views = [(leader, county, "county-heat")]
        if name in ("phone", "desk"):
            views.append((official, portrait, "portrait"))
        for user, url, view in views:
            with open_page(base_url, user.username, size=size, touch=name == "phone") as page:
                for lang in ("zh", "en"):
                    shot = artifacts / f"screen-{name}-{lang}-{view}.png"
                    look(page, url + ("&lang=en" if lang == "en" else ""), view, size, shot)
                assert csp_violations(page) == []
