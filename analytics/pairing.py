"""一户一干部: the officials' roster, the initial pairing rule and who carries too many households.

Run as the owner (the CLI). Reassignments by a person go through :mod:`analytics.actions`.

The initial pairing rule (docs/assistance.md): households of the latest published month with
no current pairing are taken in household-id order; each is paired with the active roster
official of its county whose villages include the household's village and who has the fewest
current pairings (ties: the lowest official id). A household whose village no official lists
stays unpaired and is reported — never paired with "whoever visited last".
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import psycopg

from core.errors import DataSourceError, OneMapError

ROSTER_COLUMNS = ("official_id", "name", "work_phone", "villages", "position")
_OFFICIAL_ID = re.compile(r"O[0-9]{6}[0-9]{4,}")
_PHONE = re.compile(r"0[0-9]{2,3}-[0-9]{7,8}")
_VILLAGE = re.compile(r"[0-9]{12}")


class RosterError(DataSourceError):
    """The roster file has rows that are wrong: nothing is loaded (each is named)."""

    def __init__(self, file: str, problem: str) -> None:
        super().__init__(f"{file}: {problem}")


class UnknownOfficial(OneMapError, LookupError):
    """No official with that id in the roster (or outside the caller's jurisdiction)."""


@dataclass(frozen=True, slots=True)
class RosterRow:
    """One official of the roster."""

    official_id: str
    name: str
    work_phone: str
    villages: tuple[str, ...]
    position: str

    @property
    def county_code(self) -> str:
        """The county the official works in (digits 2-7 of the id)."""
        return self.official_id[1:7]


@dataclass(frozen=True, slots=True)
class PairingResult:
    """What :func:`initial_pairing` did."""

    paired: int
    unpaired: list[str]


@dataclass(frozen=True, slots=True)
class OfficialLoad:
    """How many households an official carries, and whether that is over the cap."""

    official_id: str
    name: str
    county_code: str
    households: int
    over: bool


def _row_problems(number: int, row: dict[str, str]) -> list[str]:
    problems = []
    if not _OFFICIAL_ID.fullmatch(row["official_id"]):
        problems.append(f"row {number}, field official_id: {row['official_id']!r} is not O+digits")
    if not row["name"].strip() or len(row["name"]) > 40:
        problems.append(f"row {number}, field name: empty or longer than 40 characters")
    if not _PHONE.fullmatch(row["work_phone"]):
        problems.append(f"row {number}, field work_phone: not an office number like 0578-1234567")
    villages = [v for v in row["villages"].split(";") if v]
    if any(not _VILLAGE.fullmatch(v) for v in villages):
        problems.append(f"row {number}, field villages: each must be a 12-digit village code")
    if not row["position"].strip():
        problems.append(f"row {number}, field position: empty")
    return problems


def read_roster(path: Path) -> list[RosterRow]:
    """Read and check a roster CSV (UTF-8).

    Raises
    ------
    RosterError
        Missing columns, or rows with a bad field (all of them are named, with row numbers
        counting the header as row 1); a duplicate official id.
    """
    with Path(path).open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in ROSTER_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise RosterError(str(path), f"missing columns: {', '.join(missing)}")
        rows, problems, seen = [], [], set()
        for number, raw in enumerate(reader, start=2):
            row = {c: (raw.get(c) or "").strip() for c in ROSTER_COLUMNS}
            found = _row_problems(number, row)
            if row["official_id"] in seen:
                found.append(f"row {number}, field official_id: {row['official_id']} twice")
            seen.add(row["official_id"])
            problems += found
            if not found:
                villages = tuple(sorted({v for v in row["villages"].split(";") if v}))
                rows.append(
                    RosterRow(
                        row["official_id"],
                        row["name"],
                        row["work_phone"],
                        villages,
                        row["position"],
                    )
                )
    if problems:
        shown = "; ".join(problems[:10]) + (
            f" (and {len(problems) - 10} more)" * (len(problems) > 10)
        )
        raise RosterError(str(path), shown)
    return rows


def load_roster(conn: psycopg.Connection, rows: list[RosterRow]) -> int:
    """Insert or update the roster's officials (a login link is kept); return the count."""
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO official (official_id, county_code, name, work_phone, villages,"
            " position) VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (official_id) DO UPDATE"
            " SET name = excluded.name, work_phone = excluded.work_phone,"
            " villages = excluded.villages, position = excluded.position, active = true,"
            " loaded_at = now()",
            [
                (r.official_id, r.county_code, r.name, r.work_phone, list(r.villages), r.position)
                for r in rows
            ],
        )
    return len(rows)


def initial_pairing(
    conn: psycopg.Connection, *, changed_by: str = "onemap pairing init"
) -> PairingResult:
    """Pair every unpaired household of the latest published month by the module's rule."""
    at = dt.datetime.now(dt.UTC)
    with conn.transaction():
        households = conn.execute(
            "SELECT h.household_id, h.county_code, h.village_code FROM household h"
            " WHERE h.month = (SELECT max(month) FROM published_month)"
            " AND NOT EXISTS (SELECT 1 FROM pairing p WHERE p.household_id = h.household_id"
            " AND p.valid_to IS NULL) ORDER BY h.household_id"
        ).fetchall()
        officials = conn.execute(
            "SELECT o.official_id, o.villages, (SELECT count(*) FROM pairing p"
            " WHERE p.official_id = o.official_id AND p.valid_to IS NULL)"
            " FROM official o WHERE o.active ORDER BY o.official_id"
        ).fetchall()
        by_village: dict[str, list[str]] = defaultdict(list)
        load: dict[str, int] = {}
        for official_id, villages, count in officials:
            load[official_id] = int(count)
            for village in villages:
                by_village[village].append(official_id)
        rows, unpaired = [], []
        for household_id, county, village in households:
            candidates = [o for o in by_village.get(village, []) if o[1:7] == county]
            if not candidates:
                unpaired.append(household_id)
                continue
            chosen = min(candidates, key=lambda o: (load[o], o))
            load[chosen] += 1
            rows.append((household_id, county, village, chosen, at, "initial pairing", changed_by))
        with conn.cursor().copy(
            "COPY pairing (household_id, county_code, village_code, official_id, valid_from,"
            " reason, changed_by) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
    return PairingResult(len(rows), unpaired)


def link_login(conn: psycopg.Connection, username: str, official_id: str) -> None:
    """Let the login ``username`` act as the roster's ``official_id`` (one login each).

    Raises
    ------
    UnknownOfficial
        No such official in the roster.
    """
    with conn.transaction():
        conn.execute("UPDATE official SET username = NULL WHERE username = %s", (username,))
        updated = conn.execute(
            "UPDATE official SET username = %s WHERE official_id = %s", (username, official_id)
        ).rowcount
        if updated != 1:
            raise UnknownOfficial(f"no official {official_id} in the roster")


def official_loads(
    conn: psycopg.Connection, cap: int, *, area: str = "", only_over: bool = False
) -> list[OfficialLoad]:
    """Officials of ``area`` (an admin-code prefix) with their current household count.

    Works as the owner or, scoped, as the app role (row-level security narrows it).
    """
    rows = conn.execute(
        "SELECT o.official_id, o.name, o.county_code, count(p.pairing_id) AS n"
        " FROM official o LEFT JOIN pairing p ON p.official_id = o.official_id"
        " AND p.valid_to IS NULL WHERE o.county_code LIKE %s || '%%'"
        " OR %s LIKE o.county_code || '%%' GROUP BY 1, 2, 3"
        " HAVING NOT %s OR count(p.pairing_id) > %s ORDER BY n DESC, 1",
        (area[:6], area, only_over, cap),
    ).fetchall()
    return [OfficialLoad(r[0], r[1], r[2], int(r[3]), int(r[3]) > cap) for r in rows]


def pair_demo_official(conn: psycopg.Connection, username: str, *, households: int = 10) -> str:
    """Demo only: give ``username`` a roster official and the village's warned households.

    The login (a village official) is linked to a roster official of the village, who is
    paired with up to ``households`` of its warned households (red first). Returns the
    official id; the history says it was the demo's doing.
    """
    row = conn.execute(
        "SELECT o.official_id FROM app_user u JOIN official o ON u.jurisdiction = ANY(o.villages)"
        " WHERE u.username = %s ORDER BY (SELECT count(*) FROM pairing p WHERE"
        " p.official_id = o.official_id AND p.valid_to IS NULL AND p.village_code = u.jurisdiction)"
        " DESC, o.official_id LIMIT 1",
        (username,),
    ).fetchone()
    if row is None:
        raise UnknownOfficial(f"no roster official works in {username}'s village")
    official_id = str(row[0])
    link_login(conn, username, official_id)
    with conn.transaction():
        warned = [
            r[0]
            for r in conn.execute(
                "SELECT w.household_id FROM warning w JOIN app_user u"
                " ON u.jurisdiction = w.village_code"
                " WHERE u.username = %s AND w.status IN ('raised', 'acknowledged')"
                " ORDER BY w.level = 'red' DESC, w.score DESC LIMIT %s",
                (username, households),
            ).fetchall()
        ]
        conn.execute(
            "UPDATE pairing SET valid_to = now() WHERE household_id = ANY(%s)"
            " AND valid_to IS NULL AND official_id <> %s",
            (warned, official_id),
        )
        conn.execute(
            "INSERT INTO pairing (household_id, county_code, village_code, official_id,"
            " valid_from, reason, changed_by) SELECT w.household_id, w.county_code,"
            " w.village_code, %s, now(), 'demo: the village official takes its warned households',"
            " 'onemap demo' FROM warning w WHERE w.household_id = ANY(%s)"
            " AND w.status IN ('raised', 'acknowledged') AND NOT EXISTS (SELECT 1 FROM pairing p"
            " WHERE p.household_id = w.household_id AND p.valid_to IS NULL)",
            (official_id, warned),
        )
    return official_id
