"""Schema migrations: numbered ``.sql`` files applied in order, each once, recorded in a table."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from core.errors import MigrationError

_NAME_RE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
#: Serialises concurrent `onemap db migrate` runs (an arbitrary, fixed advisory-lock key).
_LOCK_KEY = 7_402_113_301


@dataclass(frozen=True, slots=True)
class Migration:
    """One migration file."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        """SHA-256 of the file's text: an applied migration must never change."""
        return hashlib.sha256(self.sql.encode()).hexdigest()


def available() -> list[Migration]:
    """Return the migrations shipped in ``core/sql/migrations``, in order."""
    folder = resources.files("core") / "sql" / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME_RE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a number: {versions}")
    return found


def fingerprint() -> str:
    """A hash of every migration: names a template database built from them."""
    digest = hashlib.sha256()
    for migration in available():
        digest.update(f"{migration.version}:{migration.checksum}\n".encode())
    return digest.hexdigest()[:16]


_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migration (
    version    integer PRIMARY KEY,
    name       text        NOT NULL,
    checksum   text        NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


def migrate(conn: psycopg.Connection) -> list[Migration]:
    """Apply every migration not yet applied, each in its own transaction.

    Returns
    -------
    list of Migration
        The migrations applied by this call (empty when the schema is current).

    Raises
    ------
    MigrationError
        If a migration fails, or an applied one's file has changed since.
    """
    applied_now: list[Migration] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        conn.execute(_CREATE_TABLE)
        rows = conn.execute("SELECT version, name, checksum FROM schema_migration").fetchall()
        done = {version: (name, checksum) for version, name, checksum in rows}
        for migration in available():
            if migration.version in done:
                if done[migration.version][1] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name}.sql was changed "
                        "after it was applied; add a new migration instead"
                    )
                continue
            try:
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migration (version, name, checksum)"
                        " VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
            except psycopg.Error as error:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name}.sql failed: {error}"
                ) from error
            applied_now.append(migration)
    return applied_now
