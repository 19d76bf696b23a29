"""The wall screen: kiosk tokens (hashed, bound to one area, revoked at once), aggregates only
with small counts suppressed, and no personal data in any response."""

from __future__ import annotations

import json
import re
from typing import Any

import psycopg
import pytest

from core.access import Role
from core.wall_tokens import issue, list_tokens, revoke, token_hash
from dashboards.app import create_app
from dashboards.wall_page import trend_figure, trend_type
from layers.wall import WallFigures
from tests.conftest import logged_in_client, make_user
from tests.months import two_months
from tests.privacy import national_ids

__all__ = ["two_months"]
COUNTY = "331122"
#: Household ids and official ids as the ETL writes them.
PERSONAL = re.compile(r"\bH[0-9]{6,24}\b|\bO[0-9]{9,}\b")


def personal_values(conn: psycopg.Connection) -> set[str]:
    """Officials' names and people's tokens and names of the county: none may reach a wall."""
    rows = conn.execute(
        "SELECT official_name FROM visit WHERE county_code = %(c)s"
        " UNION SELECT person_token FROM person WHERE county_code = %(c)s"
        " UNION SELECT name FROM person WHERE county_code = %(c)s",
        {"c": COUNTY},
    ).fetchall()
    return {str(r[0]) for r in rows if r[0] and len(str(r[0])) >= 2}


def _step_body(
    n: int, areas: list[list[str]], search: str = "", screen_height: Any = 1080
) -> dict[str, Any]:
    outputs = [
        "wall-title.children",
        "wall-month.children",
        "wall-synthetic.children",
        "wall-kpis.children",
        "wall-worst.children",
        "wall-trend.figure",
        "wall-areas.hideout",
    ]
    return {
        "output": ".." + "...".join(outputs) + "..",
        "outputs": [dict(zip(("id", "property"), o.split("."), strict=True)) for o in outputs],
        "inputs": [
            {"id": "wall-tour", "property": "n_intervals", "value": n},
            {"id": "wall-tour-areas", "property": "data", "value": areas},
            {"id": "wall-screen", "property": "data", "value": screen_height},
        ],
        "state": [
            {"id": "wall-shading", "property": "data", "value": {}},
            {"id": "wall-url", "property": "search", "value": search},
        ],
        "changedPropIds": ["wall-tour.n_intervals"],
    }


def _kiosk(token: str) -> Any:
    client = create_app().server.test_client()
    response = client.get(f"/wall/login?token={token}")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/wall/{COUNTY}")
    return client


def _post(client: Any, body: dict[str, Any]) -> Any:
    token = client.get_cookie("_csrf_token").value
    return client.post("/wall/_dash-update-component", json=body, headers={"X-CSRFToken": token})


def test_tokens_are_stored_hashed_and_revocable(conn: psycopg.Connection) -> None:
    token_id, token = issue(conn, COUNTY, "县大厅", "tester")
    stored = conn.execute("SELECT * FROM wall_token WHERE token_id = %s", (token_id,)).fetchone()
    assert stored is not None and token not in json.dumps(stored, default=str)
    assert token_hash(token) in stored
    assert any(t.token_id == token_id and t.revoked_at is None for t in list_tokens(conn))
    assert revoke(conn, token_id) and not revoke(conn, token_id)


def test_kiosk_sees_its_area_only_and_revocation_is_immediate(
    two_months: str, conn: psycopg.Connection
) -> None:
    token_id, token = issue(conn, COUNTY, "县大厅", "tester")
    client = _kiosk(token)
    responses = [client.get(f"/wall/{COUNTY}"), client.get("/wall/api/version")]
    areas = json.loads(client.get(f"/wall/api/areas/{COUNTY}/children.geojson").data)
    codes = [f["properties"]["code"] for f in areas["features"]]
    tour = [[COUNTY, "缙云县"], *[[c, c] for c in codes]]
    for n in range(3):
        step = _post(client, _step_body(n, tour))
        assert step.status_code == 200, step.get_data(as_text=True)
        responses.append(step)
    shown = json.loads(responses[-1].data)["response"]
    assert shown["wall-areas"]["hideout"]["selected"] == codes[1]
    # Read-only and bound: another county, the map's own routes and the audit page refuse it.
    assert client.get("/wall/api/areas/330127/children.geojson").status_code == 403
    assert client.get(f"/api/areas/{COUNTY}/children.geojson").status_code == 401
    assert client.get("/audit").status_code in (302, 401)
    personal = personal_values(conn)
    assert len(personal) > 100
    for response in responses:
        text = response.get_data(as_text=True)
        assert national_ids(text) == [] and PERSONAL.findall(text) == [], response.request.path
        assert not [value for value in personal if value in text], response.request.path
    revoke(conn, token_id)
    assert client.get("/wall/api/version").status_code == 401
    assert _post(client, _step_body(0, tour)).status_code == 401
    assert client.get(f"/wall/{COUNTY}").status_code == 401
    assert create_app().server.test_client().get(f"/wall/login?token={token}").status_code == 401


def test_wall_suppresses_small_counts_whatever_the_role(
    two_months: str, database_url: str, conn: psycopg.Connection
) -> None:
    village = conn.execute(
        "SELECT code FROM rollup WHERE level = 'village' AND code LIKE '331122%%'"
        " AND month = (SELECT max(month) FROM derive_run) AND warnings_red BETWEEN 1 AND 4"
        " LIMIT 1"
    ).fetchone()
    assert village is not None
    official = make_user(database_url, Role.OFFICIAL, village[0])  # exact counts on the map
    client = logged_in_client(database_url, official)
    step = _post(client, _step_body(0, [[village[0], "村"]]))
    assert step.status_code == 200
    kpis = json.dumps(json.loads(step.data)["response"]["wall-kpis"]["children"])
    assert "<5" in kpis


@pytest.mark.parametrize("role", [Role.PLANNER, Role.COUNTY_LEADER])
def test_logged_in_wall_stays_in_the_jurisdiction(database_url: str, role: Role) -> None:
    client = logged_in_client(database_url, make_user(database_url, role, COUNTY))
    assert client.get(f"/wall/{COUNTY}").status_code == 200
    assert client.get("/wall/api/areas/330127/children.geojson").status_code == 403


@pytest.mark.parametrize(
    ("height", "size"),
    [
        (1080, 23.8),
        (2160, 47.5),
        (700, 22.0),
        (None, 23.8),
        ("2160", 23.8),
        (-1, 23.8),
        (1e9, 23.8),
    ],
)
def test_trend_type_follows_the_screen_height(height: Any, size: float) -> None:
    # The height comes from the browser: what is not a plausible number draws for 1080p.
    assert trend_type(height) == size


def test_trend_strip_grows_with_the_screen() -> None:
    levels = {f"warnings_{level}": [3.0, None] for level in ("red", "orange", "yellow")}
    figures = WallFigures(None, None, {}, ["2024-06", "2024-07"], levels, [])  # type: ignore[arg-type]
    full_hd, uhd = (trend_figure(figures, "zh", h)["layout"] for h in (1080, 2160))
    assert uhd["font"]["size"] == pytest.approx(2 * full_hd["font"]["size"], rel=0.01)
    assert all(uhd["margin"][s] >= 1.9 * full_hd["margin"][s] for s in "lrtb")
    assert "红色" in uhd["title"]["text"] and not uhd["showlegend"]


def test_a_malformed_screen_height_draws_for_1080p(
    two_months: str, conn: psycopg.Connection
) -> None:
    token_id, token = issue(conn, COUNTY, "县大厅", "tester")
    client = _kiosk(token)
    for height in ("tall", {"h": 1}, -3, 2160):
        step = _post(client, _step_body(0, [[COUNTY, "缙云县"]], screen_height=height))
        assert step.status_code == 200, step.get_data(as_text=True)
        font = json.loads(step.data)["response"]["wall-trend"]["figure"]["layout"]["font"]
        assert font["size"] == (47.5 if height == 2160 else 23.8)
    revoke(conn, token_id)
