"""The household's door plate (小康码) without a login, and the printable sheet of plates.

Nothing here returns personal data: the anonymous page gets the village and the paired
official's work contact (``door_contact``); a request goes into the official's inbox through
``door_request`` (rate limits checked in the database); a one-time code printed on a slip for
the head of household opens the household's own benefit list and plan (``door_redeem``,
``door_own``). The functions are SECURITY DEFINER (migration 0011): the app role reads no
table for an anonymous visitor.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
import re
import secrets
from dataclasses import dataclass

import psycopg
import segno

from core.errors import OneMapError

#: Categories of the door form (寻求帮助 / 办事跑腿 / 提出需求).
REQUEST_CATEGORIES = ("help", "errand", "need")
_TOKEN = re.compile(r"[0-9a-f]{32}")
_CODE = re.compile(r"[0-9A-Z]{8}")
_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


class RequestRefused(OneMapError, ValueError):
    """A door request that is not taken (too long, empty, unknown category, or too many)."""

    def __init__(self, detail: str, reason: str) -> None:
        super().__init__(detail)
        #: ``too_long``, ``empty``, ``category``, ``plate_limit``, ``ip_limit``, ``unknown``.
        self.reason = reason


@dataclass(frozen=True, slots=True)
class DoorContact:
    """What anyone who scans the plate may see."""

    village: str
    town: str
    county: str
    official_name: str | None
    work_phone: str | None


def contact(conn: psycopg.Connection, token: str) -> DoorContact | None:
    """The plate's village and paired official's work contact (None: unknown token)."""
    if not _TOKEN.fullmatch(token):
        return None
    row = conn.execute("SELECT * FROM door_contact(%s)", (token,)).fetchone()
    return DoorContact(*row) if row else None


def requester_hash(address: str, day: dt.date) -> str:
    """The requesting address, hashed with the day (kept only to rate-limit)."""
    return hashlib.sha256(f"{day.isoformat()}|{address}".encode()).hexdigest()


def submit_request(
    conn: psycopg.Connection,
    token: str,
    *,
    category: str,
    body: str,
    address: str,
    max_chars: int,
    hours: float,
    per_plate: int,
    per_ip: int,
) -> None:
    """Put a help request into the paired official's inbox with a deadline of ``hours``.

    Raises
    ------
    RequestRefused
        With the reason; nothing is stored.
    """
    text = body.strip()
    if category not in REQUEST_CATEGORIES:
        raise RequestRefused(f"unknown category {category!r}", "category")
    if not text:
        raise RequestRefused("empty request", "empty")
    if len(text) > max_chars:
        raise RequestRefused(f"request of {len(text)} characters (max {max_chars})", "too_long")
    who = requester_hash(address, dt.datetime.now(dt.UTC).date())
    with conn.transaction():
        row = conn.execute(
            "SELECT door_request(%s, %s, %s, %s, %s, %s, %s)",
            (token, category, text, who, hours, per_plate, per_ip),
        ).fetchone()
    outcome = row[0] if row else "unknown"
    if outcome != "ok":
        raise RequestRefused(f"door request refused: {outcome}", outcome)


def code_hash(code: str) -> str:
    """The stored form of a one-time code."""
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


def redeem(conn: psycopg.Connection, token: str, code: str) -> str | None:
    """The household id if ``code`` is an unused code of the plate's household (now used)."""
    if not _TOKEN.fullmatch(token) or not _CODE.fullmatch(code.strip().upper()):
        return None
    with conn.transaction():
        row = conn.execute("SELECT door_redeem(%s, %s)", (token, code_hash(code))).fetchone()
    return str(row[0]) if row and row[0] else None


def own_view(conn: psycopg.Connection, household_id: str) -> list[tuple[str, str, str, str]]:
    """The household's benefit list and plan: (kind, code, name_zh or '', state)."""
    rows = conn.execute("SELECT * FROM door_own(%s)", (household_id,)).fetchall()
    return [(r[0], r[1], r[2] or "", r[4]) for r in rows]


# --- printing -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plate:
    """One household's plate: no personal data, only where and whom to call."""

    number: str
    url: str
    village: str
    official_name: str
    work_phone: str


def plates_for_village(conn: psycopg.Connection, village: str, public_url: str) -> list[Plate]:
    """The plates of a village's households (owner), numbered in household order."""
    rows = conn.execute(
        "SELECT k.token, v.name, o.name, o.work_phone FROM household h"
        " JOIN household_token k ON k.household_id = h.household_id"
        " JOIN admin_area v ON v.code = h.village_code"
        " LEFT JOIN pairing p ON p.household_id = h.household_id AND p.valid_to IS NULL"
        " LEFT JOIN official o ON o.official_id = p.official_id"
        " WHERE h.village_code = %s AND h.month = (SELECT max(month) FROM published_month)"
        " ORDER BY h.household_id",
        (village,),
    ).fetchall()
    base = public_url.rstrip("/")
    return [
        Plate(f"{village[-6:]}-{n:03d}", f"{base}/h/{token}", name, off or "—", phone or "—")
        for n, (token, name, off, phone) in enumerate(rows, start=1)
    ]


def issue_codes(conn: psycopg.Connection, village: str) -> list[tuple[str, str]]:
    """New one-time codes for the village's households (old unused ones are withdrawn).

    Returns (plate number, code) in plate order; only hashes are stored.
    """
    households = conn.execute(
        "SELECT h.household_id, h.county_code FROM household h"
        " JOIN household_token k ON k.household_id = h.household_id"
        " WHERE h.village_code = %s AND h.month = (SELECT max(month) FROM published_month)"
        " ORDER BY h.household_id",
        (village,),
    ).fetchall()
    slips = []
    with conn.transaction():
        conn.execute(
            "UPDATE household_code SET used_at = now() WHERE used_at IS NULL"
            " AND household_id = ANY(%s)",
            ([h for h, _ in households],),
        )
        for n, (household_id, county) in enumerate(households, start=1):
            code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))
            conn.execute(
                "INSERT INTO household_code (household_id, county_code, code_hash)"
                " VALUES (%s, %s, %s)",
                (household_id, county, code_hash(code)),
            )
            slips.append((f"{village[-6:]}-{n:03d}", code))
    return slips


_SHEET = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<title>{title}</title><style>
@page {{ size: A4; margin: 10mm; }}
body {{ font-family: sans-serif; margin: 0; }}
.sheet {{ display: grid; grid-template-columns: 1fr 1fr; gap: 6mm; }}
.plate {{ border: 2px solid #c62828; border-radius: 4mm; padding: 4mm; break-inside: avoid;
  display: flex; gap: 4mm; align-items: center; }}
.plate img {{ width: 32mm; height: 32mm; }}
.plate h2 {{ margin: 0 0 2mm; color: #c62828; font-size: 14pt; }}
.plate p {{ margin: 1mm 0; font-size: 10pt; }}
.note {{ font-size: 8pt; color: #555; }}
</style></head><body><p class="note">{note}</p><div class="sheet">{plates}</div></body></html>"""


def plates_html(plates: list[Plate], title: str) -> str:
    """A print-ready A4 sheet (two plates per row), every value escaped."""
    cells = []
    for plate in plates:
        qr = segno.make(plate.url, error="m").svg_data_uri(scale=4, border=1)
        cells.append(
            f'<div class="plate"><img alt="QR" src="{html.escape(qr)}"><div>'
            f"<h2>小康码 · {html.escape(plate.number)}</h2>"
            f"<p>{html.escape(plate.village)}</p>"
            f"<p>结对干部：{html.escape(plate.official_name)}</p>"
            f"<p>工作电话：{html.escape(plate.work_phone)}</p>"
            "<p>扫码寻求帮助 / Scan to ask for help</p></div></div>"
        )
    note = "模拟数据 synthetic data · " + html.escape(title)
    return _SHEET.format(title=html.escape(title), note=note, plates="".join(cells))


def slips_html(slips: list[tuple[str, str]], title: str) -> str:
    """One slip per household with its one-time code (hand to the head of household)."""
    cells = "".join(
        f'<div class="plate"><div><h2>{html.escape(n)}</h2><p>一次性查询码 One-time code:</p>'
        f'<p style="font-size:18pt;letter-spacing:2mm">{html.escape(c)}</p>'
        "<p>请交户主本人保管 For the head of household only</p></div></div>"
        for n, c in slips
    )
    note = "模拟数据 synthetic data · " + html.escape(title)
    return _SHEET.format(title=html.escape(title), note=note, plates=cells)
