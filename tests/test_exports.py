"""Layer exports read back by real readers: pyogrio, rasterio, openpyxl, zip + dBase."""

from __future__ import annotations

import csv
import itertools
import sqlite3
import zipfile
from pathlib import Path

import matplotlib
import psycopg
import pyogrio
import pytest
import rasterio
from openpyxl import load_workbook

from analytics.run import DeriveResult
from core.access import Role, User
from core.db import scoped
from etl.feedspec import POVERTY_CAUSES
from layers.catalog import get_layer
from layers.export import ExportResult, export_layer
from layers.layerdata import LayerRequest, parse_month
from layers.qgis_style import qml_colours
from tests.conftest import MONTH, make_user

matplotlib.use("Agg")
matplotlib.rcParams["font.family"] = ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"]
COUNTY = "331122"


@pytest.fixture(scope="module")
def planner(database_url: str) -> User:
    return make_user(database_url, Role.PLANNER, COUNTY)


def _export(user: User, layer: str, fmt: str, out: Path, area: str = COUNTY) -> ExportResult:
    with scoped(user.scope) as conn:
        request = LayerRequest(get_layer(layer), area, parse_month(MONTH, conn), user)
        return export_layer(conn, request, fmt, out)


def _households(conn: psycopg.Connection, area: str = COUNTY) -> int:
    row = conn.execute(
        "SELECT count(*) FROM household WHERE month = %s AND village_code LIKE %s",
        (f"{MONTH}-01", area + "%"),
    ).fetchone()
    assert row
    return int(row[0])


def test_geopackage_opens_styled_and_deidentified(
    derived: DeriveResult, conn: psycopg.Connection, planner: User, tmp_path: Path, artifacts: Path
) -> None:
    out = tmp_path / "households.gpkg"
    result = _export(planner, "households", "gpkg", out)
    frame = pyogrio.read_dataframe(out, layer="households")
    assert len(frame) == result.rows == _households(conn)
    assert frame.crs.to_epsg() == 4326
    assert "household_id" not in frame.columns  # a planner gets de-identified points
    assert set(frame["poverty_cause"]) <= set(POVERTY_CAUSES)
    info = pyogrio.read_info(out, layer="households")
    assert info["layer_metadata"]["synthetic"] == "true"
    with sqlite3.connect(out) as db:
        rows = db.execute(
            "SELECT f_table_name, useAsDefault, styleQML FROM layer_styles"
        ).fetchall()
    assert [(r[0], r[1]) for r in rows] == [("households", 1)]
    attribute, kind, colours = qml_colours(rows[0][2])
    assert (attribute, kind) == ("warning_level", "categorical")
    assert isinstance(colours, dict)
    assert colours["red"] == "#bd0026"
    audit = conn.execute(
        "SELECT detail FROM audit_log WHERE username = %s AND route = %s ORDER BY id DESC LIMIT 1",
        (planner.username, "export:households.gpkg"),
    ).fetchone()
    assert audit and audit[0]["rows"] == result.rows and audit[0]["deidentified"] is True


def test_poverty_causes_geopackage_renders_with_its_stored_style(
    derived: DeriveResult, planner: User, tmp_path: Path, artifacts: Path
) -> None:
    import matplotlib.pyplot as plt

    out = tmp_path / "causes.gpkg"
    _export(planner, "poverty_causes", "gpkg", out)
    frame = pyogrio.read_dataframe(out, layer="poverty_causes")
    with sqlite3.connect(out) as db:
        qml = db.execute("SELECT styleQML FROM layer_styles").fetchone()[0]
    attribute, _, colours = qml_colours(qml)
    assert isinstance(colours, dict) and attribute == "dominant_cause"
    assert set(frame["dominant_cause"].dropna()) <= set(colours)
    fig, ax = plt.subplots(figsize=(7, 7), dpi=110)
    frame.plot(ax=ax, color=[colours.get(v, "#d9d9d9") for v in frame[attribute]], edgecolor="#444")
    for cause in sorted(set(frame[attribute].dropna())):
        ax.scatter(
            [],
            [],
            color=colours[cause],
            label=get_layer("poverty_causes").style.classes[POVERTY_CAUSES.index(cause)].en,
            marker="s",
        )
    ax.legend(loc="lower left", fontsize=8, title="dominant poverty cause (synthetic data)")
    ax.set_title("缙云县 towns: poverty_causes.gpkg styled by its layer_styles row", fontsize=9)
    ax.set_axis_off()
    fig.savefig(artifacts / "export-gpkg-poverty-causes.png", bbox_inches="tight")
    plt.close(fig)


def test_geojson_is_rfc7946(
    derived: DeriveResult, conn: psycopg.Connection, planner: User, tmp_path: Path
) -> None:
    import orjson

    out = tmp_path / "areas.geojson"
    result = _export(planner, "areas", "geojson", out)
    data = orjson.loads(out.read_bytes())
    assert "crs" not in data and data["metadata"]["synthetic"] == "true"
    frame = pyogrio.read_dataframe(out)
    assert len(frame) == result.rows > 5 and frame.crs.to_epsg() == 4326
    towns = conn.execute(
        "SELECT count(*) FROM admin_area WHERE parent_code = %s", (COUNTY,)
    ).fetchone()
    assert towns and result.rows == towns[0]
    ring = data["features"][0]["geometry"]["coordinates"][0][0]
    area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in itertools.pairwise(ring))
    assert area2 > 0  # exterior ring counter-clockwise


def test_shapefile_zip_keeps_chinese_and_maps_long_names(
    derived: DeriveResult, conn: psycopg.Connection, planner: User, tmp_path: Path
) -> None:
    out = tmp_path / "causes.zip"
    _export(planner, "poverty_causes", "shp", out)
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
        assert {"poverty_causes.shp", "poverty_causes.dbf", "poverty_causes.prj"} <= names
        assert archive.read("poverty_causes.cpg").strip().upper() in {b"UTF-8", b"UTF8"}
        mapping = list(csv.DictReader(archive.read("fields.csv").decode("utf-8-sig").splitlines()))
        assert "synthetic: true" in archive.read("README.txt").decode()
    assert all(len(row["short_name"]) <= 10 for row in mapping)
    long = {row["field"]: row["short_name"] for row in mapping}
    assert long["dominant_cause"] == "dominant_c"
    frame = pyogrio.read_dataframe(f"/vsizip/{out}/poverty_causes.shp")
    names_sql = {
        r[0]
        for r in conn.execute(
            "SELECT name FROM admin_area WHERE parent_code = %s", (COUNTY,)
        ).fetchall()
    }
    assert set(frame["area_name"]) == names_sql  # Chinese town names round-trip
    assert set(frame[long["dominant_cause"]].dropna()) <= set(POVERTY_CAUSES)
    assert frame.crs.to_epsg() == 4326


def test_csv_has_a_bom_and_xlsx_units_and_notes(
    derived: DeriveResult, conn: psycopg.Connection, planner: User, tmp_path: Path
) -> None:
    csv_out, xlsx_out = tmp_path / "w.csv", tmp_path / "w.xlsx"
    rows = _export(planner, "warnings", "csv", csv_out).rows
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbf")
    lines = csv_out.read_text("utf-8-sig").splitlines()
    assert lines[0].split(",")[-2:] == ["lon", "lat"] and len(lines) == rows + 1
    warned = conn.execute(
        "SELECT count(*) FROM warning_month WHERE month = %s AND county_code = %s",
        (f"{MONTH}-01", COUNTY),
    ).fetchone()
    assert warned and rows == warned[0] > 0
    _export(planner, "areas", "xlsx", xlsx_out)
    book = load_workbook(xlsx_out, read_only=True)
    data = list(book["data"].iter_rows(values_only=True))
    header, units = data[0], data[1]
    assert units[header.index("households")] == "户"
    assert units[header.index("income_median")] == "元/人/月"
    notes = dict(list(book["notes"].iter_rows(values_only=True))[1:])
    assert notes["synthetic"] == "true" and notes["month"] == MONTH
    assert "<5" in notes["suppression"] and notes["data_version"].startswith("run")


def test_warning_density_is_a_cog(derived: DeriveResult, planner: User, tmp_path: Path) -> None:
    out = tmp_path / "density.tif"
    result = _export(planner, "warning_density", "cog", out)
    with rasterio.open(out) as dataset:
        assert dataset.crs.to_epsg() == 3857
        assert dataset.tags()["SYNTHETIC"] == "true"
        assert dataset.profile["tiled"]
        assert dataset.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert float(dataset.read(1, masked=True).sum()) > 0
    assert result.rows > 0


def test_an_official_gets_identified_points_and_the_audit_names_them(
    derived: DeriveResult, database_url: str, conn: psycopg.Connection, tmp_path: Path
) -> None:
    village = conn.execute(
        "SELECT village_code FROM household WHERE month = %s AND county_code = %s"
        " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
        (f"{MONTH}-01", COUNTY),
    ).fetchone()
    assert village
    official = make_user(database_url, Role.OFFICIAL, village[0])
    out = tmp_path / "mine.csv"
    result = _export(official, "households", "csv", out, area=village[0])
    header = out.read_text("utf-8-sig").splitlines()[0]
    assert "household_id" in header and not result.deidentified
    ids = conn.execute(
        "SELECT household_ids FROM audit_log WHERE username = %s", (official.username,)
    ).fetchone()
    assert ids and len(ids[0]) == result.rows == _households(conn, village[0])
    with pytest.raises(PermissionError):
        _export(official, "households", "csv", out, area=COUNTY)
