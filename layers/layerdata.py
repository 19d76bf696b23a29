"""A catalog layer's rows for one user, area and month: read in chunks, privacy applied.

Every frame that leaves here went through the layer's privacy rule: household points are
de-identified (``layers.deidentify``) for roles without identified points; counts 1-4 are
suppressed for roles that see aggregates only. Queries run on a connection the caller opened
with :func:`core.db.scoped` (row-level security) and are narrowed to the user's scope again here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from core.access import SUPPRESS_BELOW, User
from core.errors import OutOfScope, UnknownArea
from core.scope import LEVEL_CODE_LENGTHS, level_of
from geo.admin import get_area
from layers import deidentify
from layers.catalog import Layer

#: Rows per chunk read from the server-side cursor (a full-province export streams).
CHUNK_ROWS = 50_000
SYNTHETIC_NOTE = "synthetic data — onemap demo; no real household is shown"
SUPPRESSION_RULE = (
    f"counts 1-{SUPPRESS_BELOW - 1} shown as <{SUPPRESS_BELOW} for roles without portrait rights; "
    "household points moved inside their village and stripped of identifiers"
)


class NotPermitted(OutOfScope):
    """The user's role may not have this layer."""

    user_msg = "Your role may not export this layer."


class NoData(UnknownArea):
    """No published data for the month asked."""

    user_msg = "No published data for that month."


@dataclass(frozen=True, slots=True)
class LayerRequest:
    """Which layer, where, when and for whom."""

    layer: Layer
    area: str
    month: dt.date
    user: User

    @property
    def deidentified(self) -> bool:
        """True when the user's values must go through the de-identification step."""
        permissions = self.user.permissions
        if self.layer.privacy == "households":
            return not permissions.identified_points
        return permissions.suppress_small_counts


@cache
def _sql(name: str) -> str:
    return (resources.files("layers") / "sql" / f"{name}.sql").read_text("utf-8")


def parse_month(text: str | None, conn: psycopg.Connection) -> dt.date:
    """``YYYY-MM`` as the month's first day; None → the latest published month.

    Raises
    ------
    NoData
        When nothing is published (or the text is not a month).
    """
    if text is None:
        row = conn.execute("SELECT max(month) FROM published_month").fetchone()
        if row is None or row[0] is None:
            raise NoData("nothing is published yet")
        return row[0]
    try:
        return dt.date.fromisoformat(f"{text}-01")
    except ValueError:
        raise NoData(f"month {text!r} is not YYYY-MM", user_msg="Month must be YYYY-MM.") from None


def check(conn: psycopg.Connection, request: LayerRequest) -> None:
    """Refuse an area out of the user's scope or a layer the role may not have.

    Raises
    ------
    OutOfScope, UnknownArea, NotPermitted
    """
    user, layer = request.user, request.layer
    get_area(conn, user.scope, request.area)
    if not user.scope.covers(request.area):
        raise OutOfScope(f"{request.area} is outside {user.scope.prefix}")
    permissions = user.permissions
    if layer.privacy != "aggregate" and not (
        permissions.identified_points or permissions.deidentified_layers
    ):
        raise NotPermitted(f"{user.role.value} may not have household-level layer {layer.key}")


def query_params(request: LayerRequest) -> dict[str, Any]:
    """The parameters of the layer's static SQL for the request."""
    level = level_of(request.area)
    lengths = list(LEVEL_CODE_LENGTHS.values())
    child_len = lengths[min(lengths.index(len(request.area)) + 1, len(lengths) - 1)]
    return {
        "month": request.month,
        "area": request.area,
        "scope_like": request.user.scope.like,
        "child_len": child_len if level != "village" else 12,
        "warned_only": request.layer.warned_only,
    }


#: Which areas an export or the OGC API takes: the children of the area (or the village itself).
CHILDREN = sql.SQL("(a.parent_code = %(area)s OR (a.code = %(area)s AND a.level = 'village'))")


def layer_query(layer: Layer, where: sql.Composable = CHILDREN) -> sql.Composed:
    """The layer's static SQL, with ``{where}`` (area layers) filled in."""
    return sql.SQL(_sql(layer.query)).format(where=where)


def count_rows(conn: psycopg.Connection, request: LayerRequest) -> int:
    """How many rows the layer has (for the progress bar)."""
    row = conn.execute(
        sql.SQL("SELECT count(*) FROM ({}) q").format(layer_query(request.layer)),
        query_params(request),
    ).fetchone()
    return int(row[0]) if row else 0


def read_raw(
    conn: psycopg.Connection, request: LayerRequest, chunk_rows: int = CHUNK_ROWS
) -> Iterator[gpd.GeoDataFrame]:
    """The layer's rows as GeoDataFrames of at most ``chunk_rows`` (no privacy applied yet)."""
    with conn.cursor(name=f"layer_{request.layer.key}") as cursor:
        cursor.itersize = chunk_rows
        cursor.execute(layer_query(request.layer), query_params(request))
        columns = [d.name for d in cursor.description or ()]
        while rows := cursor.fetchmany(chunk_rows):
            frame = pd.DataFrame(rows, columns=columns)
            yield to_frame(frame, request.layer)


def to_frame(frame: pd.DataFrame, layer: Layer) -> gpd.GeoDataFrame:
    """Rows of the layer's SQL as a GeoDataFrame of the layer's fields (EPSG:4326)."""
    if "lon" in frame.columns:
        geometry = gpd.points_from_xy(frame.pop("lon"), frame.pop("lat"), crs=4326)
    else:
        geometry = gpd.GeoSeries(
            shapely.from_wkb([bytes(g) for g in frame.pop("geometry")]), crs=4326
        ).values
    if layer.composition:
        frame = _with_composition(frame, layer)
    names = [f.name for f in layer.all_fields if f.name in frame.columns]
    return gpd.GeoDataFrame(frame[names], geometry=geometry, crs=4326)


def _with_composition(frame: pd.DataFrame, layer: Layer) -> pd.DataFrame:
    """Households per cause as ``c_<key>`` columns, and the dominant cause and its share.

    Ties go to the cause listed first in the catalog (illness before disability …).
    """
    classes = layer.style.classes
    counts = np.array(
        [[int(mix.get(str(c.value), 0)) for c in classes] for mix in frame.pop("composition")],
        dtype=np.int64,
    ).reshape(len(frame), len(classes))
    out = frame.copy()
    for i, entry in enumerate(classes):
        out[f"c_{entry.key}"] = counts[:, i]
    total = counts.sum(axis=1)
    top = counts.argmax(axis=1)
    values = np.array([str(c.value) for c in classes], dtype=object)
    out["dominant_cause"] = np.where(total > 0, values[top], None)
    share = np.round(100.0 * counts[np.arange(len(out)), top] / np.maximum(total, 1), 1)
    out["dominant_share"] = np.where(total > 0, share, np.nan)
    return out


def protect(
    conn: psycopg.Connection, request: LayerRequest, frame: gpd.GeoDataFrame
) -> gpd.GeoDataFrame:
    """Apply the layer's privacy rule for the request's user (the one de-identification step)."""
    if not request.deidentified:
        return frame
    layer = request.layer
    if layer.privacy == "aggregate" and layer.composition:
        # An area of 1-4 households gives its single cause away: hide it with the counts.
        small = pd.to_numeric(frame["households"], errors="coerce").between(1, SUPPRESS_BELOW - 1)
        frame = frame.copy()
        frame.loc[small, ["dominant_cause", "dominant_share"]] = None
    return deidentify.deidentify(conn, frame, count_columns=layer.count_fields)


def layer_frames(
    conn: psycopg.Connection, request: LayerRequest, chunk_rows: int = CHUNK_ROWS
) -> Iterator[gpd.GeoDataFrame]:
    """The layer's rows for the request's user, privacy applied, chunk by chunk."""
    check(conn, request)
    for frame in read_raw(conn, request, chunk_rows):
        yield protect(conn, request, frame)


def household_ids_of(frame: gpd.GeoDataFrame) -> list[str]:
    """The household ids in an (identified) frame, for the audit row."""
    if "household_id" not in frame.columns:
        return []
    return [str(v) for v in frame["household_id"]]
