"""The access matrix: every Flask route and every Dash callback, replayed as the official of
village A asking for the data of village B — a sibling village of the same town and a village of
another county. Each must answer 401/403/404, nothing, or a response without a trace of B.

The matrix is checked against the app itself: a route (``url_map``) or a callback
(``callback_map``) without a case here fails the test, so a new route cannot slip in unreviewed.
Public routes are listed with the reason they hold no data.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
import pytest
from PIL import Image

from core.access import Role
from core.scope import Scope
from layers.heatmap import tile_png
from tests.conftest import logged_in_client, make_user
from tests.dash_calls import dash_update_as, inputs_of

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


@dataclass(frozen=True)
class Village:
    """A village with what would give it away in a response."""

    code: str
    name: str
    households: frozenset[str]
    tokens: frozenset[str]
    warned: tuple[str, ...]  # households with a warning in the latest derived month
    warned_points: tuple[tuple[float, float], ...]


def _village(conn: psycopg.Connection, code: str) -> Village:
    name = conn.execute("SELECT name FROM admin_area WHERE code = %s", (code,)).fetchone()
    households = conn.execute(
        "SELECT household_id FROM household WHERE village_code = %s", (code,)
    ).fetchall()
    tokens = conn.execute(
        "SELECT t.token FROM household_token t JOIN household h USING (household_id)"
        " WHERE h.village_code = %s",
        (code,),
    ).fetchall()
    warned = conn.execute(
        "SELECT m.household_id, ST_X(h.geom), ST_Y(h.geom) FROM warning_month m"
        " JOIN household h ON h.month = m.month AND h.household_id = m.household_id"
        " WHERE m.village_code = %s AND m.month = (SELECT max(month) FROM warning_month)"
        " ORDER BY m.household_id",
        (code,),
    ).fetchall()
    assert name is not None and households and warned
    return Village(
        code,
        str(name[0]),
        frozenset(r[0] for r in households),
        frozenset(r[0] for r in tokens),
        tuple(r[0] for r in warned),
        tuple((float(r[1]), float(r[2])) for r in warned),
    )


def _most_warned(conn: psycopg.Connection, like: str, other_than: str = "") -> str:
    row = conn.execute(
        "SELECT m.village_code FROM warning_month m JOIN household_token t USING (household_id)"
        " WHERE m.month = (SELECT max(month) FROM warning_month) AND m.village_code LIKE %s"
        " AND m.village_code <> %s GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
        (like, other_than),
    ).fetchone()
    assert row is not None, like
    return str(row[0])


@dataclass(frozen=True)
class Matrix:
    """The official of A, their client, and the villages they must not see."""

    client: Any
    database_url: str
    a: Village
    sibling: Village  # same town as A
    foreign: Village  # another county
    visible_names: frozenset[str]

    @property
    def town(self) -> str:
        return self.a.code[:9]

    def others(self) -> tuple[Village, Village]:
        return self.sibling, self.foreign

    def assert_no_trace(self, text: str, of: Village) -> None:
        """Nothing in ``text`` names, codes or identifies a household of ``of``."""
        assert of.code not in text, f"{of.code} leaked"
        assert not set(re.findall(r"H\d{6,24}", text)) & of.households, "households leaked"
        assert not {t for t in of.tokens if t in text}, "door tokens leaked"
        if of.name not in self.visible_names:
            assert of.name not in text, f"the name {of.name} leaked"


@pytest.fixture(scope="module")
def matrix(derived: Any, database_url: str) -> Matrix:
    with psycopg.connect(database_url) as conn:
        return _build(conn, database_url)


def _build(conn: psycopg.Connection, database_url: str) -> Matrix:
    a = _most_warned(conn, "331122%")
    sibling = _most_warned(conn, a[:9] + "%", other_than=a)
    foreign = _most_warned(conn, "330902%")
    official = make_user(database_url, Role.OFFICIAL, a)
    names = conn.execute(
        "SELECT name FROM admin_area WHERE code = ANY(%s)",
        ([a[:n] for n in (2, 4, 6, 9, 12)],),
    ).fetchall()
    return Matrix(
        logged_in_client(database_url, official),
        database_url,
        _village(conn, a),
        _village(conn, sibling),
        _village(conn, foreign),
        frozenset(r[0] for r in names),
    )


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


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


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _clear_of(a: Village, z: int, x: int, y: int) -> bool:
    """No warning of A within the tile or the margin its blur reads (a tile on each side)."""
    tiles = [_tile_of(lon, lat, z) for lon, lat in a.warned_points]
    return all(abs(ax - x) > 1 or abs(ay - y) > 1 for ax, ay in tiles)


def heat_case(m: Matrix) -> None:
    for b in m.others():
        z = 17
        tiles = [_tile_of(lon, lat, z) for lon, lat in b.warned_points]
        x, y = next(t for t in tiles if _clear_of(m.a, z, *t))
        response = m.client.get(f"/tiles/heat/{z}/{x}/{y}.png")
        assert response.status_code == 200
        assert alpha(response.data).max() == 0, f"a warning of {b.code} shows in A's heatmap"
        # Nor does asking for B's area as the heatmap's clip.
        assert m.client.get(f"/tiles/heat/{z}/{x}/{y}.png?a={b.code}").status_code == 404
        # The control: the same tile drawn for B's own jurisdiction shows the warning.
        with psycopg.connect(m.database_url) as owner:
            assert alpha(tile_png(owner, Scope(b.code), z, x, y)).max() > 0
    x, y = _tile_of(*m.a.warned_points[0], 17)
    assert alpha(m.client.get(f"/tiles/heat/17/{x}/{y}.png").data).max() > 0


def alpha(png: bytes) -> Any:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))[..., 3]


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
