"""The assistance loop's domain: roster, pairing rule, routing with deadlines, scoped and
versioned actions (the app check and row-level security each refuse on their own), audit."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import psycopg
import pytest

from analytics import actions
from analytics.actions import (
    InvalidAction,
    Location,
    NotYours,
    act_on_warning,
    add_plan_item,
    reassign,
    record_visit,
)
from analytics.assist_settings import AssistanceSettings
from analytics.inbox import inbox_count, open_inbox
from analytics.lifecycle import StaleVersion
from analytics.pairing import RosterError, official_loads, read_roster
from analytics.routing import refresh_rollups
from core import audit
from tests.assist_fixtures import FIRST, Field, field_fixture  # noqa: F401 — the fixture


def _version(url: str, warning_id: int) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT version FROM warning WHERE warning_id = %s", (warning_id,)
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_roster_names_every_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(
        "official_id,name,work_phone,villages,position\n"
        "O3311220001,张三,0578-1234567,331122001001,驻村干部\n"
        "X1,李四,0578-1234567,331122001001,驻村干部\n"
        "O3311220002,王五,13800000000,33112200100,驻村干部\n",
        encoding="utf-8",
    )
    with pytest.raises(RosterError) as caught:
        read_roster(path)
    message = str(caught.value)
    assert "row 3, field official_id" in message
    assert "row 4, field work_phone" in message and "row 4, field villages" in message
    assert "row 2" not in message


def test_initial_pairing_follows_the_roster(field: Field) -> None:
    with psycopg.connect(field.url) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM household WHERE month = %(m)s),"
            " (SELECT count(DISTINCT household_id) FROM pairing WHERE valid_to IS NULL),"
            " (SELECT count(*) FROM pairing p JOIN official o USING (official_id)"
            "  WHERE p.valid_to IS NULL AND NOT p.village_code = ANY(o.villages)"
            "  AND p.reason = 'initial pairing'),"
            " (SELECT count(*) FROM (SELECT household_id FROM pairing WHERE valid_to IS NULL"
            "  GROUP BY 1 HAVING count(*) > 1) d)",
            {"m": FIRST},
        ).fetchone()
        assert counts is not None
        households, paired, outside, doubled = counts
        history = conn.execute("SELECT count(*) FROM pairing WHERE valid_to IS NOT NULL").fetchone()
        loads = official_loads(conn, 30, area="331122")
    assert paired == households and outside == 0 and doubled == 0
    assert history is not None and history[0] >= 2  # the setup's re-pairings left history
    assert max(x.households for x in loads) - min(x.households for x in loads) <= 40
    assert all(x.over == (x.households > 30) for x in loads)


def test_warnings_get_deadlines_by_level_and_gaps_become_tasks(field: Field) -> None:
    with psycopg.connect(field.url) as conn:
        hours = conn.execute(
            "SELECT level, min(extract(epoch FROM due_at - raised_at) / 3600),"
            " max(extract(epoch FROM due_at - raised_at) / 3600) FROM warning GROUP BY 1"
        ).fetchall()
        gaps = conn.execute(
            "SELECT (SELECT count(*) FROM benefit WHERE month = %s AND state = 'gap'),"
            " (SELECT count(*) FROM task WHERE kind = 'benefit_gap'),"
            " (SELECT count(*) FROM task t JOIN pairing p ON p.household_id = t.household_id"
            "  AND p.valid_to IS NULL WHERE t.official_id = p.official_id)",
            (FIRST,),
        ).fetchone()
    assert {level: (lo, hi) for level, lo, hi in hours} == {
        "red": (3, 3),
        "orange": (24, 24),
        "yellow": (72, 72),
    }
    assert gaps is not None and gaps[0] > 0 and gaps[0] == gaps[1] == gaps[2]


def test_official_acts_only_on_households_paired_with_them(field: Field) -> None:
    with psycopg.connect(field.url) as conn:
        sibling_warning = conn.execute(
            "SELECT warning_id, version FROM warning WHERE official_id = %s AND status = 'raised'"
            " AND village_code = %s LIMIT 1",
            (field.sibling_id, field.village),
        ).fetchone()
    assert sibling_warning is not None
    for warning_id, version in (sibling_warning, (field.other_county_warning, 0)):
        with pytest.raises(NotYours):
            act_on_warning(
                field.official,
                warning_id,
                "acknowledge",
                version=version,
                note=None,
                request_id="t-scope",
            )
    assert _version(field.url, sibling_warning[0]) == sibling_warning[1]


def test_row_level_security_refuses_without_the_app_check(
    field: Field, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(actions, "check_may_act", lambda actor, paired: None)
    with psycopg.connect(field.url) as conn:
        row = conn.execute(
            "SELECT warning_id, version FROM warning WHERE official_id = %s AND status = 'raised'"
            " AND village_code = %s LIMIT 1",
            (field.sibling_id, field.village),
        ).fetchone()
        sibling_household = conn.execute(
            "SELECT household_id FROM pairing WHERE official_id = %s AND valid_to IS NULL"
            " AND village_code = %s LIMIT 1",
            (field.sibling_id, field.village),
        ).fetchone()
    assert row is not None and sibling_household is not None
    with pytest.raises(NotYours):
        act_on_warning(
            field.official, row[0], "acknowledge", version=row[1], note=None, request_id="t-rls"
        )
    with pytest.raises(NotYours, match="row-level security"):
        record_visit(field.official, sibling_household[0], note="不在场", request_id="t-rls")
    assert _version(field.url, row[0]) == row[1]


def test_two_sessions_acknowledging_one_warning(field: Field) -> None:
    with psycopg.connect(field.url) as conn:
        row = conn.execute(
            "SELECT warning_id, version FROM warning WHERE official_id = %s AND status = 'raised'"
            " AND warning_id <> %s ORDER BY warning_id LIMIT 1",
            (field.official_id, field.red_warning),
        ).fetchone()
    if row is None:  # the official has only the journey's warning: give them another
        pytest.skip("no second warning for the official")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def acknowledge() -> None:
        barrier.wait()
        try:
            act_on_warning(
                field.official,
                row[0],
                "acknowledge",
                version=row[1],
                note=None,
                request_id="t-race",
            )
            outcomes.append("done")
        except StaleVersion:
            outcomes.append("conflict")

    threads = [threading.Thread(target=acknowledge) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict", "done"]
    assert _version(field.url, row[0]) == row[1] + 1


def test_the_loop_acknowledge_visit_plan_resolve(field: Field) -> None:
    url, user, warning_id = field.url, field.official, field.red_warning
    assert inbox_count(user)[0] >= 1
    inbox = open_inbox(user, "t-loop")
    first = inbox.items[0]
    assert first.level == "red" and first.kind == "warning"
    assert {i.item_id for i in inbox.items if i.kind == "warning"} >= {warning_id}
    version = _version(url, warning_id)
    done = act_on_warning(
        user, warning_id, "acknowledge", version=version, note=None, request_id="t-loop"
    )
    household = done.household_id
    with psycopg.connect(url) as conn:
        place = conn.execute(
            "SELECT ST_Y(geom), ST_X(geom) FROM household WHERE household_id = %s AND month = %s",
            (household, FIRST),
        ).fetchone()
    assert place is not None
    record_visit(
        user,
        household,
        note="入户核实，家中有病人",
        request_id="t-loop",
        location=Location(place[0] + 0.02, place[1]),  # ~2.2 km away: a supervision finding
    )
    add_plan_item(
        user,
        household,
        measure="medical_aid",
        owner="村卫生室",
        start=FIRST,
        due=FIRST + dt.timedelta(days=30),
        warning_id=warning_id,
        request_id="t-loop",
    )
    with pytest.raises(InvalidAction):
        add_plan_item(
            user,
            household,
            measure="bitcoin",
            owner="x",
            start=FIRST,
            due=FIRST,
            request_id="t-loop",
        )
    version = act_on_warning(
        user,
        warning_id,
        "verify",
        version=_version(url, warning_id),
        note=None,
        request_id="t-loop",
    ).version
    with pytest.raises(InvalidAction):
        act_on_warning(user, warning_id, "resolve", version=version, note=" ", request_id="t")
    act_on_warning(
        user, warning_id, "resolve", version=version, note="医疗救助已申请", request_id="t-loop"
    )
    refresh_rollups(psycopg.connect(url, autocommit=True), FIRST, AssistanceSettings())
    with psycopg.connect(url) as conn:
        visit = conn.execute(
            "SELECT distance_m, source FROM field_visit WHERE household_id = %s", (household,)
        ).fetchone()
        audited = conn.execute(
            "SELECT array_agg(route ORDER BY id) FROM audit_log WHERE request_id = 't-loop'"
        ).fetchone()
        rollup = conn.execute(
            "SELECT plan_covered FROM rollup WHERE month = %s AND code = %s", (FIRST, field.village)
        ).fetchone()
        verdict = audit.verify(conn)
    assert visit is not None and 2000 < visit[0] < 2500 and visit[1] == "app"
    assert audited is not None and audited[0] == [
        "/inbox",
        "action:warning.acknowledge",
        "action:visit.record",
        "action:plan.add",
        "action:warning.verify",
        "action:warning.resolve",
    ]
    assert rollup is not None and rollup[0] >= 1
    assert verdict.ok, verdict.summary()


def test_reassignment_by_the_town_only_and_within_the_cap(field: Field) -> None:
    with psycopg.connect(field.url) as conn:
        households = [
            r[0]
            for r in conn.execute(
                "SELECT household_id FROM pairing WHERE official_id = %s AND valid_to IS NULL"
                " AND village_code LIKE %s ORDER BY 1 LIMIT 2",
                (field.sibling_id, field.village[:9] + "%"),
            ).fetchall()
        ]
    assert households
    with pytest.raises(NotYours):
        reassign(field.official, households, field.official_id, reason="x", request_id="t")
    with pytest.raises(InvalidAction, match="at most 1"):
        reassign(
            field.town,
            households,
            field.official_id,
            reason="调岗",
            request_id="t-move",
            settings=AssistanceSettings(max_households_per_official=1),
        )
    moved = reassign(
        field.town,
        households,
        field.official_id,
        reason="调岗",
        request_id="t-move",
        allow_over=True,
    )
    assert moved == len(households)
    with psycopg.connect(field.url) as conn:
        rows = conn.execute(
            "SELECT household_id, official_id, valid_to IS NULL FROM pairing"
            " WHERE household_id = ANY(%s) ORDER BY household_id, pairing_id",
            (households,),
        ).fetchall()
        row = conn.execute(
            "SELECT household_ids FROM audit_log WHERE request_id = 't-move'"
        ).fetchone()
    current = {h: o for h, o, now in rows if now}
    assert current == dict.fromkeys(households, field.official_id)
    assert len(rows) > len(households)  # the old pairings stay as history
    assert row is not None and sorted(row[0]) == sorted(households)
