"""OGC API – Features at ``/ogc`` for desktop GIS (QGIS, GDAL's OAPIF driver, OWSLib).

Thin: :mod:`layers.ogc` builds the documents inside the viewer's scope; a login session or an
API token (``Authorization: Bearer …``, ``onemap tokens issue``) is required (401 without).
Pages that identify households (officials) are audited and never cached.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Blueprint, Response, request

from core import audit, db
from dashboards.viewer import current_user, mark_personal, request_id
from layers import ogc

ogc_api = Blueprint("onemap_ogc", __name__)


def _base() -> str:
    return request.host_url.rstrip("/") + "/ogc"


def _json(body: dict[str, Any], media: str = "application/json") -> Response:
    response = Response(orjson.dumps(body), mimetype=media)
    response.headers["Vary"] = "Cookie, Authorization"
    return response


@ogc_api.get("/ogc")
@ogc_api.get("/ogc/")
def landing() -> Response:
    """The landing page."""
    current_user()
    return _json(ogc.landing(_base()))


@ogc_api.get("/ogc/conformance")
def conformance() -> Response:
    """The conformance classes."""
    current_user()
    return _json(ogc.conformance())


@ogc_api.get("/ogc/collections")
def collections() -> Response:
    """The catalog's vector layers."""
    return _json(ogc.collections(_base(), current_user()))


@ogc_api.get("/ogc/collections/<key>")
def collection(key: str) -> Response:
    """One collection."""
    return _json(ogc.collection(_base(), key, current_user()))


@ogc_api.get("/ogc/collections/<key>/items")
def items(key: str) -> Response:
    """A page of features (``bbox``, ``limit``, ``offset``, ``datetime`` = month, ``area``)."""
    user = current_user()
    query = ogc.ItemsQuery.parse(dict(request.args))
    with db.scoped(user.scope) as conn:
        page = ogc.items(conn, _base(), key, user, query)
        if page.household_ids:
            audit.record(
                conn,
                user=user,
                route=request.path,
                request_id=request_id(),
                household_ids=page.household_ids,
                detail={"collection": key, "offset": query.offset, "view": "ogc"},
            )
    if page.household_ids:
        mark_personal()
    return _json(page.body, "application/geo+json")
