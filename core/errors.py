"""The onemap error hierarchy: one base class, specific subclasses, and a user-facing message.

How an error is shown on the web (HTTP status, message in the viewer's language) is the web
layer's one table, ``dashboards/errors.py``.
"""

from __future__ import annotations

import datetime as dt

from core.redact import mask_personal_numbers

#: Times shown to people (a lock's end) are in China Standard Time.
BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")


class OneMapError(Exception):
    """Base class of every error onemap raises on purpose.

    ``user_msg`` is what a person sees (CLI line, HTTP body); ``str(error)`` is the detail for logs.
    """

    user_msg: str = "onemap could not complete the request."

    def __init__(self, detail: str, *, user_msg: str | None = None) -> None:
        super().__init__(detail)
        if user_msg is not None:
            self.user_msg = user_msg
        else:
            self.user_msg = detail


class PostgresNotInstalled(OneMapError, FileNotFoundError):
    """PostgreSQL server binaries or the PostGIS extension are missing on this machine."""


class ClusterError(OneMapError, RuntimeError):
    """The embedded PostgreSQL cluster could not be initialised, started or stopped."""


class MigrationError(OneMapError, RuntimeError):
    """A migration failed or an applied migration was changed after the fact."""


class DatabaseUnreachable(OneMapError, ConnectionError):
    """The database server cannot be reached (not started, wrong URL, refused)."""


class SchemaMissing(OneMapError, RuntimeError):
    """The database is reachable but not initialised (or not up to date) for the verb run."""


class UnknownArea(OneMapError, LookupError):
    """An admin code that does not exist."""


class OutOfScope(OneMapError, PermissionError):
    """A request for an area outside the caller's jurisdiction."""

    user_msg = "This area is outside your jurisdiction."


class NotPermitted(OutOfScope):
    """The user's role may not see or do this (a portrait, an export, the audit page).

    Whatever the area: the jurisdiction is right, the role is not.
    """

    user_msg = "Your role may not see this."


class AuthenticationFailed(OneMapError, PermissionError):
    """A login that did not succeed. Unknown user and wrong password share one message."""

    user_msg = "Unknown user or wrong password."

    def __init__(
        self, detail: str = "authentication failed", *, user_msg: str | None = None
    ) -> None:
        # The class's message, not the detail: a login error must not say which part was wrong.
        super().__init__(detail, user_msg=user_msg or type(self).user_msg)


class AccountLocked(AuthenticationFailed):
    """Too many failed logins: the account is locked until ``until``."""

    def __init__(self, username: str, until: dt.datetime) -> None:
        self.until = until
        super().__init__(
            f"login to {username!r} refused: locked until {until.isoformat()}",
            user_msg=(
                "Too many failed logins: this account is locked until "
                f"{until.astimezone(BEIJING):%Y-%m-%d %H:%M} (UTC+8)."
            ),
        )


class AccountDisabled(AuthenticationFailed):
    """The password was right but the account is disabled."""

    user_msg = "This account is disabled."


class UnknownUser(OneMapError, LookupError):
    """A username that does not exist (user administration, never a login)."""


class InvalidUser(OneMapError, ValueError):
    """A user that cannot be created as asked: bad name, role, jurisdiction or password."""


class AuditWriteFailed(OneMapError, RuntimeError):
    """The audit row could not be written: the data it covers must not be returned."""

    user_msg = "The request could not be recorded in the audit trail, so it was refused."

    def __init__(self, detail: str) -> None:
        super().__init__(detail, user_msg=type(self).user_msg)


class InvalidMonth(OneMapError, ValueError):
    """A month that is not written ``YYYY-MM`` (zero-padded, ASCII digits)."""

    def __init__(self, text: object) -> None:
        super().__init__(
            f"month must be YYYY-MM, got {text!r}",
            user_msg=f"month must be YYYY-MM (e.g. 2024-06), got {text!r}",
        )


class DataSourceError(OneMapError, ValueError):
    """Input data (a boundary file, a department feed) that cannot be used as it is."""


def mask_national_ids(text: str) -> str:
    """Mask every national ID and phone number in ``text`` (:mod:`core.redact`).

    Parser errors quote the line they failed on; such text is stored and printed, so it must
    not carry a raw ID.
    """
    return mask_personal_numbers(text)


class FeedUnreadable(DataSourceError):
    """A department file that cannot be read at all: the run stops, published data stays.

    The problem text is masked: it may quote a line of the file.
    """

    def __init__(self, file: str, problem: str) -> None:
        problem = mask_national_ids(problem)
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


class FeedFailed(OneMapError, RuntimeError):
    """Processing a feed failed unexpectedly (a bug, not the file): the message names the file.

    The detail is masked: it may quote a value of the file.
    """

    def __init__(self, file: str, detail: str) -> None:
        detail = mask_national_ids(detail)
        super().__init__(
            f"{file}: processing failed: {detail}",
            user_msg=f"{file}: processing failed ({detail}); nothing was published. This is a "
            "fault of onemap, not of the file: please report it.",
        )
        self.file = file
