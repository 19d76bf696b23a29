"""Who looks at a wall screen: a kiosk token (bound to one area) or a logged-in user.

Requests under ``/wall/`` pass the login gate here instead: a kiosk's session holds the hash of
its token, looked up on every request (a revoked token gets 401 at once); a logged-in user's
wall shows their own jurisdiction. Either way the wall is read-only and shows aggregates only.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import g, request, session

from core import db
from core.scope import Scope
from core.wall_tokens import live_area, token_hash
from dashboards.errors import NotLoggedIn

WALL_PREFIX = "/wall/"
WALL_LOGIN = "/wall/login"
#: The session key holding a kiosk's token hash.
SESSION_KEY = "wall_token"


class WallTokenRefused(NotLoggedIn):
    """An unknown or revoked wall token (401: the screen must be given a new one)."""

    user_msg = "This wall token is not valid (revoked or unknown)."


@dataclass(frozen=True, slots=True)
class WallGrant:
    """What a wall request may show: the area (and its subtree), read-only aggregates."""

    area: str
    token_id: int | None = None

    @property
    def scope(self) -> Scope:
        """The jurisdiction of every query of the request."""
        return Scope(self.area)


def grant_for_token(token: str) -> WallGrant | None:
    """The grant of a token (None when unknown or revoked)."""
    with db.app_connection() as conn:
        found = live_area(conn, token_hash(token))
    return None if found is None else WallGrant(found[1], found[0])


def wall_gate(user_loader: object) -> None:
    """Admit a ``/wall/`` request: a live kiosk token or a logged-in user; else 401.

    ``user_loader`` is the session's user lookup (:func:`dashboards.auth.session_user`).
    """
    g.user = None
    g.wall = None
    if request.path == WALL_LOGIN:
        return
    hashed = session.get(SESSION_KEY)
    if hashed:
        with db.app_connection() as conn:
            found = live_area(conn, str(hashed))
        if found is None:
            session.pop(SESSION_KEY, None)
            raise WallTokenRefused(f"wall token revoked or unknown on {request.path}")
        g.wall = WallGrant(found[1], found[0])
        return
    user = user_loader() if callable(user_loader) else None
    if user is None:
        raise NotLoggedIn(f"{request.method} {request.path} without a login or wall token")
    g.user = user
    g.wall = WallGrant(user.jurisdiction)


def current_grant() -> WallGrant:
    """The grant of this wall request.

    Raises
    ------
    NotLoggedIn
        Outside a wall request the gate admitted.
    """
    grant = g.get("wall")
    if grant is None:
        raise NotLoggedIn("no wall grant")
    return grant


def is_wall_path(path: str) -> bool:
    """True for the wall's pages, callbacks and data routes."""
    return path.startswith(WALL_PREFIX) or path == WALL_PREFIX.rstrip("/")
