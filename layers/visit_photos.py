"""A visit's photo for the person who may see it: scope, pairing, file check and audit row.

The photo is read inside :func:`core.audit.audited` (``dashboards.viewer.audited_request`` on
the web): the row through row-level security in the caller's jurisdiction, then the same rule
as the household sheet — the household's paired official, or a town official or county leader
acting on their area. Anything else, an unknown id, or a file that is gone or changed is one
answer, :class:`UnknownPhoto`: the route cannot be used to learn which photo ids exist.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from analytics.actions import AREA_ACTOR, actor_for
from analytics.assist_settings import PhotoSettings
from analytics.photos import stored_path
from core.audit import Audited
from core.errors import OneMapError


class UnknownPhoto(OneMapError, LookupError):
    """No such photo, or not one the caller may see (one answer for both)."""

    user_msg = "Unknown photo (or not yours to see)."

    def __init__(self, detail: str) -> None:
        # The class's message, never the detail: it names who asked and why it was refused.
        super().__init__(detail, user_msg=type(self).user_msg)


@dataclass(frozen=True, slots=True)
class PhotoFile:
    """A stored photo as it leaves: its bytes and content type."""

    photo_id: int
    content_type: str
    data: bytes


def open_photo(trail: Audited, photo_id: int, settings: PhotoSettings | None = None) -> PhotoFile:
    """Read one visit photo for ``trail``'s user and declare it shown (the audit row).

    Raises
    ------
    UnknownPhoto
        Unknown, outside the jurisdiction, not the caller's household, or the file is missing
        or no longer matches its SHA-256.
    """
    actor = actor_for(trail.conn, trail.user)
    row = trail.conn.execute(
        "SELECT f.household_id, f.village_code, f.visit_id, f.content_type, f.stored_name,"
        " f.sha256, p.official_id FROM visit_photo f"
        " LEFT JOIN pairing p ON p.household_id = f.household_id AND p.valid_to IS NULL"
        " WHERE f.photo_id = %s",
        (photo_id,),
    ).fetchone()
    if row is None or actor is None or actor not in (AREA_ACTOR, row[6]):
        raise UnknownPhoto(f"photo {photo_id} is unknown or not {trail.user.username}'s to see")
    household_id, village, visit_id, content_type, stored_name, sha256, _paired = row
    try:
        data = stored_path(stored_name, settings).read_bytes()
    except OSError as error:
        raise UnknownPhoto(
            f"photo {photo_id}: its file {stored_name} is unreadable: {error}"
        ) from error
    if hashlib.sha256(data).hexdigest() != sha256:
        raise UnknownPhoto(f"photo {photo_id}: its file {stored_name} changed since it was stored")
    trail.shows([household_id], area=village, visit_id=visit_id, photo_id=photo_id)
    return PhotoFile(photo_id, content_type, data)
