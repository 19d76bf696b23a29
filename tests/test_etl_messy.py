"""A month as county departments really send it (tests/fixtures/feeds/messy-2024-06): every
defect class of issue 15, loaded into a database of its own.

The accounting per feed and rule, the values stored after normalisation, the physical lines the
quarantine names, a scan for raw IDs and phone numbers over every table, the files that must
stop a run, and verbs on a database that is not initialised.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import unicodedata
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from core.errors import FeedFailed, FeedUnreadable
from etl.pseudonymise import Pseudonymiser
from etl.run import RunResult, run_month
from tests.conftest import KEY, POLICY_CODES, _ensure_template, _with_database

FIXTURE = Path(__file__).parent / "fixtures" / "feeds" / "messy-2024-06"
MONTH = "2024-06"
#: Every national ID and phone number written anywhere in the fixture month.
RAW_IDS = (
    "331122194708153627",
    "331122195001010133",
    "331122197505050218",
    "33112219600303044X",
    "331122195507070555",
    "331122196202020666",
    "331122199009090770",
    "33112219580808087X",
    "331122198001010014",
)
RAW_PHONES = ("13538808690", "13900000001", "13900000002", "13700000004", "13812345678")

#: feed: (read, loaded, quarantined, merged, skipped, {rule: rows}) — as designed in the
#: fixture (see make_messy.py): what each line of each file is there to show.
EXPECTED: dict[str, tuple[int, int, int, int, int, dict[str, int]]] = {
    "civil_affairs_roster": (
        11,
        5,
        5,
        1,
        2,
        {
            "conflicting_duplicate": 2,
            "unknown_village": 1,
            "blank_required:name": 1,
            "bad_household_no": 1,
        },
    ),
    "income_survey": (6, 4, 2, 0, 0, {"household_rejected": 1, "wrong_month": 1}),
    "medical_claims": (
        7,
        2,
        5,
        0,
        0,
        {"person_rejected": 2, "conflicting_duplicate": 2, "outside_month": 1},
    ),
    "education_enrolment": (3, 1, 2, 0, 0, {"person_rejected": 2}),
    "disability_registry": (4, 3, 1, 0, 2, {"person_rejected": 1}),
    "bank_deposits": (4, 2, 2, 0, 0, {"bad_date": 1, "outside_month": 1}),
    "housing_appraisal": (3, 1, 2, 0, 0, {"household_rejected": 1, "outside_month": 1}),
    "water_safety": (0, 0, 0, 0, 0, {}),
    "subsidy_ledger": (
        9,
        4,
        4,
        1,
        0,
        {"conflicting_duplicate": 2, "unknown_policy": 1, "household_rejected": 1},
    ),
    "official_visits": (
        5,
        2,
        3,
        0,
        0,
        {"bad_datetime": 1, "outside_month": 1, "household_rejected": 1},
    ),
    "disaster_events": (0, 0, 0, 0, 0, {}),
}


@pytest.fixture(scope="module")
def messy_url(database_url: str) -> Iterator[str]:
    """A database of its own (cloned from the migrated template): the fixture month is not
    one of the session's months."""
    admin_url = _with_database(database_url, "postgres")
    name = f"onemap_messy_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        template = _ensure_template(admin, admin_url)
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    try:
        yield _with_database(database_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def _run(url: str, folder: Path, *, force: bool = False) -> RunResult:
    with psycopg.connect(url, autocommit=True) as conn:
        return run_month(
            conn, folder, MONTH, Pseudonymiser(KEY), policy_codes=POLICY_CODES, force=force
        )


@pytest.fixture(scope="module")
def messy(messy_url: str, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The fixture month, loaded once."""
    folder = tmp_path_factory.mktemp("messy") / MONTH
    shutil.copytree(FIXTURE, folder)
    return _run(messy_url, folder)


@pytest.fixture
def mconn(messy_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(messy_url, autocommit=True) as connection:
        yield connection


def test_accounting_per_feed_and_rule(messy: RunResult, mconn: psycopg.Connection) -> None:
    assert messy.status == "published"
    for report in messy.reports:
        read, loaded, quarantined, merged, skipped, rules = EXPECTED[report.feed]
        got = (
            report.rows_read,
            report.rows_loaded,
            report.rows_quarantined,
            report.rows_merged,
            report.rows_skipped,
        )
        assert got == (read, loaded, quarantined, merged, skipped), report.feed
        stored = Counter(
            dict(
                mconn.execute(
                    "SELECT rule, count(*) FROM quarantine WHERE run_id = %s AND feed = %s"
                    " GROUP BY rule",
                    (messy.run_id, report.feed),
                ).fetchall()
            )
        )
        assert stored == Counter(rules), report.feed
    skipped, warnings = mconn.execute(
        "SELECT rows_skipped, warnings FROM etl_feed_report WHERE run_id = %s"
        " AND feed = 'water_safety'",
        (messy.run_id,),
    ).fetchone()  # type: ignore[misc]
    assert skipped == 0 and warnings == ["the file holds only its header: no rows this month"]
    conflicts = mconn.execute(
        "SELECT feed FROM etl_feed_report WHERE run_id = %s"
        " AND array_to_string(warnings, ' ') LIKE '%%conflicting_duplicate%%' ORDER BY feed",
        (messy.run_id,),
    ).fetchall()
    assert [r[0] for r in conflicts] == [
        "civil_affairs_roster",
        "medical_claims",
        "subsidy_ledger",
    ]


def test_fixes_are_counted(messy: RunResult) -> None:
    fixed = {r.feed: r.rows_fixed for r in messy.reports}
    assert fixed["civil_affairs_roster"] == {
        "width_normalised": 3,
        "id_normalised": 2,
        "date_format": 1,
    }
    assert fixed["income_survey"] == {"width_normalised": 3, "amount_normalised": 2}
    assert fixed["disability_registry"]["excel_date"] == 2
    assert fixed["disability_registry"]["repeated_header_skipped"] == 1
    assert fixed["housing_appraisal"] == {"excel_date": 1}
    assert fixed["subsidy_ledger"]["code_normalised"] == 1
    assert fixed["official_visits"] == {"text_masked": 2}


def test_values_are_stored_normalised(messy: RunResult, mconn: psycopg.Connection) -> None:
    def rows(query: str) -> list[tuple[object, ...]]:
        return [tuple(r) for r in mconn.execute(query).fetchall()]

    assert rows("SELECT household_id, policy_code, amount::text FROM subsidy ORDER BY 1, 2") == [
        ("H3311220000001", "P001", "343.50"),
        ("H3311220000001", "P002", "100.00"),
        ("H3311220000004", "P004", "114.50"),
        ("H3311220000005", "P058", "800.00"),
    ]
    assert rows("SELECT household_id, income_per_capita::text FROM income_survey ORDER BY 1") == [
        ("H3311220000001", "1329.34"),
        ("H3311220000002", "1329.00"),
        ("H3311220000004", "1200.50"),
        ("H3311220000005", "800.00"),
    ]
    assert rows("SELECT name, birth_date::text, id_masked FROM person ORDER BY birth_date") == [
        ("陈秀英", "1947-08-15", "3311**********3627"),
        ("李明", "1950-01-01", "3311**********0133"),
        ("孙丽", "1958-08-08", "3311**********087X"),
        ("王芳", "1960-03-03", "3311**********044X"),
        ("钱梅", "1962-02-02", "3311**********0666"),
    ]
    assert rows("SELECT grade, certificate_date::text FROM disability ORDER BY 2") == [
        (2, "2008-02-04"),
        (3, "2010-05-06"),
        (4, "2012-05-01"),
    ]
    assert rows("SELECT bank_code, balance::text FROM bank_deposit ORDER BY 1") == [
        ("B001", "12345.60"),
        ("B003", "100.00"),
    ]
    assert rows("SELECT claim_no, total_cost::text FROM medical_claim ORDER BY 1") == [
        ("MC2024060000004", "1200.00"),
        ("MC2024060000006", "80.00"),
    ]
    assert rows("SELECT appraisal_date::text FROM housing_appraisal") == [("2024-06-05",)]
    visits = [r[0] for r in rows("SELECT content FROM visit ORDER BY visit_time")]
    # Prose keeps its full-width punctuation; only the ID and the phone are masked.
    assert visits[0] == "走访，户主身份证3311**********3627，电话135****8690。\n已登记。"
    assert "需复查，联系电话 138 **** 5678" in visits[1]
    assert unicodedata.normalize("NFKC", visits[1]).startswith("帮扶:孙丽(身份证3311*****")


def test_quarantine_names_physical_lines_and_masks_quoted_ids(
    messy: RunResult, mconn: psycopg.Connection
) -> None:
    found = {
        (feed, line): (rule, reason)
        for feed, line, rule, reason in mconn.execute(
            "SELECT feed, line, rule, reason FROM quarantine WHERE run_id = %s",
            (messy.run_id,),
        ).fetchall()
    }
    # The roster's second row spans lines 3–4 (a quoted line break) and line 7 is empty.
    assert found[("civil_affairs_roster", 8)][0] == "conflicting_duplicate"
    assert "(lines 8, 9)" in found[("civil_affairs_roster", 9)][1]
    assert found[("civil_affairs_roster", 12)][0] == "unknown_village"
    assert found[("civil_affairs_roster", 14)][0] == "blank_required:name"
    # An ID pasted into household_no is quoted masked.
    rule, reason = found[("civil_affairs_roster", 16)]
    assert rule == "bad_household_no" and "'3311**********0014'" in reason
    # The visits' first row spans lines 2–3.
    assert found[("official_visits", 4)][0] == "bad_datetime"
    assert found[("official_visits", 5)][0] == "outside_month"
    rule, reason = found[("official_visits", 7)]
    assert rule == "household_rejected" and "unknown_village on line 12" in reason
    rule, reason = found[("medical_claims", 3)]
    assert rule == "person_rejected" and "blank_required:name on line 14" in reason
    assert found[("disability_registry", 8)][0] == "person_rejected"  # sheet row
    assert found[("bank_deposits", 3)] == (
        "bad_date",
        "check_date '2024-06-1' is not a date (YYYY-MM-DD)",
    )
    assert found[("subsidy_ledger", 4)][0] == "unknown_policy"


def test_no_raw_id_or_phone_anywhere(messy: RunResult, mconn: psycopg.Connection) -> None:
    tables = [
        r[0]
        for r in mconn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r'"
        ).fetchall()
    ]
    assert {"quarantine", "visit_202406", "person_202406", "etl_feed_report"} <= set(tables)
    for table in tables:
        with mconn.cursor().copy(
            sql.SQL("COPY {} TO STDOUT").format(sql.Identifier(table))
        ) as copy:
            text = unicodedata.normalize("NFKC", b"".join(bytes(c) for c in copy).decode())
        digits = re.sub(r"[ \-]", "", text).upper()
        for raw in RAW_IDS + RAW_PHONES:
            assert raw not in digits, (table, raw[:4])


def test_rerun_is_a_no_op(messy: RunResult, messy_url: str, tmp_path: Path) -> None:
    folder = tmp_path / MONTH
    shutil.copytree(FIXTURE, folder)
    assert _run(messy_url, folder).status == "unchanged"
    forced = _run(messy_url, folder, force=True)
    assert forced.content_checksum == messy.content_checksum


def _cut_last_field(path: Path, old: bytes, new: bytes) -> None:
    data = path.read_bytes().rstrip(b"\n")
    assert data.endswith(old)
    path.write_bytes(data[: -len(old)] + new)


@pytest.mark.parametrize(
    ("damage", "file", "problem"),
    [
        ("cut_date", "bank_deposits", "truncated: its last line (5) ends without a line break"),
        ("cut_amount", "medical_claims", "last field out_of_pocket = '20.0' is cut short"),
        ("header_only_roster", "civil_affairs_roster", "holds only its header"),
        ("header_only_income", "income_survey", "holds only its header"),
        ("gbk_line", "medical_claims", "line 5 is not UTF-8 (GBK?)"),
    ],
)
def test_files_that_stop_the_run(
    messy: RunResult,
    messy_url: str,
    mconn: psycopg.Connection,
    tmp_path: Path,
    damage: str,
    file: str,
    problem: str,
) -> None:
    folder = tmp_path / MONTH
    shutil.copytree(FIXTURE, folder)
    path = next(folder.glob(f"{file}_*"))
    if damage == "cut_date":
        _cut_last_field(path, b"2024-06-12", b"2024-06-1")
    elif damage == "cut_amount":
        _cut_last_field(path, b"20.00", b"20.0")
    elif damage.startswith("header_only"):
        path.write_bytes(path.read_bytes().split(b"\n", 1)[0] + b"\n")
    else:
        lines = path.read_bytes().split(b"\n")
        lines[4] = lines[4].decode().encode("gbk")
        path.write_bytes(b"\n".join(lines))
    before = mconn.execute("SELECT run_id, content_checksum FROM published_month").fetchall()
    with pytest.raises(FeedUnreadable) as caught:
        _run(messy_url, folder)
    assert path.name in str(caught.value)
    assert problem in str(caught.value)
    assert mconn.execute("SELECT run_id, content_checksum FROM published_month").fetchall() == (
        before
    )
    message = mconn.execute("SELECT message FROM etl_run ORDER BY run_id DESC LIMIT 1").fetchone()
    if message and message[0]:  # a stop while validating is recorded with the file's name
        assert path.name in message[0]


@pytest.fixture(scope="module")
def empty_url(database_url: str) -> Iterator[str]:
    """A database that exists but was never initialised."""
    admin_url = _with_database(database_url, "postgres")
    name = f"onemap_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield _with_database(database_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.mark.parametrize(
    ("verb", "where", "says"),
    [
        (["derive", "--month", MONTH], "empty", "is not initialised: run `onemap init`"),
        (["etl", "run", str(FIXTURE), "--month", MONTH], "empty", "run `onemap init`"),
        (["users", "list"], "empty", "is not initialised: run `onemap init`"),
        (["derive", "--month", MONTH], "unreachable", "cannot connect to the database"),
    ],
)
def test_verbs_on_a_database_that_is_not_ready_say_what_to_run(
    empty_url: str, verb: list[str], where: str, says: str
) -> None:
    url = empty_url if where == "empty" else "postgresql://nobody:x@127.0.0.1:1/onemap"
    result = subprocess.run(
        [sys.executable, "-m", "onemap", *verb],
        env=os.environ | {"DATABASE_URL": url, "ONEMAP_ETL_HMAC_KEY": KEY.decode()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unexpected_failure_names_the_file(
    messy: RunResult,
    messy_url: str,
    mconn: psycopg.Connection,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import etl.run

    real = etl.run.validate

    def broken(raw, spec, refs):  # type: ignore[no-untyped-def]
        if spec.name == "income_survey":
            raise ValueError("zero-size array to reduction operation maximum")
        return real(raw, spec, refs)

    monkeypatch.setattr(etl.run, "validate", broken)
    folder = tmp_path / MONTH
    shutil.copytree(FIXTURE, folder)
    with pytest.raises(FeedFailed) as caught:
        _run(messy_url, folder, force=True)
    assert "income_survey_2024-06.csv" in caught.value.user_msg
    message = mconn.execute("SELECT message FROM etl_run ORDER BY run_id DESC LIMIT 1").fetchone()
    assert message is not None and message[0].startswith("income_survey_2024-06.csv: ")
