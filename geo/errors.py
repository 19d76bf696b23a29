"""The onemap error hierarchy: one base class, specific subclasses, and a user-facing message."""

from __future__ import annotations


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


class UnknownArea(OneMapError, LookupError):
    """An admin code that does not exist."""


class OutOfScope(OneMapError, PermissionError):
    """A request for an area outside the caller's jurisdiction."""

    user_msg = "This area is outside your jurisdiction."


class DataSourceError(OneMapError, ValueError):
    """Input data (a boundary file, a department feed) that cannot be used as it is."""


class FeedUnreadable(DataSourceError):
    """A department file that cannot be read at all: the run stops, published data stays."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(f"{file}: {problem}")
        self.file = file
        self.problem = problem


#: How each error class is shown over HTTP: status code. Most specific class first.
HTTP_STATUS: tuple[tuple[type[OneMapError], int], ...] = (
    (UnknownArea, 404),
    (OutOfScope, 403),
    (DataSourceError, 422),
    (OneMapError, 500),
)


def http_status(error: OneMapError) -> int:
    """Return the HTTP status code for an onemap error."""
    for cls, status in HTTP_STATUS:
        if isinstance(error, cls):
            return status
    return 500
