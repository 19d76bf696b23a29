"""The access matrix's cast: the official of village A, a sibling village B of the same town and a
village of another county, with what would give each away in a response (``tests/
test_access_matrix.py`` and the route cases of ``tests/matrix_routes.py`` share it)."""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from PIL import Image

from core.access import Role
from tests.conftest import logged_in_client, make_user


@dataclass(frozen=True)
class Village:
    """A village with what would give it away in a response."""

    code: str
    name: str
    households: frozenset[str]
    tokens: frozenset[str]
    warned: tuple[str, ...]  # households with a warning in the latest derived month
    warned_points: tuple[tuple[float, float], ...]


def village_of(conn: psycopg.Connection, code: str) -> Village:
    name = conn.execute("SELECT name FROM admin_area WHERE code = %s", (code,)).fetchone()
    households = conn.execute(
        "SELECT household_id FROM household WHERE village_code = %s", (code,)
    ).fetchall()
    tokens = conn.execute(
        "SELECT t.token FROM household_token t JOIN household h USING (household_id)"
        " WHERE h.village_code = %s",
        (code,),
    ).fetchall()
    warned = conn.execute(
        "SELECT m.household_id, ST_X(h.geom), ST_Y(h.geom) FROM warning_month m"
        " JOIN household h ON h.month = m.month AND h.household_id = m.household_id"
        " WHERE m.village_code = %s AND m.month = (SELECT max(month) FROM warning_month)"
        " ORDER BY m.household_id",
        (code,),
    ).fetchall()
    assert name is not None and households and warned
    return Village(
        code,
        str(name[0]),
        frozenset(r[0] for r in households),
        frozenset(r[0] for r in tokens),
        tuple(r[0] for r in warned),
        tuple((float(r[1]), float(r[2])) for r in warned),
    )


def most_warned(conn: psycopg.Connection, like: str, other_than: str = "") -> str:
    row = conn.execute(
        "SELECT m.village_code FROM warning_month m JOIN household_token t USING (household_id)"
        " WHERE m.month = (SELECT max(month) FROM warning_month) AND m.village_code LIKE %s"
        " AND m.village_code <> %s GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
        (like, other_than),
    ).fetchone()
    assert row is not None, like
    return str(row[0])


@dataclass(frozen=True)
class Matrix:
    """The official of A, their client, and the villages they must not see."""

    client: Any
    database_url: str
    a: Village
    sibling: Village  # same town as A
    foreign: Village  # another county
    visible_names: frozenset[str]

    @property
    def town(self) -> str:
        return self.a.code[:9]

    def others(self) -> tuple[Village, Village]:
        return self.sibling, self.foreign

    def anonymous(self) -> Any:
        """A client of a fresh app without a login."""
        from dashboards.app import create_app

        return create_app().server.test_client()

    def client_as(self, role: Role, jurisdiction: str) -> Any:
        """A client of a fresh app logged in as a new user of ``role`` over ``jurisdiction``."""
        return logged_in_client(self.database_url, make_user(self.database_url, role, jurisdiction))

    def assert_clean(self, text: str) -> None:
        """Nothing of the sibling village nor of the other county in ``text``."""
        for b in self.others():
            self.assert_no_trace(text, b)

    def assert_no_trace(self, text: str, of: Village) -> None:
        """Nothing in ``text`` names, codes or identifies a household of ``of``."""
        assert of.code not in text, f"{of.code} leaked"
        assert not set(re.findall(r"H\d{6,24}", text)) & of.households, "households leaked"
        assert not {t for t in of.tokens if t in text}, "door tokens leaked"
        if of.name not in self.visible_names:
            assert of.name not in text, f"the name {of.name} leaked"


def build(conn: psycopg.Connection, database_url: str) -> Matrix:
    a = most_warned(conn, "331122%")
    sibling = most_warned(conn, a[:9] + "%", other_than=a)
    foreign = most_warned(conn, "330902%")
    official = make_user(database_url, Role.OFFICIAL, a)
    names = conn.execute(
        "SELECT name FROM admin_area WHERE code = ANY(%s)",
        ([a[:n] for n in (2, 4, 6, 9, 12)],),
    ).fetchall()
    return Matrix(
        logged_in_client(database_url, official),
        database_url,
        village_of(conn, a),
        village_of(conn, sibling),
        village_of(conn, foreign),
        frozenset(r[0] for r in names),
    )


def text(response: Any) -> str:
    return str(response.get_data(as_text=True))


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def clear_of(a: Village, z: int, x: int, y: int) -> bool:
    """No warning of A within the tile or the margin its blur reads (a tile on each side)."""
    tiles = [tile_of(lon, lat, z) for lon, lat in a.warned_points]
    return all(abs(ax - x) > 1 or abs(ay - y) > 1 for ax, ay in tiles)


def alpha(png: bytes) -> Any:
    """The alpha channel of a PNG tile (0 where nothing is drawn)."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"))[..., 3]
