"""What a user may see of an area's households on the map: identified points or de-identified.

Officials get every household of their area as it is. Leaders get the households whose open
warnings they oversee identified (they may open those portraits) and the rest de-identified;
planners and auditors get every point de-identified (:mod:`layers.deidentify`: displaced inside
the village, no id); a role with neither right gets none. :func:`points_for` reads them inside
``core.audit.audited`` and declares the identified households for its audit row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

from core.access import PortraitAccess, User
from core.audit import Audited
from core.scope import Scope
from geo.admin import get_area
from layers.deidentify import deidentify_features, protected_counts, village_polygons
from layers.households import HOUSEHOLD_LEVELS, households_geojson, latest_month

#: Warning statuses that are still open (analytics/sql/derive_warnings.sql uses the same list).
OPEN_STATUSES = ("raised", "acknowledged", "verified")
#: Properties a de-identified point keeps (the rest could single a household out).
_DEIDENTIFIED_KEEP = ("household_id", "village_code", "warning_level", "precision")

_WARNED_SQL = """
SELECT DISTINCT w.household_id FROM warning w
WHERE w.status = ANY(%(open)s)
  AND w.county_code = left(%(area)s, 6)  -- households are drawn at town and village level
  AND w.village_code >= %(area)s AND w.village_code < %(area)s || ':'
  AND w.village_code LIKE %(scope_like)s
"""


#: De-identified point lists by a digest of the features they came from (most recent last).
_cache: OrderedDict[bytes, list[Any]] = OrderedDict()
_CACHE_SIZE = 256
_cache_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class PointLayer:
    """A household layer as one user may see it."""

    body: bytes
    #: Households shown identified (to be written to the audit trail).
    household_ids: tuple[str, ...]


def empty_layer() -> PointLayer:
    """No households at all."""
    body = {"type": "FeatureCollection", "features": [], "total": 0, "truncated": False}
    return PointLayer(orjson.dumps(body), ())


def warned_households(conn: psycopg.Connection, scope: Scope, code: str) -> set[str]:
    """Households of area ``code`` (inside ``scope``) with an open warning."""
    rows = conn.execute(
        _WARNED_SQL, {"open": list(OPEN_STATUSES), "area": code, "scope_like": scope.like}
    ).fetchall()
    return {str(r[0]) for r in rows}


def _ids(features: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(str(f["properties"]["household_id"]) for f in features)


def _deidentified(conn: psycopg.Connection, features: list[dict[str, Any]]) -> list[Any]:
    """The features displaced and stripped, from a memory cache when computed before.

    The result depends only on which households are given (their points, villages and the
    displacement key are fixed for a published month), so the cache key is a digest of the
    features themselves: a republished month or a changed warning gives another key.
    """
    if not features:
        return []
    key = hashlib.sha256(orjson.dumps(features)).digest()
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    moved = _displace(conn, features)
    with _cache_lock:
        _cache[key] = moved
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return moved


def _displace(conn: psycopg.Connection, features: list[dict[str, Any]]) -> list[Any]:
    stripped = [
        {**f, "properties": {k: f["properties"].get(k) for k in _DEIDENTIFIED_KEEP}}
        for f in features
    ]
    villages = village_polygons(conn, {f["properties"]["village_code"] for f in stripped})
    moved = deidentify_features({"type": "FeatureCollection", "features": stripped}, villages)
    return list(moved["features"])


def household_points(conn: psycopg.Connection, user: User, code: str, month: dt.date) -> PointLayer:
    """The households of town or village ``code`` as ``user`` may see them.

    Parameters
    ----------
    conn
        A connection in the user's scope (``core.db.scoped``).
    user
        Who asks: the role decides what is identified.
    code
        An area inside the user's jurisdiction.
    month
        The published month drawn.
    """
    permissions = user.permissions
    body = households_geojson(conn, user.scope, code, month)
    if permissions.identified_points:
        return PointLayer(body, _ids(orjson.loads(body)["features"]))
    if not permissions.deidentified_layers:
        return empty_layer()
    collection = orjson.loads(body)
    features: list[dict[str, Any]] = collection["features"]
    keep: set[str] = set()
    if permissions.portraits is PortraitAccess.WARNED:
        keep = warned_households(conn, user.scope, code)
    shown = [f for f in features if f["properties"]["household_id"] in keep]
    protected = protected_counts(conn, user.scope)
    # The small-count rule: no de-identified points of a village whose household count is
    # withheld (their number would be the count), nor any when the area's own count is.
    hidden = [
        f
        for f in features
        if f["properties"]["household_id"] not in keep
        and not protected.withheld(f["properties"]["village_code"], ["households"])
    ]
    total = protected.count(code, "households", int(collection["total"]))
    if not isinstance(total, int):
        hidden = []
    collection["features"] = shown + _deidentified(conn, hidden)
    collection["total"] = total
    collection["deidentified"] = True
    return PointLayer(orjson.dumps(collection), _ids(shown))


def points_for(trail: Audited, code: str) -> PointLayer:
    """The households of area ``code`` as the user of ``trail`` may see them; audited.

    None above town level, for an area above the user's jurisdiction or before any month is
    published. The households shown identified are declared for the audit row.

    Raises
    ------
    UnknownArea
        No such area.
    OutOfScope
        An area outside the user's jurisdiction (and not on the way down to it).
    """
    conn, user = trail.conn, trail.user
    area = get_area(conn, user.scope, code)
    month = latest_month(conn)
    if not (month and area.level in HOUSEHOLD_LEVELS and user.scope.covers(code)):
        return empty_layer()
    layer = household_points(conn, user, code, month)
    if layer.household_ids:
        trail.shows(layer.household_ids, area=code, view="households")
    return layer
