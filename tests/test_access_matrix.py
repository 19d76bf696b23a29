"""The access matrix: every Flask route and every Dash callback, replayed as the official of
village A asking for the data of village B — a sibling village of the same town and a village of
another county. Each must answer 401/403/404, nothing, or a response without a trace of B.

The matrix is checked against the app itself: a route (``url_map``) or a callback
(``callback_map``) without a case here fails the test, so a new route cannot slip in unreviewed.
Public routes are listed with the reason they hold no data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from core.scope import Scope
from layers.heatmap import tile_png
from tests import matrix_routes
from tests.dash_calls import dash_update_as, inputs_of
from tests.matrix import Matrix, alpha, build, clear_of, text, tile_of

#: Routes anyone may fetch, and why nothing of B can leak through them.
PUBLIC_ROUTES = {
    "/static/<path:filename>": "Flask's static folder: none exists (404 for everything)",
    "/assets/<path:filename>": "the app's own CSS and JS, the same for everyone",
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": (
        "Dash's and dash-leaflet's JS bundles, the same for everyone"
    ),
    "/_favicon.ico": "the icon",
    "/login": "the login form (tested in test_web_login.py)",
}
#: The assistance loop's routes (issue 11): their write scope — another official's household,
#: a sibling village, another county, a replayed or CSRF-less post, RLS without the app check —
#: is tested on a paired database of their own in test_assistance.py and test_inbox_web.py.
ASSISTANCE_ROUTES = {
    "/inbox": "the signed-in official's items only (test_inbox_web.py)",
    "/inbox/act": "refused for another official's item, stale or CSRF-less (test_inbox_web.py)",
    "/inbox/household/<household_id>": "the paired official or the area only (test_assistance.py)",
    "/inbox/household/<household_id>/visit": "RLS refuses another's household (test_assistance)",
    "/inbox/photo/<int:photo_id>": "the paired official or the area only, else 404 (test_photos)",
    "/inbox/household/<household_id>/plan": "the paired official or the area only",
    "/inbox/plan/<int:item_id>": "the paired official or the area only",
    "/inbox/team": "town officials and county leaders only",
    "/inbox/team/reassign": "area actors only, audited (test_assistance.py)",
    "/h/<token>/request": "no login; no personal data back; limits (test_inbox_web.py)",
    "/h/<token>/code": "no login; a one-time code opens one household once (test_inbox_web.py)",
}
#: Callbacks that run in the browser only: no request reaches the server.
CLIENTSIDE = {
    "document.data": "onemap.setDocument sets the page title and language from the view",
    "fit-bounds.data": "onemap.fitArea fits the map to the bounds the view callback sent",
}


@pytest.fixture(scope="module")
def matrix(derived: Any, database_url: str) -> Matrix:
    with psycopg.connect(database_url) as conn:
        return build(conn, database_url)


# --- route cases -------------------------------------------------------------------------------


def children_case(m: Matrix) -> None:
    for b in m.others():
        assert m.client.get(f"/api/areas/{b.code}/children.geojson").status_code == 403
    # The shared town lies above A's jurisdiction: only A is drawn in it, never B.
    town = m.client.get(f"/api/areas/{m.town}/children.geojson")
    assert town.status_code == 200
    codes = [f["properties"]["code"] for f in json.loads(town.data)["features"]]
    assert codes == [m.a.code]
    m.assert_no_trace(text(town), m.sibling)


def outline_case(m: Matrix) -> None:
    for b in m.others():
        response = m.client.get(f"/api/areas/{b.code}.geojson")
        assert response.status_code == 403
        m.assert_no_trace(text(response), b)


def households_case(m: Matrix) -> None:
    for b in m.others():
        response = m.client.get(f"/api/areas/{b.code}/households.geojson")
        assert response.status_code == 403
        m.assert_no_trace(text(response), b)
    town = m.client.get(f"/api/areas/{m.town}/households.geojson")
    assert town.status_code == 200 and json.loads(town.data)["features"] == []
    own = m.client.get(f"/api/areas/{m.a.code}/households.geojson")
    assert len(json.loads(own.data)["features"]) == len(m.a.households)
    m.assert_no_trace(text(own), m.sibling)


def heat_case(m: Matrix) -> None:
    for b in m.others():
        z = 17
        tiles = [tile_of(lon, lat, z) for lon, lat in b.warned_points]
        x, y = next(t for t in tiles if clear_of(m.a, z, *t))
        response = m.client.get(f"/tiles/heat/{z}/{x}/{y}.png")
        assert response.status_code == 200
        assert alpha(response.data).max() == 0, f"a warning of {b.code} shows in A's heatmap"
        # Nor does asking for B's area as the heatmap's clip.
        assert m.client.get(f"/tiles/heat/{z}/{x}/{y}.png?a={b.code}").status_code == 404
        # The control: the same tile drawn for B's own jurisdiction shows the warning.
        with psycopg.connect(m.database_url) as owner:
            assert alpha(tile_png(owner, Scope(b.code), z, x, y)).max() > 0
    x, y = tile_of(*m.a.warned_points[0], 17)
    assert alpha(m.client.get(f"/tiles/heat/17/{x}/{y}.png").data).max() > 0


def download_case(m: Matrix) -> None:
    for code in (m.sibling.code, m.foreign.code, m.town, m.foreign.code[:6]):
        response = m.client.get(f"/downloads/heat/{code}.tif")
        assert response.status_code == 403, code
        assert response.mimetype == "application/json"


def door_case(m: Matrix) -> None:
    for b in m.others():
        token = sorted(b.tokens)[0]
        response = m.client.get(f"/h/{token}")
        assert response.status_code == 403
        m.assert_no_trace(text(response), b)


def audit_case(m: Matrix) -> None:
    for query in ("", f"?area={m.sibling.code}", f"?household={sorted(m.foreign.households)[0]}"):
        assert m.client.get("/audit" + query).status_code == 403


def audit_export_case(m: Matrix) -> None:
    for kind in ("csv", "xlsx"):
        for query in ("", f"?area={m.foreign.code}"):
            response = m.client.get(f"/audit/export.{kind}{query}")
            assert response.status_code == 403 and response.mimetype == "text/html"
            m.assert_no_trace(text(response), m.foreign)


def health_case(m: Matrix) -> None:
    response = m.client.get("/healthz")
    assert response.status_code == 200 and set(response.get_json()) == {
        "status",
        "geography_version",
    }


def logout_case(m: Matrix) -> None:
    # Only refused without the token here: a successful logout would end the matrix's session.
    response = m.client.post("/logout")
    assert response.status_code == 403
    for b in m.others():
        m.assert_no_trace(text(response), b)


def page_case(path: str) -> Callable[[Matrix], None]:
    def case(m: Matrix) -> None:
        for b in m.others():
            response = m.client.get(path.format(b=b.code))
            assert response.status_code == 200
            m.assert_no_trace(text(response), b)

    return case


ROUTE_CASES: dict[str, Callable[[Matrix], None]] = {
    "/api/areas/<code>/children.geojson": children_case,
    "/api/areas/<code>.geojson": outline_case,
    "/api/areas/<code>/households.geojson": households_case,
    "/tiles/heat/<int:z>/<int:x>/<int:y>.png": heat_case,
    "/downloads/heat/<code>.tif": download_case,
    "/h/<token>": door_case,
    "/audit": audit_case,
    "/audit/export.<kind>": audit_export_case,
    "/healthz": health_case,
    "/logout": logout_case,
    "/": page_case("/?area={b}"),
    "/<path:path>": page_case("/{b}"),
    "/_dash-layout": page_case("/_dash-layout?area={b}"),
    "/_dash-dependencies": page_case("/_dash-dependencies"),
    "/_reload-hash": page_case("/_reload-hash"),
    # Every callback is replayed through this route below (CALLBACK_CASES).
    "/_dash-update-component": lambda m: None,
    # The pages beside the map, their data routes and downloads (tests/matrix_routes.py).
    **matrix_routes.ROUTE_CASES,
}


# --- callback cases ----------------------------------------------------------------------------


def dash_update(m: Matrix, inputs: str, values: dict[str, Any]) -> Any:
    """POST one callback as the official of A."""
    return dash_update_as(m.client, inputs, values)


def show_view_case(m: Matrix) -> None:
    for b in m.others():
        for search in (
            f"?area={b.code}",
            f"?area={b.code}&household={b.warned[0]}",
            f"?area={m.a.code}&household={b.warned[0]}",
            f"?area={m.town}&layer=red_warnings&heat=1",
        ):
            response = dash_update(
                m, "url.search", {"url.search": search, "fitted-area.data": None}
            )
            assert response.status_code == 200, search
            m.assert_no_trace(text(response), b)
    # A's own household does open: the case above is not vacuous.
    own = dash_update(
        m, "url.search", {"url.search": f"?area={m.a.code}&household={m.a.warned[0]}"}
    )
    assert "portrait-title" in text(own)


def assert_no_update(response: Any) -> None:
    """Dash's answer when a callback returns ``no_update``: nothing changes in the page."""
    assert response.status_code == 204 or (
        response.status_code == 200 and response.get_json()["response"] == {}
    ), text(response)


def drill_down_case(m: Matrix) -> None:
    for b in m.others():
        response = dash_update(
            m,
            "areas-layer.clickData",
            {"areas-layer.clickData": {"properties": {"code": b.code}}, "url.search": ""},
        )
        assert_no_update(response)  # not an area of A's
    own = dash_update(
        m,
        "areas-layer.clickData",
        {
            "areas-layer.clickData": {"properties": {"code": m.a.code}},
            "url.search": f"?area={m.town}",
        },
    )
    assert own.status_code == 200 and m.a.code in text(own)


def pick_household_case(m: Matrix) -> None:
    for b in m.others():
        response = dash_update(
            m,
            "households-layer.clickData",
            {"households-layer.clickData": {"properties": {"household_id": b.warned[0]}}},
        )
        assert_no_update(response)
    own = dash_update(
        m,
        "households-layer.clickData",
        {"households-layer.clickData": {"properties": {"household_id": m.a.warned[0]}}},
    )
    assert own.status_code == 200 and m.a.warned[0] in text(own)


CALLBACK_CASES: dict[str, Callable[[Matrix], None]] = {
    "url.search": show_view_case,
    "areas-layer.clickData": drill_down_case,
    "households-layer.clickData": pick_household_case,
}


# --- the matrix is complete --------------------------------------------------------------------


def test_every_route_and_callback_has_a_case(database_url: str) -> None:
    from dashboards.app import create_app

    app = create_app()
    rules = {rule.rule for rule in app.server.url_map.iter_rules()}
    covered = set(ROUTE_CASES) | set(PUBLIC_ROUTES) | set(ASSISTANCE_ROUTES)
    assert not rules - covered, "routes without a matrix case"
    assert not covered - rules, "cases of routes that are gone"
    callbacks = {inputs_of(spec) for spec in app.callback_map.values()}
    assert not callbacks - set(CALLBACK_CASES) - set(CLIENTSIDE), "callbacks without a case"
    server_side = {inputs_of(s) for s in app.callback_map.values() if "callback" in s}
    assert server_side == set(CALLBACK_CASES)
    assert set(CLIENTSIDE) == callbacks - server_side


@pytest.mark.parametrize("rule", sorted(ROUTE_CASES))
def test_route(matrix: Matrix, rule: str) -> None:
    ROUTE_CASES[rule](matrix)


@pytest.mark.parametrize("inputs", sorted(CALLBACK_CASES))
def test_callback(matrix: Matrix, inputs: str) -> None:
    CALLBACK_CASES[inputs](matrix)


def test_public_routes_need_no_login_and_hold_no_data(matrix: Matrix, database_url: str) -> None:
    from dashboards.app import create_app

    anonymous = create_app().server.test_client()
    assert anonymous.get("/assets/onemap.js").status_code == 200
    assert anonymous.get("/_favicon.ico").status_code == 200
    assert anonymous.get("/static/anything.js").status_code == 404
    assert anonymous.get("/login").status_code == 200
    for b in matrix.others():
        assert anonymous.get(f"/api/areas/{b.code}/households.geojson").status_code == 401
        assert anonymous.get(f"/?area={b.code}").status_code == 302
