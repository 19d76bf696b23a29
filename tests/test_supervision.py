"""Supervision (纪委监察): only auditors and leaders open it, officials' names only for roles
entitled to supervise the area, inspections recorded scoped and audited, findings as XLSX."""

from __future__ import annotations

import io
import json
from typing import Any

import psycopg
import pytest
from openpyxl import load_workbook

from core.access import Role
from tests.conftest import logged_in_client, make_user
from tests.months import two_months

__all__ = ["two_months"]
COUNTY, OTHER = "331122", "330127"


def _show(client: Any, search: str) -> Any:
    token = client.get_cookie("_csrf_token").value
    body = {
        "output": "sup-body.children",
        "outputs": {"id": "sup-body", "property": "children"},
        "inputs": [{"id": "sup-url", "property": "search", "value": search}],
        "changedPropIds": ["sup-url.search"],
        "state": [],
    }
    return client.post(
        "/supervision/_dash-update-component", json=body, headers={"X-CSRFToken": token}
    )


def _shown(response: Any) -> set[str]:
    """Every string in a Dash callback's response (cells, links, labels)."""
    found: set[str] = set()
    stack = [json.loads(response.data)]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            found.add(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _names(conn: psycopg.Connection, county: str) -> set[str]:
    rows = conn.execute(
        "SELECT official_name FROM supervision_official WHERE county_code = %s"
        " AND official_name IS NOT NULL",
        (county,),
    ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.parametrize("role", [Role.OFFICIAL, Role.PLANNER, Role.ADMIN])
def test_other_roles_get_403(two_months: str, database_url: str, role: Role) -> None:
    jurisdiction = {Role.OFFICIAL: COUNTY + "001"}.get(role, COUNTY)
    with psycopg.connect(database_url) as conn:
        town = conn.execute(
            "SELECT code FROM admin_area WHERE parent_code = %s ORDER BY code LIMIT 1", (COUNTY,)
        ).fetchone()
    assert town is not None
    client = logged_in_client(
        database_url,
        make_user(database_url, role, town[0] if role is Role.OFFICIAL else jurisdiction),
    )
    assert client.get(f"/supervision/?area={COUNTY}").status_code == 403
    assert client.get("/supervision/_dash-layout").status_code == 403
    assert _show(client, f"?area={COUNTY}").status_code == 403
    assert client.get(f"/downloads/supervision/officials.xlsx?area={COUNTY}").status_code == 403


def test_auditor_sees_names_of_their_county_only(
    two_months: str, database_url: str, conn: psycopg.Connection
) -> None:
    ours, theirs = _names(conn, COUNTY), _names(conn, OTHER)
    assert ours and theirs
    auditor = logged_in_client(database_url, make_user(database_url, Role.AUDITOR, COUNTY))
    page = _show(auditor, f"?area={COUNTY}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert any(name in text for name in ours)
    other = logged_in_client(database_url, make_user(database_url, Role.AUDITOR, OTHER))
    refused = _show(other, f"?area={COUNTY}")
    assert refused.status_code == 403
    own = _show(other, "")  # their own county, by default
    assert own.status_code == 200
    # Names are whole cells, compared whole: a two-character name of ours (王秀) is part of a
    # longer one of theirs (王秀素) that this auditor rightly sees. No id of ours shows at all.
    assert not (ours - theirs) & _shown(own)
    assert f"O{COUNTY}" not in own.get_data(as_text=True)
    workbook = other.get(f"/downloads/supervision/officials.xlsx?area={COUNTY}")
    assert workbook.status_code == 403


def test_leader_sees_numbers_not_names(
    two_months: str, database_url: str, conn: psycopg.Connection
) -> None:
    leader = logged_in_client(database_url, make_user(database_url, Role.COUNTY_LEADER, COUNTY))
    page = _show(leader, f"?area={COUNTY}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert not [n for n in _names(conn, COUNTY) if n in text]
    assert f"O{COUNTY}" not in text  # no official ids either
    assert "sup-no-names" in text


def test_inspection_is_recorded_scoped_and_audited(
    two_months: str, database_url: str, conn: psycopg.Connection
) -> None:
    official = conn.execute(
        "SELECT official_id FROM supervision_official WHERE county_code = %s"
        " AND month = (SELECT max(month) FROM derive_run) ORDER BY 1 LIMIT 1",
        (COUNTY,),
    ).fetchone()[0]  # type: ignore[index]
    auditor = make_user(database_url, Role.AUDITOR, COUNTY)
    client = logged_in_client(database_url, auditor)
    token = client.get_cookie("_csrf_token").value

    def submit(who: Any, official_id: str) -> str:
        states = {
            "sup-official": official_id,
            "sup-household": None,
            "sup-date": "2024-07-20",
            "sup-outcome": "corrected",
            "sup-note": "走访记录补齐",
            "sup-url": f"?area={COUNTY}",
        }
        body = {
            "output": "sup-form-message.children",
            "outputs": {"id": "sup-form-message", "property": "children"},
            "inputs": [{"id": "sup-submit", "property": "n_clicks", "value": 1}],
            "state": [
                {"id": k, "property": "search" if k == "sup-url" else "value", "value": v}
                for k, v in states.items()
            ],
            "changedPropIds": ["sup-submit.n_clicks"],
        }
        csrf = who.get_cookie("_csrf_token").value
        response = who.post(
            "/supervision/_dash-update-component", json=body, headers={"X-CSRFToken": csrf}
        )
        assert response.status_code == 200, response.get_data(as_text=True)
        return str(json.loads(response.data)["response"]["sup-form-message"]["children"])

    assert token
    saved = submit(client, official)
    row = conn.execute(
        "SELECT inspection_id, inspector, county_code, outcome FROM inspection"
        " WHERE official_id = %s ORDER BY inspection_id DESC LIMIT 1",
        (official,),
    ).fetchone()
    assert row is not None and row[1:] == (auditor.username, COUNTY, "corrected")
    assert str(row[0]) in saved
    audited = conn.execute(
        "SELECT count(*) FROM audit_log WHERE username = %s AND route = '/supervision/#inspection'"
        " AND (detail->>'inspection')::bigint = %s",
        (auditor.username, row[0]),
    ).fetchone()
    assert audited == (1,)
    # An auditor of another county cannot record about this county's official.
    other = logged_in_client(database_url, make_user(database_url, Role.AUDITOR, OTHER))
    refused = submit(other, official)
    assert str(row[0] + 1) not in refused
    count = conn.execute(
        "SELECT count(*) FROM inspection WHERE official_id = %s", (official,)
    ).fetchone()
    assert count == (1,)
    # The inspection shows in the export, which opens with openpyxl.
    book = load_workbook(
        io.BytesIO(client.get(f"/downloads/supervision/inspections.xlsx?area={COUNTY}").data)
    )
    values = [c for r in book["inspections"].iter_rows(values_only=True) for c in r]
    assert official in values and "synthetic" in str(book["about"]["A1"].value)
