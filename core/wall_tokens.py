"""Kiosk tokens of the wall screen: bound to one area, read-only, aggregates only, revocable.

A token is 32 random bytes (URL-safe text) shown once when issued; only its SHA-256 is stored.
The web app asks the database whether a hash is live (``wall_token_area``) on every request,
so a revoked token stops at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

import psycopg

from core.errors import InvalidUser, UnknownArea
from core.scope import is_admin_code


@dataclass(frozen=True, slots=True)
class WallToken:
    """One issued token (never the token itself)."""

    token_id: int
    area_code: str
    label: str
    issued_by: str
    issued_at: dt.datetime
    revoked_at: dt.datetime | None


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue(conn: psycopg.Connection, area: str, label: str, issued_by: str) -> tuple[int, str]:
    """Issue a token for ``area``; return its id and the token (shown once, never stored).

    Raises
    ------
    UnknownArea
        ``area`` is not an admin area.
    InvalidUser
        An empty label.
    """
    if not is_admin_code(area):
        raise UnknownArea(f"{area!r} is not an admin code")
    if not label.strip():
        raise InvalidUser("a wall token needs a label (where the screen hangs)")
    if conn.execute("SELECT 1 FROM admin_area WHERE code = %s", (area,)).fetchone() is None:
        raise UnknownArea(f"no area {area}")
    token = secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO wall_token (token_hash, area_code, label, issued_by)"
        " VALUES (%s, %s, %s, %s) RETURNING token_id",
        (token_hash(token), area, label.strip()[:200], issued_by),
    ).fetchone()
    assert row is not None
    return int(row[0]), token


def list_tokens(conn: psycopg.Connection) -> list[WallToken]:
    """Every token issued, newest first."""
    rows = conn.execute(
        "SELECT token_id, area_code, label, issued_by, issued_at, revoked_at FROM wall_token"
        " ORDER BY token_id DESC"
    ).fetchall()
    return [WallToken(*row) for row in rows]


def revoke(conn: psycopg.Connection, token_id: int) -> bool:
    """Revoke a token; False when there is no such live token."""
    cursor = conn.execute(
        "UPDATE wall_token SET revoked_at = now() WHERE token_id = %s AND revoked_at IS NULL",
        (token_id,),
    )
    return cursor.rowcount == 1


def live_area(conn: psycopg.Connection, hashed: str) -> tuple[int, str] | None:
    """(token id, area) of a live token hash, or None (works as the web app's role)."""
    row = conn.execute("SELECT token_id, area_code FROM wall_token_area(%s)", (hashed,)).fetchone()
    return (int(row[0]), str(row[1])) if row else None
