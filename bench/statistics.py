"""Benchmark the statistics page at full scale: the page's data callback, server time per area.

Goal (issue: months and trends): p95 ≤ 150 ms server time per area, measured on the callback
the page runs when its URL changes (rollups, trend rollups, the children's ranking, figures
and tables; then the effectiveness table, read from the estimates kept after the derive), as a
province leader through row-level security. ``python -m bench.statistics``
runs it alone against the benchmark database.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

import psycopg

from analytics.effect_rollup import build_effect_rollup
from bench.accounts import bench_user
from bench.map import _client, _p95
from bench.report import print_table
from core.access import Role

Row = tuple[str, str, str, str]
ROUNDS = 40


#: The page's callbacks on a URL change: the body (charts, ranking) and the effectiveness table.
CALLBACKS = {
    "body": [("stats-body", "children"), ("stats-document", "data")],
    "effects": [("effect-body", "children")],
}


def callback_body(search: str, outputs: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    """The body dash-renderer posts for one of the statistics page's URL callbacks."""
    outputs = outputs or CALLBACKS["body"]
    described = [{"id": i, "property": p} for i, p in outputs]
    return {
        "output": (
            f"{outputs[0][0]}.{outputs[0][1]}"
            if len(outputs) == 1
            else ".." + "...".join(f"{i}.{p}" for i, p in outputs) + ".."
        ),
        "outputs": described[0] if len(outputs) == 1 else described,
        "inputs": [{"id": "stats-url", "property": "search", "value": search}],
        "changedPropIds": ["stats-url.search"],
        "state": [],
    }


def measure(client: Any, codes: list[str]) -> dict[str, dict[str, list[float]]]:
    """Server time (ms) of each statistics callback for each area, ``ROUNDS`` times."""
    token = client.get_cookie("_csrf_token").value
    samples: dict[str, dict[str, list[float]]] = {
        code: {name: [] for name in CALLBACKS} for code in codes
    }
    for _ in range(ROUNDS):
        for code in codes:
            for name, outputs in CALLBACKS.items():
                body = callback_body(f"?area={code}&layer=warnings_per_100", outputs)
                started = time.perf_counter()
                response = client.post(
                    "/stats/_dash-update-component", json=body, headers={"X-CSRFToken": token}
                )
                samples[code][name].append((time.perf_counter() - started) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"statistics {name} {code}: {response.status_code}")
                json.loads(response.data)
    return samples


def run(rows: list[Row], url: str) -> None:
    """Add the statistics figures to the benchmark table (p50 and p95 per area and callback)."""
    leader = bench_user(url, Role.PROVINCE_LEADER, "33")
    client = _client(url, leader)
    with psycopg.connect(url, autocommit=True) as conn:
        build_effect_rollup(conn)  # a database derived before the estimates were kept
        towns = conn.execute(
            "SELECT code FROM admin_area WHERE parent_code = '331122' ORDER BY code LIMIT 2"
        ).fetchall()
        months = conn.execute("SELECT count(*) FROM derive_run").fetchone()
    codes = ["33", "3311", "331122", *[t[0] for t in towns]]
    samples = measure(client, codes)
    worst = 0.0
    for code, by_callback in samples.items():
        # The page's server time: both callbacks of one URL change.
        by_callback["page"] = [sum(v) for v in zip(*by_callback.values(), strict=True)]
        for name, values in by_callback.items():
            p95 = _p95(values[1:])  # the first round warms caches
            worst = max(worst, p95) if name == "page" else worst
            rows.append(
                (
                    f"statistics {name} {code}",
                    f"p95 {p95:.0f} ms",
                    f"p50 {statistics.median(values[1:]):.0f} ms",
                    f"{months[0] if months else 0} month(s); first {values[0]:.0f} ms",
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
    from bench import etl

    rows: list[Row] = []
    url = etl.bench_database()
    with psycopg.connect(url) as conn:
        derived = conn.execute("SELECT count(*) FROM derive_run").fetchone()
    if not derived or not derived[0]:
        url = etl.run(rows)  # the full-scale month, generated and loaded once
    etl.next_month(rows, url)
    run(rows, url)
    print_table("statistics page (2-core machine)", rows)


if __name__ == "__main__":
    main()
