"""After a fault: backup and restore keep months and the audit chain; an anchor catches deleted
newest rows; a web server killed with SIGKILL mid-write leaves nothing half-written."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from core import audit, db
from core.access import Role
from core.settings import get_settings
from onemap.cli import app
from tests.accounts import PASSWORD, warned_household
from tests.conftest import _with_database, make_user

_FINGERPRINT = """
SELECT (SELECT md5(string_agg(r::text, '|' ORDER BY r.code)) FROM rollup r
        WHERE r.month = (SELECT max(month) FROM rollup)),
       (SELECT count(*) || ':' || sum(size) FROM household
        WHERE month = (SELECT max(month) FROM published_month))
"""


def _fingerprint(url: str) -> tuple[Any, ...]:
    with psycopg.connect(url) as conn:
        row = conn.execute(_FINGERPRINT).fetchone()
    assert row is not None and row[0] and row[1] != "0:"
    return tuple(row)


def _verify(url: str) -> audit.Verification:
    with psycopg.connect(url, autocommit=True) as conn:
        return audit.verify(conn)


def _use_database(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    db.close_pool()


def _town(database_url: str) -> str:
    return warned_household(database_url)["village"][:9]


def _audit_row(database_url: str) -> None:
    user = make_user(database_url, Role.OFFICIAL, _town(database_url))
    with db.scoped(user.scope) as conn:
        audit.record(
            conn, user=user, route="/test/backup", request_id=uuid.uuid4().hex, household_ids=[]
        )


@pytest.fixture
def scratch(database_url: str, derived: Any, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A backup of the session's database (via the CLI) restored into a new database that the
    CLI points at for the test."""
    _audit_row(database_url)
    dump = tmp_path / "onemap.dump"
    result = CliRunner().invoke(app, ["db", "backup", "--out", str(dump)])
    assert result.exit_code == 0, result.output
    assert dump.stat().st_size > 0 and dump.read_bytes()[:5] == b"PGDMP"  # custom format
    name = f"onemap_scratch_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_database(database_url, name)
    try:
        _use_database(url)
        result = CliRunner().invoke(app, ["db", "restore", str(dump)])
        assert result.exit_code == 0, result.output
        yield url, dump
    finally:
        _use_database(database_url)
        with psycopg.connect(database_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_backup_change_restore(database_url: str, scratch: tuple[str, Path]) -> None:
    url, dump = scratch
    original, chain = _fingerprint(database_url), _verify(database_url)
    assert chain.ok and chain.rows > 0
    assert _fingerprint(url) == original
    restored = _verify(url)
    assert restored.ok and (restored.rows, restored.last_hash) == (chain.rows, chain.last_hash)
    with psycopg.connect(url, autocommit=True) as conn:  # change the month
        conn.execute("DELETE FROM rollup WHERE level = 'village'")
        conn.execute(
            "UPDATE household SET size = size + 1"
            " WHERE month = (SELECT max(month) FROM published_month)"
        )
    assert _fingerprint(url) != original
    result = CliRunner().invoke(app, ["db", "restore", str(dump)])
    assert result.exit_code == 0, result.output
    assert _fingerprint(url) == original
    verified = CliRunner().invoke(app, ["audit", "verify"])
    assert verified.exit_code == 0 and "audit trail intact" in verified.output


def test_anchor_catches_deleted_newest_rows(scratch: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = scratch
    anchor_file = tmp_path / "anchor.json"
    made = CliRunner().invoke(app, ["audit", "anchor", "--out", str(anchor_file)])
    assert made.exit_code == 0, made.output
    kept = audit.Anchor.from_json(anchor_file.read_text())
    assert f'"id": {kept.id}' in made.output and kept.hash in made.output
    ok = CliRunner().invoke(app, ["audit", "verify", "--anchor", str(anchor_file)])
    assert ok.exit_code == 0 and f"anchored row {kept.id} present" in ok.output
    with psycopg.connect(url, autocommit=True) as conn:  # someone removes the newest rows
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change")
        conn.execute("DELETE FROM audit_log WHERE id = %s", (kept.id,))
    assert _verify(url).ok  # the chain alone cannot tell
    caught = CliRunner().invoke(app, ["audit", "verify", "--anchor", str(anchor_file)])
    assert caught.exit_code == 1 and f"anchored row {kept.id} is gone" in caught.output
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert CliRunner().invoke(app, ["audit", "verify", "--anchor", str(bad)]).exit_code == 2


class _Browser:
    """A logged-in HTTP client of a real server (cookies, CSRF token)."""

    def __init__(self, base: str) -> None:
        self.base, self.jar = base, CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))

    def get(self, path: str) -> int:
        try:
            with self.opener.open(self.base + path, timeout=20) as response:
                response.read()
                return int(response.status)
        except urllib.error.HTTPError as error:
            return int(error.code)

    def login(self, username: str) -> None:
        self.get("/login")
        token = next(c.value for c in self.jar if c.name == "_csrf_token")
        form = urllib.parse.urlencode(
            {"username": username, "password": PASSWORD, "csrf_token": token, "next": "/healthz"}
        ).encode()
        with self.opener.open(self.base + "/login", data=form, timeout=20) as response:
            assert response.status == 200


def _serve(port: int) -> subprocess.Popen[bytes]:
    command = [str(Path(sys.executable).parent / "onemap"), "serve", "--host", "127.0.0.1"]
    process = subprocess.Popen([*command, "--port", str(port)], env=os.environ.copy())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise AssertionError("the web server did not start")


def test_sigkill_during_writes_leaves_a_whole_chain(database_url: str, derived: Any) -> None:
    port = int(os.environ.get("ONEMAP_MAP_PORT", "8050")) + 1
    town = _town(database_url)
    official = make_user(database_url, Role.OFFICIAL, town)
    before = _verify(database_url)
    server = _serve(port)
    statuses: list[int] = []
    stop = threading.Event()

    def write_audit_rows() -> None:
        browser = _Browser(f"http://127.0.0.1:{port}")
        browser.login(official.username)
        while not stop.is_set():
            try:
                statuses.append(browser.get(f"/api/areas/{town}/households.geojson?v=1"))
            except (OSError, http.client.HTTPException):
                return  # the server is gone (mid-response too)

    workers = [threading.Thread(target=write_audit_rows) for _ in range(4)]
    try:
        for worker in workers:
            worker.start()
        while len(statuses) < 8 and all(w.is_alive() for w in workers):
            time.sleep(0.05)
        os.kill(server.pid, signal.SIGKILL)  # mid-write: requests are in flight
        server.wait(timeout=10)
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=30)
        if server.poll() is None:
            server.kill()
    assert statuses and set(statuses) == {200}
    after = _verify(database_url)
    assert after.ok and after.rows > before.rows  # whole rows only, still one chain
    with psycopg.connect(database_url) as conn:
        half = conn.execute(
            "SELECT count(*) FROM audit_log WHERE username = %s AND cardinality(household_ids) = 0",
            (official.username,),
        ).fetchone()
    assert half is not None and half[0] == 0
    server = _serve(port)  # restarted: the chain goes on from its head
    try:
        browser = _Browser(f"http://127.0.0.1:{port}")
        browser.login(official.username)
        assert browser.get(f"/api/areas/{town}/households.geojson?v=1") == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)
    final = _verify(database_url)
    assert final.ok and final.rows == after.rows + 1
