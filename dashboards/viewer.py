"""Who is asking: the logged-in user of the current request, the request's id, personal responses.

The login gate (:mod:`dashboards.auth`) puts the user on ``flask.g``; every route and callback
reads it here and works inside ``user.scope`` (``core.db.scoped``). Personal data is read only
inside :func:`audited_request`, the web's side of the gateway ``core.audit.audited``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import g, has_request_context, request

from core import audit, db
from core.access import User
from dashboards.errors import NotLoggedIn


def current_user() -> User:
    """The logged-in user of this request.

    Raises
    ------
    NotLoggedIn
        Outside a request the gate let through with a login.
    """
    user = g.get("user")
    if user is None:
        raise NotLoggedIn()
    return user


def optional_user() -> User | None:
    """The logged-in user, or None (also outside a request: Dash checks the layout at start)."""
    return g.get("user") if has_request_context() else None


def request_id() -> str:
    """The id of this request (also sent as ``X-Request-Id`` and kept in audit rows)."""
    return str(g.get("request_id") or "-")


def mark_personal() -> None:
    """Say that this response shows personal data: it must never be cached (no-store)."""
    g.personal = True


@contextmanager
def audited_request(user: User, route: str | None = None) -> Iterator[audit.Audited]:
    """One transaction in ``user``'s jurisdiction whose personal data is audited.

    The readers of ``layers`` (``open_for``, ``points_for``, ``export_for``…) take what this
    yields. When they declared something, the audit row (this request's ``route``, by default
    its path, and id) is written last in the transaction and the response is marked personal.

    Examples
    --------
    >>> with audited_request(current_user()) as trail:  # doctest: +SKIP
    ...     portrait = layers.portrait.open_for(trail, household_id)
    """
    route = route or request.path
    with (
        db.scoped(user.scope) as conn,
        audit.audited(conn, user, route=route, request_id=request_id()) as trail,
    ):
        yield trail
    if trail.entry is not None:
        mark_personal()
