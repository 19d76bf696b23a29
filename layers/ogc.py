"""OGC API – Features over the layer catalog: landing page, conformance, collections, items.

Returns plain dicts (the web layer serialises them). Items are read a page at a time with
``bbox``, ``limit``, ``offset`` and ``datetime`` (= a month), through the same privacy step as
exports (:func:`layers.layerdata.protect`). Collections are the catalog's vector layers; each
covers the children of the user's jurisdiction (``area=`` narrows it).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pandas as pd
import psycopg
import shapely
from psycopg import sql

from core.access import User
from core.errors import DataSourceError
from layers.catalog import Layer, catalog, get_layer
from layers.layerdata import (
    SYNTHETIC_NOTE,
    LayerRequest,
    check,
    household_ids_of,
    layer_query,
    parse_month,
    protect,
    query_params,
    to_frame,
)

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
#: A de-identified point may sit up to ~600 m from its true place: read that much wider.
_MARGIN_DEG = 0.01


class BadParameter(DataSourceError):
    """A query parameter that cannot be understood."""

    user_msg = "A query parameter is not valid."


@dataclass(frozen=True, slots=True)
class ItemsQuery:
    """The parsed query of an items request."""

    limit: int = DEFAULT_LIMIT
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    month: str | None = None
    area: str | None = None

    @classmethod
    def parse(cls, args: dict[str, str]) -> ItemsQuery:
        """Read ``limit``, ``offset``, ``bbox``, ``datetime`` and ``area``; clamp the limit.

        Raises
        ------
        BadParameter
            A non-number limit/offset, a bbox without four numbers, a datetime not a month.
        """
        try:
            limit = min(max(int(args.get("limit", DEFAULT_LIMIT)), 1), MAX_LIMIT)
            offset = max(int(args.get("offset", 0)), 0)
            box = args.get("bbox")
            values = [float(v) for v in box.split(",")] if box else None
        except ValueError as error:
            raise BadParameter(f"bad limit/offset/bbox: {error}") from None
        if values is not None and len(values) != 4:
            raise BadParameter("bbox needs minx,miny,maxx,maxy")
        bbox = None if values is None else (values[0], values[1], values[2], values[3])
        when = args.get("datetime")
        month = None
        if when and when not in {"..", "../.."}:
            month = when.split("/")[0][:7]
            try:
                dt.date.fromisoformat(month + "-01")
            except ValueError:
                raise BadParameter(f"datetime {when!r} is not a month") from None
        return cls(limit, offset, bbox, month, args.get("area"))


def landing(base: str) -> dict[str, Any]:
    """The landing page."""
    return {
        "title": "onemap (一张图) — OGC API Features (synthetic data)",
        "description": SYNTHETIC_NOTE,
        "links": [
            {"href": f"{base}", "rel": "self", "type": "application/json", "title": "this page"},
            {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json"},
            {"href": f"{base}/collections", "rel": "data", "type": "application/json"},
        ],
    }


def conformance() -> dict[str, Any]:
    """The conformance classes."""
    return {"conformsTo": CONFORMANCE}


def _collection(base: str, layer: Layer, user: User) -> dict[str, Any]:
    url = f"{base}/collections/{layer.key}"
    return {
        "id": layer.key,
        "title": layer.title.zh,
        "description": f"{layer.title.en} — {SYNTHETIC_NOTE}; jurisdiction {user.jurisdiction}",
        "itemType": "feature",
        "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"],
        "extent": {"spatial": {"bbox": [[118.0, 27.0, 123.3, 31.3]]}},
        "links": [
            {"href": url, "rel": "self", "type": "application/json"},
            {"href": f"{url}/items", "rel": "items", "type": "application/geo+json"},
        ],
    }


def collections(base: str, user: User) -> dict[str, Any]:
    """Every vector layer of the catalog."""
    layers = [get_layer(k) for k in catalog().vector_keys()]
    return {
        "links": [{"href": f"{base}/collections", "rel": "self", "type": "application/json"}],
        "collections": [_collection(base, layer, user) for layer in layers],
    }


def collection(base: str, key: str, user: User) -> dict[str, Any]:
    """One collection (404 for an unknown or raster layer)."""
    layer = get_layer(key)
    if layer.geometry == "raster":
        get_layer(f"{key}:raster")  # raises UnknownLayer
    return _collection(base, layer, user)


def _page_sql(layer: Layer, query: ItemsQuery) -> sql.Composed:
    where = sql.SQL("true")
    if query.bbox is not None:
        if layer.geometry == "point":
            where = sql.SQL(
                "q.lon BETWEEN %(minx)s AND %(maxx)s AND q.lat BETWEEN %(miny)s AND %(maxy)s"
            )
        else:
            where = sql.SQL(
                "ST_Intersects(ST_GeomFromWKB(q.geometry, 4326),"
                " ST_MakeEnvelope(%(minx)s, %(miny)s, %(maxx)s, %(maxy)s, 4326))"
            )
    return sql.SQL(
        "SELECT * FROM ({}) q WHERE {} ORDER BY 1 LIMIT %(limit)s OFFSET %(offset)s"
    ).format(layer_query(layer), where)


@dataclass(frozen=True, slots=True)
class ItemsPage:
    """One page of features and the households it identifies (for the audit row)."""

    body: dict[str, Any]
    household_ids: list[str]


def items(
    conn: psycopg.Connection, base: str, key: str, user: User, query: ItemsQuery
) -> ItemsPage:
    """One page of a collection's features as GeoJSON, privacy applied, with a next link."""
    layer = get_layer(key)
    request = LayerRequest(
        layer, query.area or user.jurisdiction, parse_month(query.month, conn), user
    )
    check(conn, request)
    params = query_params(request) | {"limit": query.limit, "offset": query.offset}
    if query.bbox is not None:
        margin = _MARGIN_DEG if request.deidentified and layer.geometry == "point" else 0.0
        minx, miny, maxx, maxy = query.bbox
        params |= {"minx": minx - margin, "miny": miny - margin}
        params |= {"maxx": maxx + margin, "maxy": maxy + margin}
    with conn.cursor() as cursor:
        cursor.execute(_page_sql(layer, query), params)
        columns = [d.name for d in cursor.description or ()]
        rows = cursor.fetchall()
    raw = to_frame(pd.DataFrame(rows, columns=columns), layer)
    frame = protect(conn, request, raw)
    if query.bbox is not None and request.deidentified and layer.geometry == "point":
        frame = frame[frame.geometry.intersects(shapely.box(*query.bbox))]
    features = json.loads(frame.to_json(na="null", drop_id=True))["features"]
    for number, feature in enumerate(features, start=query.offset + 1):
        feature["id"] = number
    return ItemsPage(
        _collection_page(
            base, key, query, features, full=len(rows) == query.limit, month=request.month
        ),
        [] if request.deidentified else household_ids_of(raw),
    )


def _collection_page(
    base: str,
    key: str,
    query: ItemsQuery,
    features: list[dict[str, Any]],
    *,
    full: bool,
    month: dt.date,
) -> dict[str, Any]:
    url = f"{base}/collections/{key}/items"
    args: dict[str, Any] = {"limit": query.limit, "datetime": month.strftime("%Y-%m")}
    if query.bbox is not None:
        args["bbox"] = ",".join(f"{v:g}" for v in query.bbox)
    if query.area:
        args["area"] = query.area
    links = [
        {
            "href": f"{url}?{urlencode(args | {'offset': query.offset})}",
            "rel": "self",
            "type": "application/geo+json",
        }
    ]
    if full:
        links.append(
            {
                "href": f"{url}?{urlencode(args | {'offset': query.offset + query.limit})}",
                "rel": "next",
                "type": "application/geo+json",
            }
        )
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberReturned": len(features),
        "timeStamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "links": links,
        "synthetic": True,
    }
