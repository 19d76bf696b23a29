"""Soak the wall screen: thousands of tour steps in headless Chromium, memory before and after.

The wall must run for a day without growing. ``python -m bench.wall_soak [steps] [seconds]``
serves the app against the configured database (the demo's by default), issues a kiosk token
for 缙云县, opens its wall with a fast tour and lets it step; after a warm-up and again at the
end it records the page's JS heap (after a forced garbage collection) and the server's RSS.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

from core import db
from core.wall_tokens import issue, revoke

Row = tuple[str, str, str, str]
AREA = "331122"
WARM_UP = 50
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--enable-precise-memory-info",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _serve() -> tuple[subprocess.Popen[bytes], str]:
    """`onemap serve` on a free port, against the configured database (as `make demo` serves)."""
    port = _free_port()
    env = dict(os.environ)
    process = subprocess.Popen(
        [sys.executable, "-m", "onemap", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(600):  # up to 3 minutes on a busy machine
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return process, base
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.3)
    process.terminate()
    raise RuntimeError("the app did not start")


def _heap_mb(page: Any, session: Any) -> float:
    session.send("HeapProfiler.collectGarbage")
    return float(page.evaluate("performance.memory.usedJSHeapSize")) / 2**20


def soak(url: str, steps: int, seconds: float) -> list[Row]:
    """Run ``steps`` tour steps of ``seconds`` each; return the benchmark rows."""
    from playwright.sync_api import sync_playwright

    with psycopg.connect(url, autocommit=True) as conn:
        token_id, token = issue(conn, AREA, "bench soak", "bench")
    process, base = _serve()
    done: list[float] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_context(viewport={"width": 1920, "height": 1080}).new_page()

            def counted(response: Any) -> None:
                body = response.request.post_data or ""
                # Dash adds "?endId=…" to its callback URL: match the path, not the URL's end.
                if "/_dash-update-component" in response.url and "wall-kpis" in body:
                    done.append(time.monotonic())

            page.on("response", counted)
            page.goto(f"{base}/wall/login?token={token}")
            page.goto(f"{base}/wall/{AREA}?tour={seconds}")
            session = page.context.new_cdp_session(page)
            while len(done) < WARM_UP:
                page.wait_for_timeout(200)
            before = (_heap_mb(page, session), _rss_mb(process.pid), len(done), time.monotonic())
            while len(done) < steps:
                page.wait_for_timeout(1000)
            after = (_heap_mb(page, session), _rss_mb(process.pid), len(done), time.monotonic())
            browser.close()
    finally:
        process.terminate()
        process.wait(timeout=10)
        with psycopg.connect(url, autocommit=True) as conn:
            revoke(conn, token_id)
    per_step = (after[3] - before[3]) / max(after[2] - before[2], 1) * 1000
    return [
        (
            f"wall soak: {after[2]:,} tour steps ({seconds} s each)",
            f"{per_step:.0f} ms/step",
            f"{after[2] - before[2]:,} steps measured",
            f"after a {WARM_UP}-step warm-up",
        ),
        (
            "wall soak: JS heap after GC",
            f"{before[0]:.1f} → {after[0]:.1f} MB",
            f"{after[0] - before[0]:+.1f} MB",
            "goal: no growth over the run",
        ),
        (
            "wall soak: server RSS",
            f"{before[1]:.0f} → {after[1]:.0f} MB",
            f"{after[1] - before[1]:+.0f} MB",
            "goal: no growth over the run",
        ),
    ]


def main() -> None:
    """Soak the wall against the configured database and print the figures."""
    from rich.console import Console
    from rich.table import Table

    steps = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 0.3
    url = db.database_url()
    table = Table(title="wall screen soak (2-core machine)")
    for heading in ("measure", "value", "change", "notes"):
        table.add_column(heading)
    for row in soak(url, steps, seconds):
        table.add_row(*row)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
