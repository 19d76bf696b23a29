"""The geography as loaded in PostGIS: real province/cities/counties, synthetic towns and
villages that tile them, display geometries, and idempotent `onemap init`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import psycopg
import pytest

from geo.boundaries import load_real_boundaries


def scalar(conn: psycopg.Connection, query: str, params: object = None) -> object:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


def test_level_counts(conn: psycopg.Connection) -> None:
    counts = dict(conn.execute("SELECT level, count(*) FROM admin_area GROUP BY level").fetchall())
    assert counts["province"] == 1
    assert counts["city"] == 11
    assert counts["county"] == 90
    assert 1200 <= counts["town"] <= 1500
    assert 18000 <= counts["village"] <= 22000


def test_real_names_match_the_source(conn: psycopg.Connection) -> None:
    source = load_real_boundaries()
    expected = dict(zip(source["code"], source["name"], strict=True))
    stored = dict(conn.execute("SELECT code, name FROM admin_area WHERE NOT synthetic").fetchall())
    assert stored == expected
    assert stored["331122"] == "缙云县"
    assert stored["3311"] == "丽水市"
    assert stored["33"] == "浙江省"
    assert (
        scalar(
            conn,
            "SELECT count(*) FROM admin_area WHERE synthetic AND level IN "
            "('province', 'city', 'county')",
        )
        == 0
    )
    assert (
        scalar(
            conn, "SELECT bool_and(synthetic) FROM admin_area WHERE level IN ('town', 'village')"
        )
        is True
    )


def test_codes_nest_and_are_statistical(conn: psycopg.Connection) -> None:
    bad = conn.execute(
        """SELECT a.code FROM admin_area a JOIN admin_level l USING (level)
           WHERE length(a.code) <> l.code_len OR length(a.stat_code) <> 12
              OR (a.parent_code IS NOT NULL
                  AND left(a.code, length(a.parent_code)) <> a.parent_code)
              OR (a.level = 'village' AND a.county_code <> left(a.code, 6))"""
    ).fetchall()
    assert bad == []
    assert scalar(conn, "SELECT stat_code FROM admin_area WHERE code = '331122'") == "331122000000"
    orphans = scalar(
        conn,
        """SELECT count(*) FROM admin_area c JOIN admin_level l USING (level)
        LEFT JOIN admin_area p ON p.code = c.parent_code WHERE l.depth > 0 AND p.code IS NULL""",
    )
    assert orphans == 0


def test_geometry_is_wgs84_valid_and_indexed(conn: psycopg.Connection) -> None:
    assert scalar(conn, "SELECT Find_SRID('public', 'admin_area', 'geom')") == 4326
    assert scalar(conn, "SELECT count(*) FROM admin_area WHERE NOT ST_IsValid(geom)") == 0
    extent = conn.execute(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
        "(SELECT ST_Extent(geom) AS e FROM admin_area) s"
    ).fetchone()
    west, south, east, north = extent  # type: ignore[misc]
    # Zhejiang spans about 118.0–123.2°E, 27.0–31.2°N (GCJ-02 would shift it by ~0.005°).
    assert 118.0 < west < 118.1 and 27.0 < south < 27.25
    assert 122.7 < east < 123.2 and 31.1 < north < 31.3
    indexes = {
        r[0]
        for r in conn.execute(
            "SELECT indexdef FROM pg_indexes"
            " WHERE tablename IN ('admin_area', 'admin_area_display')"
        ).fetchall()
    }
    assert sum("USING gist" in i for i in indexes) == 2


def test_villages_tile_each_county(conn: psycopg.Connection) -> None:
    rows = conn.execute(
        """SELECT c.code, ST_Area(c.geom::geography) AS county_area,
                  ST_Area(ST_Union(v.geom)::geography) AS villages_area,
                  ST_Area(ST_SymDifference(c.geom, ST_Union(v.geom))::geography) AS difference
           FROM admin_area c JOIN admin_area v ON v.level = 'village' AND v.county_code = c.code
           WHERE c.level = 'county' GROUP BY c.code, c.geom"""
    ).fetchall()
    assert len(rows) == 90
    for code, county_area, villages_area, difference in rows:
        assert abs(villages_area - county_area) / county_area < 1e-3, code
        assert difference / county_area < 1e-3, code


def test_no_two_villages_overlap(conn: psycopg.Connection) -> None:
    worst = scalar(
        conn,
        """SELECT coalesce(max(overlap / county_area), 0) FROM (
               SELECT ST_Area(ST_Intersection(a.geom, b.geom)) AS overlap,
                      ST_Area(c.geom) AS county_area
               FROM admin_area a
               JOIN admin_area b ON b.level = 'village' AND a.code < b.code
                                AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
               JOIN admin_area c ON c.code = a.county_code
               WHERE a.level = 'village') s""",
    )
    assert worst < 1e-9


def test_every_village_lies_in_its_towns_county(conn: psycopg.Connection) -> None:
    outside = scalar(
        conn,
        """SELECT count(*) FROM admin_area v
           JOIN admin_area t ON t.code = v.parent_code
           JOIN admin_area c ON c.code = t.parent_code AND c.level = 'county'
           WHERE v.level = 'village' AND NOT ST_Covers(ST_Buffer(c.geom, 1e-6),
                                                       ST_PointOnSurface(v.geom))""",
    )
    assert outside == 0
    misplaced = scalar(
        conn,
        """SELECT count(*) FROM admin_area v JOIN admin_area c ON c.code = v.county_code
           WHERE v.level = 'village'
             AND ST_Area(ST_Difference(v.geom, c.geom)) > 1e-9 * ST_Area(c.geom)""",
    )
    assert misplaced == 0


def test_display_geometries_are_simplified_and_valid(conn: psycopg.Connection) -> None:
    row = conn.execute(
        """SELECT count(*), sum(ST_NPoints(d.geom)), sum(ST_NPoints(a.geom)),
                  count(*) FILTER (WHERE NOT ST_IsValid(d.geom) OR ST_IsEmpty(d.geom))
           FROM admin_area a JOIN admin_area_display d USING (code)"""
    ).fetchone()
    n_display, display_points, raw_points, broken = row  # type: ignore[misc]
    assert n_display == scalar(conn, "SELECT count(*) FROM admin_area")
    assert broken == 0
    assert display_points < raw_points
    # Topology kept: simplified neighbouring counties do not overlap (a coverage stays one).
    overlap = scalar(
        conn,
        """SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom))), 0)
        FROM admin_area_display a JOIN admin_area x ON x.code = a.code AND x.level = 'county'
        JOIN admin_area_display b ON a.code < b.code AND a.geom && b.geom
        JOIN admin_area y ON y.code = b.code AND y.level = 'county'""",
    )
    assert overlap < 1e-9


def test_init_twice_changes_nothing(database_url: str, conn: psycopg.Connection) -> None:
    checksum_sql = """SELECT md5(string_agg(code || name || ST_AsEWKT(geom), ',' ORDER BY code))
                      FROM admin_area"""
    before = scalar(conn, checksum_sql)
    version_before = scalar(conn, "SELECT version FROM dataset_version WHERE dataset='geography'")
    xmin_before = scalar(conn, "SELECT max(xmin::text::bigint) FROM admin_area")
    env = os.environ | {"DATABASE_URL": database_url}
    for _ in range(2):
        result = subprocess.run(
            [sys.executable, "-m", "onemap", "init"],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "unchanged" in result.stdout
        assert "migrations: 0 applied" in result.stdout
    assert scalar(conn, checksum_sql) == before
    assert scalar(conn, "SELECT version FROM dataset_version WHERE dataset='geography'") == (
        version_before
    )
    assert scalar(conn, "SELECT max(xmin::text::bigint) FROM admin_area") == xmin_before


@pytest.mark.parametrize("code", ["33", "3311", "331122"])
def test_children_geojson_route(leader_client: Any, code: str, conn: psycopg.Connection) -> None:
    response = leader_client.get(f"/api/areas/{code}/children.geojson?v=1")
    assert response.status_code == 200
    assert response.mimetype == "application/geo+json"
    collection = json.loads(response.data)
    expected = [
        r[0]
        for r in conn.execute(
            "SELECT code FROM admin_area WHERE parent_code = %s ORDER BY code", (code,)
        ).fetchall()
    ]
    assert collection["type"] == "FeatureCollection"
    assert [f["properties"]["code"] for f in collection["features"]] == expected
    for feature in collection["features"]:
        assert feature["geometry"]["type"] == "MultiPolygon"
        assert feature["properties"]["has_children"] is True
        assert feature["properties"]["name"]


def test_unknown_area_is_a_clean_404(leader_client: Any) -> None:
    for code in ("339999", "abc", "33'--"):
        response = leader_client.get(f"/api/areas/{code}/children.geojson")
        assert response.status_code == 404
        assert "Traceback" not in response.get_data(as_text=True)
