"""Household points: warning levels on every point, the 20,000 cap with its flag, clustering.

Other tests publish more months into the session database, so each check names its month: the
route serves the latest published month, the warning levels come from the derived month.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

import layers.households as households_layer
from core.scope import PROVINCE_SCOPE
from layers.deidentify import protected_counts
from layers.households import MAX_FEATURES, clustered, households_geojson

LEVEL_ORDER = {"red": 0, "orange": 1, "yellow": 2, "none": 3}


@pytest.fixture(scope="module")
def client(database_url: str, province_planner: Any) -> Any:
    """A planner over the province: every household point, de-identified."""
    from tests.conftest import logged_in_client

    return logged_in_client(database_url, province_planner)


PUBLISHED = "(SELECT max(month) FROM published_month)"
DERIVED = "(SELECT max(month) FROM warning_month)"


def biggest_town(conn: psycopg.Connection, month: str = PUBLISHED) -> tuple[str, int]:
    row = conn.execute(
        "SELECT left(village_code, 9), count(*) FROM household WHERE month = "
        + month
        + " GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


def derived_month(conn: psycopg.Connection) -> Any:
    row = conn.execute("SELECT " + DERIVED).fetchone()
    assert row is not None and row[0] is not None
    return row[0]


def get_collection(client: Any, code: str) -> dict[str, Any]:
    response = client.get(f"/api/areas/{code}/households.geojson?v=1")
    assert response.status_code == 200 and response.mimetype == "application/geo+json"
    return dict(json.loads(response.data))


def test_points_carry_their_warning_level(derived: Any, conn: psycopg.Connection) -> None:
    month = derived_month(conn)
    town, total = biggest_town(conn, DERIVED)
    collection = json.loads(households_geojson(conn, PROVINCE_SCOPE, town, month))
    assert collection["total"] == total == len(collection["features"])
    assert collection["truncated"] is False
    warned = conn.execute(
        "SELECT w.household_id, w.level, o.status IN ('raised', 'acknowledged', 'verified')"
        " FROM warning_month w JOIN warning o USING (warning_id)"
        " WHERE w.month = %s AND w.village_code LIKE %s",
        (month, town + "%"),
    ).fetchall()
    levels = {household: level for household, level, still_open in warned if still_open}
    closed = {household for household, _, still_open in warned if not still_open}
    drawn = {
        f["properties"]["household_id"]: f["properties"]["warning_level"]
        for f in collection["features"]
    }
    # Coloured by open warnings only: a resolved or dismissed one no longer alarms.
    assert {h: lv for h, lv in drawn.items() if lv != "none"} == levels
    assert all(drawn[h] == "none" for h in closed)
    assert levels, "the biggest town of the fixture has open warnings"


def test_a_small_cap_truncates_and_says_so(
    derived: Any, client: Any, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    town, total = biggest_town(conn)
    cap = 7
    assert total > cap
    monkeypatch.setattr(households_layer, "MAX_FEATURES", cap)
    collection = get_collection(client, town)
    assert len(collection["features"]) == cap == collection["limit"]
    assert collection["truncated"] is True and collection["total"] == total
    # Households with warnings come first, worst first: a truncated map still shows them.
    town, _ = biggest_town(conn, DERIVED)
    warned = json.loads(households_geojson(conn, PROVINCE_SCOPE, town, derived_month(conn)))
    assert warned["truncated"] is True and len(warned["features"]) == cap
    ranks = [LEVEL_ORDER[f["properties"]["warning_level"]] for f in warned["features"]]
    assert ranks == sorted(ranks) and ranks[0] < LEVEL_ORDER["none"]


def test_the_panel_tells_the_user_to_zoom_in_when_capped(
    derived: Any, conn: psycopg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.audit import Audited
    from dashboards import viewdata
    from dashboards.panel import households_note
    from dashboards.state import View
    from tests.conftest import PROVINCE_OFFICIAL

    town, total = biggest_town(conn)
    monkeypatch.setattr(viewdata, "MAX_FEATURES", 7)
    data = viewdata.load_view(Audited(conn, PROVINCE_OFFICIAL), View(town, lang="en"))
    assert data.truncated and data.clustered and data.households == total
    note = households_note(data)[0]
    assert note.id == "households-truncated"
    assert str(total) in note.children and "drill down" in note.children


def test_no_response_exceeds_the_cap(derived: Any, client: Any, conn: psycopg.Connection) -> None:
    """Every town and village of the loaded counties, through the Flask route."""
    counts = dict(
        conn.execute(
            "SELECT a.code, count(h.household_id) FROM admin_area a"
            " LEFT JOIN household h ON h.village_code LIKE a.code || '%%'"
            "  AND h.month = (SELECT max(month) FROM published_month)"
            " WHERE a.level = 'town' AND a.county_code IN ('331122', '330127', '330902')"
            " GROUP BY a.code"
        ).fetchall()
    )
    assert counts
    # The planner's points pass the small-count rule: none from a village whose count is withheld.
    protected = protected_counts(conn, PROVINCE_SCOPE)
    withheld = dict(
        conn.execute(
            "SELECT village_code, count(*) FROM household"
            " WHERE month = (SELECT max(month) FROM published_month) AND village_code = ANY(%s)"
            " GROUP BY village_code",
            ([c for c in protected.hidden if protected.withheld(c, ["households"])],),
        ).fetchall()
    )
    for town, total in counts.items():
        collection = get_collection(client, town)
        left_out = sum(n for village, n in withheld.items() if village.startswith(town))
        if not isinstance(protected.count(town, "households"), int):
            left_out = total
        assert len(collection["features"]) == min(total - left_out, MAX_FEATURES) <= MAX_FEATURES
        assert collection["truncated"] is (total > MAX_FEATURES)
    # Above town level no points are sent at all (the county view would be too many).
    assert get_collection(client, "331122")["features"] == []


def test_clustering_rules() -> None:
    assert clustered("town", 5)
    assert not clustered("village", 30)
    assert clustered("village", 5000)
    assert not clustered("county", 5000)
