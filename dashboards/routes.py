"""Flask routes beside Dash: GeoJSON layers, heat tiles, the heat GeoTIFF, the door page, health.

The routes are thin: the domain code in ``layers/`` returns bytes or data; the routes pick the
viewer's scope, set caching headers and map onemap errors to HTTP statuses with a message in the
viewer's language (``?lang=en``).
"""

from __future__ import annotations

import re

from flask import Blueprint, Response, jsonify, request

from dashboards.door import door_page, not_found_page
from dashboards.messages import error_message, normalise_lang
from geo import db
from geo.admin import data_version
from geo.errors import OneMapError, http_status
from geo.scope import PROVINCE_SCOPE, Scope, level_of
from layers.boundaries import area_geojson, children_geojson
from layers.heat_export import geotiff_bytes, heat_filename, heat_grid
from layers.heatmap import UnknownTile, tile_png
from layers.households import HOUSEHOLD_LEVELS, households_geojson, latest_month
from layers.portrait import UnknownHousehold, household_for_token, household_portrait

api = Blueprint("onemap_api", __name__)


def viewer_scope() -> Scope:
    """The jurisdiction of the current viewer (the province until logins arrive)."""
    return PROVINCE_SCOPE


def request_lang() -> str:
    """The viewer's language from ``?lang=`` (Chinese by default)."""
    return normalise_lang(request.args.get("lang"))


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


_EMPTY = b'{"type": "FeatureCollection", "features": [], "total": 0, "truncated": false}'


def households_url(code: str, version: int) -> str:
    """The URL of an area's household points."""
    return f"/api/areas/{code}/households.geojson?v={version}"


@api.get("/api/areas/<code>/households.geojson")
def area_households(code: str) -> Response:
    """Return the households of a town or village (none above that level), capped."""
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
            raise UnknownTile(str(error)) from error
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def heat_url(version: str) -> str:
    """The heat tile URL template; the version makes tiles cacheable."""
    return "/tiles/heat/{z}/{x}/{y}.png?v=" + version


def heat_download_url(code: str, version: str, lang: str = "zh") -> str:
    """The URL of an area's warning-density GeoTIFF (the version keeps caches honest)."""
    return f"/downloads/heat/{code}.tif?v={version}" + ("&lang=en" if lang == "en" else "")


@api.get("/downloads/heat/<code>.tif")
def heat_download(code: str) -> Response:
    """The warning-weighted household density of an area, as a GeoTIFF attachment."""
    with db.connection() as conn:
        grid = heat_grid(conn, viewer_scope(), code)
    response = Response(geotiff_bytes(grid), mimetype="image/tiff")
    response.headers["Content-Disposition"] = f'attachment; filename="{heat_filename(grid)}"'
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@api.get("/h/<token>")
def door_code(token: str) -> Response:
    """The page a household's door QR code opens (the same portrait, as plain HTML)."""
    lang = request_lang()
    if not re.fullmatch(r"[0-9a-f]{32}", token):
        raise UnknownHousehold("malformed door-code token")
    with db.connection() as conn:
        household_id = household_for_token(conn, viewer_scope(), token)
        portrait = household_portrait(conn, viewer_scope(), household_id)
    return Response(door_page(portrait, lang), mimetype="text/html")


@api.get("/healthz")
def health() -> Response:
    """Liveness and data version, for compose healthchecks and the demo script."""
    with db.connection() as conn:
        version = data_version(conn)
    return jsonify(status="ok", geography_version=version)


@api.app_errorhandler(OneMapError)
def onemap_error(error: OneMapError) -> tuple[Response, int]:
    """Map onemap errors to their HTTP status with the user-facing message only.

    Pages (the door page) get a page; data routes get JSON ``{"error": …}``.
    """
    lang = request_lang()
    message = error_message(error, lang)
    if request.path.startswith("/h/"):
        page = Response(not_found_page(lang, message), mimetype="text/html")
        return page, http_status(error)
    return jsonify(error=message), http_status(error)
