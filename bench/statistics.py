"""Benchmark the statistics page at full scale: the page's data callback, server time per area.

Goal (issue: months and trends): p95 ≤ 150 ms server time per area, measured on the callback
the page runs when its URL changes (rollups, trend rollups, the children's ranking, figures
and tables), as a province leader through row-level security. ``python -m bench.statistics``
runs it alone against the benchmark database.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import psycopg

from bench.accounts import bench_user
from bench.map import _client, _p95
from core.access import Role

Row = tuple[str, str, str, str]
ROUNDS = 8


def callback_body(search: str) -> dict[str, Any]:
    """The body dash-renderer posts for the statistics page's URL callback."""
    return {
        "output": "..stats-body.children...stats-document.data..",
        "outputs": [
            {"id": "stats-body", "property": "children"},
            {"id": "stats-document", "property": "data"},
        ],
        "inputs": [{"id": "stats-url", "property": "search", "value": search}],
        "changedPropIds": ["stats-url.search"],
        "state": [],
    }


def measure(client: Any, codes: list[str]) -> dict[str, list[float]]:
    """Server time (ms) of the statistics callback for each area, ``ROUNDS`` times."""
    token = client.get_cookie("_csrf_token").value
    samples: dict[str, list[float]] = {code: [] for code in codes}
    for _ in range(ROUNDS):
        for code in codes:
            body = callback_body(f"?area={code}&layer=warnings_per_100")
            started = time.perf_counter()
            response = client.post(
                "/stats/_dash-update-component", json=body, headers={"X-CSRFToken": token}
            )
            samples[code].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"statistics {code}: {response.status_code}")
            json.loads(response.data)
    return samples


def run(rows: list[Row], url: str) -> None:
    """Add the statistics figures to the benchmark table."""
    leader = bench_user(url, Role.PROVINCE_LEADER, "33")
    client = _client(url, leader)
    with psycopg.connect(url) as conn:
        towns = conn.execute(
            "SELECT code FROM admin_area WHERE parent_code = '331122' ORDER BY code LIMIT 2"
        ).fetchall()
        months = conn.execute("SELECT count(*) FROM derive_run").fetchone()
    codes = ["33", "3311", "331122", *[t[0] for t in towns]]
    samples = measure(client, codes)
    worst = max(_p95(s[1:]) for s in samples.values())  # the first round warms caches
    for code, values in samples.items():
        p95 = _p95(values[1:])
        rows.append(
            (
                f"statistics page callback {code}",
                f"p95 {p95:.0f} ms",
                f"median {statistics.median(values[1:]):.0f} ms",
                f"{months[0] if months else 0} month(s) of rollups; first {values[0]:.0f} ms",
            )
        )
    rows.append(
        (
            "statistics page, worst area",
            f"p95 {worst:.0f} ms",
            "",
            f"goal p95 ≤ 150 ms per area: {'met' if worst <= 150 else 'NOT met'}",
        )
    )


def main() -> None:
    """Run the statistics benchmark alone (the benchmark database must be loaded)."""
    from rich.console import Console
    from rich.table import Table

    from bench import etl

    rows: list[Row] = []
    url = etl.bench_database()
    with psycopg.connect(url) as conn:
        derived = conn.execute("SELECT count(*) FROM derive_run").fetchone()
    if not derived or not derived[0]:
        url = etl.run(rows)  # the full-scale month, generated and loaded once
    run(rows, url)
    table = Table(title="statistics page (2-core machine)")
    for heading in ("measure", "time", "rate", "notes"):
        table.add_column(heading)
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
