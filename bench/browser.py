"""Benchmark the map as a person gets it: time to first map and bytes moved, in headless Chromium.

`onemap serve` (waitress, compression on) runs against the benchmark database; each run opens
the province in a fresh browser context (cold cache) and waits until the 11 cities are drawn
with their choropleth colours. Goals (issue: the one map): first map ≤ 2.5 s; the province view
≤ 500 KB transferred, JS, CSS and data included.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.accounts import log_in_page

Row = tuple[str, str, str, str]

#: The province's 11 cities are drawn and coloured by the choropleth (not the default fill).
_PROVINCE_DRAWN = """() => {
    const paths = [...document.querySelectorAll('path.onemap-area')];
    return paths.length === 11 && paths.every(p => p.getAttribute('fill') !== '#9ec3e6');
}"""
_KINDS = {"script": "JS", "stylesheet": "CSS", "fetch": "data", "xhr": "data", "document": "HTML"}


@dataclass
class PageLoad:
    """One cold load of the province view."""

    first_map_ms: float
    #: Response bodies as sent (compressed where the server compressed them), and decoded.
    sent: Counter[str] = field(default_factory=Counter)
    decoded: Counter[str] = field(default_factory=Counter)
    requests: int = 0
    outside: list[str] = field(default_factory=list)


def _load(browser: Any, base: str, username: str) -> PageLoad:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    log_in_page(page, base, username)  # then measure a fresh load of the map alone
    finished: list[Any] = []
    page.on("requestfinished", lambda request: finished.append(request))  # noqa: PLW0108 — Playwright tags the handler; a bound builtin cannot be tagged
    page.goto(base + "/", wait_until="commit")
    page.wait_for_function(_PROVINCE_DRAWN, polling="raf", timeout=30_000)
    load = PageLoad(first_map_ms=float(page.evaluate("performance.now()")))
    page.wait_for_load_state("networkidle")
    for request in finished:
        kind = _KINDS.get(request.resource_type, "other")
        response = request.response()
        load.sent[kind] += request.sizes()["responseBodySize"]
        load.decoded[kind] += len(response.body()) if response else 0
        load.requests += 1
        if not request.url.startswith(base):
            load.outside.append(request.url)
    context.close()
    return load


def measure(url: str, username: str, runs: int = 5) -> list[PageLoad]:
    """Serve the app on ``url``'s database; load the province ``runs`` times after a warm-up."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS, serve_app

    with serve_app(url) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            _load(browser, base, username)  # the server's first page builds its caches
            return [_load(browser, base, username) for _ in range(runs)]
        finally:
            browser.close()


def _kb(n: float) -> str:
    return f"{n / 1024:,.0f} KB"


def run(rows: list[Row], url: str, naive_bytes: int, naive_seconds: float, username: str) -> None:
    """Add time to first map and the province view's transfer to the table."""
    loads = measure(url, username)
    times = [load.first_map_ms for load in loads]
    median = statistics.median(times)
    rows.append(
        (
            "map time to first map (headless Chromium, cold cache)",
            f"median {median / 1000:.2f} s",
            f"min {min(times) / 1000:.2f} s, max {max(times) / 1000:.2f} s ({len(times)} runs)",
            f"goal ≤ 2.5 s: {'met' if median <= 2500 else 'NOT met'}; naive read_postgis → "
            f"GeoJSON alone takes {naive_seconds:.1f} s before a browser sees a byte",
        )
    )
    last = loads[-1]
    sent, decoded = sum(last.sent.values()), sum(last.decoded.values())
    parts = ", ".join(f"{kind} {_kb(size)}" for kind, size in last.sent.most_common())
    rows.append(
        (
            "map province view total transfer (bodies, JS+CSS+data)",
            _kb(sent),
            f"{_kb(decoded)} uncompressed; {last.requests} requests",
            f"{parts}; goal ≤ 500 KB: {'met' if sent <= 500 * 1024 else 'NOT met'}; "
            f"naive GeoJSON of every household is {naive_bytes / max(sent, 1):,.0f}× this",
        )
    )
    if any(load.outside for load in loads):
        rows.append(("map requests leaving the server", "NOT 0", "", str(last.outside[:3])))
