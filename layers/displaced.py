"""The de-identified household points of a month, computed once for tiles and fast reads.

Each household's point is moved by :func:`layers.deidentify.displace_points` (the same keyed
offset every export uses) and stored in Web Mercator with the few attributes a de-identified
tile may carry. Run by the owner after each derive (``onemap derive``); the app only reads.
"""

from __future__ import annotations

import datetime as dt
import io
import math

import numpy as np
import psycopg
import shapely

from layers import deidentify

_SOURCE = """
SELECT h.household_id, h.county_code, h.village_code, h.status, h.poverty_cause,
       coalesce(w.level, ''), ST_X(h.geom), ST_Y(h.geom)
FROM household h
LEFT JOIN warning_month w ON w.month = h.month AND w.household_id = h.household_id
WHERE h.month = %s
"""
_RANK = {"red": 0, "orange": 1, "yellow": 2, "": 3}
_EARTH = 6_378_137.0


def to_mercator(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS84 degrees to EPSG:3857 metres."""
    x = np.radians(lon) * _EARTH
    y = np.log(np.tan(np.pi / 4 + np.radians(lat) / 2)) * _EARTH
    return x, y


def tile_xy(mx: np.ndarray, my: np.ndarray, z: int) -> tuple[np.ndarray, np.ndarray]:
    """The tile (column, row) at zoom ``z`` holding each Web Mercator point."""
    size = 2 * math.pi * _EARTH / (1 << z)
    tx = np.floor((mx + math.pi * _EARTH) / size).astype(np.int64)
    ty = np.floor((math.pi * _EARTH - my) / size).astype(np.int64)
    return np.clip(tx, 0, (1 << z) - 1), np.clip(ty, 0, (1 << z) - 1)


def refresh(conn: psycopg.Connection, month: dt.date | str, key: bytes | None = None) -> int:
    """Recompute the month's de-identified points (as the owner); returns the households."""
    month = dt.date.fromisoformat(f"{month}-01") if isinstance(month, str) else month
    rows = conn.execute(_SOURCE, (month,)).fetchall()
    key = key if key is not None else deidentify.displacement_key()
    villages = deidentify.village_polygons(conn, {r[2] for r in rows})
    ids = [r[0] for r in rows]
    x, y = deidentify.displace_points(
        ids,
        np.array([r[6] for r in rows], dtype=float),
        np.array([r[7] for r in rows], dtype=float),
        [villages[r[2]] for r in rows],
        key=key,
    )
    mx, my = to_mercator(x, y)
    x16, y16 = tile_xy(mx, my, 16)
    wkb = shapely.to_wkb(
        shapely.set_srid(shapely.points(mx, my), 3857), hex=True, include_srid=True
    )
    buffer = io.StringIO()
    for row, point, tx, ty in zip(rows, wkb, x16, y16, strict=True):
        fields = [month.isoformat(), *row[:6], str(_RANK.get(row[5], 3)), str(tx), str(ty)]
        buffer.write("\t".join("\\N" if v is None else str(v) for v in fields))
        buffer.write(f"\t{point}\n")
    with conn.transaction():
        conn.execute("DELETE FROM household_tile_point WHERE month = %s", (month,))
        with conn.cursor().copy(
            "COPY household_tile_point (month, household_id, county_code, village_code, status,"
            " poverty_cause, warning_level, warning_rank, x16, y16, geom) FROM STDIN"
        ) as copy:
            copy.write(buffer.getvalue())
    conn.execute("ANALYZE household_tile_point")
    return len(rows)
