"""Who is asking: the logged-in user of the current request, the request's id, and the refusals.

The login gate (:mod:`dashboards.auth`) puts the user on ``flask.g``; every route and callback
reads it here and works inside ``user.scope`` (``core.db.scoped``).
"""

from __future__ import annotations

from flask import g, has_request_context

from core.access import User
from core.errors import OneMapError, OutOfScope


class NotLoggedIn(OneMapError, PermissionError):
    """A request that needs a login came without one (or after the session ended)."""

    user_msg = "Please log in."

    def __init__(self, detail: str = "no login") -> None:
        super().__init__(detail, user_msg=type(self).user_msg)


class CsrfRejected(OneMapError, PermissionError):
    """A state-changing request without the session's CSRF token."""

    user_msg = "The request was refused (missing or wrong security token). Reload the page."

    def __init__(self, detail: str = "CSRF token missing or wrong") -> None:
        super().__init__(detail, user_msg=type(self).user_msg)


class NotPermitted(OutOfScope):
    """The user's role may not see this (a portrait, the audit page), whatever the area."""

    user_msg = "Your role may not see this."


class DoorCodeRefused(OutOfScope):
    """A door code that is unknown or whose household lies outside the user's jurisdiction.

    One answer for both: the page never says whether a code exists elsewhere.
    """

    user_msg = "Unknown door code, or the household is outside your jurisdiction."


#: HTTP statuses of the web layer's own errors (core.errors.HTTP_STATUS covers the rest).
WEB_STATUS: tuple[tuple[type[OneMapError], int], ...] = (
    (NotLoggedIn, 401),
    (CsrfRejected, 403),
    (NotPermitted, 403),
)


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
