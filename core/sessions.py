"""Server-side web sessions: a random id in the cookie, its SHA-256 in ``app_session``.

A session exists while its row does: logging out, disabling the user, a new password, a change
of role or jurisdiction (a trigger, migration 0025) and ``onemap users logout NAME`` delete the
rows, so a copied cookie stops working at once. The raw id is never stored.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

import psycopg


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One live session: whose it is and its times (seconds since the epoch)."""

    username: str
    login_at: float
    seen_at: float


def digest(session_id: str) -> bytes:
    """What the table keeps of a session id (SHA-256)."""
    return hashlib.sha256(session_id.encode()).digest()


def start(conn: psycopg.Connection, username: str, at: float) -> str:
    """Start a session for ``username`` and return its (only) copy of the random id."""
    session_id = secrets.token_urlsafe(32)
    conn.execute(
        "INSERT INTO app_session (id_hash, username, login_at, seen_at) VALUES (%s, %s, %s, %s)",
        (digest(session_id), username, at, at),
    )
    return session_id


def lookup(conn: psycopg.Connection, session_id: str) -> SessionRow | None:
    """The live session with id ``session_id``, or None (ended, or never started)."""
    row = conn.execute(
        "SELECT username, login_at, seen_at FROM app_session WHERE id_hash = %s",
        (digest(session_id),),
    ).fetchone()
    return None if row is None else SessionRow(str(row[0]), float(row[1]), float(row[2]))


def touch(conn: psycopg.Connection, session_id: str, at: float) -> None:
    """Record that the session was used at ``at``."""
    conn.execute("UPDATE app_session SET seen_at = %s WHERE id_hash = %s", (at, digest(session_id)))


def end(conn: psycopg.Connection, session_id: str) -> None:
    """End one session (logout, expiry)."""
    conn.execute("DELETE FROM app_session WHERE id_hash = %s", (digest(session_id),))


def end_all(conn: psycopg.Connection, username: str) -> int:
    """End every session of ``username``; return how many there were."""
    cursor = conn.execute("DELETE FROM app_session WHERE username = %s", (username,))
    return cursor.rowcount


def end_stale(conn: psycopg.Connection, idle_before: float, login_before: float) -> int:
    """Delete sessions idle since before ``idle_before`` or started before ``login_before``."""
    cursor = conn.execute(
        "DELETE FROM app_session WHERE seen_at < %s OR login_at < %s", (idle_before, login_before)
    )
    return cursor.rowcount
