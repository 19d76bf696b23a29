"""The map as its people read it: legends count areas as they are and keep zero neutral, every
level has key figures (suppressed as the role requires), households are coloured by open
warnings, the demo's responses happen inside the data month, the portrait's heading and dates,
HTML refusals for pages, and the audit page's dates, downloads and actions in words."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import psycopg
import pytest
from openpyxl import load_workbook

from core.access import SUPPRESSED, Role, User
from core.scope import PROVINCE_SCOPE, Scope
from dashboards.panel import legend
from layers.area_figures import _suppressed, area_figures
from layers.choropleth import ZERO_COLOUR, Choropleth, children_choropleth, suppressed
from layers.deidentify import ProtectedCounts, protected_counts
from layers.households import households_geojson
from layers.measures import MEASURES
from tests.accounts import warned_household
from tests.conftest import MONTH, logged_in_client, make_user

JUNE = (dt.datetime(2024, 6, 1, tzinfo=dt.UTC), dt.datetime(2024, 7, 1, tzinfo=dt.UTC))


def texts(component: Any) -> str:
    """Every text of a Dash component tree, joined (what a person reads)."""
    if isinstance(component, str | int | float):
        return str(component)
    if isinstance(component, list | tuple):
        return " ".join(texts(c) for c in component)
    return texts(getattr(component, "children", None) or "")


def test_legend_counts_areas_and_keeps_zero_neutral() -> None:
    # Red warnings of eight towns as a leader sees them: 1-4 read "<5" on the map, yet the
    # legend counts *areas*, and the towns without a red warning have their own neutral class.
    values: dict[str, float | str | None] = {
        "a": 0.0,
        "b": 0.0,
        "c": 0.0,
        "d": 2.0,
        "e": 7.0,
        "f": 12.0,
        "g": 30.0,
        "h": None,
    }
    shading = suppressed(
        Choropleth(MEASURES["red_warnings"], dt.date(2024, 6, 1), values), ProtectedCounts({}, {})
    )
    assert shading.values["d"] == SUPPRESSED
    counts = [entry.count for entry in shading.legend]
    assert all(isinstance(c, int) for c in counts), counts
    assert sum(counts) == 7  # every area with data, "<5" and zero included
    zero = shading.legend[0]
    assert (zero.label, zero.count, zero.colour) == ("0", 3, ZERO_COLOUR)
    assert shading.hideout()["zeroColour"] == ZERO_COLOUR
    ramp = [e for e in shading.legend if e.label is None]
    assert ramp[0].low == 7.0 and ZERO_COLOUR not in shading.colours
    shown = texts(legend(shading, "en"))
    assert "(<5)" not in shown and "(3)" in shown


def test_province_legend_of_a_leader_shows_area_counts(
    derived: Any, conn: psycopg.Connection
) -> None:
    protected = protected_counts(conn, PROVINCE_SCOPE)
    for measure in ("red_warnings", "warnings_per_100", "benefit_gaps"):
        shading = suppressed(
            children_choropleth(conn, PROVINCE_SCOPE, "331122", measure), protected
        )
        present = [v for v in shading.values.values() if v is not None]
        assert all(isinstance(e.count, int) for e in shading.legend), measure
        assert sum(int(e.count) for e in shading.legend) == len(present), measure
        zeros = sum(1 for v in present if v == 0)
        if zeros and shading.measure.higher_is_worse:
            assert shading.legend[0].count == zeros and shading.legend[0].colour == ZERO_COLOUR
        assert all(e.low > 0 for e in shading.legend if e.label is None), measure


def test_english_legend_title_says_its_unit_once() -> None:
    shading = Choropleth(MEASURES["warnings_per_100"], None, {})
    title = texts(legend(shading, "en"))
    assert "Warnings (per 100 households)" in title
    assert title.count("per 100 households") == 1


def test_key_figures_at_every_level(derived: Any, conn: psycopg.Connection) -> None:
    village = conn.execute(
        "SELECT village_code FROM household WHERE village_code LIKE '331122%%'"
        " GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
    ).fetchone()[0]
    for code in ("33", "3311", "331122", village[:9], village):
        exact = area_figures(conn, PROVINCE_SCOPE, code, suppress=False)
        assert exact is not None and exact.month is not None, code
        households = conn.execute(
            "SELECT households FROM rollup WHERE code = %s AND month = %s", (code, exact.month)
        ).fetchone()[0]
        open_by_level = dict(
            conn.execute(
                "SELECT level, count(*) FROM warning WHERE village_code LIKE %s"
                " AND status IN ('raised', 'acknowledged', 'verified') GROUP BY level",
                (code + "%",),
            ).fetchall()
        )
        assert exact.values["households"] == households > 0, code
        assert exact.values["open_warnings"] == sum(open_by_level.values()), code
        assert exact.values["red"] == open_by_level.get("red", 0), code
        shown = area_figures(conn, PROVINCE_SCOPE, code, suppress=True)
        assert shown is not None
        small = [k for k, v in shown.values.items() if isinstance(v, int) and 0 < v < 5]
        assert small == [], (code, shown.values)
    # Above the viewer's jurisdiction there are no figures (only the way down is drawn).
    assert area_figures(conn, Scope(village), "331122", suppress=False) is None


def test_one_hidden_warning_level_hides_the_others() -> None:
    values = {
        "households": 40,
        "people": 90,
        "benefit_gaps": 6,
        "visited": 38,
        "red": 2,
        "orange": 10,
        "yellow": 7,
        "open_warnings": 19,
        "visit_coverage": 95.0,
    }
    shown = _suppressed(dt.date(2024, 6, 1), values)
    assert shown.values["open_warnings"] == 19
    assert (shown.values["red"], shown.values["orange"], shown.values["yellow"]) == (None,) * 3
    # 38 of 40 visited: the coverage would give away the 2 households not visited.
    assert shown.values["visit_coverage"] is None and shown.suppressed


def test_households_are_coloured_by_open_warnings(derived: Any, conn: psycopg.Connection) -> None:
    resolved = conn.execute(
        "SELECT w.household_id, w.village_code FROM warning_month m JOIN warning w"
        " USING (warning_id) WHERE w.status = 'resolved' LIMIT 1"
    ).fetchone()
    assert resolved is not None, "the fixture resolves some warnings"
    body = json.loads(households_geojson(conn, PROVINCE_SCOPE, resolved[1], dt.date(2024, 6, 1)))
    levels = {
        f["properties"]["household_id"]: f["properties"]["warning_level"] for f in body["features"]
    }
    assert levels[resolved[0]] == "none"
    open_one = conn.execute(
        "SELECT w.household_id, w.level FROM warning w WHERE w.village_code = %s"
        " AND w.status IN ('raised', 'acknowledged', 'verified') LIMIT 1",
        (resolved[1],),
    ).fetchone()
    if open_one is not None:
        assert levels[open_one[0]] == open_one[1]


def test_simulated_responses_happen_inside_the_data_month(
    derived: Any, conn: psycopg.Connection
) -> None:
    rows = conn.execute(
        "SELECT raised_at, acknowledged_at, verified_at, closed_at, status FROM warning"
        " WHERE opened_month = %s::date",
        (f"{MONTH}-01",),
    ).fetchall()
    stamps = [at for row in rows for at in row[:4] if at is not None]
    assert rows and all(JUNE[0] <= at < JUNE[1] for at in stamps)
    statuses = {row[4] for row in rows}
    assert {"raised", "acknowledged", "verified", "resolved"} <= statuses
    events = conn.execute(
        "SELECT min(e.at), max(e.at) FROM warning_event e JOIN warning w USING (warning_id)"
        " WHERE w.opened_month = %s::date",
        (f"{MONTH}-01",),
    ).fetchone()
    assert JUNE[0] <= events[0] and events[1] < JUNE[1]


def test_portrait_heading_names_the_head_and_dates_carry_the_year(
    derived: Any, conn: psycopg.Connection
) -> None:
    from dashboards.portrait import portrait_panel
    from layers.portrait import household_portrait

    household = conn.execute(
        "SELECT w.household_id FROM warning w JOIN person p ON p.household_id = w.household_id"
        " AND p.relation = '户主' WHERE w.acknowledged_at IS NOT NULL LIMIT 1"
    ).fetchone()[0]
    portrait = household_portrait(conn, PROVINCE_SCOPE, household)
    head = next(m["name"] for m in portrait.members if m["relation"] == "户主")
    panel = portrait_panel(portrait, "http://127.0.0.1", "en")
    assert panel[0].id == "portrait-title" and panel[0].children == head
    assert panel[1].children == f"Household {household}"
    warnings = next(c for c in panel if getattr(c, "id", None) == "portrait-warnings")
    assert "2024-06-" in texts(warnings)
    chart = next(c for c in panel if getattr(c, "id", None) == "income-chart")
    annotation = chart.figure["layout"]["annotations"][0]["text"]
    assert "1,145" in annotation and "Low-income line" in annotation


@pytest.fixture(scope="module")
def household(derived: Any, database_url: str) -> dict[str, str]:
    return warned_household(database_url, rank=1)


@pytest.fixture(scope="module")
def auditor(database_url: str, household: dict[str, str]) -> Any:
    official = make_user(database_url, Role.OFFICIAL, household["village"])
    logged_in_client(database_url, official).get(f"/h/{household['token']}")
    return logged_in_client(
        database_url, make_user(database_url, Role.AUDITOR, household["village"][:6])
    )


def test_a_refused_page_is_html_in_the_viewers_language(
    database_url: str, household: dict[str, str]
) -> None:
    planner: User = make_user(database_url, Role.PLANNER, household["village"][:6])
    client = logged_in_client(database_url, planner)
    for query, words in (("", "无权访问"), ("?lang=en", "Not allowed")):
        page = client.get("/audit" + query)
        body = page.get_data(as_text=True)
        assert page.status_code == 403 and page.mimetype == "text/html", query
        assert words in body and "\\u" not in body and 'id="back-to-map"' in body
    data = client.get("/api/areas/3301/children.geojson")  # a data route: JSON
    assert data.status_code == 403 and data.is_json


def test_audit_dates_downloads_and_actions(auditor: Any, household: dict[str, str]) -> None:
    page = auditor.get("/audit?lang=en").get_data(as_text=True)
    assert f"Portrait of {household['id']} opened from its door code" in page
    assert "/h/&lt;token&gt;</td>" not in page  # the route stays in the title, not the text
    today = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    later = auditor.get(f"/audit?from={today + dt.timedelta(days=1)}").get_data(as_text=True)
    assert household["id"] not in later
    assert household["id"] in auditor.get(f"/audit?from={today}&to={today}").get_data(as_text=True)
    assert auditor.get("/audit?from=2024-13-01").status_code == 400
    assert auditor.get(f"/audit?from={today}&to={today - dt.timedelta(days=3)}").status_code == 400

    response = auditor.get(f"/audit/export.csv?household={household['id']}")
    assert (
        response.status_code == 200 and "synthetic-data" in response.headers["Content-Disposition"]
    )
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    assert rows[0][0] == "#" and len(rows) >= 2
    assert all(household["id"] in r[7] for r in rows[1:])
    assert any(r[5] == f"通过小康码打开户画像 {household['id']}" for r in rows[1:])

    book = load_workbook(io.BytesIO(auditor.get("/audit/export.xlsx?lang=en").get_data()))
    sheet = [[c.value for c in r] for r in book["audit"].iter_rows()]
    assert sheet[0][1] == "Time (UTC+8)" and len(sheet) >= len(rows)
    assert "synthetic" in str(book["about"]["A1"].value)
    # The download is itself in the trail.
    assert "Audit trail downloaded" in auditor.get("/audit?lang=en").get_data(as_text=True)


def test_an_empty_village_says_so(derived: Any, rolled_back: psycopg.Connection) -> None:
    from core.audit import Audited
    from dashboards.messages import t
    from dashboards.panel import side_panel
    from dashboards.state import View
    from dashboards.viewdata import load_view

    conn = rolled_back
    empty, full = (
        row[0]
        for row in conn.execute(
            "SELECT village_code FROM household WHERE village_code LIKE '331122%%'"
            " GROUP BY 1 ORDER BY 1 LIMIT 2"
        ).fetchall()
    )
    # The synthetic geography has villages where nobody lives: make one (rolled back after).
    conn.execute("UPDATE household SET village_code = %s WHERE village_code = %s", (full, empty))
    for code, says in ((empty, True), (full, False)):
        official = User("x", "x", Role.OFFICIAL, code)
        data = load_view(Audited(conn, official), View(code))
        panel = texts(side_panel(data, "http://127.0.0.1"))
        assert (t("panel.empty_village", "zh") in panel) is says, code
