"""Many users at once: a Locust run (headless) of the mixed load against the served app.

200 simulated users by default (``ONEMAP_BENCH_USERS``) for 180 s (``ONEMAP_BENCH_SECONDS``):
wall screens polling the province, county leaders drilling down, village officials opening
portraits, planners exporting GeoTIFFs (:mod:`bench.locustfile`). The app is served as in
production (``onemap serve``: waitress, the app role's pool). Goals (issue 14): zero errors,
p95 ≤ 150 ms for area and household routes, ≤ 300 ms for Dash callbacks. Reported: throughput,
p50/p95/p99 per route, the app pool's waits and the server's CPU.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psycopg

from bench.accounts import PASSWORD, bench_users, use_database
from bench.report import print_table
from core import db
from core.access import Role

Row = tuple[str, str, str, str]
_HERE = Path(__file__).parent
#: p95 goals in ms by route kind (issue 14).
GOALS = {"/api/areas": 150.0, "/wall/api": 150.0, "dash:": 300.0}


def _callback() -> dict[str, Any]:
    from dashboards import ids
    from dashboards.app import create_app

    for key, spec in create_app().callback_map.items():
        if [i["id"] for i in spec["inputs"]] == [ids.URL]:
            outputs = [
                {"id": o.component_id, "property": o.component_property} for o in spec["output"]
            ]
            return {"output": key, "outputs": outputs, "url_id": ids.URL, "fitted_id": ids.FITTED}
    raise RuntimeError("the map's view callback is missing")


def plan(url: str, users: int) -> dict[str, Any]:
    """Users and areas of the run: the most populous county, its villages, one village's homes."""
    with psycopg.connect(url) as conn:
        county, village = conn.execute(
            "SELECT left(village_code, 6), village_code FROM household"
            " WHERE month = (SELECT max(month) FROM published_month)"
            " GROUP BY 1, 2 ORDER BY count(*) OVER (PARTITION BY left(village_code, 6)) DESC,"
            " count(*) DESC LIMIT 1"
        ).fetchone() or ("", "")
        villages = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT village_code FROM household WHERE village_code LIKE %s"
                " AND month = (SELECT max(month) FROM published_month) LIMIT 200",
                (county + "%",),
            )
        ]
        households = [
            r[0]
            for r in conn.execute(
                "SELECT household_id FROM household WHERE village_code = %s"
                " AND month = (SELECT max(month) FROM published_month) LIMIT 200",
                (village,),
            )
        ]
    if not households:
        raise RuntimeError("no published month in the benchmark database")
    return {
        "password": PASSWORD,
        "callback": _callback(),
        "villages": villages,
        "households": households,
        "official_area": village,
        # One login per simulated person (Locust starts at most `users` of each class).
        "users": {
            "wall": bench_users(url, Role.PROVINCE_LEADER, "33", users),
            "leader": bench_users(url, Role.COUNTY_LEADER, county, users),
            "official": bench_users(url, Role.OFFICIAL, village, users),
            "planner": bench_users(url, Role.PLANNER, "33", users),
        },
    }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return float(sum(fields) - idle), float(sum(fields))


def _server_cpu(pid: int) -> float:
    """CPU seconds of the server and its worker processes."""
    children = Path(f"/proc/{pid}/task/{pid}/children")
    workers = [int(p) for p in children.read_text().split()] if children.exists() else []
    return _cpu_seconds(pid) + sum(_cpu_seconds(w) for w in workers)


def _serve(url: str, port: int, log: Path, workers: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"DATABASE_URL": url, "ONEMAP_MAP_POOL_STATS": "1"}
    command = [str(Path(sys.executable).parent / "onemap"), "serve", "--port", str(port)]
    command += ["--workers", str(workers)]
    server = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError(f"the app did not start (see {log})")


def _pool_stats(log: Path) -> dict[str, int]:
    """The app pools' figures, summed over the workers (each prints its own when it stops)."""
    total: dict[str, int] = {}
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("pool-stats "):
            for key, value in json.loads(line.removeprefix("pool-stats ")).items():
                total[key] = total.get(key, 0) + int(value)
    return total


def _rows(
    stats_csv: Path, seconds: float, cpu: float, pool: dict[str, int], workers: int
) -> list[Row]:
    rows: list[Row] = []
    with stats_csv.open(encoding="utf-8") as handle:
        for record in csv.DictReader(handle):
            name, count = record["Name"], int(record["Request Count"])
            if not count:  # the logins: before the measured window (bench/locustfile.py)
                continue
            failures = int(record["Failure Count"])
            p50, p95, p99 = (record[k] for k in ("50%", "95%", "99%"))
            goal = next((g for prefix, g in GOALS.items() if name.startswith(prefix)), None)
            verdict = (
                ""
                if goal is None
                else f"; goal p95 ≤ {goal:.0f} ms: "
                + ("met" if float(p95) <= goal and not failures else "NOT met")
            )
            rows.append(
                (
                    f"load {name}",
                    f"p50 {p50} / p95 {p95} / p99 {p99} ms",
                    f"{float(record['Requests/s']):.1f} req/s",
                    f"{count} requests, {failures} errors{verdict}",
                )
            )
    waits = pool.get("requests_waiting", 0), pool.get("requests_wait_ms", 0)
    rows.append(
        (
            "load server",
            f"CPU {cpu / seconds * 100:.0f} % of one core ({workers} app processes)",
            f"pool: {pool.get('requests_num', 0)} borrows",
            f"{pool.get('requests_queued', 0)} waited, {waits[1]} ms waiting in all, "
            f"{pool.get('requests_errors', 0)} pool errors; 2 cores shared with other work",
        )
    )
    return rows


def run(rows: list[Row], url: str) -> None:
    """Serve the app on the benchmark database, run the Locust mix, add the table rows."""
    users = int(os.environ.get("ONEMAP_BENCH_USERS", "200"))
    seconds = int(os.environ.get("ONEMAP_BENCH_SECONDS", "180"))
    # Two app processes per core, four threads each (docs/deployment.md: fewer threads per
    # process wait less for the interpreter lock while another renders a page).
    workers = int(os.environ.get("ONEMAP_BENCH_WORKERS", "4"))
    os.environ.setdefault("ONEMAP_MAP_THREADS", "4")
    os.environ.setdefault("ONEMAP_DB_APP_POOL_MAX_SIZE", "4")
    port = int(os.environ.get("ONEMAP_MAP_PORT", "8050")) + 7
    # The app role's password as the served app will read it (DATABASE_URL set: its file).
    use_database(url)  # the served app and this process: one app password
    with psycopg.connect(url, autocommit=True) as conn:
        db.ensure_app_login(conn)
    work = Path(tempfile.mkdtemp(prefix="onemap-load-"))
    (work / "plan.json").write_text(json.dumps(plan(url, users)), encoding="utf-8")
    server = _serve(url, port, work / "server.log", workers)
    cpu_before, machine_before = _server_cpu(server.pid), _machine_busy()
    started = time.monotonic()
    try:
        subprocess.run(
            [
                str(Path(sys.executable).parent / "locust"),
                *("-f", str(_HERE / "locustfile.py"), "--headless", "--only-summary"),
                # Logins at 4 a second (argon2id costs ~0.25 s of CPU each); the measured
                # window of `seconds` starts when the last user is in (bench/locustfile.py).
                *("-u", str(users), "-r", "4", "-t", f"{seconds + users // 4 + 30}s"),
                "--reset-stats",  # once every user is started (and again once all are in)
                *("--host", f"http://127.0.0.1:{port}", "--csv", str(work / "run")),
                "--loglevel",
                "WARNING",
            ],
            env=os.environ | {"ONEMAP_BENCH_PLAN": str(work / "plan.json")},
            check=False,
            stdout=(work / "locust.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        elapsed = time.monotonic() - started
        cpu = _server_cpu(server.pid) - cpu_before
        now = _machine_busy()
        busy, total = now[0] - machine_before[0], now[1] - machine_before[1]
    finally:
        server.send_signal(signal.SIGINT)  # waitress stops; the pool's statistics are logged
        server.wait(timeout=30)
    pool = _pool_stats(work / "server.log")
    rows.extend(_rows(work / "run_stats.csv", elapsed, cpu, pool, workers))
    rows.append(
        (
            "load machine",
            f"CPU {100 * busy / total:.0f} % busy (both cores)",
            "",
            "the app, PostgreSQL and Locust itself share the 2 cores; whole run, logins included",
        )
    )


if __name__ == "__main__":
    table_rows: list[Row] = []
    run(table_rows, os.environ["DATABASE_URL"])
    users = os.environ.get("ONEMAP_BENCH_USERS", "200")
    print_table(f"onemap under load ({users} users)", table_rows, width=180)
