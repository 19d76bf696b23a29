"""A database of its own for the assistance-loop tests: the session database after derive,
cloned, with the roster loaded, households paired and warnings routed.

The loop writes (pairings, acknowledgements, plans) change what a later derive computes; on a
clone they cannot disturb the other modules' checks of the shared session database.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from analytics.assist_settings import AssistanceSettings
from analytics.pairing import initial_pairing, link_login, load_roster, read_roster
from analytics.routing import route
from core import db
from core.access import Role, User
from core.settings import get_settings
from tests.conftest import MONTH, make_user

FIRST = dt.date.fromisoformat(f"{MONTH}-01")


@dataclass(frozen=True, slots=True)
class Field:
    """The cloned database and the people and households the tests act with."""

    url: str
    village: str
    official: User  # a village official, linked to the roster's `official_id`
    official_id: str
    sibling: User  # another official of the same village, linked to `sibling_id`
    sibling_id: str
    town: User  # a town official (acts on the whole town)
    red_warning: int  # an open red warning of a household paired with `official`
    other_county_warning: int


def clone(url: str) -> str:
    """A copy of the database at ``url`` (nobody may be connected to it meanwhile)."""
    db.close_pool()
    name = f"onemap_assist_{uuid.uuid4().hex[:8]}"
    source = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    admin_url = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(str(source))
            )
        )
    return psycopg.conninfo.make_conninfo(url, dbname=name)


def drop(url: str) -> None:
    """Drop a clone made by :func:`clone`."""
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    admin_url = psycopg.conninfo.make_conninfo(url, dbname="postgres")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name)))
        )


def _pair(conn: psycopg.Connection, households: list[str], official_id: str) -> None:
    """Owner-side setup: pair ``households`` with ``official_id`` (history kept)."""
    conn.execute(
        "UPDATE pairing SET valid_to = now() WHERE household_id = ANY(%s) AND valid_to IS NULL",
        (households,),
    )
    conn.execute(
        "INSERT INTO pairing (household_id, county_code, village_code, official_id, valid_from,"
        " reason, changed_by) SELECT household_id, county_code, village_code, %s, now(),"
        " 'test setup', 'tests' FROM household WHERE household_id = ANY(%s)"
        " AND month = %s",
        (official_id, households, FIRST),
    )


def _official_in(conn: psycopg.Connection, village: str, skip: set[str]) -> str:
    row = conn.execute(
        "SELECT official_id FROM official WHERE %s = ANY(villages) AND NOT official_id = ANY(%s)"
        " ORDER BY official_id LIMIT 1",
        (village, list(skip)),
    ).fetchone()
    assert row is not None
    return str(row[0])


def _setup(url: str, feeds: dict[str, Path]) -> Field:
    """Roster, initial pairing, two officials of one village and a town official."""
    settings = AssistanceSettings()
    with psycopg.connect(url, autocommit=True) as conn:
        load_roster(conn, read_roster(feeds[MONTH] / f"officials_roster_{MONTH}.csv"))
        initial_pairing(conn)
        warned = conn.execute(
            "SELECT village_code, array_agg(household_id ORDER BY level = 'red' DESC, score DESC)"
            " FROM warning WHERE county_code = '331122' AND status = 'raised' GROUP BY 1"
            " HAVING count(*) >= 3 AND bool_or(level = 'red') ORDER BY count(*) DESC, 1 LIMIT 1"
        ).fetchone()
        assert warned is not None, "no village with three raised warnings, one red"
        village, red = warned[0], warned[1]
        mine = _official_in(conn, village, set())
        sibling = _official_in(conn, village, {mine})
        _pair(conn, [red[0], red[2]], mine)
        _pair(conn, [red[1]], sibling)
        route(conn, FIRST, settings)
        red_warning = conn.execute(
            "SELECT warning_id FROM warning WHERE household_id = %s AND status = 'raised'",
            (red[0],),
        ).fetchone()
        other = conn.execute(
            "SELECT warning_id FROM warning WHERE county_code <> '331122' AND status = 'raised'"
            " ORDER BY warning_id LIMIT 1"
        ).fetchone()
        assert red_warning is not None and other is not None
        # Raised as a new month's warnings are, now: the demo's answers dated this month's
        # warnings inside the (past) data month, so only a fresh one has a running countdown.
        conn.execute(
            "UPDATE warning SET raised_at = now(), due_at = now() + interval '3 hours'"
            " WHERE warning_id = %s",
            (red_warning[0],),
        )
    official = make_user(url, Role.OFFICIAL, village)
    sibling_user = make_user(url, Role.OFFICIAL, village)
    town = make_user(url, Role.OFFICIAL, village[:9])
    with psycopg.connect(url, autocommit=True) as conn:
        link_login(conn, official.username, mine)
        link_login(conn, sibling_user.username, sibling)
    return Field(
        url, village, official, mine, sibling_user, sibling, town, red_warning[0], other[0]
    )


@pytest.fixture(scope="module", name="field")
def field_fixture(derived: object, database_url: str, feeds: dict[str, Path]) -> Iterator[Field]:
    """The cloned, paired and routed database; the app and CLI use it while the module runs."""
    url = clone(database_url)
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        with psycopg.connect(url, autocommit=True) as owner:
            db.ensure_app_login(owner)
        yield _setup(url, feeds)
    finally:
        db.close_pool()
        os.environ["DATABASE_URL"] = database_url
        get_settings.cache_clear()
        drop(url)
