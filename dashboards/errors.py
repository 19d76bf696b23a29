"""How errors reach a person on the web: the web layer's own errors and the one table of them all.

``core`` and ``layers`` raise :class:`core.errors.OneMapError` subclasses with a detail for the
logs; this table gives each class its HTTP status and the message id (``messages.yaml``) shown
in the viewer's language. Most specific class first: the first match wins.
"""

from __future__ import annotations

from analytics.photos import PhotoRefused, PhotoTooLarge
from core.errors import (
    AccountDisabled,
    AccountLocked,
    AuditWriteFailed,
    AuthenticationFailed,
    DataSourceError,
    InvalidUser,
    NotPermitted,
    OneMapError,
    OutOfScope,
    UnknownArea,
    UnknownUser,
)
from dashboards.messages import DEFAULT_LANG, t
from layers.heatmap import UnknownTile
from layers.portrait import DoorCodeRefused, UnknownHousehold
from layers.supervision import BadInspection
from layers.visit_photos import UnknownPhoto


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


class BadRequest(OneMapError, ValueError):
    """A request whose shape is wrong: a malformed callback body, a value of the wrong kind."""

    user_msg = "The request was malformed."


#: Each error class: its HTTP status and the id of the message a person sees.
#: Login failures have their own texts on the login page (``dashboards.auth``).
WEB_ERRORS: tuple[tuple[type[OneMapError], int, str], ...] = (
    (NotLoggedIn, 401, "error.login_required"),
    (BadRequest, 400, "error.bad_request"),
    (CsrfRejected, 403, "error.csrf"),
    (DoorCodeRefused, 403, "error.door_refused"),
    (NotPermitted, 403, "error.not_permitted"),
    (AccountLocked, 429, "error.generic"),
    (AccountDisabled, 403, "error.generic"),
    (AuthenticationFailed, 401, "error.generic"),
    (UnknownUser, 404, "error.generic"),
    (InvalidUser, 422, "error.generic"),
    (AuditWriteFailed, 500, "error.audit_failed"),
    (UnknownHousehold, 404, "error.unknown_household"),
    (UnknownPhoto, 404, "error.unknown_photo"),
    (PhotoTooLarge, 413, "error.photo_refused"),
    (PhotoRefused, 422, "error.photo_refused"),
    (UnknownTile, 404, "error.no_tile"),
    (UnknownArea, 404, "error.unknown_area"),
    (OutOfScope, 403, "error.out_of_scope"),
    (DataSourceError, 422, "error.bad_data"),
    (BadInspection, 422, "error.bad_data"),
    (OneMapError, 500, "error.generic"),
)


def _row(error: OneMapError) -> tuple[int, str]:
    for cls, status, key in WEB_ERRORS:
        if isinstance(error, cls):
            return status, key
    return 500, "error.generic"


def http_status(error: OneMapError) -> int:
    """The HTTP status of an error."""
    return _row(error)[0]


def error_message(error: OneMapError, lang: str = DEFAULT_LANG) -> str:
    """The user-facing text of an error, in ``lang`` (the logged detail stays in ``str(error)``)."""
    return t(_row(error)[1], lang)
