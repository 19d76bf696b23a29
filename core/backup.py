"""Back up and restore the whole database with pg_dump / pg_restore (custom format).

Everything in the database is in the dump: geography, published months, derived tables, users,
sessions and the audit chain with its hashes, so ``onemap audit verify`` passes on a restored
database exactly as it did on the original. Restore replaces the database's objects in one
transaction: stop the web app first (its connections hold locks the restore waits for). Visit
photos are files (``ONEMAP_PHOTO_DIR``, default ``.onemap/photos``), not rows: copy that
folder with the dump.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from core.cluster import find_postgres
from core.errors import OneMapError


class BackupFailed(OneMapError, RuntimeError):
    """pg_dump or pg_restore failed (the detail has its stderr)."""

    user_msg = "The backup or restore failed."


def _tool(name: str) -> str:
    return str(find_postgres(require_postgis=False).bindir / name)


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BackupFailed(f"{Path(command[0]).name} failed: {result.stderr.strip()[-2000:]}")


def backup(dsn: str, out: Path) -> Path:
    """Write the database at ``dsn`` to ``out`` (pg_dump custom format, compressed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    _run([_tool("pg_dump"), "--format=custom", "--file", str(partial), "--dbname", dsn])
    partial.replace(out)  # a crash mid-dump never leaves a file that looks complete
    return out


#: Restore starts from an empty schema (``pg_restore --clean`` cannot drop the constraints of
#: partitions in order); public comes back as PostgreSQL 15 creates it.
_EMPTY_SCHEMA = b"""
DROP SCHEMA public CASCADE;
CREATE SCHEMA public AUTHORIZATION pg_database_owner;
GRANT USAGE ON SCHEMA public TO PUBLIC;
"""


def restore(dsn: str, dump: Path) -> None:
    """Replace the database at ``dsn`` with the contents of ``dump``, all or nothing.

    The schema is emptied and the dump's SQL (``pg_restore -f -``) replayed by ``psql`` in one
    transaction: a failure anywhere leaves the database as it was.
    """
    if not dump.is_file():
        raise BackupFailed(f"no backup file {dump}")
    psql_command = [_tool("psql"), "-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1"]
    with subprocess.Popen(
        [*psql_command, "--dbname", dsn],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as psql:
        assert psql.stdin is not None
        with subprocess.Popen(
            [_tool("pg_restore"), "--file", "-", str(dump)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as script:
            assert script.stdout is not None
            try:
                psql.stdin.write(_EMPTY_SCHEMA)
                shutil.copyfileobj(script.stdout, psql.stdin, 1 << 20)
                psql.stdin.close()
            except BrokenPipeError:
                pass  # psql stopped on an error: its stderr says which
            script_error = script.stderr.read().decode() if script.stderr else ""
        psql_error = psql.stderr.read().decode() if psql.stderr else ""
    if script.returncode != 0:
        raise BackupFailed(f"pg_restore failed: {script_error.strip()[-2000:]}")
    if psql.returncode != 0:
        raise BackupFailed(f"restore failed (nothing changed): {psql_error.strip()[-2000:]}")
