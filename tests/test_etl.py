"""The monthly ETL on real PostGIS: accounting, quarantine reasons, idempotent reruns, history,
failure safety, geocoding and pseudonymisation."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import openpyxl
import psycopg
import pytest
from fast_geocn import coord as reference_coord  # an independent GCJ-02 implementation
from pyproj import Geod

from core.access import Role
from core.errors import FeedUnreadable
from etl.pseudonymise import Pseudonymiser
from etl.run import RunResult, run_month
from synth.population import build_population
from tests.browser import open_page, require_chromium, serve_app
from tests.conftest import KEY, MONTH, NEXT, POLICY_CODES, SEED, make_user

#: The shape of a Zhejiang national ID standing alone (hex tokens and WKB are not IDs).
ID_LIKE = re.compile(
    r"(?<![0-9A-Za-z])33\d{4}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx]"
    r"(?![0-9A-Za-z])"
)
#: Synthetic defect kind → the quarantine rule that catches it.
QUARANTINED_KINDS = {
    "bad_id_checksum": "bad_id_checksum",
    "unknown_village": "unknown_village",
    "blank_required": "blank_required",
    "negative_amount": "negative_amount",
    "absurd_amount": "absurd_amount",
    "coord_out_of_province": "coord_out_of_province",
    "unknown_policy": "unknown_policy",
    "date_outside_month": "outside_month",
}


def etl_command(folder: Path) -> list[str]:
    """`onemap etl run` of the fixture month, forced, as a user types it."""
    return [sys.executable, "-m", "onemap", "etl", "run", str(folder), "--month", MONTH, "--force"]


def etl_env(database_url: str) -> dict[str, str]:
    """The environment of a CLI run against the session database with the test key."""
    return os.environ | {"DATABASE_URL": database_url, "ONEMAP_ETL_HMAC_KEY": KEY.decode()}


def manifest(feeds: dict[str, Path], month: str) -> dict[str, dict]:  # type: ignore[type-arg]
    data = json.loads((feeds[month] / "manifest.json").read_text())
    return {f["feed"]: f for f in data["files"]}


def published(conn: psycopg.Connection, month: str) -> tuple[object, ...]:
    row = conn.execute(
        "SELECT run_id, content_checksum, households, people FROM "
        "published_month WHERE month = %s::date",
        (f"{month}-01",),
    ).fetchone()
    assert row is not None
    return tuple(row)


def test_every_row_is_loaded_quarantined_or_merged(
    loaded: RunResult, feeds: dict[str, Path], conn: psycopg.Connection
) -> None:
    expected = manifest(feeds, MONTH)
    assert loaded.status == "published"
    for report in loaded.reports:
        assert report.rows_read == report.rows_loaded + report.rows_quarantined + report.rows_merged
        assert report.rows_read == expected[report.feed]["rows"], report.feed
        defects = expected[report.feed]["defects"]
        assert report.rows_skipped == defects.get("blank_row", 0), report.feed
        # Deliberate copies of valid rows are merged; a copy of a row that fails (say, its
        # household's roster row was rejected) is quarantined with it.
        unknown = defects.get("duplicate_row", 0) - report.rows_merged
        assert 0 <= unknown <= 0.05 * defects.get("duplicate_row", 0) + 2, report.feed
        stored = conn.execute(
            "SELECT count(*) FROM quarantine WHERE run_id = %s AND feed = %s",
            (loaded.run_id, report.feed),
        ).fetchone()
        assert stored == (report.rows_quarantined,)
    stored_reports = conn.execute(
        "SELECT count(*) FROM etl_feed_report WHERE run_id = %s", (loaded.run_id,)
    ).fetchone()
    assert stored_reports == (11,)


def test_each_defect_kind_is_quarantined_with_its_reason(
    loaded: RunResult, feeds: dict[str, Path], conn: psycopg.Connection
) -> None:
    expected = manifest(feeds, MONTH)
    for feed, info in expected.items():
        rules = Counter(
            r[0].split(":")[0]
            for r in conn.execute(
                "SELECT rule FROM quarantine WHERE run_id = %s AND feed = %s", (loaded.run_id, feed)
            ).fetchall()
        )
        report = next(r for r in loaded.reports if r.feed == feed)
        defects, fixed = info["defects"], report.rows_fixed
        # Each injected defect is caught as its own rule, unless its row's household (or
        # person) was rejected from the roster: the row then carries that rule instead.
        cascade = rules["household_rejected"] + rules["person_rejected"]
        shortfall = 0
        for kind, rule in QUARANTINED_KINDS.items():
            assert rules[rule] <= defects.get(kind, 0), (feed, kind)
            shortfall += defects.get(kind, 0) - rules[rule]
        assert shortfall <= cascade, feed
        # Both versions of a conflicting copy are quarantined (unless the original row was
        # already rejected for another reason: its household rejected from the roster).
        conflicts = defects.get("conflicting_duplicate", 0)
        assert conflicts * 2 - 4 <= rules["conflicting_duplicate"] <= conflicts * 2, feed
        fixable = defects.get("fullwidth_id", 0) + defects.get("lowercase_x", 0)
        assert fixed.get("id_normalised", 0) == fixable, feed
        assert fixed.get("date_format", 0) == defects.get("date_format", 0)
        assert fixed.get("amount_normalised", 0) == defects.get("amount_format", 0), feed
        assert fixed.get("code_normalised", 0) == defects.get("lowercase_policy", 0), feed
        assert fixed.get("excel_date", 0) == defects.get("excel_date", 0), feed
        assert fixed.get("text_masked", 0) == defects.get("id_in_text", 0), feed
        # NFKC: full-width household numbers, and the full-width ￥ of formatted amounts.
        widened = defects.get("fullwidth_household", 0)
        assert (
            widened <= fixed.get("width_normalised", 0) <= widened + defects.get("amount_format", 0)
        ), feed
    reasons = dict(
        conn.execute(
            "SELECT DISTINCT ON (rule) rule, reason FROM quarantine WHERE run_id = %s",
            (loaded.run_id,),
        ).fetchall()
    )
    assert "is not a valid GB 11643 number" in reasons["bad_id_checksum"]
    assert "does not exist" in reasons["unknown_village"]
    assert "required field id_no is blank" == reasons["blank_required:id_no"]
    assert "lies outside Zhejiang" in reasons["coord_out_of_province"]
    assert "is negative" in reasons["negative_amount:balance"]


def test_quarantine_points_at_the_file_line(
    loaded: RunResult, feeds: dict[str, Path], conn: psycopg.Connection
) -> None:
    rows = conn.execute(
        "SELECT file, line, row_masked FROM quarantine WHERE run_id = %s"
        " AND feed = 'subsidy_ledger' ORDER BY line LIMIT 20",
        (loaded.run_id,),
    ).fetchall()
    lines = (feeds[MONTH] / rows[0][0]).read_text(encoding="utf-8-sig").splitlines()
    for _file, line, row in rows:
        fields = unicodedata.normalize("NFKC", lines[line - 1]).split(",")[:2]
        assert fields == [row["household_no"], row["policy_code"]]
    sheet = rows = conn.execute(
        "SELECT file, line, row_masked FROM quarantine WHERE run_id = %s"
        " AND feed = 'housing_appraisal' LIMIT 5",
        (loaded.run_id,),
    ).fetchall()
    workbook = openpyxl.load_workbook(feeds[MONTH] / sheet[0][0], read_only=True)
    cells = list(workbook.worksheets[0].iter_rows(values_only=True))
    for _file, line, row in sheet:
        assert str(cells[line - 1][0] or "") == row["household_no"]


def test_rerun_changes_nothing(
    loaded: RunResult, feeds: dict[str, Path], database_url: str, conn: psycopg.Connection
) -> None:
    before = published(conn, MONTH)
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM household WHERE month = %s::date),"
        " (SELECT count(*) FROM quarantine)",
        (f"{MONTH}-01",),
    ).fetchone()
    with psycopg.connect(database_url, autocommit=True) as own:
        again = run_month(own, feeds[MONTH], MONTH, Pseudonymiser(KEY), policy_codes=POLICY_CODES)
        assert again.status == "unchanged"
        assert published(conn, MONTH) == before
        forced = run_month(
            own, feeds[MONTH], MONTH, Pseudonymiser(KEY), policy_codes=POLICY_CODES, force=True
        )
    assert forced.status == "published"
    assert forced.content_checksum == loaded.content_checksum
    assert published(conn, MONTH)[1:] == before[1:]
    assert conn.execute(
        "SELECT count(*) FROM household WHERE month = %s::date", (f"{MONTH}-01",)
    ).fetchone() == (counts[0],)  # type: ignore[index]


@pytest.mark.publishes_next
def test_months_are_kept_with_entries_and_exits(
    loaded: RunResult, feeds: dict[str, Path], database_url: str, conn: psycopg.Connection
) -> None:
    with psycopg.connect(database_url, autocommit=True) as own:
        july = run_month(own, feeds[NEXT], NEXT, Pseudonymiser(KEY), policy_codes=POLICY_CODES)
    assert july.status == "published"
    months = [
        r[0].isoformat()
        for r in conn.execute("SELECT month FROM published_month ORDER BY month").fetchall()
    ]
    assert months[:2] == ["2024-06-01", "2024-07-01"]
    entries, exits, stayed = conn.execute(
        """WITH j AS (SELECT household_id FROM household WHERE month = '2024-06-01'),
                k AS (SELECT household_id FROM household WHERE month = '2024-07-01')
           SELECT (SELECT count(*) FROM k WHERE household_id NOT IN (SELECT * FROM j)),
                  (SELECT count(*) FROM j WHERE household_id NOT IN (SELECT * FROM k)),
                  (SELECT count(*) FROM j WHERE household_id IN (SELECT * FROM k))"""
    ).fetchone()  # type: ignore[misc]
    assert stayed > 0.97 * loaded.households
    assert 0.002 * loaded.households < entries < 0.03 * loaded.households
    assert 0.002 * loaded.households < exits < 0.03 * loaded.households
    # A person keeps the same token from month to month (same key).
    same = conn.execute(
        """SELECT count(*) FROM person a JOIN person b USING (person_token)
           WHERE a.month = '2024-06-01' AND b.month = '2024-07-01'"""
    ).fetchone()
    assert same[0] > 0.97 * loaded.people  # type: ignore[index]


def scan_for_ids(text: str) -> list[str]:
    return ID_LIKE.findall(unicodedata.normalize("NFKC", text))


def test_no_national_id_is_stored_anywhere(
    loaded: RunResult, conn: psycopg.Connection, feeds: dict[str, Path]
) -> None:
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r'"
        ).fetchall()
    ]
    raw_ids = {
        line.split(",")[1]
        for line in (feeds[MONTH] / f"civil_affairs_roster_{MONTH}.csv")
        .read_text(encoding="utf-8-sig")
        .splitlines()[1:]
    }
    found: list[str] = []
    for table in tables:
        with conn.cursor().copy(
            psycopg.sql.SQL("COPY {} TO STDOUT").format(psycopg.sql.Identifier(table))
        ) as copy:
            text = b"".join(bytes(chunk) for chunk in copy).decode()
        found += scan_for_ids(text)
        # Not even inside a longer run of digits: no raw ID of the roster appears anywhere.
        runs = set(re.findall(r"[\dXx]{18,}", unicodedata.normalize("NFKC", text)))
        windows = {run[i : i + 18] for run in runs for i in range(len(run) - 17)}
        assert not (windows & raw_ids), table
    assert found == []
    # A token is not the ID and the masked form hides the middle.
    sample = conn.execute("SELECT person_token, id_masked FROM person LIMIT 1").fetchone()
    assert sample is not None and len(sample[0]) == 32 and "**********" in sample[1]


def test_cli_output_and_logs_hold_no_ids(
    loaded: RunResult, feeds: dict[str, Path], database_url: str
) -> None:
    env = etl_env(database_url)
    result = subprocess.run(
        etl_command(feeds[MONTH]),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "published" in result.stdout
    assert scan_for_ids(result.stdout + result.stderr) == []


def test_gcj02_gps_lands_within_10_m(
    loaded: RunResult,
    villages,
    feeds: dict[str, Path],  # type: ignore[no-untyped-def]
    tmp_path: Path,
    database_url: str,
) -> None:
    # Put one household's appraisal at a known WGS84 point, reported in GCJ-02 by an
    # independent implementation; the ETL must bring it back within 10 m.
    folder = tmp_path / MONTH
    shutil.copytree(feeds[MONTH], folder)
    path = folder / f"housing_appraisal_{MONTH}.xlsx"
    workbook = openpyxl.load_workbook(path)
    sheet = workbook.worksheets[0]
    header = [c.value for c in sheet[1]]
    row = next(r for r in sheet.iter_rows(min_row=2) if str(r[0].value or "").startswith("H"))
    household = row[0].value
    true_lon, true_lat = 120.0876543, 28.6543219
    lon, lat = reference_coord.wgs84_to_gcj02(true_lon, true_lat)
    row[header.index("longitude")].value = lon
    row[header.index("latitude")].value = lat
    row[header.index("coord_sys")].value = "gcj02"
    row[header.index("appraisal_grade")].value = "B"
    row[header.index("appraisal_date")].value = f"{MONTH}-03"
    workbook.save(path)
    with psycopg.connect(database_url, autocommit=True) as conn:
        run_month(conn, folder, MONTH, Pseudonymiser(KEY), policy_codes=POLICY_CODES)
        got = conn.execute(
            "SELECT ST_X(geom), ST_Y(geom), geo_precision FROM household"
            " WHERE month = %s::date AND household_id = %s",
            (f"{MONTH}-01", household),
        ).fetchone()
        assert got is not None and got[2] == "gps"
        _, _, metres = Geod(ellps="WGS84").inv(true_lon, true_lat, got[0], got[1])
        assert metres < 10
        # And across all GCJ-02 readings: within the devices' noise of the true homes.
        pop = build_population(villages, n_households=49_600, seed=SEED)
        truth = dict(
            zip(
                pop.households.no,
                zip(pop.households.lon, pop.households.lat, strict=True),
                strict=True,
            )
        )
        rows = conn.execute(
            "SELECT household_id, ST_X(geom), ST_Y(geom) FROM"
            " housing_appraisal WHERE month = %s::date AND source_crs = 'gcj02'",
            (f"{MONTH}-01",),
        ).fetchall()
        errors = [
            Geod(ellps="WGS84").inv(*truth[h], x, y)[2]
            for h, x, y in rows
            if h in truth and h != household
        ]
        assert len(errors) > 100
        assert np.median(errors) < 10  # device noise σ = 5 m; uncorrected GCJ-02 is ~500 m
        # Restore the fixture month for later tests.
        run_month(
            conn, feeds[MONTH], MONTH, Pseudonymiser(KEY), policy_codes=POLICY_CODES, force=True
        )


def test_households_without_gps_sit_inside_their_village(
    loaded: RunResult, conn: psycopg.Connection
) -> None:
    outside, total = conn.execute(
        """SELECT count(*) FILTER (WHERE NOT ST_Covers(v.geom, h.geom)), count(*)
           FROM household h JOIN admin_area v ON v.code = h.village_code
           WHERE h.month = %s::date AND h.geo_precision = 'village'""",
        (f"{MONTH}-01",),
    ).fetchone()  # type: ignore[misc]
    assert total > 1000 and outside == 0
    distinct = conn.execute(
        "SELECT count(DISTINCT geom) = count(*) FROM household WHERE month = %s::date",
        (f"{MONTH}-01",),
    ).fetchone()
    assert distinct == (True,)  # households of a village are not stacked on one point


@pytest.mark.parametrize(
    "damage, problem",
    [
        ("truncate", "truncated"),
        ("rename_column", "wrong columns: missing income_per_capita"),
        ("garbage_xlsx", "not a readable XLSX"),
        ("missing", "missing: feed water_safety"),
    ],
)
def test_unreadable_file_stops_the_run_and_keeps_published_data(
    loaded: RunResult,
    feeds: dict[str, Path],
    tmp_path: Path,
    database_url: str,
    conn: psycopg.Connection,
    damage: str,
    problem: str,
) -> None:
    folder = tmp_path / MONTH
    shutil.copytree(feeds[MONTH], folder)
    if damage == "truncate":
        path = folder / f"medical_claims_{MONTH}.csv"
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2 - 7])
    elif damage == "rename_column":
        path = folder / f"income_survey_{MONTH}.csv"
        data = path.read_bytes()
        path.write_bytes(data.replace(b"income_per_capita", b"income", 1))
    elif damage == "garbage_xlsx":
        path = folder / f"disability_registry_{MONTH}.xlsx"
        path.write_bytes(b"PK\x03\x04 this is not a workbook")
    else:
        path = folder / f"water_safety_{MONTH}.csv"
        path.unlink()
    before = published(conn, MONTH)
    with psycopg.connect(database_url, autocommit=True) as own:
        with pytest.raises(FeedUnreadable) as caught:
            run_month(own, folder, MONTH, Pseudonymiser(KEY), policy_codes=POLICY_CODES)
    assert path.name in str(caught.value)
    assert problem in str(caught.value)
    assert published(conn, MONTH) == before
    leftovers = conn.execute(
        "SELECT count(*) FROM pg_class WHERE relname ~ '_load[0-9]+$'"
    ).fetchone()
    assert leftovers == (0,)


def test_a_killed_run_leaves_the_published_month_intact(
    loaded: RunResult, feeds: dict[str, Path], database_url: str, conn: psycopg.Connection
) -> None:
    before = published(conn, MONTH)
    env = etl_env(database_url)
    process = subprocess.Popen(
        etl_command(feeds[MONTH]),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # wait until it is loading into its own tables
            loading = conn.execute(
                "SELECT count(*) FROM pg_class WHERE relname ~"
                " '^(person|income_survey)_[0-9]{6}_load[0-9]+$'"
            ).fetchone()
            if loading and loading[0] > 0:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the ETL never started loading")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert published(conn, MONTH) == before
    with psycopg.connect(database_url, autocommit=True) as own:
        for _ in range(100):  # the server notices the dead client's connection
            if own.execute(
                "SELECT count(*) FROM etl_run r JOIN pg_stat_activity a"
                " ON a.pid = r.backend_pid WHERE r.status = 'running'"
            ).fetchone() == (0,):
                break
            time.sleep(0.1)
        rerun = run_month(
            own, feeds[MONTH], MONTH, Pseudonymiser(KEY), policy_codes=POLICY_CODES, force=True
        )
    assert rerun.status == "published"
    assert rerun.content_checksum == loaded.content_checksum
    statuses = dict(conn.execute("SELECT status, count(*) FROM etl_run GROUP BY 1").fetchall())
    assert statuses.get("abandoned", 0) >= 1
    assert conn.execute(
        "SELECT count(*) FROM pg_class WHERE relname ~ '_load[0-9]+$'"
    ).fetchone() == (0,)


@pytest.mark.browser
def test_the_map_shows_the_households_of_a_town(
    loaded: RunResult, database_url: str, conn: psycopg.Connection, artifacts: Path
) -> None:
    require_chromium()
    # The map shows the latest month that is published and derived (July is only published here).
    latest = conn.execute(
        "SELECT max(month) FROM derive_run JOIN published_month USING (month)"
    ).fetchone()[0]  # type: ignore[index]
    town, count = conn.execute(
        "SELECT left(village_code, 9), count(*) FROM household WHERE month = %s"
        " GROUP BY 1 ORDER BY 2 DESC LIMIT 1",
        (latest,),
    ).fetchone()  # type: ignore[misc]
    # A village small enough to be drawn point by point, with households placed by estimate.
    village, households, estimated = conn.execute(
        "SELECT village_code, count(*), count(*) FILTER (WHERE geo_precision = 'village')"
        " FROM household WHERE month = %s GROUP BY 1"
        " HAVING count(*) <= 200 AND count(*) FILTER (WHERE geo_precision = 'village') > 0"
        " ORDER BY 3 DESC, 1 LIMIT 1",
        (latest,),
    ).fetchone()  # type: ignore[misc]
    town_official = make_user(database_url, Role.OFFICIAL, town)
    village_official = make_user(database_url, Role.OFFICIAL, village)
    with serve_app(database_url) as base, open_page(base, town_official.username) as page:
        page.goto(f"{base}/?area={town}")
        # Every household of the town is on the map: in a cluster or on its own.
        page.wait_for_function(
            """(n) => document.querySelectorAll('.onemap-household').length +
                [...document.querySelectorAll('.onemap-cluster [data-count]')]
                    .reduce((sum, c) => sum + Number(c.dataset.count), 0) === n""",
            arg=count,
            timeout=15_000,
        )
        page.screenshot(path=artifacts / "households-town.png")
        assert page.outside_requests == []
    with serve_app(database_url) as base, open_page(base, village_official.username) as page:
        page.goto(f"{base}/?area={village}")
        page.wait_for_function(
            "(n) => document.querySelectorAll('.onemap-household').length === n",
            arg=households,
            timeout=15_000,
        )
        # Households placed only inside their village are drawn differently (hollow, dashed).
        assert page.locator(".onemap-household-village").count() == estimated
        page.screenshot(path=artifacts / "households-village.png")
        assert page.outside_requests == []
