"""Derived analytics on real PostGIS: warning factors at their boundaries, benefit states of
hand-built households, rollups that add up, supervision findings and reproducibility."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import psycopg
import pytest
from psycopg import sql
from pydantic import ValidationError

from analytics.benefits import benefit_statement
from analytics.catalog import load_catalog, portrait_fields
from analytics.lifecycle import BadTransition, advance
from analytics.run import DeriveResult, derive_month, month_checksum, sync_policies
from analytics.warning_factors import Registry, load_factors, warning_params, warning_statements
from tests.conftest import MONTH, SETTINGS

#: A month no fixture loads: hand-built rows live there.
HAND = dt.date(2031, 1, 1)
_HOUSEHOLD_COLUMNS = (
    "month, household_id, county_code, village_code, status, size, mountain, income_per_capita,"
    " income_prev, income_last_year, income_change_pct, housing_grade, water_safe, water_source,"
    " deposit_total, oop_medical, education_net, in_disaster, hazard, new_disability,"
    " official_id, last_visit"
)


@pytest.fixture
def hand(rolled_back: psycopg.Connection) -> psycopg.Connection:
    """A transaction for hand-built rows (in their own month's partitions), rolled back."""
    for table in ("household_features", "member_features", "benefit"):
        rolled_back.execute(
            sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES IN ({})").format(
                sql.Identifier(f"{table}_hand"), sql.Identifier(table), sql.Literal(HAND)
            )
        )
    return rolled_back


def household(conn: psycopg.Connection, household_id: str, **values: object) -> None:
    row = {
        "month": HAND,
        "household_id": household_id,
        "county_code": "331122",
        "village_code": "331122101201",
        "status": "低保",
        "size": 2,
        "mountain": True,
        "income_per_capita": 1000,
        "income_prev": 1000,
        "income_last_year": 1000,
        "income_change_pct": 0,
        "housing_grade": "A",
        "water_safe": True,
        "water_source": "自来水",
        "deposit_total": 0,
        "oop_medical": 0,
        "education_net": 0,
        "in_disaster": False,
        "hazard": 0.1,
        "new_disability": False,
        "official_id": None,
        "last_visit": None,
    } | values
    columns = _HOUSEHOLD_COLUMNS.split(", ")
    conn.execute(
        "INSERT INTO household_features ("
        + _HOUSEHOLD_COLUMNS
        + ") VALUES ("
        + ", ".join(["%s"] * len(columns))
        + ")",
        [row[c.strip()] for c in columns],
    )


def member(conn: psycopg.Connection, household_id: str, token: str, **values: object) -> None:
    row = {
        "age": 50,
        "sex": "男",
        "relation": "户主",
        "disability_grade": None,
        "disability_type": None,
        "is_student": False,
        "school_stage": None,
        "chronic_illness": False,
        "serious_illness": False,
        "oop_medical": 0,
        "oop_inpatient": 0,
        "oop_chronic": 0,
        "oop_serious": 0,
        "education_aid": 0,
        "deposit": 0,
    } | values
    conn.execute(
        "INSERT INTO member_features (month, person_token, household_id, county_code, "
        + ", ".join(row)
        + ") VALUES (%s, %s, %s, '331122', "
        + ", ".join(["%s"] * len(row))
        + ")",
        [HAND, token, household_id, *row.values()],
    )


def scores(conn: psycopg.Connection) -> dict[str, tuple[float, str | None, list[str]]]:
    params = warning_params(SETTINGS, HAND, dt.datetime.now(dt.UTC))
    conn.execute(warning_statements()[0], params)
    rows = conn.execute(
        "SELECT household_id, score, level, factors, reasons_zh, reasons_en FROM warning_score"
    ).fetchall()
    for row in rows:
        assert len(row[4]) == len(row[5]) == len(row[3])  # a reason in each language per factor
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


@pytest.mark.parametrize(
    ("values", "factor", "points"),
    [
        ({"oop_medical": 2000}, "illness", 30),  # exactly 1× a month's household income
        ({"oop_medical": 1999}, None, 0),
        ({"oop_medical": 6000}, "illness", 45),  # 3×
        ({"education_net": 2000}, "schooling", 20),
        ({"education_net": 1999}, None, 0),
        ({"in_disaster": True}, "disaster", 35),
        ({"hazard": 0.7}, "disaster", 15),
        ({"hazard": 0.69}, None, 0),
        ({"income_change_pct": -30}, "income_drop", 30),
        ({"income_change_pct": -29.9}, None, 0),
        ({"status": "低边", "income_per_capita": 1144}, "income_low", 25),
        ({"status": "低边", "income_per_capita": 1145}, None, 0),
        ({"new_disability": True}, "new_disability", 25),
        ({"housing_grade": "C"}, "unsafe_housing", 20),
        ({"housing_grade": "B"}, None, 0),
        ({"water_safe": False}, "unsafe_water", 10),
        ({"deposit_total": 100_001}, "deposit_above_threshold", 40),
        ({"deposit_total": 100_000}, None, 0),
    ],
)
def test_each_warning_factor_at_its_threshold(
    hand: psycopg.Connection, values: dict[str, object], factor: str | None, points: float
) -> None:
    household(hand, "HT1", **values)
    # A household with no factor gets no score row.
    score, _level, factors = scores(hand).get("HT1", (0, None, []))
    assert score == points
    assert factors == ([factor] if factor else [])


@pytest.mark.parametrize(
    ("values", "level"),
    [
        ({"new_disability": True}, "yellow"),  # 25
        ({"income_change_pct": -35}, "yellow"),  # 30
        ({"deposit_total": 500_000}, "orange"),  # 40
        # 25 + 10 + 20 = 55: three small factors make orange, not red
        ({"new_disability": True, "water_safe": False, "housing_grade": "D"}, "orange"),
        ({"oop_medical": 2000, "income_change_pct": -40}, "red"),  # 30+30 = 60
        ({"water_safe": False}, None),  # 10: no warning
    ],
)
def test_levels_come_from_several_factors(
    hand: psycopg.Connection, values: dict[str, object], level: str | None
) -> None:
    household(hand, "HT2", **values)
    _score, got, _factors = scores(hand)["HT2"]
    assert got == level


def test_each_reason_shows_the_tier_that_held(hand: psycopg.Connection) -> None:
    household(hand, "HR1", in_disaster=True, hazard=0.9)
    household(hand, "HR2", hazard=0.93, status="低边", income_per_capita=1000.4)
    scores(hand)
    rows = hand.execute("SELECT household_id, reasons_zh, reasons_en FROM warning_score")
    reasons = {r[0]: (r[1], r[2]) for r in rows.fetchall()}
    assert reasons["HR1"] == (
        ["本月住所位于灾害影响范围内"],
        ["home inside this month's disaster area"],
    )
    assert reasons["HR2"][0] == [
        "住所位于地质灾害高易发区（易发度 0.93）",
        "低边户人均收入 1000 元，低于低保标准",
    ]
    assert reasons["HR2"][1][0] == "home on a high-susceptibility hazard cell (0.93)"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"column": "income; DROP TABLE warning"}, "unknown column"),
        ({"setting": "red"}, "not a threshold or points field"),
        ({"setting": None}, "either a setting or a value"),
        ({"value": "C", "setting": None, "op": "in"}, "list value"),
    ],
)
def test_a_wrong_factor_declaration_is_refused(change: dict[str, object], message: str) -> None:
    raw = load_factors().model_dump(mode="json")
    raw["factors"][0]["tiers"][0]["tests"][0] |= change
    with pytest.raises(ValidationError, match=re.escape(message)):
        Registry.model_validate(raw)
    raw = load_factors().model_dump(mode="json")
    raw["factors"][0]["reason"]["zh"] = "只有一个 %s"
    with pytest.raises(ValidationError, match="one %s per arg"):
        Registry.model_validate(raw)


def benefits(conn: psycopg.Connection, month: int = 6) -> dict[tuple[str, str], tuple]:  # type: ignore[type-arg]
    statement, params = benefit_statement(load_catalog(), month)
    conn.execute("DELETE FROM benefit WHERE month = %s", (HAND,))
    conn.execute(statement, {**params, "month": HAND})
    rows = conn.execute(
        "SELECT household_id, policy_code, state, amount_due, amount_paid"
        " FROM benefit WHERE month = %s",
        (HAND,),
    ).fetchall()
    return {(r[0], r[1]): r[2:] for r in rows}


def pay(conn: psycopg.Connection, household_id: str, policy: str, amount: float) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS subsidy_203101 PARTITION OF subsidy"
        " FOR VALUES IN ('2031-01-01')"
    )
    conn.execute(
        "INSERT INTO subsidy VALUES (%s, %s, '331122', %s, %s, '民政局')",
        (HAND, household_id, policy, amount),
    )


def test_hand_built_households_get_the_right_benefit_states(hand: psycopg.Connection) -> None:
    sync_policies(hand)
    # A dibao household of two with income 800: P001 due (1145 - 800) × 2 = 690, paid: received.
    household(hand, "HB1", status="低保", size=2, income_per_capita=800)
    member(hand, "HB1", "t1", age=85)
    member(hand, "HB1", "t2", age=60, relation="配偶", disability_grade=1, disability_type="肢体")
    pay(hand, "HB1", "P001", 690)
    # An extremely poor person living alone, nothing paid: P002 is a gap.
    household(hand, "HB2", status="特困", size=1)
    member(hand, "HB2", "t3", age=70)
    # A near-poor household above the income line paid dibao: an anomaly.
    household(hand, "HB3", status="低边", size=1, income_per_capita=2000)
    member(hand, "HB3", "t4", age=40)
    pay(hand, "HB3", "P001", 300)
    # Unsafe water and a C-grade house: gaps for P036 and P033.
    household(
        hand,
        "HB4",
        status="低边",
        size=1,
        income_per_capita=2000,
        water_safe=False,
        housing_grade="C",
    )
    member(hand, "HB4", "t5", age=40)
    got = benefits(hand)
    assert got[("HB1", "P001")] == ("received", Decimal("690.00"), Decimal("690.00"))
    assert got[("HB1", "P045")][0] == "gap"  # 85-year-old: old-age allowance
    assert got[("HB1", "P045")][1] == Decimal("100.00")
    assert got[("HB1", "P040")][:2] == ("gap", Decimal("360.00"))  # grade-1 disability care
    assert got[("HB2", "P002")] == ("gap", Decimal("1488.50"), None)  # 1.3 × 1145
    assert ("HB2", "P001") not in got
    assert got[("HB3", "P001")] == ("anomaly", None, Decimal("300.00"))
    assert got[("HB4", "P036")][0] == "gap"
    assert got[("HB4", "P033")][0] == "gap"
    assert ("HB4", "P058") not in got  # discretionary: not a gap when not paid
    assert ("HB2", "P016") not in got  # paid in January only: not a gap in June
    assert benefits(hand, month=1)[("HB2", "P016")][0] == "gap"


def test_every_policy_compiles_and_runs(derived: DeriveResult, conn: psycopg.Connection) -> None:
    catalog = load_catalog()
    assert len(catalog.policies) >= 60
    assert len({p.category for p in catalog.policies}) >= 4
    stored = conn.execute("SELECT count(*) FROM policy").fetchone()
    assert stored == (len(catalog.policies),)
    states = dict(
        conn.execute(
            "SELECT state, count(*) FROM benefit WHERE month = %s::date GROUP BY 1",
            (f"{MONTH}-01",),
        ).fetchall()
    )
    assert states["received"] > 10_000 and states["gap"] > 100 and states["anomaly"] > 0
    inconsistent = conn.execute(
        """SELECT count(*) FROM benefit WHERE month = %s::date AND NOT (
               (state = 'received' AND eligible AND received) OR
               (state = 'gap' AND eligible AND NOT received) OR
               (state = 'anomaly' AND NOT eligible AND received))""",
        (f"{MONTH}-01",),
    ).fetchone()
    assert inconsistent == (0,)


ADDITIVE = (
    "households",
    "people",
    "entries",
    "exits",
    "warnings_red",
    "warnings_orange",
    "warnings_yellow",
    "benefit_gaps",
    "benefit_anomalies",
    "housing_assessed",
    "unsafe_housing",
    "water_checked",
    "unsafe_water",
    "visited_30d",
    "portrait_fields_auto",
    "portrait_fields_total",
)


def test_rollups_add_up_level_by_level(derived: DeriveResult, conn: psycopg.Connection) -> None:
    child, parent = psycopg.sql.Identifier("c"), psycopg.sql.Identifier("p")
    checks = psycopg.sql.SQL(", ").join(
        psycopg.sql.SQL("sum({}) = {}").format(
            psycopg.sql.Identifier("c", m), psycopg.sql.Identifier("p", m)
        )
        for m in ADDITIVE
    )
    grouped = psycopg.sql.SQL(", ").join(psycopg.sql.Identifier("p", m) for m in ADDITIVE)
    query = psycopg.sql.SQL(
        """SELECT p.code, p.level, {checks} FROM rollup {p}
           JOIN rollup {c} ON c.month = p.month AND left(c.code, length(p.code)) = p.code
               AND length(c.code) = CASE length(p.code) WHEN 2 THEN 4 WHEN 4 THEN 6
                                    WHEN 6 THEN 9 WHEN 9 THEN 12 END
           WHERE p.month = %s::date AND p.level <> 'village'
           GROUP BY p.code, p.level, {grouped}"""
    ).format(checks=checks, grouped=grouped, p=parent, c=child)
    rows = conn.execute(query, (f"{MONTH}-01",)).fetchall()
    levels = {r[1] for r in rows}
    assert levels == {"province", "city", "county", "town"}
    for code, _level, *checks in rows:
        assert all(checks), code
    province = conn.execute(
        "SELECT households, warnings_red + warnings_orange + warnings_yellow,"
        " portrait_fields_auto::float / portrait_fields_total FROM rollup"
        " WHERE month = %s::date AND code = '33'",
        (f"{MONTH}-01",),
    ).fetchone()
    published = conn.execute(
        "SELECT households FROM published_month WHERE month = %s::date", (f"{MONTH}-01",)
    ).fetchone()
    assert province is not None and published is not None
    assert province[0] == published[0]
    assert province[1] > 0
    # The data-sharing rate lies between the fields every household gets from the roster and
    # all fields but the hand-typed ones.
    fields = portrait_fields()
    assert len(fields) == 61
    always = sum(1 for f in fields if f.automatic and f.requires is None)
    automatic = sum(1 for f in fields if f.automatic)
    assert always / 61 < province[2] < automatic / 61


def test_supervision_finds_what_auditors_look_for(
    derived: DeriveResult, conn: psycopg.Connection
) -> None:
    kinds = dict(
        conn.execute(
            "SELECT kind, count(*) FROM supervision_finding WHERE month = %s::date GROUP BY 1",
            (f"{MONTH}-01",),
        ).fetchall()
    )
    for kind in ("far_visit", "odd_hour", "copied_content", "not_visited_90", "benefit_anomaly"):
        assert kinds.get(kind, 0) > 0, kind
    far = conn.execute(
        "SELECT min(distance_m) FROM supervision_finding WHERE month = %s::date"
        " AND kind = 'far_visit'",
        (f"{MONTH}-01",),
    ).fetchone()
    assert far is not None and far[0] > 1000
    odd = conn.execute(
        "SELECT max(extract(hour FROM visit_time)) FROM supervision_finding"
        " WHERE month = %s::date AND kind = 'odd_hour'",
        (f"{MONTH}-01",),
    ).fetchone()
    assert odd is not None and odd[0] < 5
    totals = conn.execute(
        "SELECT sum(far_visits), sum(odd_hour_visits) FROM"
        " supervision_official WHERE month = %s::date",
        (f"{MONTH}-01",),
    ).fetchone()
    assert totals == (kinds["far_visit"], kinds["odd_hour"])


def test_warnings_have_reasons_officials_and_response_times(
    derived: DeriveResult, conn: psycopg.Connection
) -> None:
    row = conn.execute(
        """SELECT count(*), count(*) FILTER (WHERE cardinality(reasons_zh) > 0
                                             AND cardinality(reasons_en) > 0),
                  count(DISTINCT level), count(acknowledged_at)
           FROM warning WHERE opened_month = %s::date""",
        (f"{MONTH}-01",),
    ).fetchone()
    assert row is not None
    total, with_reasons, levels, acknowledged = row
    assert total > 100 and with_reasons == total and levels == 3
    assert 0.8 * total < acknowledged < total
    response = conn.execute(
        "SELECT response_minutes_median FROM rollup WHERE month = %s::date AND code = '33'",
        (f"{MONTH}-01",),
    ).fetchone()
    assert response is not None and 30 < response[0] < 300


def test_the_same_month_derived_twice_is_identical(
    derived: DeriveResult, database_url: str
) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        again = derive_month(conn, MONTH, SETTINGS, checksum=True)
    assert again.checksum == derived.checksum
    assert again.counts == derived.counts


def test_warning_lifecycle(derived: DeriveResult, conn: psycopg.Connection) -> None:
    warning_id, raised_at = conn.execute(
        "SELECT warning_id, raised_at FROM warning WHERE status = 'raised' LIMIT 1"
    ).fetchone()  # type: ignore[misc]
    with pytest.raises(BadTransition, match="cannot become resolved"):
        advance(conn, warning_id, "resolved", actor="tester")
    with pytest.raises(BadTransition, match="needs a reason"):
        advance(conn, warning_id, "dismissed", actor="tester", note=" ")
    at = raised_at + dt.timedelta(hours=2)
    advance(conn, warning_id, "acknowledged", actor="tester", at=at)
    advance(
        conn,
        warning_id,
        "dismissed",
        actor="tester",
        note="核实后不属实",
        at=at + dt.timedelta(days=1),
    )
    status, acknowledged, closed, reason = conn.execute(
        "SELECT status, acknowledged_at, closed_at, dismiss_reason FROM warning"
        " WHERE warning_id = %s",
        (warning_id,),
    ).fetchone()  # type: ignore[misc]
    assert (status, reason) == ("dismissed", "核实后不属实")
    assert acknowledged - raised_at == dt.timedelta(hours=2)
    assert closed > acknowledged
    events = [
        r[0]
        for r in conn.execute(
            "SELECT status FROM warning_event WHERE warning_id = %s ORDER BY at", (warning_id,)
        ).fetchall()
    ]
    assert events == ["raised", "acknowledged", "dismissed"]


#: For every policy, a household (field overrides) and its members that satisfy the rule.
_STUDENT = {"age": 10, "is_student": True, "education_aid": 500}
POLICY_CASES: dict[str, tuple[dict[str, object], list[dict[str, object]]]] = {
    "P001": ({"status": "低保"}, [{}]),
    "P002": ({"status": "特困"}, [{}]),
    "P003": ({"status": "特困"}, [{"age": 85}]),
    "P004": ({"status": "低边", "income_per_capita": 1200}, [{}]),
    "P005": ({"status": "低保", "size": 1}, [{}]),
    "P006": ({"status": "低保"}, [{"serious_illness": True}]),
    "P007": ({}, [{}]),
    "P008": ({}, [{"age": 10}]),
    "P009": ({}, [{"age": 10, "relation": "孙子女"}, {"age": 70, "relation": "户主"}]),
    "P010": ({}, [{}]),
    "P011": ({}, [{}]),
    "P012": ({"mountain": False}, [{}]),
    "P013": ({}, [{"oop_inpatient": 500, "oop_medical": 500}]),
    "P014": ({}, [{"oop_chronic": 500, "oop_medical": 500}]),
    "P015": ({}, [{"oop_serious": 20000, "oop_medical": 20000}]),
    "P016": ({}, [{}]),
    "P017": ({}, [{"oop_serious": 800, "oop_medical": 800}]),
    "P018": ({}, [{"chronic_illness": True}]),
    "P019": ({}, [{"disability_type": "精神", "disability_grade": 2}]),
    "P020": ({}, [{"age": 65}]),
    "P021": ({}, [{}]),
    "P022": ({}, [{"age": 92}]),
    "P023": ({}, [_STUDENT | {"age": 5, "school_stage": "学前"}]),
    "P024": ({}, [_STUDENT | {"school_stage": "小学"}]),
    "P025": ({}, [_STUDENT | {"age": 16, "school_stage": "高中"}]),
    "P026": ({}, [_STUDENT | {"age": 16, "school_stage": "高中"}]),
    "P027": ({}, [_STUDENT | {"age": 16, "school_stage": "中职"}]),
    "P028": ({}, [_STUDENT | {"age": 16, "school_stage": "中职"}]),
    "P029": ({}, [_STUDENT | {"age": 19, "school_stage": "大学"}]),
    "P030": ({}, [_STUDENT | {"age": 19, "school_stage": "大学"}]),
    "P031": ({}, [_STUDENT | {"age": 19, "school_stage": "大学"}]),
    "P032": ({"mountain": True}, [_STUDENT | {"age": 13, "school_stage": "初中"}]),
    "P033": ({"housing_grade": "C"}, [{}]),
    "P034": ({"mountain": False}, [{}]),
    "P035": ({"housing_grade": "B"}, [{}]),
    "P036": ({"water_safe": False}, [{}]),
    "P037": ({"mountain": True}, [{}]),
    "P038": ({}, [{"age": 85}]),
    "P039": ({}, [{"disability_grade": 3, "disability_type": "肢体"}]),
    "P040": ({}, [{"disability_grade": 1, "disability_type": "肢体"}]),
    "P041": ({}, [{"disability_grade": 3, "disability_type": "视力"}]),
    "P042": ({}, [{"age": 10, "disability_grade": 3, "disability_type": "肢体"}]),
    "P043": ({}, [{"disability_grade": 1, "disability_type": "智力"}]),
    "P044": (
        {},
        [_STUDENT | {"school_stage": "小学", "disability_grade": 3, "disability_type": "肢体"}],
    ),
    "P045": ({}, [{"age": 85}]),
    "P046": ({}, [{"age": 40}]),
    "P047": ({"size": 1}, [{"age": 75}]),
    "P048": ({}, [{"age": 101}]),
    "P049": ({}, [{"age": 70, "disability_grade": 1, "disability_type": "肢体"}]),
    "P050": ({}, [{"age": 40}]),
    "P051": ({}, [{"age": 40}]),
    "P052": ({"status": "低边", "income_per_capita": 2000}, [{"age": 40}]),
    "P053": ({}, [{"age": 40}]),
    "P054": ({"mountain": True}, [{"age": 50}]),
    "P055": ({"in_disaster": True}, [{}]),
    "P056": ({"in_disaster": True, "housing_grade": "C"}, [{}]),
    "P057": ({"in_disaster": True}, [{}]),
    "P058": ({}, [{}]),
    "P059": ({}, [{}]),
    "P060": ({}, [{}]),
}


def test_a_hand_built_household_per_policy(hand: psycopg.Connection) -> None:
    """Each policy: an eligible household paid → received; one not paid → a gap, unless the
    policy is discretionary or not paid that month; an ineligible one paid → an anomaly."""
    catalog = load_catalog()
    assert set(POLICY_CASES) == {p.code for p in catalog.policies}
    sync_policies(hand)
    for policy in catalog.policies:
        overrides, members = POLICY_CASES[policy.code]
        for suffix in ("paid", "unpaid"):
            key = f"{policy.code}-{suffix}"
            household(hand, key, **overrides)
            for n, values in enumerate(members):
                member(hand, key, f"{key}-{n}", **({"relation": "户主"} | values))
        pay(hand, f"{policy.code}-paid", policy.code, 100)
    # Nobody is eligible for the orphan allowance in a household with adults: paid → anomaly.
    household(hand, "ADULTS", status="低边", income_per_capita=3000)
    member(hand, "ADULTS", "ADULTS-0", age=40)
    pay(hand, "ADULTS", "P008", 100)
    months = {p.code: (p.paid_months or (6,))[0] for p in catalog.policies}
    for month in sorted(set(months.values())):
        got = benefits(hand, month=month)
        for policy in catalog.policies:
            if months[policy.code] != month:
                continue
            paid = got.get((f"{policy.code}-paid", policy.code))
            assert paid is not None and paid[0] == "received", policy.code
            unpaid = got.get((f"{policy.code}-unpaid", policy.code))
            if policy.counts_gap(month):
                assert unpaid is not None and unpaid[0] == "gap", policy.code
                assert unpaid[1] is not None and unpaid[1] >= 0, policy.code
            else:
                assert unpaid is None, policy.code
        if month == 6:
            assert got[("ADULTS", "P008")] == ("anomaly", None, Decimal("100.00"))


@pytest.mark.usefixtures("derived")
def test_a_failed_derive_leaves_the_published_month_intact(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from analytics.build import MonthBuild

    def fail(self: MonthBuild, conn: psycopg.Connection) -> None:
        raise RuntimeError("disk full")

    with psycopg.connect(database_url, autocommit=True) as conn:
        # Derived afresh first: earlier tests moved warnings along their lifecycle.
        derive_month(conn, MONTH, SETTINGS)
        before = month_checksum(conn, dt.date.fromisoformat(f"{MONTH}-01"))
        # A table left by a run that was killed is swept by the next run.
        conn.execute("CREATE TABLE benefit_202406_d1 (LIKE benefit)")
        monkeypatch.setattr(MonthBuild, "rollup_benefits", fail)
        with pytest.raises(RuntimeError, match="disk full"):
            derive_month(conn, MONTH, SETTINGS)
        assert month_checksum(conn, dt.date.fromisoformat(f"{MONTH}-01")) == before
        left = conn.execute(
            "SELECT relname FROM pg_class WHERE relname ~ '_[0-9]{6}_d[0-9]+$'"
        ).fetchall()
        assert left == []
        # The lock is released: the next run works.
        monkeypatch.undo()
        assert derive_month(conn, MONTH, SETTINGS, checksum=True).checksum == before[0]
