"""Export a catalog layer: GeoPackage (styled for QGIS), GeoJSON, zipped Shapefile, CSV, XLSX, COG.

Rows stream chunk by chunk from a server-side cursor through the layer's privacy rule into the
file, so a full-province household layer never sits in memory whole. Every export says that
the data is synthetic, and is audited (with its row count) in the transaction that read it.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import geopandas as gpd
import psycopg

from core import audit
from core.errors import DataSourceError
from layers.catalog import Layer
from layers.export_writers import WRITERS, Metadata
from layers.layerdata import (
    SUPPRESSION_RULE,
    SYNTHETIC_NOTE,
    LayerRequest,
    check,
    count_rows,
    household_ids_of,
    layer_frames,
)

Format = Literal["gpkg", "geojson", "shp", "csv", "xlsx", "cog"]
FORMATS: tuple[str, ...] = get_args(Format)
#: File extension of each format (a zipped Shapefile is one .zip).
EXTENSIONS = {
    "gpkg": ".gpkg",
    "geojson": ".geojson",
    "shp": ".zip",
    "csv": ".csv",
    "xlsx": ".xlsx",
    "cog": ".tif",
}
MEDIA_TYPES = {
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "shp": "application/zip",
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "cog": "image/tiff; application=geotiff; profile=cloud-optimized",
}
Progress = Callable[[int], None]


class WrongFormat(DataSourceError):
    """A raster layer asked for as vectors, or the other way round."""

    user_msg = "That layer is not available in that format."


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What was written."""

    path: Path
    layer: str
    format: str
    rows: int
    bytes: int
    seconds: float
    deidentified: bool


def data_version(conn: psycopg.Connection, month: dt.date) -> str:
    """The published month's version: ETL run and content checksum (stable until reloaded)."""
    row = conn.execute(
        "SELECT run_id, content_checksum FROM published_month WHERE month = %s", (month,)
    ).fetchone()
    return f"run{row[0]}-{str(row[1])[:12]}" if row else "unpublished"


def metadata(conn: psycopg.Connection, request: LayerRequest) -> Metadata:
    """The notes every export carries (source, month, version, synthetic flag, rule)."""
    layer = request.layer
    return Metadata(
        layer=layer,
        title=f"{layer.title.zh} / {layer.title.en}",
        area=request.area,
        month=request.month.strftime("%Y-%m"),
        data_version=data_version(conn, request.month),
        synthetic=True,
        note=SYNTHETIC_NOTE,
        source="onemap (一张图) — synthetic department feeds, published month",
        suppression=SUPPRESSION_RULE if request.deidentified else "none (identified role)",
        exported_by=request.user.username,
        exported_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )


def _check_format(layer: Layer, fmt: str) -> None:
    if fmt not in FORMATS:
        raise WrongFormat(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if (layer.geometry == "raster") != (fmt == "cog"):
        raise WrongFormat(f"layer {layer.key} ({layer.geometry}) cannot be written as {fmt}")


def export_layer(
    conn: psycopg.Connection,
    request: LayerRequest,
    fmt: str,
    out: Path,
    *,
    progress: Progress | None = None,
    chunk_rows: int | None = None,
    route: str = "export",
) -> ExportResult:
    """Write the layer for the request's user to ``out`` and audit it.

    Call inside :func:`core.db.scoped` for the user's scope: the audit row is written in the
    same transaction, last.

    Raises
    ------
    WrongFormat, NotPermitted, OutOfScope, UnknownArea
    """
    _check_format(request.layer, fmt)
    check(conn, request)
    started = time.perf_counter()
    meta = metadata(conn, request)
    writer = WRITERS[fmt](out, meta)
    rows, household_ids = 0, []
    if fmt == "cog":
        rows = writer.write_raster(conn, request)  # type: ignore[attr-defined]
    else:
        kwargs: dict[str, Any] = {"chunk_rows": chunk_rows} if chunk_rows else {}
        for frame in layer_frames(conn, request, **kwargs):
            writer.write(frame)
            rows += len(frame)
            if not request.deidentified:
                household_ids.extend(household_ids_of(frame))
            if progress:
                progress(len(frame))
    writer.close()
    audit.record(
        conn,
        user=request.user,
        route=f"{route}:{request.layer.key}.{fmt}",
        request_id=uuid.uuid4().hex,
        household_ids=household_ids,
        detail={
            "rows": rows,
            "area": request.area,
            "month": meta.month,
            "format": fmt,
            "deidentified": request.deidentified,
            "data_version": meta.data_version,
        },
        scope=request.user.scope,
    )
    return ExportResult(
        out,
        request.layer.key,
        fmt,
        rows,
        out.stat().st_size,
        time.perf_counter() - started,
        request.deidentified,
    )


def expected_rows(conn: psycopg.Connection, request: LayerRequest) -> int:
    """Rows the export will hold (the CLI's progress bar total)."""
    return 1 if request.layer.geometry == "raster" else count_rows(conn, request)


def empty_frame() -> gpd.GeoDataFrame:
    """An empty frame in EPSG:4326 (a layer with no rows still gets its file)."""
    return gpd.GeoDataFrame(geometry=[], crs=4326)
