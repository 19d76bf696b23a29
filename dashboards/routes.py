"""Flask routes beside Dash: GeoJSON layers, heat tiles, the heat GeoTIFF, the door page, health.

The routes are thin: the domain code in ``layers/`` returns bytes or data. Every route reads
the logged-in user (:mod:`dashboards.viewer`) and reads PostGIS only through ``core.db.scoped``
in that user's jurisdiction (row-level security); personal data only through the readers of
``layers`` inside :func:`dashboards.viewer.audited_request`, which check access and write the
audit row in the same transaction. The routes set caching headers and map onemap errors to
HTTP statuses with a message in the viewer's language (``?lang=en``, ``dashboards/errors.py``).
"""

from __future__ import annotations

import datetime as dt
import re

from flask import Blueprint, Response, jsonify, request

from core import db
from core.access import User
from core.errors import OneMapError
from core.scope import Scope, is_admin_code
from dashboards.door import door_page, not_found_page
from dashboards.door_public import public_door
from dashboards.errors import error_message, http_status
from dashboards.messages import normalise_lang
from dashboards.pages import error_page
from dashboards.state import parse_month
from dashboards.viewer import audited_request, current_user, optional_user
from geo.admin import data_version
from layers.boundaries import area_geojson, children_geojson
from layers.heat_export import export_for, geotiff_bytes, heat_filename
from layers.heatmap import UnknownTile, tile_png
from layers.household_points import points_for
from layers.portrait import UnknownHousehold, open_by_token

api = Blueprint("onemap_api", __name__)
#: Paths whose errors are JSON (read by scripts and the map); every other path is a page.
DATA_ROUTES = ("/api/", "/tiles/", "/downloads/", "/_dash-", "/healthz")


def viewer_scope() -> Scope:
    """The jurisdiction of the logged-in viewer."""
    return current_user().scope


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
    scope = viewer_scope()
    with db.scoped(scope) as conn:
        return geojson_response(children_geojson(conn, scope, code))


def outline_url(code: str, version: int) -> str:
    """The URL of an area's own outline."""
    return f"/api/areas/{code}.geojson?v={version}"


@api.get("/api/areas/<code>.geojson")
def area_outline(code: str) -> Response:
    """Return one area's outline as GeoJSON."""
    scope = viewer_scope()
    with db.scoped(scope) as conn:
        return geojson_response(area_geojson(conn, scope, code))


def households_url(code: str, version: int, scope: str, month: dt.date | None = None) -> str:
    """The URL of an area's household points (the scope keys the browser's cache)."""
    shown = f"&month={month:%Y-%m}" if month else ""
    return f"/api/areas/{code}/households.geojson?v={version}&s={scope}{shown}"


@api.get("/api/areas/<code>/households.geojson")
def area_households(code: str) -> Response:
    """The households of a town or village as the viewer may see them, capped.

    None above town level or for an area above the viewer's jurisdiction; 403 outside it.
    Identified households are written to the audit trail in the same transaction.
    """
    with audited_request(current_user()) as trail:
        layer = points_for(trail, code, parse_month(request.args.get("month")))
    return geojson_response(layer.body, max_age=300)


@api.get("/tiles/heat/<int:z>/<int:x>/<int:y>.png")
def heat_tile(z: int, x: int, y: int) -> Response:
    """A warning-heatmap tile of the viewer's jurisdiction (transparent where no warnings).

    Roles without identified household points get tiles of the de-identified points.
    """
    user = current_user()
    area = request.args.get("a") or None
    if area is not None and not (is_admin_code(area) and user.scope.covers(area)):
        raise UnknownTile(f"no heat tiles of area {area!r} in scope {user.jurisdiction}")
    with db.scoped(user.scope) as conn:
        try:
            png = tile_png(
                conn,
                user.scope,
                z,
                x,
                y,
                deidentified=not user.permissions.identified_points,
                area=area,
            )
        except ValueError as error:
            raise UnknownTile(str(error)) from error
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


def heat_url(version: str, user: User, area: str | None = None) -> str:
    """The heat tile URL template; version, scope and area make tiles cacheable for good.

    With ``area`` (inside the jurisdiction) the tiles show only that area's warnings, clipped to
    its outline: the heatmap never paints outside the area in view.
    """
    kind = "i" if user.permissions.identified_points else "d"
    clip = f"&a={area}" if area and user.scope.covers(area) else ""
    return "/tiles/heat/{z}/{x}/{y}.png?v=" + f"{version}&s={user.jurisdiction}{kind}{clip}"


def heat_download_url(code: str, version: str, lang: str = "zh") -> str:
    """The URL of an area's warning-density GeoTIFF (the version keeps caches honest)."""
    return f"/downloads/heat/{code}.tif?v={version}" + ("&lang=en" if lang == "en" else "")


@api.get("/downloads/heat/<code>.tif")
def heat_download(code: str) -> Response:
    """The warning-weighted household density of an area, as a GeoTIFF attachment (an export).

    Built from de-identified points; the export is written to the audit trail.
    """
    with audited_request(current_user()) as trail:
        grid = export_for(trail, code)
    response = Response(geotiff_bytes(grid), mimetype="image/tiff")
    response.headers["Content-Disposition"] = f'attachment; filename="{heat_filename(grid)}"'
    return response


@api.get("/h/<token>")
def door_code(token: str) -> Response:
    """The page a household's door QR code opens (the same portrait, as plain HTML).

    Without a login it asks to log in and shows nothing of the household; with one, the
    portrait is shown only to a user who may see it (403 otherwise), and the view is audited.
    """
    lang = request_lang()
    if not re.fullmatch(r"[0-9a-f]{32}", token):
        raise UnknownHousehold("malformed door-code token")
    user = optional_user()
    if user is None:  # the household or a neighbour scanned it: no personal data (issue 11)
        return public_door(token, lang)
    # The route pattern, not the path: the audit trail never keeps a door code.
    with audited_request(user, route="/h/<token>") as trail:
        portrait = open_by_token(trail, token)
    return Response(door_page(portrait, lang), mimetype="text/html")


@api.get("/healthz")
def health() -> Response:
    """Liveness and data version, for compose healthchecks and the demo script."""
    with db.app_connection() as conn:
        version = data_version(conn)
    return jsonify(status="ok", geography_version=version)


@api.app_errorhandler(OneMapError)
def onemap_error(error: OneMapError) -> tuple[Response, int]:
    """Map onemap errors to their HTTP status with the user-facing message only.

    Page requests (the door page, the audit page) get an HTML page in the viewer's language;
    only data routes (:data:`DATA_ROUTES`) get JSON ``{"error": …}``.
    """
    lang = request_lang()
    message = error_message(error, lang)
    status = http_status(error)
    if request.path.startswith("/h/"):
        page = not_found_page(lang, message, refused=status == 403)
        return Response(page, mimetype="text/html"), status
    if not request.path.startswith(DATA_ROUTES):
        # The language links do not repeat the refused query (it may name what was refused).
        page = error_page(lang, message, status=status, query={})
        return Response(page, mimetype="text/html"), status
    return jsonify(error=message), status
