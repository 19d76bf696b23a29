"""Matrix cases of the routes beside the map: statistics, supervision and the wall screen (each
a Dash app of its own), vector tiles, the OGC API, the layer, table and village-map downloads
and the field page.

Each case asks three ways: without a login (refused: 401 for data, a redirect to the login page
for pages, 401 for every wall path), as the official of A for B (403/404, or an answer with no
trace of B), and as someone entitled (200 with content, so the refusal is not vacuous).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import psycopg

from core import tokens, wall_tokens
from core.access import Role
from tests.conftest import make_user
from tests.matrix import Matrix, alpha, clear_of, text, tile_of


def assert_refused_anonymous(m: Matrix, path: str, *, page: bool) -> None:
    """Without a login: a page redirects to the login form, data answers 401."""
    response = m.anonymous().get(path)
    if page:
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login?next="), path
    else:
        assert response.status_code == 401, path
    m.assert_clean(text(response))


def assert_refused(m: Matrix, client: Any, path: str, status: int = 403) -> None:
    """``client`` asks for a path of B's (or one it may not open): refused, nothing of B."""
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code, response.data[:300])
    m.assert_clean(text(response))


def ok(m: Matrix, client: Any, path: str, **headers: str) -> Any:
    """``client`` asks for what it may see: 200, and nothing of the other villages."""
    response = client.get(path, headers=headers)
    assert response.status_code == 200, (path, response.status_code, response.data[:300])
    m.assert_clean(response.get_data().decode("utf-8", "replace"))
    return response


# --- Dash apps beside the map ------------------------------------------------------------------


def _bundle(client: Any, prefix: str) -> str:
    """A JS bundle the page at ``prefix`` loads (its fingerprinted path, as the browser sees it)."""
    found = re.search(
        rf'src="({re.escape(prefix)}_dash-component-suites/[^"]+)"', text(client.get(prefix))
    )
    assert found, prefix
    return found.group(1)


def _callback(
    client: Any, prefix: str, output: str, values: dict[str, Any], deps_of: Any = None
) -> Any:
    """POST the callback of ``prefix``'s Dash app whose output key contains ``output``.

    The callback's declaration is read from ``/_dash-dependencies`` as ``deps_of`` (default:
    ``client``) gets it, as dash-renderer does.
    """
    deps = (deps_of or client).get(prefix + "_dash-dependencies").get_json()
    spec = next(d for d in deps if output in d["output"])
    key = spec["output"]
    names = key.strip(".").split("...") if key.startswith("..") else [key]
    outputs = [dict(zip(("id", "property"), n.rsplit(".", 1), strict=True)) for n in names]

    def filled(items: list[dict[str, str]]) -> list[dict[str, Any]]:
        return [{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in items]

    body = {
        "output": key,
        "outputs": outputs if key.startswith("..") else outputs[0],
        "inputs": filled(spec["inputs"]),
        "state": filled(spec["state"]),
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in spec["inputs"]],
    }
    token = client.get_cookie("_csrf_token").value
    return client.post(prefix + "_dash-update-component", json=body, headers={"X-CSRFToken": token})


def _stats_client(m: Matrix) -> Any:
    return m.client


def _supervision_client(m: Matrix) -> Any:
    # Leaders oversee their county's figures; the official of A may not open the page at all.
    return m.client_as(Role.COUNTY_LEADER, m.a.code[:6])


def dash_page_case(prefix: str, path: str, entitled: Callable[[Matrix], Any]) -> Any:
    """A Dash page's shell (index, layout, dependencies, reload hash): the same for every area."""
    supervision = prefix == "/supervision/"

    def case(m: Matrix) -> None:
        url = prefix + path.format(b=m.a.code)  # a redirect repeats the URL it was asked
        assert_refused_anonymous(m, url, page=True)
        if supervision:
            assert_refused(m, m.client, url)  # an official: not a supervising role
        client = entitled(m)
        for b in m.others():
            ok(m, client, prefix + path.format(b=b.code))

    return case


def dash_static_case(prefix: str, path: str, entitled: Callable[[Matrix], Any]) -> Any:
    """The page's own copy of the icon, assets and bundles: behind the login, no data."""

    def case(m: Matrix) -> None:
        client = entitled(m)
        url = _bundle(client, prefix) if path == "bundle" else prefix + path
        assert_refused_anonymous(m, url, page=True)
        assert len(ok(m, client, url).data) > 0

    return case


def stats_update_case(m: Matrix) -> None:
    assert m.anonymous().post("/stats/_dash-update-component", json={}).status_code == 401
    for b in m.others():
        response = _callback(
            m.client, "/stats/", "stats-body", {"stats-url.search": f"?area={b.code}"}
        )
        assert response.status_code == 403, text(response)[:300]
        m.assert_no_trace(text(response), b)
        effect = _callback(
            m.client, "/stats/", "effect-body", {"stats-url.search": f"?area={b.code}"}
        )
        assert effect.status_code == 403
        m.assert_no_trace(text(effect), b)
    own = _callback(m.client, "/stats/", "stats-body", {"stats-url.search": f"?area={m.a.code}"})
    assert own.status_code == 200 and m.a.name in text(own)


def supervision_update_case(m: Matrix) -> None:
    values = {"sup-url.search": f"?area={m.a.code}"}
    assert m.anonymous().post("/supervision/_dash-update-component", json={}).status_code == 401
    leader = _supervision_client(m)
    refused = _callback(m.client, "/supervision/", "sup-body", values, deps_of=leader)
    assert refused.status_code == 403
    response = _callback(
        leader, "/supervision/", "sup-body", {"sup-url.search": f"?area={m.foreign.code}"}
    )
    assert response.status_code == 403
    m.assert_no_trace(text(response), m.foreign)
    own = _callback(leader, "/supervision/", "sup-body", values)
    assert own.status_code == 200 and m.a.name in text(own)


# --- the wall screen: a kiosk token or a login, 401 otherwise --------------------------------


def kiosk(m: Matrix) -> Any:
    """A kiosk client whose token is bound to A's village."""
    with psycopg.connect(m.database_url, autocommit=True) as owner:
        _, token = wall_tokens.issue(owner, m.a.code, "村委会", "matrix")
    client = m.anonymous()
    response = client.get(f"/wall/login?token={token}")
    assert response.status_code == 302 and response.headers["Location"].endswith(m.a.code)
    return client


def wall_case(path: str) -> Any:
    """A wall path: 401 without a token or login; for a kiosk of A, nothing of B."""

    def case(m: Matrix) -> None:
        client = kiosk(m)
        url = _bundle(client, "/wall/") if path == "bundle" else "/wall/" + path
        assert_refused_anonymous(m, url.format(b=m.a.code), page=False)
        for b in m.others():
            ok(m, client, url.format(b=b.code))

    return case


def wall_area_case(path: str) -> Any:
    def case(m: Matrix) -> None:
        assert_refused_anonymous(m, path.format(code=m.a.code), page=False)
        for client in (kiosk(m), m.client):
            for b in m.others():
                assert_refused(m, client, path.format(code=b.code))
            own = ok(m, client, path.format(code=m.a.code))
            assert own.get_json()["features"]

    return case


def wall_heat_case(m: Matrix) -> None:
    client, z = kiosk(m), 17
    for b in m.others():
        x, y = next(t for t in (tile_of(*p, z) for p in b.warned_points) if clear_of(m.a, z, *t))
        assert_refused_anonymous(m, f"/wall/tiles/heat/{z}/{x}/{y}.png", page=False)
        assert alpha(ok(m, client, f"/wall/tiles/heat/{z}/{x}/{y}.png").data).max() == 0
    x, y = tile_of(*m.a.warned_points[0], z)
    assert alpha(ok(m, client, f"/wall/tiles/heat/{z}/{x}/{y}.png").data).max() > 0


def wall_update_case(m: Matrix) -> None:
    client = kiosk(m)
    assert m.anonymous().post("/wall/_dash-update-component", json={}).status_code == 401
    for b in m.others():
        values = {"wall-url.pathname": f"/wall/{b.code}", "wall-url.search": ""}
        response = _callback(client, "/wall/", "wall-areas.url", values)
        assert response.status_code == 403, text(response)[:300]
        m.assert_no_trace(text(response), b)
    values = {"wall-url.pathname": f"/wall/{m.a.code}", "wall-url.search": ""}
    own = _callback(client, "/wall/", "wall-areas.url", values)
    assert own.status_code == 200 and m.a.code in text(own)
    m.assert_clean(text(own))


def wall_login_case(m: Matrix) -> None:
    # No login: the token is the credential. Without one, or with a wrong one, 401.
    for query in ("", "?token=", "?token=not-a-token"):
        response = m.anonymous().get("/wall/login" + query)
        assert response.status_code == 401
        m.assert_clean(text(response))
    kiosk(m)  # a live token opens its own area's wall


# --- data routes: tiles, OGC API, downloads, field page ---------------------------------------


def api_token(m: Matrix) -> str:
    """An API token of a new official of A (``Authorization: Bearer …``)."""
    user = make_user(m.database_url, Role.OFFICIAL, m.a.code)
    with psycopg.connect(m.database_url, autocommit=True) as owner:
        return tokens.issue(owner, user.username, "matrix").token


def mvt_case(m: Matrix) -> None:
    z = 17
    for b in m.others():
        x, y = next(t for t in (tile_of(*p, z) for p in b.warned_points) if clear_of(m.a, z, *t))
        url = f"/tiles/households/{z}/{x}/{y}.mvt"
        assert_refused_anonymous(m, url, page=False)
        assert ok(m, m.client, url).data == b"", f"a household of {b.code} in A's tile"
    x, y = tile_of(*m.a.warned_points[0], z)
    assert ok(m, m.client, f"/tiles/households/{z}/{x}/{y}.mvt").data != b""
    bearer = {"Authorization": f"Bearer {api_token(m)}"}
    assert ok(m, m.anonymous(), f"/tiles/households/{z}/{x}/{y}.mvt", **bearer).data != b""


def ogc_case(path: str) -> Any:
    """An OGC document without data: 401 without a login or token; 200 with either."""

    def case(m: Matrix) -> None:
        assert_refused_anonymous(m, path, page=False)
        assert ok(m, m.client, path).get_json()
        bearer = {"Authorization": f"Bearer {api_token(m)}"}
        assert ok(m, m.anonymous(), path, **bearer).get_json()
        wrong = m.anonymous().get(path, headers={"Authorization": "Bearer not-a-token"})
        assert wrong.status_code == 401

    return case


def ogc_items_case(m: Matrix) -> None:
    url = "/ogc/collections/households/items?limit=1000&area={code}"
    assert_refused_anonymous(m, url.format(code=m.a.code), page=False)
    for b in m.others():
        assert_refused(m, m.client, url.format(code=b.code))
    own = ok(m, m.client, url.format(code=m.a.code)).get_json()
    assert len(own["features"]) == len(m.a.households)
    assert ok(m, m.client, "/ogc/collections/households").get_json()["id"] == "households"
    assert m.client.get("/ogc/collections/no-such-layer").status_code == 404


def download_case(
    path: str,
    *,
    own: Callable[[Matrix], bytes],
    entitled: Callable[[Matrix], Any] | None = None,
    county: bool = False,
) -> Any:
    """A download of an area: 401 anonymous, 403 for B, 200 with a body for A's own.

    ``entitled`` is who may download (default: the official of A; the official is then refused
    too); with ``county`` they oversee A's county, so only the other county is outside.
    """

    def case(m: Matrix) -> None:
        assert_refused_anonymous(m, path.format(code=m.a.code), page=False)
        client = m.client if entitled is None else entitled(m)
        if entitled is not None:
            assert_refused(m, m.client, path.format(code=m.a.code))
        for b in m.others()[1:] if county else m.others():
            assert_refused(m, client, path.format(code=b.code))
        body = ok(m, client, path.format(code=m.a.code)).data
        assert own(m) in body

    return case


def field_case(m: Matrix) -> None:
    assert_refused_anonymous(m, "/field", page=True)
    for b in m.others():
        assert_refused(m, m.client, f"/field?village={b.code}")
    page = text(ok(m, m.client, f"/field?village={m.a.code}"))
    assert set(re.findall(r"H\d{6,24}", page)) <= m.a.households
    assert m.a.warned[0] in page


def locate_case(m: Matrix) -> None:
    # The same script for everyone; it holds no data (it reads the page it is loaded into).
    assert_refused_anonymous(m, "/field/locate.js", page=True)
    assert "geolocation" in text(ok(m, m.client, "/field/locate.js"))


def _subpage_cases(prefix: str, entitled: Callable[[Matrix], Any]) -> dict[str, Any]:
    root = prefix.rstrip("/")
    return {
        prefix: dash_page_case(prefix, "?area={b}", entitled),
        f"{root}/<path:path>": dash_page_case(prefix, "{b}", entitled),
        f"{root}/_dash-layout": dash_page_case(prefix, "_dash-layout?area={b}", entitled),
        f"{root}/_dash-dependencies": dash_page_case(prefix, "_dash-dependencies", entitled),
        f"{root}/_reload-hash": dash_page_case(prefix, "_reload-hash", entitled),
        f"{root}/_favicon.ico": dash_static_case(prefix, "_favicon.ico", entitled),
        f"{root}/assets/<path:filename>": dash_static_case(prefix, "assets/onemap.css", entitled),
        f"{root}/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": (
            dash_static_case(prefix, "bundle", entitled)
        ),
    }


ROUTE_CASES: dict[str, Callable[[Matrix], None]] = {
    **_subpage_cases("/stats/", _stats_client),
    "/stats/_dash-update-component": stats_update_case,
    **_subpage_cases("/supervision/", _supervision_client),
    "/supervision/_dash-update-component": supervision_update_case,
    "/wall/": wall_case(""),
    "/wall/<path:path>": wall_case("{b}"),
    "/wall/_dash-layout": wall_case("_dash-layout"),
    "/wall/_dash-dependencies": wall_case("_dash-dependencies"),
    "/wall/_reload-hash": wall_case("_reload-hash"),
    "/wall/_favicon.ico": wall_case("_favicon.ico"),
    "/wall/assets/<path:filename>": wall_case("assets/onemap.css"),
    "/wall/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": wall_case(
        "bundle"
    ),
    "/wall/_dash-update-component": wall_update_case,
    "/wall/login": wall_login_case,
    "/wall/api/version": wall_case("api/version"),
    "/wall/api/areas/<code>.geojson": wall_area_case("/wall/api/areas/{code}.geojson"),
    "/wall/api/areas/<code>/children.geojson": wall_area_case(
        "/wall/api/areas/{code}/children.geojson"
    ),
    "/wall/tiles/heat/<int:z>/<int:x>/<int:y>.png": wall_heat_case,
    "/tiles/<layer>/<int:z>/<int:x>/<int:y>.mvt": mvt_case,
    "/ogc": ogc_case("/ogc"),
    "/ogc/": ogc_case("/ogc/"),
    "/ogc/conformance": ogc_case("/ogc/conformance"),
    "/ogc/collections": ogc_case("/ogc/collections"),
    "/ogc/collections/<key>": ogc_case("/ogc/collections/areas"),
    "/ogc/collections/<key>/items": ogc_items_case,
    "/downloads/layers/<layer>.<fmt>": download_case(
        "/downloads/layers/households.geojson?area={code}", own=lambda m: m.a.warned[0].encode()
    ),
    "/downloads/stats/<table>.<fmt>": download_case(
        "/downloads/stats/series.csv?area={code}", own=lambda m: b"2024-0"
    ),
    "/downloads/supervision/<table>.xlsx": download_case(
        "/downloads/supervision/officials.xlsx?area={code}",
        own=lambda m: b"PK",
        entitled=_supervision_client,
        county=True,
    ),
    "/downloads/village-map/<village>.html": download_case(
        "/downloads/village-map/{code}.html", own=lambda m: m.a.name.encode()
    ),
    "/field": field_case,
    "/field/locate.js": locate_case,
}
