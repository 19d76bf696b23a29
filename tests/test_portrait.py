"""The household portrait: its fields, the door-code page and its tokens, text-only names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
from markupsafe import escape

from core.access import Role
from core.scope import PROVINCE_SCOPE, Scope
from layers.portrait import UnknownHousehold, household_for_token, household_portrait
from tests.browser import FIND_POINT_INSIDE, open_page, require_chromium, serve_app
from tests.conftest import logged_in_client, make_user

ID18 = re.compile(r"\d{17}[\dXx]")


@pytest.fixture
def household(derived: Any, conn: psycopg.Connection) -> str:
    row = conn.execute(
        "SELECT w.household_id FROM warning w JOIN household_token t USING (household_id)"
        " ORDER BY w.score DESC LIMIT 1"
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_portrait_has_the_groups_officials_read(household: str, conn: psycopg.Connection) -> None:
    portrait = household_portrait(conn, PROVINCE_SCOPE, household)
    assert portrait.members and portrait.warnings and portrait.income_history
    assert portrait.basics["village"] and portrait.basics["county"]
    assert all("**********" in m["id_masked"] for m in portrait.members)
    assert portrait.token and re.fullmatch(r"[0-9a-f]{32}", portrait.token)
    assert household_for_token(conn, PROVINCE_SCOPE, portrait.token) == household
    assert not ID18.search(repr(portrait))


def test_portrait_respects_the_scope(household: str, conn: psycopg.Connection) -> None:
    elsewhere = Scope("330902") if not household.startswith("H330902") else Scope("331122")
    with pytest.raises(UnknownHousehold):
        household_portrait(conn, elsewhere, household)


def village_of(conn: psycopg.Connection, household: str) -> str:
    row = conn.execute(
        "SELECT village_code FROM household WHERE household_id = %s ORDER BY month DESC LIMIT 1",
        (household,),
    ).fetchone()
    assert row is not None
    return str(row[0])


def test_door_code_page(household: str, database_url: str, conn: psycopg.Connection) -> None:
    token = household_portrait(conn, PROVINCE_SCOPE, household).token
    official = make_user(database_url, Role.OFFICIAL, village_of(conn, household))
    client = logged_in_client(database_url, official)
    page = client.get(f"/h/{token}")
    assert page.status_code == 200 and household in page.get_data(as_text=True)
    assert client.get("/h/" + "0" * 32).status_code == 403  # unknown or elsewhere: one answer
    assert client.get("/h/not-a-token").status_code == 404
    # Names are text: a name with markup characters is escaped on the page.
    odd = conn.execute(
        "SELECT t.token, p.name, h.village_code FROM person p"
        " JOIN household_token t USING (household_id)"
        " JOIN household h ON h.month = p.month AND h.household_id = p.household_id"
        " WHERE p.name ~ '[<>&\"]' AND p.month = (SELECT max(month) FROM published_month)"
        " LIMIT 1"
    ).fetchone()
    assert odd is not None  # the synthetic roster carries such names on purpose
    official = make_user(database_url, Role.OFFICIAL, odd[2])
    page_text = logged_in_client(database_url, official).get(f"/h/{odd[0]}").get_data(as_text=True)
    assert str(escape(odd[1])) in page_text  # Jinja's escaping, as the page uses
    if re.search(r"[<>&]", odd[1]):
        assert odd[1] not in page_text


@pytest.mark.browser
def test_clicking_a_household_opens_its_portrait(
    household: str, database_url: str, conn: psycopg.Connection, artifacts: Path
) -> None:
    require_chromium()
    village = village_of(conn, household)
    official = make_user(database_url, Role.OFFICIAL, village)
    with serve_app(database_url) as base, open_page(base, official.username) as page:
        page.goto(f"{base}/?area={village}")
        page.wait_for_selector(".onemap-household")
        # Click a household the way a person does: where it is drawn on top, once the map
        # has stopped moving (it fits the village's bounds as the page opens).
        for _ in range(20):
            page.wait_for_timeout(250)
            if page.locator(".leaflet-zoom-anim").count():
                continue
            point = page.locator(".onemap-household").first.evaluate(FIND_POINT_INSIDE)
            if point is None:
                continue
            page.mouse.click(point[0], point[1])
            if page.locator("#portrait-title").count():
                break
        page.wait_for_selector("#portrait-title", timeout=15_000)
        assert page.locator("#portrait-number").inner_text().startswith("户 H")
        qr = page.locator("#door-qr").get_attribute("src")
        assert qr is not None and qr.startswith("data:image/svg+xml")
        assert "**********" in page.locator(".members").inner_text()
        page.screenshot(path=artifacts / "portrait.png", full_page=True)
        assert page.outside_requests == []
