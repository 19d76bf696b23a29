"""Vector tiles of the layer catalog: ``/tiles/<layer>/<z>/<x>/<y>.mvt`` (Mapbox Vector Tile).

Thin: :mod:`layers.tiles` makes the tile in PostGIS inside the viewer's scope (row-level
security); here the ETag (data version + scope) answers repeat requests with 304 and sets the
caching headers. Tiles with identified points (officials) are audited and never cached.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from core import audit, db
from dashboards.viewer import current_user, mark_personal, request_id
from layers.catalog import get_layer
from layers.tiles import open_tile, tile_bytes

tiles_api = Blueprint("onemap_tiles", __name__)
MVT_TYPE = "application/vnd.mapbox-vector-tile"


def tile_url(layer: str) -> str:
    """The URL template of a layer's tiles (for a map or QGIS's "Vector Tiles" source)."""
    return f"/tiles/{layer}/{{z}}/{{x}}/{{y}}.mvt"


@tiles_api.get("/tiles/<layer>/<int:z>/<int:x>/<int:y>.mvt")
def vector_tile(layer: str, z: int, x: int, y: int) -> Response:
    """One tile of a catalog layer as the viewer may see it (``?month=YYYY-MM``, else latest)."""
    user = current_user()
    spec = get_layer(layer)
    with db.scoped(user.scope) as conn:
        tile, etag = open_tile(conn, spec, (z, x, y), request.args.get("month"), user)
        identified = spec.privacy == "households" and user.permissions.identified_points
        if not identified and etag in request.if_none_match:
            response = Response(status=304)
        else:
            response = Response(tile_bytes(conn, tile), mimetype=MVT_TYPE)
            if identified:
                audit.record(
                    conn,
                    user=user,
                    route=request.path,
                    request_id=request_id(),
                    household_ids=[],
                    detail={"tile": f"{z}/{x}/{y}", "layer": layer, "view": "tile"},
                )
    response.set_etag(etag)
    if identified:
        mark_personal()
    else:
        response.headers["Cache-Control"] = "private, max-age=3600"
        response.headers["Vary"] = "Cookie, Authorization"
    return response
