"""Markup injected through a department feed renders as text everywhere a person looks, and no
national ID is left anywhere: in the database, the server's log, exports or what the browser got.

A person's name ``<img src=x onerror=alert(1)>``, another's ``<script>alert(1)</script>`` and an
official's name ``<img src=x onerror=alert(2)>`` go into the next month's feeds, which the ETL
loads (the month the other tests already loaded, reloaded last: this file runs after them).
Chromium opens the portrait, the map tooltip, the door page and the audit page: the text appears
as it is and no dialog fires. Then every text of the database, the log, the GeoTIFF's tags, the
GeoJSON and every response body the browser received is scanned for an 18-character ID.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from rasterio.io import MemoryFile

from core.access import Role
from core.errors import FeedUnreadable
from etl.pseudonymise import Pseudonymiser
from etl.run import run_month
from tests.browser import (
    csp_violations,
    log_in,
    open_page,
    require_chromium,
    serve_app,
    server_log,
    visible_point,
)
from tests.conftest import KEY, MONTH, NEXT, POLICY_CODES, logged_in_client, make_user
from tests.privacy import NATIONAL_ID, national_ids
from tests.test_browser_journey import received_bodies

HEAD_NAME = "<img src=x onerror=alert(1)>"
MEMBER_NAME = "<script>alert(1)</script>"
OFFICIAL_NAME = "<img src=x onerror=alert(2)>"
USER_NAME = "<script>alert(3)</script>"


@dataclass(frozen=True)
class Injected:
    household: str
    village: str


def _encoding(folder: Path, feed: str) -> str:
    manifest = json.loads((folder / "manifest.json").read_text())
    entry = next(f for f in manifest["files"] if f["feed"] == feed)
    return str(entry["encoding"] or "utf-8")


def _rewrite(path: Path, encoding: str, household: str, change: Any) -> int:
    """Rewrite the CSV rows of ``household`` with ``change(header, row, n)``; return how many."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding=encoding))))
    header, changed = rows[0], 0
    key = header.index("household_no")
    for row in rows[1:]:
        if len(row) == len(header) and row[key] == household:
            change(header, row, changed)
            changed += 1
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding=encoding)
    return changed


@pytest.fixture(scope="module")
def injected(
    derived: Any,
    feeds: dict[str, Path],
    tmp_path_factory: pytest.TempPathFactory,
    database_url: str,
) -> Injected:
    folder = tmp_path_factory.mktemp("xss") / NEXT
    shutil.copytree(feeds[NEXT], folder)
    visits = folder / f"official_visits_{NEXT}.csv"
    roster = folder / f"civil_affairs_roster_{NEXT}.csv"
    visited = {
        row[2]
        for row in csv.reader(
            io.StringIO(visits.read_text(encoding=_encoding(folder, "official_visits")))
        )
    } & {
        row[0]
        for row in csv.reader(
            io.StringIO(roster.read_text(encoding=_encoding(folder, "civil_affairs_roster")))
        )
    }
    # A household of the loaded month, in NEXT too, in a village whose points are not clustered.
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT h.household_id, h.village_code FROM household h"
            " JOIN household_token t USING (household_id)"
            " WHERE h.month = %s AND h.size >= 2 AND h.village_code LIKE '331122%%'"
            " AND h.household_id = ANY(%s) AND (SELECT count(*) FROM household v"
            "  WHERE v.month = h.month AND v.village_code = h.village_code) <= 150"
            " ORDER BY 1 LIMIT 1",
            (f"{MONTH}-01", sorted(visited)),
        ).fetchone()
    assert row is not None
    household, village = str(row[0]), str(row[1])

    def names(header: list[str], row: list[str], n: int) -> None:
        row[header.index("name")] = (HEAD_NAME, MEMBER_NAME)[min(n, 1)]

    def official(header: list[str], row: list[str], n: int) -> None:
        row[header.index("official_name")] = OFFICIAL_NAME

    assert _rewrite(roster, _encoding(folder, "civil_affairs_roster"), household, names) >= 2
    assert _rewrite(visits, _encoding(folder, "official_visits"), household, official) >= 1
    with psycopg.connect(database_url, autocommit=True) as owner:
        result = run_month(
            owner, folder, NEXT, Pseudonymiser(KEY), policy_codes=POLICY_CODES, force=True
        )
    assert result.status == "published"
    return Injected(household, village)


@dataclass
class Journey:
    texts: dict[str, str]
    dialogs: list[str]
    violations: list[str]
    bodies: list[str]
    log: str


@pytest.fixture(scope="module")
def journey(injected: Injected, database_url: str, artifacts: Path) -> Journey:
    """An official (whose display name is markup too) and an auditor look at the household."""
    require_chromium()
    with psycopg.connect(database_url) as conn:
        token = conn.execute(
            "SELECT token FROM household_token WHERE household_id = %s", (injected.household,)
        ).fetchone()
    assert token is not None
    official = make_user(database_url, Role.OFFICIAL, injected.village, display_name=USER_NAME)
    auditor = make_user(database_url, Role.AUDITOR, injected.village[:6])
    texts: dict[str, str] = {}
    with serve_app(database_url) as base:
        with open_page(base, official.username) as page:
            page.goto(f"{base}/?area={injected.village}&household={injected.household}")
            page.wait_for_selector("#portrait-title", timeout=15_000)
            texts["members"] = page.locator(".members").inner_text()
            texts["visits"] = page.locator(".visits").inner_text()
            texts["user"] = page.locator("#user-name").inner_text()
            page.screenshot(path=artifacts / "xss-portrait.png", full_page=True)
            texts["tooltip"] = _hover(page, injected.household)
            bodies = received_bodies(page)  # before the next page drops them
            page.goto(f"{base}/h/{token[0]}")
            texts["door"] = page.locator("body").inner_text()
            dialogs, violations = list(page.dialogs), csp_violations(page)
            bodies += received_bodies(page)
        with open_page() as page:
            log_in(page, base, auditor.username, next_="/audit")
            page.wait_for_selector("#audit-rows")
            texts["audit"] = page.locator("#audit-rows").inner_text()
            page.screenshot(path=artifacts / "audit-page.png", full_page=True)
            dialogs += page.dialogs
            violations += csp_violations(page)
            bodies += received_bodies(page)
        log = server_log(base).read_text()
    return Journey(texts, dialogs, violations, bodies, log)


def _hover(page: Any, household: str) -> str:
    page.mouse.move(*visible_point(page, f".onemap-hh-{household}"))
    tooltip = page.locator(".leaflet-tooltip").last
    tooltip.wait_for(timeout=15_000)
    return str(tooltip.inner_text())


@pytest.mark.browser
def test_names_from_feeds_render_as_text(journey: Journey, injected: Injected) -> None:
    assert journey.dialogs == []  # no alert() ran anywhere
    assert journey.violations == []
    assert HEAD_NAME in journey.texts["members"] and MEMBER_NAME in journey.texts["members"]
    assert OFFICIAL_NAME in journey.texts["visits"]
    assert USER_NAME in journey.texts["user"]
    assert injected.household in journey.texts["tooltip"]
    assert HEAD_NAME in journey.texts["door"] and MEMBER_NAME in journey.texts["door"]
    assert injected.household in journey.texts["audit"]


def test_the_door_page_and_the_panel_escape_the_names(
    injected: Injected, database_url: str
) -> None:
    from tests.dash_calls import dash_update_as

    client = logged_in_client(
        database_url, make_user(database_url, Role.OFFICIAL, injected.village)
    )
    with psycopg.connect(database_url) as conn:
        token = conn.execute(
            "SELECT token FROM household_token WHERE household_id = %s", (injected.household,)
        ).fetchone()
    assert token is not None
    door = client.get(f"/h/{token[0]}").get_data(as_text=True)
    assert "&lt;img src=x onerror=alert(1)&gt;" in door and HEAD_NAME not in door
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in door and MEMBER_NAME not in door
    panel = dash_update_as(client, "url.search", {"url.search": f"?household={injected.household}"})
    # In the callback's JSON the names are strings of text components (React renders text),
    # and Dash escapes the angle brackets even inside JSON.
    assert HEAD_NAME in json.dumps(panel.get_json(), ensure_ascii=False)
    assert "<img" not in panel.get_data(as_text=True)


def test_no_national_id_in_the_database(injected: Injected, conn: psycopg.Connection) -> None:
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1"
        ).fetchall()
    ]
    assert {"audit_log", "login_attempt", "app_user", "quarantine"} <= set(tables)
    assert {"person_", "visit_", "household_"} <= {t[: t.find("_") + 1] for t in tables}
    found = {}
    for table in tables:
        text = sql.SQL("t::text")
        rows = conn.execute(
            sql.SQL(
                "SELECT (regexp_match({text}, %(id)s))[1], left({text}, 300) FROM {table} t"
                " WHERE {text} ~ %(id)s LIMIT 3"
            ).format(text=text, table=sql.Identifier(table)),
            {"id": NATIONAL_ID.pattern},
        ).fetchall()
        if rows:
            found[table] = rows
    assert found == {}
    # The pattern does find an ID where there is one (the scan is not vacuous).
    probe = conn.execute("SELECT '名册 330102198808202029,' ~ %s", (NATIONAL_ID.pattern,))
    assert probe.fetchone() == (True,)


def _etl_run_messages_with_ids(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT message FROM etl_run WHERE message ~ %s", (NATIONAL_ID.pattern,)
    ).fetchall()
    return [str(r[0]) for r in rows]


def test_etl_run_messages_hold_no_national_id(
    injected: Injected,
    conn: psycopg.Connection,
    feeds: dict[str, Path],
    tmp_path: Path,
    database_url: str,
) -> None:
    """A feed that cannot be read must not put a raw ID into the run's message."""
    folder = tmp_path / NEXT
    shutil.copytree(feeds[NEXT], folder)
    path = folder / f"medical_claims_{NEXT}.csv"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 - 7])  # cut inside a line, as test_etl does
    with psycopg.connect(database_url, autocommit=True) as owner, pytest.raises(FeedUnreadable):
        run_month(owner, folder, NEXT, Pseudonymiser(KEY), policy_codes=POLICY_CODES)
    # pyarrow's parse error quotes the broken line; the stored message is masked.
    messages = [r[0] for r in conn.execute("SELECT message FROM etl_run").fetchall()]
    assert any("truncated" in (m or "") for m in messages)
    assert _etl_run_messages_with_ids(conn) == []


@pytest.mark.browser
def test_no_national_id_in_logs_exports_or_payloads(
    journey: Journey, injected: Injected, database_url: str
) -> None:
    client = logged_in_client(
        database_url, make_user(database_url, Role.OFFICIAL, injected.village)
    )
    geojson = client.get(f"/api/areas/{injected.village}/households.geojson")
    tif = client.get(f"/downloads/heat/{injected.village}.tif")
    assert geojson.status_code == tif.status_code == 200
    with MemoryFile(tif.data) as memory, memory.open() as dataset:
        tags = json.dumps([dataset.tags(), dataset.tags(1), dataset.descriptions])
    assert injected.household in geojson.get_data(as_text=True)
    assert len(journey.bodies) > 20 and journey.log
    for name, text in (
        ("GeoJSON", geojson.get_data(as_text=True)),
        ("GeoTIFF tags", tags),
        ("server log", journey.log),
        *((f"browser body {i}", body) for i, body in enumerate(journey.bodies)),
    ):
        assert national_ids(text) == [], name
