"""One writer per export format; each takes frames chunk by chunk and closes into one file."""

from __future__ import annotations

import csv
import io
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import orjson
import pandas as pd
import psycopg
import pyogrio
import shapely
from openpyxl import Workbook
from rasterio.io import MemoryFile
from rasterio.shutil import copy as rasterio_copy

from layers.catalog import Layer, LayerField
from layers.heat_export import BAND_DESCRIPTION, CRS, NODATA, heat_grid
from layers.qgis_style import add_layer_style


@dataclass(frozen=True, slots=True)
class Metadata:
    """What an export says about itself."""

    layer: Layer
    title: str
    area: str
    month: str
    data_version: str
    synthetic: bool
    note: str
    source: str
    suppression: str
    exported_by: str
    exported_at: str

    def items(self) -> dict[str, str]:
        """The notes as text (layer as its key)."""
        values = asdict(self)
        values["layer"] = self.layer.key
        return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in values.items()}


def _fields(meta: Metadata, frame: pd.DataFrame) -> list[LayerField]:
    return [f for f in meta.layer.all_fields if f.name in frame.columns]


def _table(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """Attributes plus lon/lat (a polygon's representative point) for tabular formats."""
    points = shapely.point_on_surface(frame.geometry.values)
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    table["lon"] = np.round(shapely.get_x(points), 6)
    table["lat"] = np.round(shapely.get_y(points), 6)
    return table


class _Writer:
    def __init__(self, out: Path, meta: Metadata) -> None:
        self.out, self.meta, self.rows = out, meta, 0

    def write(self, frame: gpd.GeoDataFrame) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish the file."""


class GpkgWriter(_Writer):
    """GeoPackage with the layer's QGIS style in ``layer_styles`` and the notes as metadata."""

    def __init__(self, out: Path, meta: Metadata) -> None:
        super().__init__(out, meta)
        out.unlink(missing_ok=True)
        self.written = False

    def write(self, frame: gpd.GeoDataFrame) -> None:
        """Append a chunk."""
        polygon = self.meta.layer.geometry == "polygon"
        pyogrio.write_dataframe(
            frame,
            self.out,
            layer=self.meta.layer.key,
            driver="GPKG",
            append=self.written,
            promote_to_multi=polygon,
            geometry_type="MultiPolygon" if polygon else "Point",
            layer_metadata=None if self.written else self.meta.items(),
            layer_options=None
            if self.written
            else {"DESCRIPTION": f"{self.meta.title} — {self.meta.note}"},
        )
        self.written = True

    def close(self) -> None:
        """Write the layer even when empty, then its style row."""
        if not self.written:
            self.write(gpd.GeoDataFrame({"code": []}, geometry=[], crs=4326))
        add_layer_style(self.out, self.meta.layer, self.meta.layer.key, self.meta.note)


class GeoJsonWriter(_Writer):
    """RFC 7946 GeoJSON (WGS84, counter-clockwise exteriors), streamed feature by feature."""

    def __init__(self, out: Path, meta: Metadata) -> None:
        super().__init__(out, meta)
        self.file = out.open("wb")
        head = {"type": "FeatureCollection", "name": meta.layer.key, "metadata": meta.items()}
        self.file.write(orjson.dumps(head)[:-1] + b',"features":[\n')
        self.first = True

    def write(self, frame: gpd.GeoDataFrame) -> None:
        """Append a chunk of features."""
        rounded = shapely.set_precision(frame.geometry.values, 1e-7)
        texts = shapely.to_geojson(shapely.orient_polygons(rounded, exterior_cw=False))
        props = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        records = props.astype(object).where(props.notna(), None).to_dict("records")
        out = io.BytesIO()
        for geometry, properties in zip(texts, records, strict=True):
            if not self.first:
                out.write(b",\n")
            self.first = False
            out.write(b'{"type":"Feature","geometry":')
            out.write(str(geometry).encode())
            out.write(b',"properties":' + orjson.dumps(properties, default=str) + b"}")
        self.file.write(out.getvalue())

    def close(self) -> None:
        """Close the collection."""
        self.file.write(b"\n]}\n")
        self.file.close()


def short_names(names: list[str]) -> dict[str, str]:
    """Field names of at most 10 characters (dBase), unique, keeping readable ones as they are."""
    taken: set[str] = set()
    out: dict[str, str] = {}
    for name in names:
        short = name[:10]
        counter = 1
        while short in taken:
            short = f"{name[:7]}_{counter:02d}"
            counter += 1
        taken.add(short)
        out[name] = short
    return out


class ShapefileWriter(_Writer):
    """A zip with .shp/.shx/.dbf/.prj/.cpg (UTF-8), a field-name mapping and the notes."""

    def __init__(self, out: Path, meta: Metadata) -> None:
        super().__init__(out, meta)
        self.folder = Path(tempfile.mkdtemp(prefix="onemap-shp-"))
        self.shp = self.folder / f"{meta.layer.key}.shp"
        self.mapping: dict[str, str] | None = None
        self.fields: list[LayerField] = []

    def write(self, frame: gpd.GeoDataFrame) -> None:
        """Append a chunk."""
        if self.mapping is None:
            self.fields = _fields(self.meta, frame)
            self.mapping = short_names([f.name for f in self.fields])
        polygon = self.meta.layer.geometry == "polygon"
        pyogrio.write_dataframe(
            frame.rename(columns=self.mapping),
            self.shp,
            driver="ESRI Shapefile",
            encoding="UTF-8",
            append=self.rows > 0,
            promote_to_multi=polygon,
        )
        self.rows += len(frame)

    def close(self) -> None:
        """Zip the parts with fields.csv and README.txt."""
        mapping = io.StringIO()
        table = csv.writer(mapping)
        table.writerow(["short_name", "field", "label_zh", "label_en", "unit"])
        for f in self.fields:
            table.writerow([(self.mapping or {})[f.name], f.name, f.zh, f.en, f.unit])
        notes = "\n".join(f"{k}: {v}" for k, v in self.meta.items().items())
        with zipfile.ZipFile(self.out, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(self.folder.iterdir()):
                archive.write(part, part.name)
            archive.writestr("fields.csv", "\ufeff" + mapping.getvalue())
            archive.writestr("README.txt", notes + "\n")
        shutil.rmtree(self.folder, ignore_errors=True)


class CsvWriter(_Writer):
    """UTF-8 with BOM (Excel shows Chinese), lon/lat columns, one header row."""

    def __init__(self, out: Path, meta: Metadata) -> None:
        super().__init__(out, meta)
        self.file = out.open("w", encoding="utf-8-sig", newline="")

    def write(self, frame: gpd.GeoDataFrame) -> None:
        """Append a chunk."""
        _table(frame).to_csv(self.file, index=False, header=self.rows == 0, lineterminator="\r\n")
        self.rows += len(frame)

    def close(self) -> None:
        """Close the file."""
        self.file.close()


class XlsxWriter(_Writer):
    """Sheet ``data`` (field names, then a row of units, then rows) and a ``notes`` sheet."""

    def __init__(self, out: Path, meta: Metadata) -> None:
        super().__init__(out, meta)
        self.book = Workbook(write_only=True)
        self.sheet = self.book.create_sheet("data")

    def write(self, frame: gpd.GeoDataFrame) -> None:
        """Append a chunk."""
        table = _table(frame)
        if self.rows == 0:
            units = {f.name: f.unit for f in self.meta.layer.all_fields}
            units.update(lon="°E (WGS84)", lat="°N (WGS84)")
            self.sheet.append(list(table.columns))
            self.sheet.append([units.get(str(c), "") for c in table.columns])
        for row in table.astype(object).where(table.notna(), None).itertuples(index=False):
            self.sheet.append(list(row))
        self.rows += len(frame)

    def close(self) -> None:
        """Add the notes sheet and save."""
        notes = self.book.create_sheet("notes")
        notes.append(["key", "value"])
        for key, value in self.meta.items().items():
            notes.append([key, value])
        for f in self.meta.layer.all_fields:
            notes.append(
                [f"field:{f.name}", f"{f.zh} / {f.en}" + (f" ({f.unit})" if f.unit else "")]
            )
        self.book.save(self.out)


class CogWriter(_Writer):
    """The warning density as a Cloud-Optimised GeoTIFF (de-identified points, EPSG:3857)."""

    def write(self, frame: gpd.GeoDataFrame) -> None:
        """Raster layers have no frames."""
        raise TypeError("the COG writer takes a raster, not frames")

    def write_raster(self, conn: psycopg.Connection, request: Any) -> int:
        """Bin the area's warnings and write the COG; returns the warnings counted."""
        grid = heat_grid(conn, request.user.scope, request.area)
        height, width = grid.values.shape
        profile = {
            "width": width,
            "height": height,
            "count": 1,
            "dtype": "float32",
            "crs": CRS,
            "transform": grid.transform,
            "nodata": NODATA,
        }
        with MemoryFile() as memory:
            with memory.open(driver="GTiff", **profile) as dataset:
                dataset.write(grid.values, 1)
                dataset.set_band_description(1, BAND_DESCRIPTION)
                dataset.update_tags(**{k.upper(): v for k, v in self.meta.items().items()})
                dataset.update_tags(WARNINGS=str(grid.warnings), CELL_SIZE_M=f"{grid.cell:g}")
                dataset.update_tags(1, UNITS="weighted warnings per cell")
            with memory.open() as source:
                _copy_cog(source, self.out)
        # The audit row counts what was exported; a suppressed count ("<5") is not known here.
        return grid.warnings if isinstance(grid.warnings, int) else 0


def _copy_cog(source: Any, out: Path) -> None:
    rasterio_copy(source, out, driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=256, OVERVIEWS="AUTO")


WRITERS: dict[str, type[_Writer]] = {
    "gpkg": GpkgWriter,
    "geojson": GeoJsonWriter,
    "shp": ShapefileWriter,
    "csv": CsvWriter,
    "xlsx": XlsxWriter,
    "cog": CogWriter,
}
