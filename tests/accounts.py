"""Test users' password, and the household the web tests open (a module of its own: the
browser helpers and several test modules need them)."""

from __future__ import annotations

import psycopg

PASSWORD = "test-password-0123"


def warned_household(database_url: str, rank: int = 0) -> dict[str, str]:
    """The ``rank``-th household (by warning score) of 缙云县 with an open warning and a door
    code: its id, village and token."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT w.household_id, w.village_code, t.token FROM warning w"
            " JOIN household_token t USING (household_id)"
            " WHERE w.status IN ('raised', 'acknowledged', 'verified')"
            " AND w.village_code LIKE '331122%%' ORDER BY w.score DESC, 1 OFFSET %s LIMIT 1",
            (rank,),
        ).fetchone()
    assert row is not None
    return {"id": row[0], "village": row[1], "token": row[2]}
