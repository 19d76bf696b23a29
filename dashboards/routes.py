"""Flask routes beside Dash: boundary GeoJSON by URL (cached by data version) and health."""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, render_template_string

from geo import db
from geo.admin import data_version
from geo.errors import OneMapError, UnknownArea, http_status
from geo.scope import PROVINCE_SCOPE, Scope, level_of
from layers.boundaries import area_geojson, children_geojson
from layers.heatmap import tile_png
from layers.households import households_geojson, latest_month
from layers.portrait import UnknownHousehold, household_for_token, household_portrait

api = Blueprint("onemap_api", __name__)
#: How a benefit's state reads in Chinese.
BENEFIT_STATES_ZH = {"received": "已享受", "gap": "应享未享", "anomaly": "享受但不符合"}


def viewer_scope() -> Scope:
    """The jurisdiction of the current viewer (the province until logins arrive)."""
    return PROVINCE_SCOPE


def geojson_response(body: bytes, max_age: int = 86400) -> Response:
    """A GeoJSON response; URLs carry the data version, so a day's caching never goes stale."""
    response = Response(body, mimetype="application/geo+json")
    response.headers["Cache-Control"] = f"private, max-age={max_age}"
    return response


def children_url(code: str, version: int) -> str:
    """The URL of an area's children layer; the data version makes it cacheable for good."""
    return f"/api/areas/{code}/children.geojson?v={version}"


@api.get("/api/areas/<code>/children.geojson")
def area_children(code: str) -> Response:
    """Return the children of an area (or the village itself) as GeoJSON."""
    with db.connection() as conn:
        return geojson_response(children_geojson(conn, viewer_scope(), code))


def outline_url(code: str, version: int) -> str:
    """The URL of an area's own outline."""
    return f"/api/areas/{code}.geojson?v={version}"


@api.get("/api/areas/<code>.geojson")
def area_outline(code: str) -> Response:
    """Return one area's outline as GeoJSON."""
    with db.connection() as conn:
        return geojson_response(area_geojson(conn, viewer_scope(), code))


#: Households are drawn from this level down (a town has hundreds, a county thousands).
HOUSEHOLD_LEVELS = ("town", "village")
_EMPTY = b'{"type": "FeatureCollection", "features": []}'


def households_url(code: str, version: int) -> str:
    """The URL of an area's household points."""
    return f"/api/areas/{code}/households.geojson?v={version}"


@api.get("/api/areas/<code>/households.geojson")
def area_households(code: str) -> Response:
    """Return the households of a town or village (none above that level)."""
    with db.connection() as conn:
        month = latest_month(conn)
        if month is None or level_of_or_none(code) not in HOUSEHOLD_LEVELS:
            body = _EMPTY
        else:
            body = households_geojson(conn, viewer_scope(), code, month)
    return geojson_response(body, max_age=300)


def level_of_or_none(code: str) -> str | None:
    """The level of an admin code, or None for anything else."""
    try:
        return level_of(code)
    except ValueError:
        return None


@api.get("/tiles/heat/<int:z>/<int:x>/<int:y>.png")
def heat_tile(z: int, x: int, y: int) -> Response:
    """A warning-heatmap tile (transparent where there are no warnings)."""
    with db.connection() as conn:
        try:
            png = tile_png(conn, viewer_scope(), z, x, y)
        except ValueError as error:
            raise UnknownArea(str(error), user_msg="No such tile.") from error
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def heat_url(version: str) -> str:
    """The heat tile URL template; the version makes tiles cacheable."""
    return "/tiles/heat/{z}/{x}/{y}.png?v=" + version


_DOOR_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>小康码 · {{ p.household_id }}</title>
<link rel="stylesheet" href="/assets/onemap.css"></head>
<body><div class="door">
<h1>小康码 · 户 {{ p.household_id }}</h1>
<p class="note">{{ p.basics.county }} · {{ p.basics.town }} · {{ p.basics.village }} —
演示数据，均为合成。</p>
<h2>家庭成员</h2><ul>{% for m in p.members %}
<li>{{ m.name }}（{{ m.relation }}，{{ m.age }} 岁，{{ m.id_masked }}）</li>{% endfor %}</ul>
<h2>幸福清单</h2><ul>{% for b in p.benefits %}
<li>{{ b.name_zh }}（{{ b.policy_code }}）· {{ states[b.state] }}</li>{% endfor %}</ul>
<h2>预警</h2><ul>{% for w in p.warnings %}
<li>{{ w.level }} · {{ w.status }} · {{ w.reasons_zh | join("；") }}</li>{% endfor %}</ul>
<p><a href="/?area={{ p.basics.village_code }}">在地图上查看</a></p>
</div></body></html>"""


@api.get("/h/<token>")
def door_code(token: str) -> Response:
    """The page a household's door QR code opens (the same portrait, as plain HTML)."""
    if not re.fullmatch(r"[0-9a-f]{32}", token):
        raise UnknownHousehold("malformed door-code token")
    with db.connection() as conn:
        household_id = household_for_token(conn, viewer_scope(), token)
        portrait = household_portrait(conn, viewer_scope(), household_id)
    # Jinja autoescapes: names and reasons are text, never markup.
    page = render_template_string(_DOOR_PAGE, p=portrait, states=BENEFIT_STATES_ZH)
    return Response(page, mimetype="text/html")


@api.get("/healthz")
def health() -> Response:
    """Liveness and data version, for compose healthchecks and the demo script."""
    with db.connection() as conn:
        version = data_version(conn)
    return jsonify(status="ok", geography_version=version)


@api.app_errorhandler(OneMapError)
def onemap_error(error: OneMapError) -> tuple[Response, int]:
    """Map onemap errors to their HTTP status with the user-facing message only."""
    return jsonify(error=error.user_msg), http_status(error)
