"""The audit trail: one hash-chained row per response that shows personal data, and per export.

Personal data is read (or changed) only inside :func:`audited`: the caller's scoped transaction,
an access check (:meth:`Audited.require`), what the response shows (:meth:`Audited.shows`), and
one audit row written last, in that same transaction. The domain's readers (``layers.portrait``,
``layers.household_points``, ``layers.heat_export``…) take the :class:`Audited` it yields, so
no route assembles those steps again.

Each row carries the hash of the row before it and its own hash over that and its content, so
editing, deleting or reordering rows breaks the chain where it happened; :func:`verify` finds
the first broken row. Rows are numbered previous + 1 under a lock: the ids have no gaps, and a
missing id is a deleted row. (Deleting the newest rows leaves a valid, shorter chain: keep the
last id and hash that ``onemap audit verify`` prints to catch that too.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from core.access import User
from core.errors import AuditWriteFailed, NotPermitted
from core.scope import Scope

#: The previous hash of the first row.
GENESIS = "0" * 64
#: Serialises writers of the chain (advisory transaction lock; an arbitrary, fixed key).
_LOCK_KEY = 7_402_113_303
_COLUMNS = "id, at, username, role, scope, route, request_id, household_ids, detail"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """A row as written: its place in the chain."""

    id: int
    hash: str


@dataclass(frozen=True, slots=True)
class Verification:
    """What :func:`verify` found."""

    ok: bool
    rows: int
    last_id: int | None
    last_hash: str | None
    broken_id: int | None = None
    problem: str | None = None

    def summary(self) -> str:
        """One line for a person."""
        if self.ok:
            tip = f"; last row {self.last_id}, hash {self.last_hash}" if self.rows else ""
            return f"audit trail intact: {self.rows} rows{tip}"
        return f"audit trail broken at row {self.broken_id}: {self.problem}"


def canonical_content(row: Sequence[Any]) -> str:
    """The row's content as one canonical JSON text (sorted keys, no spaces, UTC time).

    Parameters
    ----------
    row
        id, at, username, role, scope, route, request_id, household_ids, detail: the
        columns in that order, as written or as read back.
    """
    row_id, at, username, role, scope, route, request_id, household_ids, detail = row
    content = [
        row_id,
        at.astimezone(dt.UTC).isoformat(timespec="microseconds"),
        username,
        role,
        scope,
        route,
        request_id,
        list(household_ids),
        detail,
    ]
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, content: str) -> str:
    """SHA-256 (hex) over the previous row's hash and this row's canonical content."""
    return hashlib.sha256(f"{prev_hash}\n{content}".encode()).hexdigest()


def record(
    conn: psycopg.Connection,
    *,
    user: User,
    route: str,
    request_id: str,
    household_ids: Iterable[str],
    detail: dict[str, Any] | None = None,
    scope: Scope | None = None,
    at: dt.datetime | None = None,
) -> AuditEntry:
    """Append one row to the audit chain, inside the caller's transaction.

    Works as the web app's role (INSERT on ``audit_log``; the chain's tip comes from the
    ``audit_log_tip()`` function). Writers are serialised by a transaction lock held until the
    caller commits: call this last, just before the data leaves, in READ COMMITTED (the
    default), e.g. at the end of a :func:`core.db.scoped` block.

    Parameters
    ----------
    conn
        A connection inside the transaction that read the data.
    user
        Who sees the data.
    route
        What was asked (``/portrait``, ``export:households.gpkg``).
    request_id
        The request's id (ties the row to logs).
    household_ids
        The households whose data the response shows.
    detail
        Anything else worth keeping (JSON).
    scope
        The jurisdiction the request ran in; the user's by default.
    at
        When; now by default.

    Raises
    ------
    AuditWriteFailed
        Nothing was written (the caller's transaction is then aborted: return no data).
    """
    if conn.autocommit and conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        raise AuditWriteFailed("audit.record needs the transaction that read the data")
    scope = scope or user.scope
    at = at or dt.datetime.now(dt.UTC)
    ids = [str(h) for h in household_ids]
    try:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
        # The tip is read after the lock is held; the detail goes through jsonb and back so
        # the hash covers exactly what verify() will read.
        tip = conn.execute(
            "SELECT t.id, t.hash, %s::jsonb FROM (SELECT 1) one"
            " LEFT JOIN audit_log_tip() t ON true",
            (None if detail is None else Jsonb(detail),),
        ).fetchone()
        if tip is None:
            raise AuditWriteFailed("the audit chain's tip could not be read")
        row_id = (tip[0] or 0) + 1
        prev_hash = tip[1] or GENESIS
        normalised = tip[2]
        written = (row_id, at, user.username, user.role.value, scope.prefix, route, request_id)
        content = canonical_content((*written, ids, normalised))
        digest = chain_hash(prev_hash, content)
        conn.execute(
            "INSERT INTO audit_log (" + _COLUMNS + ", prev_hash, hash)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (*written, ids, None if normalised is None else Jsonb(normalised), prev_hash, digest),
        )
    except psycopg.Error as error:
        raise AuditWriteFailed(f"audit row for {route} not written: {error}") from error
    return AuditEntry(row_id, digest)


@dataclass(slots=True)
class Audited:
    """A transaction that shows (or changes) personal data, as :func:`audited` yields it.

    Readers check access with :meth:`require`, read through :attr:`conn` and declare what
    leaves with :meth:`shows`; the audit row is written when the block ends.
    """

    conn: psycopg.Connection
    user: User
    #: The households the response shows, in the order declared.
    household_ids: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)
    #: Whether anything was declared: only then is a row written.
    shown: bool = False
    #: The row written, once the block has ended (None when nothing was shown).
    entry: AuditEntry | None = None

    def require(self, allowed: bool, what: str) -> None:
        """Refuse unless ``allowed`` (a permission of the user's role).

        Raises
        ------
        NotPermitted
            Naming the role and ``what`` it may not do (the detail, for logs).
        """
        if not allowed:
            raise NotPermitted(f"{self.user.role.value} may not {what}")

    def shows(self, household_ids: Iterable[str], **detail: Any) -> None:
        """Declare that the response shows ``household_ids`` (none is fine: an export).

        ``detail`` is kept in the row (``area``, ``view``, ``export``…); calling this at all
        means a row is written.
        """
        self.shown = True
        self.household_ids = list(dict.fromkeys([*self.household_ids, *map(str, household_ids)]))
        self.detail |= detail


@contextmanager
def audited(
    conn: psycopg.Connection,
    user: User,
    *,
    route: str,
    request_id: str,
    scope: Scope | None = None,
) -> Iterator[Audited]:
    """Run a read (or write) of personal data and audit it in the same transaction.

    When the block ends without an error and something was declared with
    :meth:`Audited.shows`, one row goes to the chain (:func:`record`), last, in ``conn``'s
    transaction. If the row cannot be written the block fails with :class:`AuditWriteFailed`
    and the caller's transaction is rolled back: return no data.

    Parameters
    ----------
    conn
        A connection inside a transaction in the user's jurisdiction (``core.db.scoped``).
    user, route, request_id, scope
        As :func:`record` takes them.

    Examples
    --------
    >>> with db.scoped(user.scope) as conn, audited(  # doctest: +SKIP
    ...     conn, user, route="/h/<token>", request_id=rid
    ... ) as trail:
    ...     portrait = layers.portrait.open_for(trail, household_id)
    """
    trail = Audited(conn, user)
    yield trail
    if trail.shown:
        trail.entry = record(
            conn,
            user=user,
            route=route,
            request_id=request_id,
            household_ids=trail.household_ids,
            detail=trail.detail or None,
            scope=scope,
        )


def verify(conn: psycopg.Connection, *, batch: int = 5_000) -> Verification:
    """Walk the whole chain and name the first broken row.

    Run as the owner (the app role sees only its scope's rows). Detects a row whose content
    or hash was edited, a deleted row (a gap in the ids, or a previous hash that does not
    match), rows swapped or renumbered, and a chain that does not start at row 1.
    """
    rows = 0
    expected_id, prev_hash = 1, GENESIS
    with conn.transaction(), conn.cursor(name="onemap_audit_verify") as cursor:
        cursor.itersize = batch
        cursor.execute("SELECT " + _COLUMNS + ", prev_hash, hash FROM audit_log ORDER BY id")
        for row in cursor:
            row_id, stored_prev, stored_hash = row[0], row[9], row[10]
            problem = None
            if row_id != expected_id:
                problem = f"rows {expected_id}…{row_id - 1} are missing (deleted)"
            elif stored_prev != prev_hash:
                problem = "its previous hash does not match the row before it (edited or removed)"
            elif chain_hash(stored_prev, canonical_content(row[:9])) != stored_hash:
                problem = "its content does not match its hash (edited)"
            if problem is not None:
                return Verification(False, rows, expected_id - 1, prev_hash, row_id, problem)
            rows += 1
            expected_id, prev_hash = row_id + 1, stored_hash
    if rows == 0:
        return Verification(True, 0, None, None)
    return Verification(True, rows, expected_id - 1, prev_hash)


@dataclass(frozen=True, slots=True)
class Anchor:
    """The head of the chain at one moment, kept outside the database (a file, a printout).

    The chain alone cannot show that its newest rows were deleted (what remains is still a
    valid chain); a copy of the head taken earlier can.
    """

    id: int
    hash: str
    at: str

    def to_json(self) -> str:
        """The anchor as one line of JSON (what ``onemap audit anchor`` writes)."""
        return json.dumps({"id": self.id, "hash": self.hash, "at": self.at}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Anchor:
        """Read an anchor written by :meth:`to_json`.

        Raises
        ------
        ValueError
            Not an anchor.
        """
        try:
            data = json.loads(text)
            anchor = cls(int(data["id"]), str(data["hash"]), str(data["at"]))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"not an audit anchor: {error}") from error
        if anchor.id < 1 or len(anchor.hash) != 64:
            raise ValueError("not an audit anchor: bad id or hash")
        return anchor


def anchor(conn: psycopg.Connection) -> Anchor | None:
    """The chain's newest row as an :class:`Anchor` (None for an empty trail)."""
    row = conn.execute("SELECT id, hash, now()::text FROM audit_log ORDER BY id DESC LIMIT 1")
    found = row.fetchone()
    return None if found is None else Anchor(int(found[0]), str(found[1]), str(found[2]))


def check_anchor(conn: psycopg.Connection, kept: Anchor) -> str | None:
    """What is wrong with the chain against an anchor kept earlier, or None.

    The anchored row must still be there with the same hash (so neither it nor any row before
    it was removed or changed without :func:`verify` noticing).
    """
    row = conn.execute("SELECT hash FROM audit_log WHERE id = %s", (kept.id,)).fetchone()
    if row is None:
        tip = anchor(conn)
        last = tip.id if tip else 0
        return f"anchored row {kept.id} is gone: the trail ends at row {last} (newest rows deleted)"
    if row[0] != kept.hash:
        return f"anchored row {kept.id} has another hash now (rewritten)"
    return None
