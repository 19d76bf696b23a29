"""The hash-chained audit trail: appended by the app role in the request's transaction,
append-only, and `onemap audit verify` names the first row edited or deleted by hand."""

from __future__ import annotations

import datetime as dt
import itertools
import threading

import psycopg
import pytest
from typer.testing import CliRunner

from core import audit, db
from core.access import Role, User
from core.errors import AuditWriteFailed, NotPermitted
from core.scope import Scope
from onemap.cli import app

OFFICIAL = User("audit-official", "村干部", Role.OFFICIAL, "331122101")
AUDITOR = User("audit-auditor", "审计", Role.AUDITOR, "330127")


def test_chain_hash_covers_order_and_content() -> None:
    at = dt.datetime(2024, 6, 1, 8, 30, 0, 123456, tzinfo=dt.UTC)
    row = (7, at, "u", "official", "331122", "/portrait", "req-1", ["h1", "h2"], {"b": 1, "a": 2})
    content = audit.canonical_content(row)
    assert content == (
        '[7,"2024-06-01T08:30:00.123456+00:00","u","official","331122","/portrait","req-1",'
        '["h1","h2"],{"a":2,"b":1}]'
    )
    # The same instant in another time zone is the same content.
    beijing = at.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert audit.canonical_content((7, beijing, *row[2:])) == content
    digest = audit.chain_hash(audit.GENESIS, content)
    assert digest != audit.chain_hash("1" * 64, content)
    assert digest != audit.chain_hash(audit.GENESIS, audit.canonical_content((8, *row[1:])))
    assert digest != audit.chain_hash(
        audit.GENESIS, audit.canonical_content((*row[:7], ["h2", "h1"], row[8]))
    )


def record(conn: psycopg.Connection, user: User = OFFICIAL, n: int = 1) -> list[audit.AuditEntry]:
    return [
        audit.record(
            conn,
            user=user,
            route="/portrait",
            request_id=f"req-{i}",
            household_ids=[f"H{i:05d}"],
            detail={"month": "2024-06", "fields": ["name", "income"], "share": 0.1 * i},
        )
        for i in range(n)
    ]


@pytest.fixture
def chain(database_url: str) -> list[audit.AuditEntry]:
    """Three more rows, written by the app role inside scoped transactions."""
    entries = []
    for _ in range(3):
        with db.scoped(OFFICIAL.scope) as conn:
            assert conn.info.user == db.APP_ROLE
            entries += record(conn)
    return entries


@pytest.fixture
def owner(rolled_back: psycopg.Connection) -> psycopg.Connection:
    """The owner in a transaction that is rolled back: tampering never outlives the test."""
    return rolled_back


def test_rows_chain_and_verify(conn: psycopg.Connection, chain: list[audit.AuditEntry]) -> None:
    assert [b.id - a.id for a, b in itertools.pairwise(chain)] == [1, 1]
    rows = conn.execute(
        "SELECT id, username, role, scope, route, household_ids, prev_hash, hash FROM audit_log"
        " WHERE id = ANY(%s) ORDER BY id",
        ([e.id for e in chain],),
    ).fetchall()
    assert rows[0][1:6] == ("audit-official", "official", "331122101", "/portrait", ["H00000"])
    assert rows[1][6] == rows[0][7] and rows[2][6] == rows[1][7]  # each carries the one before
    result = audit.verify(conn)
    assert result.ok and result.rows >= 3
    assert result.last_id == chain[-1].id and result.last_hash == chain[-1].hash


def test_editing_one_row_by_hand_is_caught(
    owner: psycopg.Connection, chain: list[audit.AuditEntry]
) -> None:
    target = chain[1].id
    # Append-only even for the owner: the trigger refuses…
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
        owner.transaction(),
    ):
        owner.execute("UPDATE audit_log SET route = '/nothing' WHERE id = %s", (target,))
    # …unless triggers are switched off, as a determined tamperer would.
    owner.execute("SET LOCAL session_replication_role = replica")
    owner.execute("UPDATE audit_log SET household_ids = '{H99999}' WHERE id = %s", (target,))
    result = audit.verify(owner)
    assert not result.ok
    assert result.broken_id == target
    assert "content does not match its hash" in (result.problem or "")
    assert f"broken at row {target}" in result.summary()


def test_rewriting_a_row_and_its_hash_is_caught_at_the_next(
    owner: psycopg.Connection, chain: list[audit.AuditEntry]
) -> None:
    owner.execute("SET LOCAL session_replication_role = replica")
    owner.execute("UPDATE audit_log SET hash = %s WHERE id = %s", ("f" * 64, chain[0].id))
    result = audit.verify(owner)
    assert result.broken_id == chain[0].id  # its own content no longer matches
    owner.execute("UPDATE audit_log SET hash = %s WHERE id = %s", (chain[0].hash, chain[0].id))
    assert audit.verify(owner).ok


def test_deleting_a_row_is_caught(owner: psycopg.Connection, chain: list[audit.AuditEntry]) -> None:
    owner.execute("SET LOCAL session_replication_role = replica")
    owner.execute("DELETE FROM audit_log WHERE id = %s", (chain[1].id,))
    result = audit.verify(owner)
    assert not result.ok and result.broken_id == chain[2].id
    assert "missing (deleted)" in (result.problem or "")
    # Renumbering to hide the gap breaks the previous-hash link instead.
    owner.execute("UPDATE audit_log SET id = id - 1 WHERE id >= %s", (chain[2].id,))
    result = audit.verify(owner)
    assert not result.ok and result.broken_id == chain[1].id


def test_app_role_cannot_update_or_delete_the_audit_log(chain: list[audit.AuditEntry]) -> None:
    for statement in (
        "UPDATE audit_log SET route = 'x'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege), db.scoped(OFFICIAL.scope) as c:
            c.execute(statement)


def test_a_failed_audit_write_returns_no_data(conn: psycopg.Connection) -> None:
    """The pattern for the web layer: read, record last, return only after the commit."""

    def portrait(user: User, scope: Scope) -> list[tuple[str]]:
        with db.scoped(scope) as app_conn:
            rows = app_conn.execute("SELECT household_id FROM household LIMIT 3").fetchall()
            audit.record(app_conn, user=user, route="/portrait", request_id="r", household_ids=[])
        return rows

    before = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    # An audit row claiming a scope the transaction is not in is refused by row-level security.
    with pytest.raises(AuditWriteFailed) as refused:
        portrait(AUDITOR, Scope("331122"))
    assert "audit trail" in refused.value.user_msg
    assert conn.execute("SELECT count(*) FROM audit_log").fetchone() == before
    with pytest.raises(AuditWriteFailed, match="needs the transaction"), db.app_connection() as c:
        audit.record(c, user=OFFICIAL, route="/x", request_id="r", household_ids=[])


def test_audited_writes_one_row_for_what_was_shown_with_the_read(conn: psycopg.Connection) -> None:
    """The gateway: a row only when something is shown, none for a refusal or a failed read."""

    def rows(request_id: str) -> list[tuple[object, ...]]:
        return conn.execute(
            "SELECT route, household_ids, detail FROM audit_log WHERE request_id = %s",
            (request_id,),
        ).fetchall()

    with db.scoped(OFFICIAL.scope) as c, audit.audited(c, OFFICIAL, route="/g", request_id="g1"):
        c.execute("SELECT count(*) FROM household").fetchone()
    assert rows("g1") == []  # nothing personal shown: no row
    with (
        db.scoped(OFFICIAL.scope) as c,
        audit.audited(c, OFFICIAL, route="/g", request_id="g2") as trail,
    ):
        trail.shows(["H1"], area="331122101")
        trail.shows(["H1", "H2"], view="test")
    assert trail.entry is not None
    assert rows("g2") == [("/g", ["H1", "H2"], {"area": "331122101", "view": "test"})]
    for request_id, failure in (("g3", NotPermitted), ("g4", RuntimeError)):
        with (
            pytest.raises(failure),
            db.scoped(OFFICIAL.scope) as c,
            audit.audited(c, OFFICIAL, route="/g", request_id=request_id) as trail,
        ):
            trail.shows(["H3"])
            trail.require(failure is not NotPermitted, "see H3")
            raise RuntimeError("the read failed after it was declared")
        assert rows(request_id) == [] and trail.entry is None


def test_concurrent_writers_keep_one_chain(conn: psycopg.Connection) -> None:
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(4):
                with db.scoped(OFFICIAL.scope) as app_conn:
                    record(app_conn)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert audit.verify(conn).ok


def test_auditor_sees_only_rows_of_the_jurisdiction(chain: list[audit.AuditEntry]) -> None:
    with db.scoped(Scope("330127")) as app_conn:
        assert app_conn.execute("SELECT count(*) FROM audit_log").fetchone() == (0,)
    with db.scoped(Scope("331122")) as app_conn:
        ids = {r[0] for r in app_conn.execute("SELECT id FROM audit_log").fetchall()}
    assert {e.id for e in chain} <= ids


def test_cli_audit_verify(conn: psycopg.Connection, chain: list[audit.AuditEntry]) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "audit trail intact" in ok.output
    target = chain[0].id
    original = conn.execute("SELECT request_id FROM audit_log WHERE id = %s", (target,)).fetchone()
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")
        conn.execute("UPDATE audit_log SET request_id = 'forged' WHERE id = %s", (target,))
    try:
        broken = runner.invoke(app, ["audit", "verify"])
        assert broken.exit_code == 1
        assert f"broken at row {target}" in broken.output.replace("\n", " ")
    finally:
        with conn.transaction():
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute(
                "UPDATE audit_log SET request_id = %s WHERE id = %s", (original[0], target)
            )
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
