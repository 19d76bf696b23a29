"""Bad input gets a clean 4xx, never a 500: the cases found by hand, then a fuzz of every
Flask route and every Dash callback (Hypothesis)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import users
from core.access import Role, User
from core.scope import is_admin_code
from dashboards.auth import CSRF_COOKIE
from dashboards.guard import check_body
from tests.conftest import FAST_AUTH, PASSWORD, logged_in_client, login, make_user
from tests.dash_calls import (
    callback_map,
    dash_update_as,
    dash_update_key,
    inputs_of,
    page_callbacks,
)


@pytest.fixture(scope="module")
def auditor(database_url: str) -> User:
    return make_user(database_url, Role.AUDITOR, "33")


@pytest.fixture(scope="module")
def client(database_url: str, auditor: User) -> Any:
    return logged_in_client(database_url, auditor)


def _clean(response: Any) -> None:
    assert 400 <= response.status_code < 500, (response.status_code, response.data[:300])
    assert b"Traceback" not in response.data


@pytest.mark.parametrize("before", ["²", "1" * 4301, "-1", "99999999999999999999", "١٢", "1\x00"])
def test_audit_before_that_is_no_id(client: Any, before: str) -> None:
    _clean(client.get("/audit", query_string={"before": before}))


@pytest.mark.parametrize("value", ["H000001\x00", "\x00", "a\x00b"])
def test_nul_bytes_in_filters_and_urls(client: Any, value: str) -> None:
    for name in ("household", "user", "area"):
        _clean(client.get("/audit", query_string={name: value}))
    _clean(client.get(f"/api/areas/{value}/children.geojson"))
    _clean(client.get(f"/api/areas/{value}/households.geojson"))
    _clean(client.get(f"/downloads/heat/{value}.tif"))


def _post(client: Any, body: bytes) -> Any:
    token = client.get_cookie(CSRF_COOKIE).value
    return client.post(
        "/_dash-update-component",
        data=body,
        headers={"X-CSRFToken": token, "Content-Type": "application/json"},
    )


def _a_body() -> dict[str, Any]:
    key, spec = next(iter(callback_map().items()))
    return {
        "output": key,
        "outputs": {"id": "x", "property": "y"},
        "inputs": [{**i, "value": None} for i in spec["inputs"]],
        "state": [{**s, "value": None} for s in spec["state"]],
        "changedPropIds": [],
    }


@pytest.mark.parametrize(
    "body",
    [
        b"null",
        b"[]",
        b"[1, 2]",
        b'"text"',
        b"{}",
        b"not json",
        b'{"output": null}',
        json.dumps({k: v for k, v in _a_body().items() if k != "output"}).encode(),
        json.dumps(_a_body() | {"output": "no-such.children"}).encode(),
        json.dumps(_a_body() | {"output": {"a": 1}}).encode(),
        json.dumps(_a_body() | {"inputs": {"a": 1}}).encode(),
        json.dumps(_a_body() | {"inputs": [None, "x"]}).encode(),
        json.dumps(_a_body() | {"state": "x"}).encode(),
        json.dumps(_a_body() | {"changedPropIds": {"a": 1}}).encode(),
        b"[" * 5000 + b"]" * 5000,
        b'{"output": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    ],
    ids=lambda b: repr(b[:40]),
)
def test_malformed_callback_bodies(client: Any, body: bytes) -> None:
    _clean(_post(client, body))


def test_nul_login_name_is_refused_and_counted(database_url: str) -> None:
    from dashboards.app import create_app

    user = make_user(database_url, Role.PLANNER, "331122")
    browser = create_app().server.test_client()
    for _ in range(5):
        _clean(login(browser, user.username + "\x00", PASSWORD))
    locked = login(browser, user.username, PASSWORD)
    assert locked.status_code == 429  # the NUL attempts counted: the account is locked
    with psycopg.connect(database_url, autocommit=True) as conn:
        count = conn.execute(
            "SELECT count(*) FROM login_attempt WHERE username = %s AND outcome = 'failure'",
            [user.username],
        ).fetchone()
        assert count is not None and count[0] == 5
        with pytest.raises(users.AuthenticationFailed):
            users.authenticate(conn, "\x00", "x", settings=FAST_AUTH)


@pytest.mark.parametrize("code", ["33\n", "３３", "٣٣", "33 ", "3\u0663", "", "331122\n"])
def test_area_codes_are_ascii_digits_and_nothing_else(code: str) -> None:
    assert not is_admin_code(code)


def test_area_route_with_odd_digits(client: Any) -> None:
    for code in ("33%0A", "%EF%BC%93%EF%BC%93", "%D9%A3%D9%A3"):
        response = client.get(f"/api/areas/{code}/children.geojson")
        _clean(response)


# --- the fuzz: every route, every callback ------------------------------------------------------

_TEXT = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["\x00", "²", "1" * 4301, "33\n", "３３", "../../etc", "%00", "-1", "H\x00"]),
)
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), _TEXT),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)


def _routes() -> list[str]:
    from dashboards.app import create_app

    rules = create_app().server.url_map.iter_rules()
    return sorted({r.rule for r in rules if "GET" in (r.methods or ()) and "static" not in r.rule})


def _fill(rule: str, values: list[str]) -> str:
    out, rest = [], rule
    for value in values:
        if "<" not in rest:
            break
        head, _, tail = rest.partition("<")
        _, _, rest = tail.partition(">")
        out.append(head + value)
    return "".join(out) + rest


_FUZZ = settings(
    max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True
)
_QUERY = st.dictionaries(
    st.sampled_from(["before", "user", "household", "area", "lang", "v", "s", "next", "h", "m"]),
    _TEXT,
    max_size=3,
)
_CALLBACKS = sorted(inputs_of(v) for v in callback_map().values())


@pytest.mark.parametrize("rule", _routes())
@_FUZZ
@given(parts=st.lists(_TEXT, min_size=3, max_size=3), query=_QUERY)
def test_fuzz_every_route(client: Any, rule: str, parts: list[str], query: dict[str, str]) -> None:
    path = _fill(rule, [quote(p, safe="") or "x" for p in parts])
    response = client.get(path, query_string=query)
    assert response.status_code < 500, (path, query, response.data[:300])


@pytest.mark.parametrize("name", _CALLBACKS)
@_FUZZ
@given(values=st.lists(_JSON, min_size=6, max_size=6), raw=st.booleans())
def test_fuzz_every_callback(client: Any, name: str, values: list[Any], raw: bool) -> None:
    spec = next(v for v in callback_map().values() if inputs_of(v) == name)
    props = [f"{i['id']}.{i['property']}" for i in spec["inputs"] + spec["state"]]
    response = dash_update_as(client, name, dict(zip(props, values, strict=False)))
    assert response.status_code < 500, (name, values, response.data[:300])
    if raw:  # the same values as a whole body, with the callback's key kept
        key = next(k for k, v in callback_map().items() if inputs_of(v) == name)
        body = {"output": key, "inputs": values[:2], "outputs": values[2], "state": values[3]}
        assert _post(client, json.dumps(body).encode()).status_code < 500


#: Every server-side callback of the pages beside the map, by page and output key.
_PAGE_CALLBACKS = sorted(
    (prefix, key)
    for prefix, callbacks in page_callbacks().items()
    for key, spec in callbacks.items()
    if "callback" in spec
)


@pytest.mark.parametrize(("prefix", "key"), _PAGE_CALLBACKS)
@_FUZZ
@given(values=st.lists(_JSON, min_size=8, max_size=8))
def test_fuzz_every_callback_of_the_other_pages(
    client: Any, prefix: str, key: str, values: list[Any]
) -> None:
    spec = page_callbacks()[prefix][key]
    props = [f"{i['id']}.{i['property']}" for i in spec["inputs"] + spec["state"]]
    response = dash_update_key(client, prefix, key, dict(zip(props, values, strict=False)))
    assert response.status_code < 500, (prefix, key, values, response.data[:300])


@pytest.mark.parametrize("value", [1, 2.5, True, [], {"a": "?area=33"}])
def test_a_url_or_counter_of_another_kind_is_refused(client: Any, value: Any) -> None:
    # A search, pathname or n_intervals is text or a whole number when the renderer sends it.
    for prefix, key, prop in (
        ("/stats/", "effect-body.children", "stats-url.search"),
        ("/supervision/", "sup-body.children", "sup-url.search"),
        ("/wall/", "wall-polled.data", "wall-poll.n_intervals"),
    ):
        if prop.endswith("n_intervals") and type(value) is int:
            continue  # a count is what it should be
        _clean(dash_update_key(client, prefix, key, {prop: value}))


@pytest.mark.parametrize("areas", [[["33"]], [[33, "浙江"]], [["x", "y"]], {"33": "浙江"}, "33"])
def test_a_wall_tour_it_never_stored_is_refused(client: Any, areas: Any) -> None:
    key = next(k for k in page_callbacks()["/wall/"] if "wall-title" in k)
    values = {"wall-tour.n_intervals": 1, "wall-tour-areas.data": areas}
    _clean(dash_update_key(client, "/wall/", key, values))


@pytest.mark.parametrize(
    "name", sorted(inputs_of(v) for v in callback_map().values() if "callback" in v)
)
def test_bodies_as_the_renderer_sends_them_pass_the_guard(name: str) -> None:
    # The renderer names a duplicate output "search@<hash>": the guard must let it through
    # (it once refused every click on a household because of it).
    key, spec = next((k, v) for k, v in callback_map().items() if inputs_of(v) == name)
    found = re.search(r"@([0-9a-f]{64})", key)
    declared = spec["output"] if isinstance(spec["output"], list) else [spec["output"]]
    outputs = [
        {
            "id": o.component_id,
            "property": o.component_property
            + (f"@{found.group(1)}" if found and o.allow_duplicate else ""),
        }
        for o in declared
    ]
    body = {
        "output": key,
        "outputs": outputs if isinstance(spec["output"], list) else outputs[0],
        "inputs": [{**i, "value": None} for i in spec["inputs"]],
        "state": [{**s, "value": None} for s in spec.get("state", [])],
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in spec["inputs"]],
    }
    check_body(json.dumps(body).encode(), callback_map())


@pytest.mark.parametrize("prefix", ["/stats/", "/wall/", "/supervision/"])
@pytest.mark.parametrize(
    "body", [b"null", b"[1]", b'{"output": "no-such.children"}', b"[" * 5000 + b"]" * 5000]
)
def test_malformed_bodies_to_the_other_pages_callbacks(
    client: Any, prefix: str, body: bytes
) -> None:
    token = client.get_cookie(CSRF_COOKIE).value
    response = client.post(
        prefix + "_dash-update-component",
        data=body,
        headers={"X-CSRFToken": token, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, (prefix, body[:20], response.data[:200])
