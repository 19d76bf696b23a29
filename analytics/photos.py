"""Photos of a home visit: checked by decoding them, re-encoded without metadata, kept as files.

A photo is accepted only when Pillow decodes it as a JPEG or a PNG: the file's name and the
content type the browser sent are not believed. It must be within the byte cap and the pixel
cap (a small file can declare a huge image: a decompression bomb), and decode to the end (a
truncated file is refused). It is then re-encoded from its pixels alone, so EXIF (the GPS
position, the camera, the time), XMP, ICC profiles, comments and PNG text chunks do not
survive; the EXIF orientation is applied first, so the picture still stands upright.

Files get random names in ``PhotoSettings.dir`` (outside the web root: only the audited route
``/inbox/photo/<id>`` serves them) and are written atomically (a temporary file, then
``os.replace``). :func:`analytics.actions.record_visit` writes the files and the
``visit_photo`` rows in the visit's transaction and removes the files when it does not commit.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from PIL import Image, ImageOps, UnidentifiedImageError

from analytics.action_errors import InvalidAction, NotYours
from analytics.assist_settings import PhotoSettings, get_photo_settings

#: Pillow's name of each accepted format: the content type and suffix it is stored with.
#: Phones write MPO (a JPEG with extra frames: depth, preview); its first frame is kept.
FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "MPO": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
}
#: The names a stored photo may have (``visit_photo.stored_name``'s CHECK, migration 0012).
STORED_NAME = re.compile(r"[0-9a-f]{32}\.(jpg|png)")
#: What Pillow raises for a file it cannot read (truncated, corrupt, lying about itself).
_UNREADABLE = (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError)


class PhotoRefused(InvalidAction):
    """A photo that is not a usable JPEG or PNG, too large, or one too many.

    ``reason`` names the message shown (``photo.refused.<reason>``), ``values`` fill it.
    """

    def __init__(self, detail: str, reason: str, **values: Any) -> None:
        super().__init__(detail)
        self.reason = reason
        self.values = values


class PhotoTooLarge(PhotoRefused):
    """A photo over the byte cap (the web answers 413)."""


@dataclass(frozen=True, slots=True)
class CleanPhoto:
    """A photo re-encoded from its pixels: what is written to disk."""

    content_type: str
    suffix: str
    data: bytes

    @property
    def sha256(self) -> str:
        """The SHA-256 of the stored bytes (kept in the row: a changed file is noticed)."""
        return hashlib.sha256(self.data).hexdigest()


def _probe(data: bytes, number: int, settings: PhotoSettings) -> str:
    """The format, once the header says JPEG or PNG within the pixel cap and the file verifies."""
    megapixels = settings.max_pixels // 1_000_000
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as probe:
            found, (width, height) = str(probe.format), probe.size
            if found in FORMATS and width * height <= settings.max_pixels:
                probe.verify()
    except UnidentifiedImageError as error:
        raise PhotoRefused(f"photo {number} is not a JPEG or PNG", "format", n=number) from error
    except Image.DecompressionBombError as error:
        raise PhotoRefused(f"photo {number}: {error}", "pixels", n=number, mp=megapixels) from error
    except _UNREADABLE as error:
        raise PhotoRefused(
            f"photo {number} is unreadable: {error}", "unreadable", n=number
        ) from error
    if found not in FORMATS:
        raise PhotoRefused(f"photo {number} is {found}", "format", n=number)
    if width * height > settings.max_pixels:
        raise PhotoRefused(
            f"photo {number} has {width}x{height} pixels", "pixels", n=number, mp=megapixels
        )
    return found


def _decode(data: bytes, number: int) -> Image.Image:
    """The photo's pixels, upright (``verify`` leaves the image unusable: open it again)."""
    try:
        with Image.open(io.BytesIO(data), formats=["JPEG", "PNG"]) as image:
            image.load()
            upright = ImageOps.exif_transpose(image)
            # A palette or grey image with a transparent colour keeps it as an alpha channel.
            if "transparency" in upright.info or upright.mode in ("LA", "PA", "RGBA"):
                return upright.convert("RGBA")
            return upright.convert("RGB") if upright.mode not in ("RGB", "L") else upright.copy()
    except _UNREADABLE as error:
        raise PhotoRefused(
            f"photo {number} is unreadable: {error}", "unreadable", n=number
        ) from error


def _encode(pixels: Image.Image, found: str, settings: PhotoSettings) -> CleanPhoto:
    content_type, suffix = FORMATS[found]
    pixels.info.clear()  # nothing of the upload's metadata reaches the encoder
    out = io.BytesIO()
    if suffix == "jpg":
        if pixels.mode == "RGBA":
            pixels = pixels.convert("RGB")
        pixels.save(out, "JPEG", quality=settings.jpeg_quality)
    else:
        pixels.save(out, "PNG")
    return CleanPhoto(content_type, suffix, out.getvalue())


def clean(data: bytes, settings: PhotoSettings | None = None, *, number: int = 1) -> CleanPhoto:
    """Check one upload and re-encode it without metadata.

    Parameters
    ----------
    data
        The uploaded bytes (the caller reads at most ``max_bytes + 1`` of them).
    settings
        The caps; the process's :func:`get_photo_settings` by default.
    number
        Its place among the visit's photos (named in the message).

    Raises
    ------
    PhotoRefused
        Empty, not a JPEG or PNG by its content, over the pixel cap, or unreadable.
    PhotoTooLarge
        Over the byte cap.
    """
    settings = settings or get_photo_settings()
    if not data:
        raise PhotoRefused(f"photo {number} is empty", "empty", n=number)
    if len(data) > settings.max_bytes:
        raise PhotoTooLarge(
            f"photo {number} is larger than {settings.max_bytes} bytes",
            "too_large",
            n=number,
            mb=settings.max_megabytes,
        )
    found = _probe(data, number, settings)
    return _encode(_decode(data, number), found, settings)


def clean_all(uploads: Sequence[bytes], settings: PhotoSettings | None = None) -> list[CleanPhoto]:
    """Check and re-encode a visit's photos (at most ``max_per_visit``), before any write."""
    settings = settings or get_photo_settings()
    if len(uploads) > settings.max_per_visit:
        raise PhotoRefused(
            f"{len(uploads)} photos sent, at most {settings.max_per_visit}",
            "too_many",
            max=settings.max_per_visit,
        )
    return [clean(data, settings, number=n) for n, data in enumerate(uploads, start=1)]


def stored_path(stored_name: str, settings: PhotoSettings | None = None) -> Path:
    """Where a stored photo is (only names this module gives are accepted: no path tricks)."""
    if not STORED_NAME.fullmatch(stored_name):
        raise ValueError(f"not a stored photo's name: {stored_name!r}")
    return (settings or get_photo_settings()).dir / stored_name


@dataclass(slots=True)
class PhotoFiles:
    """The files one transaction wrote: :meth:`discard` removes them when it did not commit."""

    folder: Path
    paths: list[Path] = field(default_factory=list)

    def write(self, photo: CleanPhoto) -> str:
        """Write ``photo`` under a new random name, atomically; return the name."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{secrets.token_hex(16)}.{photo.suffix}"
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".upload-", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(photo.data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.folder / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        self.paths.append(self.folder / name)
        return name

    def discard(self) -> None:
        """Remove every file written (the transaction that named them rolled back)."""
        for path in self.paths:
            path.unlink(missing_ok=True)
        self.paths.clear()


def save(
    conn: psycopg.Connection,
    visit_id: int,
    photos: Sequence[CleanPhoto],
    files: PhotoFiles,
    *,
    created_by: str,
) -> list[int]:
    """Write each photo's file and its ``visit_photo`` row, in the visit's transaction.

    The row takes the visit's household and area; row-level security checks who acts.

    Raises
    ------
    NotYours
        The visit is not visible in the transaction's scope.
    """
    photo_ids = []
    for photo in photos:
        name = files.write(photo)
        row = conn.execute(
            "INSERT INTO visit_photo (visit_id, household_id, county_code, village_code,"
            " content_type, bytes, sha256, stored_name, created_by)"
            " SELECT visit_id, household_id, county_code, village_code, %s, %s, %s, %s, %s"
            " FROM field_visit WHERE visit_id = %s RETURNING photo_id",
            (photo.content_type, len(photo.data), photo.sha256, name, created_by, visit_id),
        ).fetchone()
        if row is None:
            raise NotYours(f"visit {visit_id} is not visible: no photo stored")
        photo_ids.append(int(row[0]))
    return photo_ids
