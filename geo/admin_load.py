"""Build the whole admin hierarchy (real + synthetic) and load it into PostGIS idempotently."""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import psycopg
import shapely

from core.settings import GeographySettings
from geo import boundaries, display

#: Makes the towns and villages inside the real counties: ``(counties, seed=, n_towns=,
#: n_villages=) -> (towns, villages)``. onemap ships a synthetic one (`synth.geography`); a
#: deployment with real town and village boundaries passes a loader of its own.
Subdivide = Callable[..., tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]]

DATASET = "geography"
_STAGE_COLUMNS = (
    "code",
    "level",
    "parent_code",
    "county_code",
    "name",
    "kind",
    "synthetic",
    "rurality",
    "wkb",
    "display_wkb",
    "tolerance",
)


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What ``onemap init`` did to the geography."""

    changed: bool
    fingerprint: str
    counts: dict[str, int]


def input_fingerprint(settings: GeographySettings, subdivide: Subdivide) -> str:
    """Hash everything the geography is built from: source, seed, sizes and the builders' code.

    Equal fingerprints mean a rebuild would give the same rows, so `onemap init` can skip it.
    """
    digest = hashlib.sha256()
    digest.update(boundaries.SOURCE.encode())
    digest.update(f"{settings.seed}:{settings.n_towns}:{settings.n_villages}".encode())
    for module in (boundaries, inspect.getmodule(subdivide), display):
        digest.update(inspect.getsource(module).encode())  # type: ignore[arg-type]
    return digest.hexdigest()[:24]


def build_geography(settings: GeographySettings, subdivide: Subdivide) -> gpd.GeoDataFrame:
    """Return every area of the province (all five levels) with its display geometry.

    Columns: ``code, level, parent_code, county_code, name, kind, synthetic, rurality,
    geometry, display_geometry, tolerance``; EPSG:4326.
    """
    real = boundaries.load_real_boundaries()
    counties = real[real["level"] == "county"]
    towns, villages = subdivide(
        counties, seed=settings.seed, n_towns=settings.n_towns, n_villages=settings.n_villages
    )
    real = real.assign(synthetic=False, rurality=float("nan"))
    county_rurality = towns.groupby("county_code")["rurality"].mean()
    is_county = real["level"] == "county"
    real.loc[is_county, "rurality"] = real.loc[is_county, "code"].map(county_rurality)
    real["county_code"] = real["code"].where(is_county, None)
    synthetic = pd.concat([towns, villages], ignore_index=True).assign(synthetic=True)
    areas = gpd.GeoDataFrame(pd.concat([real, synthetic], ignore_index=True), crs="EPSG:4326")
    parts = []
    for level, rows in areas.groupby("level", sort=False):
        simplified = display.display_geometries(rows)
        parts.append(
            rows.assign(
                display_geometry=simplified.values,
                tolerance=display.DISPLAY_TOLERANCE_DEG[str(level)],
            )
        )
    return gpd.GeoDataFrame(pd.concat(parts), crs="EPSG:4326").sort_values("code")


_CREATE_STAGE = """
CREATE TEMP TABLE stage_area (
    code text, level text, parent_code text, county_code text, name text, kind text,
    synthetic boolean, rurality real, wkb bytea, display_wkb bytea, tolerance double precision
) ON COMMIT DROP
"""
_UPSERT_AREAS = """
INSERT INTO admin_area AS t (code, level, parent_code, county_code, stat_code, name, kind,
                             synthetic, rurality, area_km2, label_point, bbox, geom)
SELECT s.code, s.level, s.parent_code, s.county_code, rpad(s.code, 12, '0'), s.name, s.kind,
       s.synthetic, s.rurality, ST_Area(g.geom::geography) / 1e6, ST_PointOnSurface(g.geom),
       Box2D(g.geom), g.geom
FROM stage_area s
CROSS JOIN LATERAL (SELECT ST_Multi(ST_GeomFromWKB(s.wkb, 4326)) AS geom) g
ON CONFLICT (code) DO UPDATE SET
    level = excluded.level, parent_code = excluded.parent_code,
    county_code = excluded.county_code, stat_code = excluded.stat_code, name = excluded.name,
    kind = excluded.kind, synthetic = excluded.synthetic, rurality = excluded.rurality,
    area_km2 = excluded.area_km2, label_point = excluded.label_point, bbox = excluded.bbox,
    geom = excluded.geom
"""
_UPSERT_DISPLAY = """
INSERT INTO admin_area_display AS t (code, tolerance, geom)
SELECT s.code, s.tolerance, ST_Multi(ST_GeomFromWKB(s.display_wkb, 4326)) FROM stage_area s
ON CONFLICT (code) DO UPDATE SET tolerance = excluded.tolerance, geom = excluded.geom
"""
_RECORD_VERSION = """
INSERT INTO dataset_version (dataset, fingerprint, source) VALUES (%s, %s, %s)
ON CONFLICT (dataset) DO UPDATE SET fingerprint = excluded.fingerprint, source = excluded.source,
    version = dataset_version.version + 1, loaded_at = now()
"""


def stored_fingerprint(conn: psycopg.Connection) -> str | None:
    """Return the fingerprint of the geography in the database, if any."""
    row = conn.execute(
        "SELECT fingerprint FROM dataset_version WHERE dataset = %s", (DATASET,)
    ).fetchone()
    return str(row[0]) if row else None


def _counts(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT level, count(*) FROM admin_area GROUP BY level").fetchall()
    return {level: int(n) for level, n in rows}


def load_geography(
    conn: psycopg.Connection,
    settings: GeographySettings,
    subdivide: Subdivide,
    *,
    force: bool = False,
) -> LoadResult:
    """Build and load the geography unless the same inputs are already loaded.

    The whole load is one transaction: readers see the old hierarchy or the new one.
    """
    fingerprint = input_fingerprint(settings, subdivide)
    if not force and stored_fingerprint(conn) == fingerprint:
        return LoadResult(False, fingerprint, _counts(conn))
    areas = build_geography(settings, subdivide)
    with conn.transaction():
        conn.execute(_CREATE_STAGE)
        with conn.cursor().copy(
            "COPY stage_area (" + ", ".join(_STAGE_COLUMNS) + ") FROM STDIN"
        ) as copy:
            for row in _stage_rows(areas):
                copy.write_row(row)
        conn.execute("DELETE FROM admin_area WHERE code NOT IN (SELECT code FROM stage_area)")
        conn.execute(_UPSERT_AREAS)
        conn.execute(_UPSERT_DISPLAY)
        conn.execute(_RECORD_VERSION, (DATASET, fingerprint, boundaries.SOURCE))
    conn.execute("ANALYZE admin_area")
    conn.execute("ANALYZE admin_area_display")
    return LoadResult(True, fingerprint, _counts(conn))


def _optional(value: object) -> object:
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def _stage_rows(areas: gpd.GeoDataFrame) -> list[tuple[object, ...]]:
    wkb = shapely.to_wkb(areas.geometry.values)
    display_wkb = shapely.to_wkb(gpd.GeoSeries(areas["display_geometry"]).values)
    rurality = areas["rurality"].astype(float)
    return [
        (
            code,
            level,
            _optional(parent),
            _optional(county),
            name,
            kind,
            bool(synth),
            None if pd.isna(rural) else float(rural),
            geom,
            disp,
            float(tol),
        )
        for code, level, parent, county, name, kind, synth, rural, geom, disp, tol in zip(
            areas["code"],
            areas["level"],
            areas["parent_code"],
            areas["county_code"],
            areas["name"],
            areas["kind"],
            areas["synthetic"],
            rurality,
            wkb,
            display_wkb,
            areas["tolerance"],
            strict=True,
        )
    ]
