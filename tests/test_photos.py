"""Visit photos over HTTP: JPEG/PNG only by their content, caps, EXIF gone, files outside the web
root, nothing left behind by a refusal, and the audited photo route (404 for anyone else)."""

from __future__ import annotations

import io
import os
import random
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from PIL import Image

from analytics import actions
from analytics.assist_settings import PhotoSettings, get_photo_settings
from analytics.pairing import link_login
from core.access import Role, User
from dashboards.app import ASSETS
from tests.assist_fixtures import Field, field_fixture  # noqa: F401 — the fixture
from tests.conftest import ROOT, make_user
from tests.conftest import logged_in_client as _logged_in

#: A small byte cap keeps the "too large" cases quick (the request cap is 4 × this + 1 MB).
MAX_BYTES = 256 * 1024


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The photo folder of this module's app (set before any app is made)."""
    folder = tmp_path_factory.mktemp("photos") / "store"
    saved = {k: os.environ.get(k) for k in ("ONEMAP_PHOTO_DIR", "ONEMAP_PHOTO_MAX_BYTES")}
    os.environ["ONEMAP_PHOTO_DIR"] = str(folder)
    os.environ["ONEMAP_PHOTO_MAX_BYTES"] = str(MAX_BYTES)
    get_photo_settings.cache_clear()
    yield folder
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_photo_settings.cache_clear()


@dataclass(frozen=True, slots=True)
class Place:
    """The household the tests visit, and an official of a neighbouring village."""

    household: str
    neighbour: User  # a rostered official of another village of the same town


@pytest.fixture(scope="module")
def place(field: Field, photo_dir: Path) -> Place:
    with psycopg.connect(field.url, autocommit=True) as conn:
        household = conn.execute(
            "SELECT household_id FROM pairing WHERE official_id = %s AND valid_to IS NULL"
            " AND village_code = %s ORDER BY 1 LIMIT 1",
            (field.official_id, field.village),
        ).fetchone()
        other = conn.execute(
            "SELECT o.official_id, v FROM official o, unnest(o.villages) v"
            " WHERE v LIKE %s AND v <> %s AND o.username IS NULL ORDER BY v, 1 LIMIT 1",
            (field.village[:9] + "%", field.village),
        ).fetchone()
    assert household is not None and other is not None
    neighbour = make_user(field.url, Role.OFFICIAL, other[1])
    with psycopg.connect(field.url, autocommit=True) as conn:
        link_login(conn, neighbour.username, other[0])
    return Place(household[0], neighbour)


def client_of(field: Field, user: User) -> Any:
    """A logged-in client of a fresh app (made after the photo settings are set)."""
    return _logged_in(field.url, user)


def jpeg_with_exif(size: tuple[int, int] = (64, 48)) -> bytes:
    """A JPEG carrying the EXIF a phone writes: camera, GPS position, orientation 6."""
    image = Image.new("RGB", size, (200, 40, 40))
    exif = Image.Exif()
    exif[0x010F] = "TestPhone Inc."  # Make
    exif[0x0110] = "Model 9"  # Model
    exif[0x0112] = 6  # Orientation: the camera was turned 90°
    exif[0x8825] = {1: "N", 2: (28.0, 39.0, 12.0), 3: "E", 4: (120.0, 4.0, 30.0)}  # GPS
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"taken at the household")
    return out.getvalue()


def png_with_text() -> bytes:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", "household H331122 address")
    out = io.BytesIO()
    Image.new("RGBA", (30, 20), (0, 128, 0, 200)).save(out, "PNG", pnginfo=info)
    return out.getvalue()


def noise_jpeg(side: int) -> bytes:
    """A real JPEG that does not compress well (random pixels)."""
    rng = random.Random(side)
    image = Image.frombytes(
        "RGB", (side, side), bytes(rng.getrandbits(8) for _ in range(side**2 * 3))
    )
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def other_format(kind: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10), (1, 2, 3)).save(out, kind)
    return out.getvalue()


def post_visit(client: Any, household: str, note: str, photos: list[tuple[bytes, str, str]]) -> Any:
    data: dict[str, Any] = {
        "csrf_token": client.get_cookie("_csrf_token").value,
        "lang": "en",
        "note": note,
        "lat": "",
        "lon": "",
        "photo": [(io.BytesIO(body), name, kind) for body, name, kind in photos],
    }
    return client.post(
        f"/inbox/household/{household}/visit?lang=en",  # as the form in English sends it
        data=data,
        content_type="multipart/form-data",
    )


def rows_of(url: str, note: str) -> tuple[int, int]:
    """(visits with ``note``, their photos)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(DISTINCT v.visit_id), count(f.photo_id) FROM field_visit v"
            " LEFT JOIN visit_photo f USING (visit_id) WHERE v.note = %s",
            (note,),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def files_in(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()} if folder.exists() else set()


def test_photos_are_kept_outside_the_web_root_by_default() -> None:
    default = PhotoSettings.model_fields["dir"].default
    assert default == Path(".onemap/photos")
    assert not {"assets", "static"} & set(default.parts)


def test_the_visit_form_sends_photos(field: Field, place: Place) -> None:
    page = client_of(field, field.official).get(f"/inbox/household/{place.household}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    form = re.search(r'<form[^>]*id="visit-form"[^>]*>(.*?)</form>', text, re.S)
    assert form is not None
    assert 'enctype="multipart/form-data"' in form.group(0)
    english = client_of(field, field.official).get(f"/inbox/household/{place.household}?lang=en")
    assert f'action="/inbox/household/{place.household}/visit?lang=en"' in english.get_data(
        as_text=True
    )  # the language survives a form too large to be read (413)
    body = form.group(1)
    assert re.search(r'<input type="hidden" name="csrf_token" value="[^"]+">', body)
    photo = re.search(r'<input type="file"[^>]*>', body)
    assert photo is not None
    tag = photo.group(0)
    assert 'name="photo"' in tag and 'accept="image/jpeg,image/png"' in tag
    assert " multiple" in tag and 'capture="environment"' in tag


def test_a_jpeg_and_a_png_are_stored_without_their_metadata(
    field: Field, place: Place, photo_dir: Path
) -> None:
    client = client_of(field, field.official)
    note = f"照片走访 {uuid.uuid4().hex[:6]}"
    sent = post_visit(
        client,
        place.household,
        note,
        [(jpeg_with_exif(), "IMG_0001.JPG", "image/jpeg"), (png_with_text(), "s.png", "image/png")],
    )
    assert sent.status_code == 302, sent.get_data(as_text=True)
    assert sent.headers["Location"].startswith(f"/inbox/household/{place.household}?done=1")
    assert rows_of(field.url, note) == (1, 2)
    with psycopg.connect(field.url) as conn:
        photos = conn.execute(
            "SELECT f.photo_id, f.content_type, f.bytes, f.sha256, f.stored_name, f.household_id,"
            " f.village_code, f.created_by FROM visit_photo f JOIN field_visit v USING (visit_id)"
            " WHERE v.note = %s ORDER BY f.photo_id",
            (note,),
        ).fetchall()
        audited = conn.execute(
            "SELECT detail FROM audit_log WHERE route = 'action:visit.record' AND username = %s"
            " AND detail->>'visit_id' = (SELECT visit_id::text FROM field_visit WHERE note = %s)",
            (field.official.username, note),
        ).fetchone()
    assert audited is not None and audited[0]["photos"] == 2
    (jpeg_id, jpeg_type, *_), (png_id, png_type, *_) = photos
    assert (jpeg_type, png_type) == ("image/jpeg", "image/png")
    for _id, _type, size, _sha, name, household, village, by in photos:
        assert re.fullmatch(r"[0-9a-f]{32}\.(jpg|png)", name)
        assert (household, village, by) == (place.household, field.village, field.official.username)
        stored = photo_dir / name
        assert stored.stat().st_size == size
        # Outside the web root: not in the app's assets, nor in any static folder of the code.
        resolved = stored.resolve()
        assert not resolved.is_relative_to(ASSETS.resolve())
        assert not resolved.is_relative_to(ROOT.resolve())
    assert not [n for n in files_in(photo_dir) if n.startswith(".upload-")]
    with Image.open(photo_dir / photos[0][4]) as jpeg:
        assert jpeg.format == "JPEG"
        assert dict(jpeg.getexif()) == {}
        assert "exif" not in jpeg.info and "comment" not in jpeg.info
        assert jpeg.size == (48, 64)  # the orientation was applied, then dropped
    with Image.open(photo_dir / photos[1][4]) as png:
        assert png.format == "PNG" and png.mode == "RGBA"
        assert dict(png.getexif()) == {} and "Comment" not in png.info
    # The household's sheet shows both as thumbnails through the photo route.
    sheet = client.get(f"/inbox/household/{place.household}").get_data(as_text=True)
    for photo_id in (jpeg_id, png_id):
        assert re.search(
            rf'<img src="/inbox/photo/{photo_id}" loading="lazy"'
            rf' id="photo-{photo_id}"\s+alt="[^"]+">',
            sheet,
        )


def _one_photo(field: Field, place: Place) -> tuple[int, str]:
    client = client_of(field, field.official)
    note = f"路线照片 {uuid.uuid4().hex[:6]}"
    sent = post_visit(client, place.household, note, [(jpeg_with_exif(), "a.jpg", "image/jpeg")])
    assert sent.status_code == 302
    with psycopg.connect(field.url) as conn:
        row = conn.execute(
            "SELECT f.photo_id, f.stored_name FROM visit_photo f JOIN field_visit v"
            " USING (visit_id) WHERE v.note = %s",
            (note,),
        ).fetchone()
    assert row is not None
    return row[0], row[1]


def _photo_reads(url: str, photo_id: int) -> list[tuple[str, list[str], dict[str, Any]]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT username, household_ids, detail FROM audit_log WHERE route = %s ORDER BY id",
            (f"/inbox/photo/{photo_id}",),
        ).fetchall()


def test_the_photo_route_serves_the_officials_own_photo_and_audits_it(
    field: Field, place: Place, photo_dir: Path
) -> None:
    photo_id, name = _one_photo(field, place)
    assert _photo_reads(field.url, photo_id) == []
    got = client_of(field, field.official).get(f"/inbox/photo/{photo_id}")
    assert got.status_code == 200
    assert got.data == (photo_dir / name).read_bytes()
    assert got.mimetype == "image/jpeg"
    assert got.headers["Cache-Control"] == "private, no-store"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Disposition"] == "inline"
    reads = _photo_reads(field.url, photo_id)
    assert len(reads) == 1
    username, households, detail = reads[0]
    assert (username, households) == (field.official.username, [place.household])
    assert detail["photo_id"] == photo_id and detail["area"] == field.village
    # A town official acts on the whole town: they see it too (and that is audited as well).
    assert client_of(field, field.town).get(f"/inbox/photo/{photo_id}").status_code == 200
    assert [r[0] for r in _photo_reads(field.url, photo_id)] == [
        field.official.username,
        field.town.username,
    ]


def test_the_photo_route_answers_404_to_everyone_else(field: Field, place: Place) -> None:
    photo_id, _name = _one_photo(field, place)
    with psycopg.connect(field.url) as conn:
        last = conn.execute("SELECT max(photo_id) FROM visit_photo").fetchone()
    assert last is not None
    unknown = client_of(field, field.official).get(f"/inbox/photo/{last[0] + 1000}")
    neighbour = client_of(field, place.neighbour).get(f"/inbox/photo/{photo_id}")  # other village
    sibling = client_of(field, field.sibling).get(f"/inbox/photo/{photo_id}")  # not paired
    for refused in (unknown, neighbour, sibling):
        assert refused.status_code == 404
        assert refused.mimetype == "text/html"
        assert "no-store" in refused.headers["Cache-Control"]
    # One answer for "no such photo" and "not yours": nothing tells them apart.
    assert neighbour.get_data(as_text=True) == unknown.get_data(as_text=True)
    assert sibling.get_data(as_text=True) == unknown.get_data(as_text=True)
    assert "未找到该照片" in unknown.get_data(as_text=True)
    assert _photo_reads(field.url, photo_id) == []
    from dashboards.app import create_app

    anonymous = create_app().server.test_client().get(f"/inbox/photo/{photo_id}")
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == f"/login?next=%2Finbox%2Fphoto%2F{photo_id}"


def _truncated_jpeg() -> bytes:
    whole = noise_jpeg(64)
    return whole[: len(whole) * 2 // 3]


def _big_png() -> bytes:
    out = io.BytesIO()
    Image.new("L", (8000, 6000)).save(out, "PNG")  # 48 megapixels in a few kilobytes
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "filename", "declared", "status", "message"),
    [
        (lambda: other_format("GIF"), "a.gif", "image/gif", 422, "Photo 1 is not a JPEG or PNG"),
        (lambda: other_format("GIF"), "a.jpg", "image/jpeg", 422, "Photo 1 is not a JPEG or PNG"),
        (lambda: other_format("BMP"), "a.png", "image/png", 422, "Photo 1 is not a JPEG or PNG"),
        (lambda: b"just some text\n" * 20, "x.jpg", "image/jpeg", 422, "not a JPEG or PNG"),
        (_truncated_jpeg, "cut.jpg", "image/jpeg", 422, "Photo 1 is damaged or incomplete"),
        (lambda: b"", "none.jpg", "image/jpeg", 422, "Photo 1 is an empty file"),
        (
            _big_png,
            "bomb.png",
            "image/png",
            422,
            "Photo 1 has too many pixels (over 40 megapixels)",
        ),
        (lambda: noise_jpeg(500), "big.jpg", "image/jpeg", 413, "Photo 1 is larger than 0.25 MB"),
    ],
    ids=[
        "gif",
        "gif-named-jpg",
        "bmp-named-png",
        "text-named-jpg",
        "truncated",
        "empty",
        "bomb",
        "too-large",
    ],
)
def test_a_refused_photo_leaves_no_visit_no_row_and_no_file(
    field: Field,
    place: Place,
    photo_dir: Path,
    make: Any,
    filename: str,
    declared: str,
    status: int,
    message: str,
) -> None:
    body = make()
    if status == 413:
        assert MAX_BYTES < len(body) < get_photo_settings().max_request_bytes
    before = files_in(photo_dir)
    note = f"被拒 {uuid.uuid4().hex[:6]}"
    good = (jpeg_with_exif(), "ok.jpg", "image/jpeg")  # a good photo first: it is not kept either
    sent = post_visit(
        client_of(field, field.official), place.household, note, [good, (body, filename, declared)]
    )
    text = sent.get_data(as_text=True)
    assert sent.status_code == status, text
    assert 'id="inbox-message"' in text
    assert message.replace("Photo 1", "Photo 2") in text
    assert rows_of(field.url, note) == (0, 0)
    assert files_in(photo_dir) == before


def test_five_photos_are_refused(field: Field, place: Place, photo_dir: Path) -> None:
    before = files_in(photo_dir)
    note = f"五张 {uuid.uuid4().hex[:6]}"
    five = [(jpeg_with_exif(), f"{n}.jpg", "image/jpeg") for n in range(5)]
    sent = post_visit(client_of(field, field.official), place.household, note, five)
    assert sent.status_code == 422
    assert "At most 4 photos per visit; the visit was not saved." in sent.get_data(as_text=True)
    assert rows_of(field.url, note) == (0, 0)
    assert files_in(photo_dir) == before


def test_a_form_over_the_request_cap_gets_413(field: Field, place: Place, photo_dir: Path) -> None:
    before = files_in(photo_dir)
    note = f"超大 {uuid.uuid4().hex[:6]}"
    huge = b"\xff\xd8" + os.urandom(get_photo_settings().max_request_bytes)
    sent = post_visit(
        client_of(field, field.official), place.household, note, [(huge, "h.jpg", "image/jpeg")]
    )
    text = sent.get_data(as_text=True)
    assert sent.status_code == 413, text
    assert "The form was too large (at most 4 photos of 0.25 MB each)" in text
    assert f'href="/inbox/household/{place.household}' in text
    assert rows_of(field.url, note) == (0, 0)
    assert files_in(photo_dir) == before


def test_a_failed_transaction_removes_the_files_it_wrote(
    field: Field, place: Place, photo_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def audit_fails(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("the audit row could not be written")

    monkeypatch.setattr(actions, "_audit", audit_fails)
    before = files_in(photo_dir)
    note = f"回滚 {uuid.uuid4().hex[:6]}"
    with pytest.raises(RuntimeError, match="audit row"):
        actions.record_visit(
            field.official,
            place.household,
            note=note,
            request_id="t-photo-rollback",
            photos=[jpeg_with_exif(), png_with_text()],
        )
    assert rows_of(field.url, note) == (0, 0)
    assert files_in(photo_dir) == before
