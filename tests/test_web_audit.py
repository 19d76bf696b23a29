"""Audit rows for every response showing personal data, no data when the row cannot be written,
the auditor's page, and what each role sees of households (suppressed counts, de-identified
points, portraits)."""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from core import audit
from core.access import SUPPRESSED, Role, User
from tests.accounts import warned_household
from tests.conftest import logged_in_client, make_user
from tests.dash_calls import dash_update_as


@pytest.fixture(scope="module")
def household(derived: Any, database_url: str) -> dict[str, str]:
    """A household with an open warning and a door code in 缙云县."""
    return warned_household(database_url, rank=3)


@pytest.fixture(scope="module")
def official(database_url: str, household: dict[str, str]) -> User:
    return make_user(database_url, Role.OFFICIAL, household["village"])


@pytest.fixture(scope="module")
def official_client(database_url: str, official: User) -> Any:
    return logged_in_client(database_url, official)


def audit_rows(conn: psycopg.Connection, username: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT route, household_ids, request_id, scope, role FROM audit_log"
        " WHERE username = %s ORDER BY id",
        (username,),
    ).fetchall()


def test_every_personal_response_writes_an_audit_row(
    official_client: Any, official: User, household: dict[str, str], conn: psycopg.Connection
) -> None:
    before = len(audit_rows(conn, official.username))
    door = official_client.get(f"/h/{household['token']}")
    points = official_client.get(f"/api/areas/{household['village']}/households.geojson")
    tif = official_client.get(f"/downloads/heat/{household['village']}.tif")
    view = dash_update_as(
        official_client, "url.search", {"url.search": f"?household={household['id']}"}
    )
    assert door.status_code == points.status_code == tif.status_code == view.status_code == 200
    rows = audit_rows(conn, official.username)[before:]
    assert [r[0] for r in rows] == [
        "/h/<token>",
        f"/api/areas/{household['village']}/households.geojson",
        f"/downloads/heat/{household['village']}.tif",
        "/_dash-update-component#portrait",
    ]
    shown = {f["properties"]["household_id"] for f in json.loads(points.data)["features"]}
    assert rows[0][1] == [household["id"]] and set(rows[1][1]) == shown
    assert household["id"] in rows[3][1]
    # The request id of each row is the one its response carried.
    sent = [r.headers["X-Request-Id"] for r in (door, points, tif, view)]
    assert [r[2] for r in rows] == sent
    assert {(r[3], r[4]) for r in rows} == {(official.jurisdiction, "official")}
    assert audit.verify(conn).ok


def _broken_record(monkeypatch: pytest.MonkeyPatch) -> None:
    real = audit.record

    def record(conn: psycopg.Connection, **kwargs: Any) -> Any:
        # A real failure inside PostgreSQL (NOT NULL violated): the transaction is aborted.
        return real(conn, **(kwargs | {"route": None}))

    monkeypatch.setattr(audit, "record", record)


def test_no_data_leaves_when_the_audit_row_cannot_be_written(
    official_client: Any,
    official: User,
    household: dict[str, str],
    conn: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = len(audit_rows(conn, official.username))
    _broken_record(monkeypatch)
    for path in (
        f"/h/{household['token']}",
        f"/api/areas/{household['village']}/households.geojson",
        f"/downloads/heat/{household['village']}.tif",
    ):
        response = official_client.get(path + "?lang=en")
        assert response.status_code == 500, path
        body = response.get_data(as_text=True)
        assert household["id"] not in body and "audit trail" in body, path
    view = dash_update_as(
        official_client, "url.search", {"url.search": f"?household={household['id']}&lang=en"}
    )
    body = view.get_data(as_text=True)
    assert view.status_code == 200 and "portrait-title" not in body
    assert household["id"] not in body and "could not be recorded in the audit trail" in body
    assert len(audit_rows(conn, official.username)) == before
    assert audit.verify(conn).ok


def test_the_audit_page(
    database_url: str,
    official_client: Any,
    official: User,
    household: dict[str, str],
    conn: psycopg.Connection,
) -> None:
    official_client.get(f"/h/{household['token']}")  # at least one row to find
    county = household["village"][:6]
    auditor = logged_in_client(database_url, make_user(database_url, Role.AUDITOR, county))
    page = auditor.get("/audit?lang=en")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "Audit trail" in text
    assert official.username in text and household["id"] in text
    assert page.headers["Cache-Control"] == "no-store"
    by_user = auditor.get(f"/audit?user={official.username}").get_data(as_text=True)
    assert household["id"] in by_user and "审计日志" in by_user
    by_household = auditor.get(f"/audit?household={household['id']}").get_data(as_text=True)
    assert official.username in by_household
    by_area = auditor.get(f"/audit?area={household['village']}").get_data(as_text=True)
    assert household["id"] in by_area
    elsewhere = auditor.get(f"/audit?area={county[:4]}99")
    assert elsewhere.status_code == 403  # outside the auditor's jurisdiction
    nobody = auditor.get("/audit?user=nobody-at-all").get_data(as_text=True)
    assert official.username not in nobody and "没有符合条件的记录" in nobody
    assert auditor.get("/audit?household=<script>").status_code == 400
    # An auditor of another county sees none of these rows (row-level security on audit_log).
    other = logged_in_client(database_url, make_user(database_url, Role.AUDITOR, "330902"))
    assert official.username not in other.get("/audit").get_data(as_text=True)
    for role, code in ((Role.OFFICIAL, county + "001"), (Role.PLANNER, county)):
        client = logged_in_client(database_url, make_user(database_url, role, code))
        assert client.get("/audit").status_code == 403
    admin = logged_in_client(database_url, make_user(database_url, Role.ADMIN, "33"))
    assert official.username in admin.get("/audit").get_data(as_text=True)


def test_the_audit_page_pages(
    database_url: str, official_client: Any, household: dict[str, str], monkeypatch: Any
) -> None:
    from dashboards import websettings

    for _ in range(3):
        official_client.get(f"/h/{household['token']}")
    monkeypatch.setattr(websettings.get_web_settings(), "audit_page_size", 2, raising=False)
    auditor = logged_in_client(
        database_url, make_user(database_url, Role.AUDITOR, household["village"])
    )
    first = auditor.get("/audit").get_data(as_text=True)
    assert first.count("<tr>") == 3  # the header and two rows
    older = first.split('id="audit-older" href="')[0]
    assert 'id="audit-older"' in first and older
    link = first.split('<a href="')[-1].split('"')[0].replace("&amp;", "&")
    assert link.startswith("/audit?before=")
    assert auditor.get(link).status_code == 200


def test_leaders_and_planners_see_suppressed_counts_and_displaced_points(
    database_url: str, conn: psycopg.Connection
) -> None:
    from core.audit import Audited
    from dashboards.state import View
    from dashboards.viewdata import load_view

    planner = make_user(database_url, Role.PLANNER, "331122")
    small = conn.execute(
        "SELECT village_code, count(*) FROM household"
        " WHERE month = (SELECT max(month) FROM published_month) AND village_code LIKE '331122%'"
        " GROUP BY 1 ORDER BY 2, 1 LIMIT 1"
    ).fetchone()
    assert small is not None
    collection = json.loads(
        logged_in_client(database_url, planner)
        .get(f"/api/areas/{small[0]}/households.geojson")
        .data
    )
    assert collection["total"] == (SUPPRESSED if small[1] < 5 else small[1])
    assert collection["deidentified"] is True
    # The small-count rule: a village below 5 households shows no points (their number would
    # be the count).
    assert len(collection["features"]) == (0 if small[1] < 5 else small[1])
    big = conn.execute(
        "SELECT village_code, count(*) FROM household"
        " WHERE month = (SELECT max(month) FROM published_month) AND village_code LIKE '331122%'"
        " GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 1"
    ).fetchone()
    assert big is not None and big[1] >= 5
    collection = json.loads(
        logged_in_client(database_url, planner).get(f"/api/areas/{big[0]}/households.geojson").data
    )
    assert len(collection["features"]) == big[1]
    true_points = {
        (round(r[0], 6), round(r[1], 6))
        for r in conn.execute(
            "SELECT ST_X(geom), ST_Y(geom) FROM household WHERE village_code = %s",
            (big[0],),
        ).fetchall()
    }
    for feature in collection["features"]:
        assert "household_id" not in feature["properties"]
        assert "status" not in feature["properties"] and "size" not in feature["properties"]
        point = tuple(round(c, 6) for c in feature["geometry"]["coordinates"])
        assert point not in true_points  # moved (inside its village)
    # Red warnings per town, as a county leader sees them: 1-4 read "<5", breaks skip them.
    leader = make_user(database_url, Role.COUNTY_LEADER, "331122")
    data = load_view(Audited(conn, leader), View("331122", measure="red_warnings"))
    values = data.shading.values
    assert not [v for v in values.values() if isinstance(v, float) and 0 < v < 5]
    assert not [b for b in data.shading.breaks if 0 < b < 5]
    if SUPPRESSED in values.values():
        assert any(e.label == SUPPRESSED for e in data.shading.legend)
    # The legend counts areas, not households: its counts are shown as they are.
    assert all(isinstance(e.count, int) for e in data.shading.legend)
    official_view = load_view(
        Audited(conn, User("x", "x", Role.OFFICIAL, "331122")),
        View("331122", measure="red_warnings"),
    )
    assert [v for v in official_view.shading.values.values() if isinstance(v, float) and v < 5]


def test_a_leader_sees_only_warned_households_identified(
    database_url: str, household: dict[str, str], conn: psycopg.Connection
) -> None:
    leader = logged_in_client(
        database_url, make_user(database_url, Role.COUNTY_LEADER, household["village"][:6])
    )
    collection = json.loads(
        leader.get(f"/api/areas/{household['village']}/households.geojson").data
    )
    identified = {
        f["properties"]["household_id"]
        for f in collection["features"]
        if "household_id" in f["properties"]
    }
    warned = {
        r[0]
        for r in conn.execute(
            "SELECT household_id FROM warning WHERE village_code = %s"
            " AND status IN ('raised', 'acknowledged', 'verified')",
            (household["village"],),
        ).fetchall()
    }
    assert household["id"] in identified and identified <= warned
    assert len(collection["features"]) > len(identified)  # the rest are there, de-identified
