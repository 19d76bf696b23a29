"""Per-user API tokens for desktop GIS (QGIS, GDAL): issued once, stored hashed, revocable.

A token acts as its user: same role, same jurisdiction, same audit trail. Only the SHA-256 of
a token is stored; the token itself is shown once, when issued.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import psycopg

from core.access import Role, User
from core.errors import OneMapError
from core.users import get_user

#: Tokens start with this, so a leaked one is recognisable (and greppable) as ours.
PREFIX = "om_"


class UnknownToken(OneMapError, LookupError):
    """No such (active) token."""

    user_msg = "Unknown or revoked token."


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A token as issued: the secret (shown once) and its id."""

    token_id: int
    username: str
    token: str


def token_hash(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.strip().encode()).hexdigest()


def issue(conn: psycopg.Connection, username: str, label: str = "") -> IssuedToken:
    """Make a token for ``username`` (who must exist). Run as the owner (the CLI)."""
    get_user(conn, username)
    token = PREFIX + secrets.token_urlsafe(32)
    row = conn.execute(
        "INSERT INTO api_token (username, token_hash, label) VALUES (%s, %s, %s)"
        " RETURNING token_id",
        (username, token_hash(token), label),
    ).fetchone()
    assert row is not None
    return IssuedToken(int(row[0]), username, token)


def revoke(conn: psycopg.Connection, token_id: int) -> None:
    """Revoke a token by its id.

    Raises
    ------
    UnknownToken
        No active token with that id.
    """
    row = conn.execute(
        "UPDATE api_token SET revoked_at = now() WHERE token_id = %s AND revoked_at IS NULL"
        " RETURNING token_id",
        (token_id,),
    ).fetchone()
    if row is None:
        raise UnknownToken(f"no active token {token_id}")


def list_tokens(conn: psycopg.Connection) -> list[tuple[int, str, str, str, str]]:
    """(id, user, label, created, revoked) of every token (never the token)."""
    rows = conn.execute(
        "SELECT token_id, username, label, created_at::text, coalesce(revoked_at::text, '')"
        " FROM api_token ORDER BY token_id"
    ).fetchall()
    return [(int(r[0]), r[1], r[2], r[3], r[4]) for r in rows]


def user_of(conn: psycopg.Connection, token: str) -> User | None:
    """The (enabled) user an active token belongs to, in one query (as the app role)."""
    row = conn.execute(
        "SELECT u.username, u.display_name, u.role, u.jurisdiction"
        " FROM api_token_user(%s) t JOIN app_user u ON u.username = t.username",
        (token_hash(token),),
    ).fetchone()
    return None if row is None else User(row[0], row[1], Role(row[2]), row[3])
