"""Months and trends: the view's month, the trend rollups against the facts they count, and the
statistics tables (with their downloads) against the rollups."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import psycopg
import pytest
from openpyxl import load_workbook

from analytics.assist_settings import AssistanceSettings
from analytics.routing import refresh_rollups
from analytics.trends import refresh_responses
from core import db
from core.access import Role, User
from core.audit import Audited
from dashboards.state import View
from dashboards.viewdata import load_view
from layers.statistics import area_statistics
from layers.wall import wall_version
from tests.conftest import MONTH, NEXT, logged_in_client, make_user
from tests.months import NEXT_FIRST, two_months

__all__ = ["two_months"]
COUNTY = "331122"
MONTH_FIRST = dt.date.fromisoformat(f"{MONTH}-01")


def test_view_carries_a_valid_month_only() -> None:
    view = View.from_search("?area=331122&month=2024-06&lang=en", "33")
    assert view.month == "2024-06"
    assert View.from_search(view.search(), "33") == view
    assert View.from_search("?area=331122&month=2024-13", "33").month is None
    assert View.from_search("?month=June", "33").month is None
    assert view.to_area("33").month == "2024-06"  # drilling keeps the month
    assert view.with_month(None).month is None


def test_trend_rollup_counts_what_happened(two_months: str, conn: psycopg.Connection) -> None:
    row = conn.execute(
        "SELECT warnings_new, responded_3h, gaps_opened, gaps_closed, below_line, income_known"
        " FROM trend_rollup WHERE month = %s AND code = %s",
        (NEXT_FIRST, COUNTY),
    ).fetchone()
    facts = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE acknowledged_at - raised_at <= interval '3h')"
        " FROM warning WHERE opened_month = %s AND county_code = %s",
        (NEXT_FIRST, COUNTY),
    ).fetchone()
    gaps = conn.execute(
        "WITH g AS (SELECT month, household_id, policy_code FROM benefit"
        " WHERE state = 'gap' AND county_code = %(c)s)"
        " SELECT (SELECT count(*) FROM g n WHERE n.month = %(next)s AND NOT EXISTS"
        "   (SELECT 1 FROM g o WHERE o.month = %(prev)s AND o.household_id = n.household_id"
        "    AND o.policy_code = n.policy_code)),"
        " (SELECT count(*) FROM g o WHERE o.month = %(prev)s AND NOT EXISTS"
        "   (SELECT 1 FROM g n WHERE n.month = %(next)s AND o.household_id = n.household_id"
        "    AND o.policy_code = n.policy_code))",
        {"c": COUNTY, "next": NEXT_FIRST, "prev": MONTH_FIRST},
    ).fetchone()
    below = conn.execute(
        "SELECT count(*) FILTER (WHERE income_per_capita < 1145), count(income_per_capita)"
        " FROM household_features WHERE month = %s AND county_code = %s",
        (NEXT_FIRST, COUNTY),
    ).fetchone()
    assert row is not None and facts is not None and gaps is not None and below is not None
    assert facts[0] > 0 and 0 < facts[1] < facts[0]  # officials answered most, not all, in 3 h
    assert row[:2] == facts
    assert row[2:4] == gaps and gaps[0] + gaps[1] > 0
    assert row[4:] == below
    # The first month has no month before it: nothing opened or closed, only a baseline.
    first = conn.execute(
        "SELECT sum(gaps_opened + gaps_closed) FROM trend_rollup WHERE month = %s",
        (MONTH_FIRST,),
    ).fetchone()
    assert first == (0,)


def test_refreshed_figures_are_a_new_data_version(
    two_months: str, conn: psycopg.Connection
) -> None:
    # Officials' answers refresh a derived month in place; the caches keyed on the data version
    # (statistics, wall, tile ETags) must not keep the figures from before.
    before = wall_version(conn)
    refresh_responses(conn, NEXT_FIRST)
    responded = wall_version(conn)
    refresh_rollups(conn, NEXT_FIRST, AssistanceSettings())
    assert len({before, responded, wall_version(conn)}) == 3


def test_series_are_the_rollups(two_months: str, conn: psycopg.Connection) -> None:
    user = User("t", "t", Role.OFFICIAL, "33")
    with db.scoped(user.scope) as app:
        stats = area_statistics(app, user.scope, COUNTY, measure="red_warnings", suppress=False)
    rollups = conn.execute(
        "SELECT month, households, people, entries, exits, warnings_red FROM rollup"
        " WHERE code = %s ORDER BY month",
        (COUNTY,),
    ).fetchall()
    assert list(stats.series["month"]) == [MONTH, NEXT]
    assert [tuple(r[1:]) for r in rollups] == [
        tuple(int(v) for v in row)
        for row in stats.series[
            ["households", "people", "entries", "exits", "warnings_red"]
        ].itertuples(index=False)
    ]
    assert stats.series["entries"].iloc[1] > 0 and stats.series["exits"].iloc[1] > 0
    # The ranking covers every town of the county, worst (most red warnings) first.
    towns = conn.execute("SELECT count(*) FROM admin_area WHERE parent_code = %s", (COUNTY,))
    assert len(stats.ranking) == towns.fetchone()[0]  # type: ignore[index]
    values = [v for v in stats.ranking["value"] if v is not None]
    assert values == sorted(values, reverse=True)


def test_small_counts_suppressed_for_leaders(two_months: str, database_url: str) -> None:
    leader = make_user(database_url, Role.COUNTY_LEADER, COUNTY)
    with db.scoped(leader.scope) as app:
        town = app.execute(
            "SELECT code FROM rollup WHERE level = 'town' AND code LIKE '331122%%'"
            " AND warnings_red BETWEEN 1 AND 4 LIMIT 1"
        ).fetchone()
        assert town is not None, "no town with 1-4 red warnings in the fixture"
        stats = area_statistics(app, leader.scope, town[0], measure="red_warnings")
    assert "<5" in set(stats.series["warnings_red"])
    assert all(not (isinstance(v, int) and 0 < v < 5) for v in stats.series["warnings_red"])


def test_month_switch_changes_the_choropleth(two_months: str) -> None:
    user = User("t", "t", Role.OFFICIAL, "33")
    shown: dict[str, Any] = {}
    for month in (MONTH, NEXT):
        with db.scoped(user.scope) as app:
            data = load_view(Audited(app, user), View(COUNTY, "warnings_per_100", month=month))
        assert f"{data.month:%Y-%m}" == month and data.shading.month == data.month
        shown[month] = data.shading.values
    assert shown[MONTH].keys() == shown[NEXT].keys()
    assert shown[MONTH] != shown[NEXT]
    with db.scoped(user.scope) as app:  # an unpublished month falls back to the latest
        data = load_view(Audited(app, user), View(COUNTY, month="2023-01"))
    assert data.view.month is None and f"{data.month:%Y-%m}" == NEXT


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_downloads_hold_the_rollups(
    two_months: str, database_url: str, conn: psycopg.Connection, lang: str
) -> None:
    leader = make_user(database_url, Role.COUNTY_LEADER, COUNTY)
    client = logged_in_client(database_url, leader)
    query = f"area={COUNTY}&lang={lang}"
    xlsx = client.get(f"/downloads/stats/series.xlsx?{query}")
    assert xlsx.status_code == 200, xlsx.get_data(as_text=True)
    assert "synthetic" in xlsx.headers["Content-Disposition"]
    book = load_workbook(io.BytesIO(xlsx.data), read_only=True)
    rows = list(book["series"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    households = header.index("Households" if lang == "en" else "户数")
    expected = conn.execute(
        "SELECT households FROM rollup WHERE code = %s ORDER BY month", (COUNTY,)
    ).fetchall()
    assert [r[households] for r in body] == [e[0] for e in expected]
    assert "synthetic" in str(next(book["about"].iter_rows(values_only=True))[0])
    text = client.get(f"/downloads/stats/series.csv?{query}").data.decode("utf-8-sig")
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    parsed = list(csv.reader(lines))
    assert [int(r[households]) for r in parsed[1:]] == [e[0] for e in expected]
    assert client.get(f"/downloads/stats/nothing.xlsx?{query}").status_code == 404
    assert client.get(f"/downloads/stats/series.xlsx?area=330127&lang={lang}").status_code == 403
