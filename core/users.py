"""User accounts: argon2id password hashes, logins with a lockout, and the demo users.

Administration (:func:`add_user`, :func:`disable_user`, …) runs as the owner, from the CLI.
:func:`authenticate` also runs as the web app's role: it reads a hash only through the
``app_user_credentials`` function and appends every attempt to ``login_attempt``.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import psycopg
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.access import Role, User, validate_jurisdiction
from core.errors import (
    AccountDisabled,
    AccountLocked,
    AuthenticationFailed,
    InvalidUser,
    UnknownUser,
)
from core.settings import AuthSettings, get_settings

_USERNAME_RE = re.compile(r"[a-z][a-z0-9_.-]{2,39}")
#: Serialises the logins of one username (two-key advisory lock: this key, hashtext(name)).
_LOGIN_LOCK = 740_211
_USER_COLUMNS = "username, display_name, role, jurisdiction"


@dataclass(frozen=True, slots=True)
class UserRecord:
    """A user as the administration lists it (never with the hash)."""

    user: User
    disabled: bool
    created_at: dt.datetime


@lru_cache(maxsize=8)
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def _hasher_for(settings: AuthSettings) -> PasswordHasher:
    return _hasher(settings.time_cost, settings.memory_kib, settings.parallelism)


def hash_password(password: str, settings: AuthSettings | None = None) -> str:
    """Hash a password with argon2id; the result carries its salt and parameters.

    Returns
    -------
    str
        ``$argon2id$v=19$m=…,t=…,p=…$salt$hash`` (PHC string format).
    """
    return _hasher_for(settings or get_settings().auth).hash(password)


def verify_password(stored: str, password: str) -> bool:
    """Return True if ``password`` matches the hash ``stored`` (constant-time comparison)."""
    try:
        return PasswordHasher().verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


@lru_cache(maxsize=8)
def _decoy_hash(time_cost: int, memory_kib: int, parallelism: int) -> str:
    # Unknown users cost one verification too: response times do not tell names apart.
    return _hasher(time_cost, memory_kib, parallelism).hash(secrets.token_urlsafe(16))


def generate_password() -> str:
    """A random password of 16 URL-safe characters (96 bits)."""
    return secrets.token_urlsafe(12)


def _check_password(password: str, settings: AuthSettings) -> None:
    if len(password) < settings.min_password_length:
        raise InvalidUser(f"a password needs at least {settings.min_password_length} characters")


def _user(row: tuple[str, str, str, str]) -> User:
    return User(username=row[0], display_name=row[1], role=Role(row[2]), jurisdiction=row[3])


def add_user(
    conn: psycopg.Connection,
    username: str,
    *,
    role: Role | str,
    jurisdiction: str,
    display_name: str | None = None,
    password: str | None = None,
    settings: AuthSettings | None = None,
) -> tuple[User, str]:
    """Create a user; return it with its password (generated when none is given).

    Raises
    ------
    InvalidUser
        A malformed username, an unknown role, a jurisdiction that does not exist or does not
        fit the role, a short password, or a username already taken.
    """
    settings = settings or get_settings().auth
    if not _USERNAME_RE.fullmatch(username):
        raise InvalidUser(
            f"username {username!r}: 3-40 characters, lower-case letters, digits, '_', '.', "
            "'-', starting with a letter"
        )
    try:
        role = Role(role)
    except ValueError as error:
        known = ", ".join(r.value for r in Role)
        raise InvalidUser(f"unknown role {role!r} (one of {known})") from error
    validate_jurisdiction(role, jurisdiction)
    if not conn.execute("SELECT 1 FROM admin_area WHERE code = %s", (jurisdiction,)).fetchone():
        raise InvalidUser(f"no area has the code {jurisdiction}")
    password = password if password is not None else generate_password()
    _check_password(password, settings)
    user = User(username, display_name or username, role, jurisdiction)
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO app_user (username, display_name, role, jurisdiction, password_hash)"
                " VALUES (%s, %s, %s, %s, %s)",
                (
                    username,
                    user.display_name,
                    role.value,
                    jurisdiction,
                    hash_password(password, settings),
                ),
            )
    except psycopg.errors.UniqueViolation as error:
        raise InvalidUser(f"the username {username!r} is taken") from error
    return user, password


def get_user(conn: psycopg.Connection, username: str, *, enabled_only: bool = False) -> User:
    """Return one user (also as the web app's role: the web reads its session's user here).

    Raises
    ------
    UnknownUser
        No such username (or, with ``enabled_only``, the account is disabled).
    """
    row = conn.execute(
        "SELECT " + _USER_COLUMNS + " FROM app_user WHERE username = %s AND NOT (%s AND disabled)",
        (username, enabled_only),
    ).fetchone()
    if row is None:
        raise UnknownUser(f"no {'enabled ' if enabled_only else ''}user {username!r}")
    return _user(row)


def list_users(conn: psycopg.Connection) -> list[UserRecord]:
    """Every user, by username (without password hashes)."""
    rows = conn.execute(
        "SELECT " + _USER_COLUMNS + ", disabled, created_at FROM app_user ORDER BY username"
    ).fetchall()
    return [UserRecord(_user(row[:4]), row[4], row[5]) for row in rows]


def _set_disabled(conn: psycopg.Connection, username: str, disabled: bool) -> None:
    with conn.transaction():
        found = conn.execute(
            "UPDATE app_user SET disabled = %s WHERE username = %s RETURNING 1",
            (disabled, username),
        ).fetchone()
    if found is None:
        raise UnknownUser(f"no user {username!r}")


def disable_user(conn: psycopg.Connection, username: str) -> None:
    """Disable a user: its logins fail from now on (the row and its audit trail stay)."""
    _set_disabled(conn, username, True)


def enable_user(conn: psycopg.Connection, username: str) -> None:
    """Enable a disabled user again."""
    _set_disabled(conn, username, False)


def set_password(
    conn: psycopg.Connection,
    username: str,
    password: str | None = None,
    settings: AuthSettings | None = None,
) -> str:
    """Set a user's password (generated when none is given) and return it."""
    settings = settings or get_settings().auth
    password = password if password is not None else generate_password()
    _check_password(password, settings)
    with conn.transaction():
        found = conn.execute(
            "UPDATE app_user SET password_hash = %s WHERE username = %s RETURNING 1",
            (hash_password(password, settings), username),
        ).fetchone()
    if found is None:
        raise UnknownUser(f"no user {username!r}")
    return password


def locked_until(
    attempts: Iterable[tuple[dt.datetime, str]],
    now: dt.datetime,
    settings: AuthSettings | None = None,
) -> dt.datetime | None:
    """Return when the lock on an account ends, or None when it is not locked at ``now``.

    Parameters
    ----------
    attempts
        ``(at, outcome)`` of the account's recent attempts, oldest first; outcome is
        ``success``, ``failure`` or ``locked`` (an attempt refused while locked: not counted).
    now
        The time of the new attempt.
    settings
        ``max_failures`` failures within ``window_minutes`` (with no success between) lock the
        account for ``lock_minutes`` from the last of them.
    """
    settings = settings or get_settings().auth
    window = dt.timedelta(minutes=settings.window_minutes)
    lock = dt.timedelta(minutes=settings.lock_minutes)
    failures: list[dt.datetime] = []
    until: dt.datetime | None = None
    for at, outcome in attempts:
        if outcome == "success":
            failures.clear()
        elif outcome == "failure" and not (until is not None and at < until):
            failures = [*(f for f in failures if f > at - window), at]
            if len(failures) >= settings.max_failures:
                until, failures = at + lock, []
    return until if until is not None and until > now else None


def authenticate(
    conn: psycopg.Connection,
    username: str,
    password: str,
    *,
    now: dt.datetime | None = None,
    settings: AuthSettings | None = None,
) -> User:
    """Check a login and record the attempt; return the user.

    Call on a connection outside a transaction (autocommit, e.g. :func:`core.db.app_connection`):
    the attempt is committed even when the login fails.

    Raises
    ------
    AccountLocked
        Too many recent failures; ``until`` says when the lock ends. The password is not
        checked while locked.
    AuthenticationFailed
        Unknown user or wrong password (one message for both).
    AccountDisabled
        The password was right but the account is disabled.
    """
    settings = settings or get_settings().auth
    now = now or dt.datetime.now(dt.UTC)
    # A name with NUL or other control characters never matches an account, but the attempt
    # still counts against the name it spells without them (no lockout bypass, no 500).
    given = username.strip().lower()
    username = "".join(c for c in given if c.isprintable())[:100]
    malformed = username != given
    error: AuthenticationFailed | None = None
    user: User | None = None
    lookback = dt.timedelta(minutes=settings.window_minutes + settings.lock_minutes)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOGIN_LOCK, username))
        attempts = conn.execute(
            "SELECT at, outcome FROM login_attempt WHERE username = %s AND at > %s AND at <= %s"
            " ORDER BY at, id",
            (username, now - lookback, now),
        ).fetchall()
        until = locked_until(attempts, now, settings)
        if until is not None:
            outcome, error = "locked", AccountLocked(username, until)
        else:
            row = conn.execute(
                "SELECT password_hash, disabled FROM app_user_credentials(%s)", (username,)
            ).fetchone()
            decoy = _decoy_hash(settings.time_cost, settings.memory_kib, settings.parallelism)
            matches = (
                verify_password(row[0] if row else decoy, password)
                and row is not None
                and not malformed
            )
            if not matches:
                outcome, error = "failure", AuthenticationFailed(f"login to {username!r} failed")
            elif row is not None and row[1]:
                outcome, error = "failure", AccountDisabled(f"{username!r} is disabled")
            else:
                outcome, user = "success", get_user(conn, username)
        conn.execute(
            "INSERT INTO login_attempt (username, at, outcome) VALUES (%s, %s, %s)",
            (username, now, outcome),
        )
    if error is not None or user is None:
        raise error or AuthenticationFailed(f"login to {username!r} failed")
    return user


#: One demo user per role; the jurisdiction is chosen from the loaded geography.
DEMO_USERS: tuple[tuple[str, Role, str], ...] = (
    ("demo-province", Role.PROVINCE_LEADER, "演示·省领导"),
    ("demo-city", Role.CITY_LEADER, "演示·市领导"),
    ("demo-county", Role.COUNTY_LEADER, "演示·县领导"),
    ("demo-official", Role.OFFICIAL, "演示·村干部"),
    ("demo-planner", Role.PLANNER, "演示·规划"),
    ("demo-auditor", Role.AUDITOR, "演示·纪检监察"),
    ("demo-admin", Role.ADMIN, "演示·管理员"),
)
#: The demo county (缙云县) when the geography has it.
DEMO_COUNTY = "331122"


def _demo_jurisdictions(conn: psycopg.Connection) -> dict[Role, str]:
    county_row = conn.execute(
        "SELECT code FROM admin_area WHERE level = 'county' ORDER BY code = %s DESC, code LIMIT 1",
        (DEMO_COUNTY,),
    ).fetchone()
    if county_row is None:
        raise InvalidUser("no geography loaded: run `onemap init` before making demo users")
    county = county_row[0]
    # The demo official gets the county's most populous village of the latest month, so the
    # village map has households to open (any village when no month is loaded yet).
    village_row = conn.execute(
        "SELECT coalesce("
        " (SELECT h.village_code FROM household h"
        "  WHERE h.month = (SELECT max(month) FROM published_month) AND h.county_code = %(c)s"
        "  GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1),"
        " (SELECT min(code) FROM admin_area WHERE level = 'village' AND county_code = %(c)s))",
        {"c": county},
    ).fetchone()
    village = village_row[0] if village_row and village_row[0] else county + "000"
    return {
        Role.PROVINCE_LEADER: county[:2],
        Role.CITY_LEADER: county[:4],
        Role.COUNTY_LEADER: county,
        Role.OFFICIAL: village,
        Role.PLANNER: county,
        Role.AUDITOR: county,
        Role.ADMIN: county[:2],
    }


def ensure_demo_users(conn: psycopg.Connection) -> dict[str, str]:
    """Create the demo users that do not exist yet, one per role, with random passwords.

    Returns
    -------
    dict
        username → password of the users created now (print them once); users that already
        existed are left alone and not returned.
    """
    jurisdictions = _demo_jurisdictions(conn)
    existing = {r[0] for r in conn.execute("SELECT username FROM app_user").fetchall()}
    created: dict[str, str] = {}
    for username, role, name in DEMO_USERS:
        if username not in existing:
            _, password = add_user(
                conn, username, role=role, jurisdiction=jurisdictions[role], display_name=name
            )
            created[username] = password
    return created
