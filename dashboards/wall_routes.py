"""The wall screen's Flask routes: the kiosk login, area outlines, heat tiles and the version.

Every route reads the request's :class:`~dashboards.wall_access.WallGrant` and queries only
inside its area (``core.db.scoped``); heat tiles are always of de-identified points.
"""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, redirect, request, session

from core import db
from core.wall_tokens import token_hash
from dashboards.auth import csrf_token
from dashboards.routes import geojson_response
from dashboards.wall_access import SESSION_KEY, WallTokenRefused, current_grant, grant_for_token
from layers.boundaries import area_geojson, children_geojson
from layers.heatmap import UnknownTile, tile_png
from layers.wall import wall_version

wall_routes = Blueprint("onemap_wall", __name__)


@wall_routes.get("/wall/login")
def wall_login() -> Response:
    """A kiosk presents its token once; the session keeps its hash and opens the area's wall."""
    token = request.args.get("token", "")[:200]
    grant = grant_for_token(token) if token else None
    if grant is None:
        raise WallTokenRefused("unknown or revoked wall token at login")
    session.clear()
    session.permanent = True
    session[SESSION_KEY] = token_hash(token)
    csrf_token()
    return redirect(f"/wall/{grant.area}")  # type: ignore[return-value]


@wall_routes.get("/wall/api/areas/<code>/children.geojson")
def wall_children(code: str) -> Response:
    """The children of an area of the wall (reference data: outlines and names)."""
    scope = current_grant().scope
    with db.scoped(scope) as conn:
        return geojson_response(children_geojson(conn, scope, code))


@wall_routes.get("/wall/api/areas/<code>.geojson")
def wall_outline(code: str) -> Response:
    """One area's outline."""
    scope = current_grant().scope
    with db.scoped(scope) as conn:
        return geojson_response(area_geojson(conn, scope, code))


@wall_routes.get("/wall/tiles/heat/<int:z>/<int:x>/<int:y>.png")
def wall_heat_tile(z: int, x: int, y: int) -> Response:
    """A warning-heatmap tile of the wall's area, from de-identified points only."""
    scope = current_grant().scope
    with db.scoped(scope) as conn:
        try:
            png = tile_png(conn, scope, z, x, y, deidentified=True)
        except ValueError as error:
            raise UnknownTile(str(error)) from error
    response = Response(png, mimetype="image/png")
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@wall_routes.get("/wall/api/version")
def wall_data_version() -> Response:
    """A string that changes when a month or warnings are published (the wall polls it)."""
    scope = current_grant().scope
    with db.scoped(scope) as conn:
        version = wall_version(conn)
    response = jsonify(version=version)
    response.headers["Cache-Control"] = "no-store"
    return response
