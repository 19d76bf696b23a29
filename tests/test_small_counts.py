"""The small-count rule: no count 1-4 leaves the server, nor can it be found by differencing."""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.io import MemoryFile

from core.access import SUPPRESSED, Role
from core.scope import Scope
from layers.deidentify import (
    PROTECTED_COLUMNS,
    WITHHELD,
    ProtectedCounts,
    derivable,
    protect_tree,
    protected_counts,
)
from tests.conftest import logged_in_client, make_user


def attack(counts: Any, parents: Any, hidden: Any) -> list[tuple[str, str]]:
    """Every withheld cell that parent minus shown siblings pins down (the differencing attack).

    The attacker sees every shown count of a sibling group and its parent, and knows the rule
    ("<5" is 1-4, "*" is 5 or more): the withheld cells add up to parent minus shown siblings.
    """
    groups: dict[str, list[str]] = {}
    for code, parent in parents.items():
        if parent in counts and code in counts:
            groups.setdefault(parent, []).append(code)
    leaks = []
    columns = {c for row in counts.values() for c in row}
    for parent, children in groups.items():
        for column in columns:
            if column in hidden.get(parent, {}):
                continue  # nothing to subtract from
            group = {c: hidden[c][column] for c in children if column in hidden.get(c, {})}
            values = {c: counts[c][column] for c in children}
            leaks += [(code, column) for code in derivable(values, group)]
    return leaks


def _shown_all_small_hidden(counts: Any, hidden: Any) -> None:
    for code, row in counts.items():
        for column, value in row.items():
            if 0 < value < 5:
                assert hidden[code][column] == SUPPRESSED
            marker = hidden.get(code, {}).get(column)
            assert marker in (None, SUPPRESSED, WITHHELD)
            if marker == WITHHELD:
                assert value >= 5  # "*" never hides a small count: "<5" would say less


@st.composite
def trees(draw: st.DrawFn) -> tuple[dict[str, dict[str, int]], dict[str, str | None]]:
    """A root with 1-4 children, each with 0-5 children; counts that add up to parents."""
    counts: dict[str, dict[str, int]] = {}
    parents: dict[str, str | None] = {"r": None}
    leaf_value = st.integers(0, 12)
    total = 0
    for i in range(draw(st.integers(1, 4))):
        child, subtotal = f"r{i}", 0
        parents[child] = "r"
        for j in range(draw(st.integers(0, 5))):
            leaf = f"{child}.{j}"
            parents[leaf] = child
            value = draw(leaf_value)
            counts[leaf] = {"n": value}
            subtotal += value
        if child not in {parents[k] for k in counts}:
            subtotal = draw(leaf_value)
        counts[child] = {"n": subtotal}
        total += subtotal
    counts["r"] = {"n": total}
    return counts, parents


@settings(max_examples=300, deadline=None)
@given(trees())
def test_no_tree_leaks_a_small_count(tree: Any) -> None:
    counts, parents = tree
    hidden = protect_tree(counts, parents)
    _shown_all_small_hidden(counts, hidden)
    assert attack(counts, parents, hidden) == []


def test_one_small_child_takes_its_smallest_sibling_along() -> None:
    counts = {"p": {"n": 30}, "a": {"n": 3}, "b": {"n": 7}, "c": {"n": 20}}
    parents = {"p": None, "a": "p", "b": "p", "c": "p"}
    hidden = protect_tree(counts, parents)
    assert hidden == {"a": {"n": SUPPRESSED}, "b": {"n": WITHHELD}}
    # Alone, "a" would be 30 - 7 - 20 = 3.
    assert derivable({"a": 3, "b": 7, "c": 20}, {"a": SUPPRESSED}) == {"a"}


def test_two_ones_are_not_safe_together() -> None:
    # Two "<5" adding up to 2 can only be 1 and 1: a third cell must go.
    counts = {"p": {"n": 12}, "a": {"n": 1}, "b": {"n": 1}, "c": {"n": 10}}
    hidden = protect_tree(counts, {"p": None, "a": "p", "b": "p", "c": "p"})
    assert hidden["c"] == {"n": WITHHELD}


def test_a_group_that_cannot_be_protected_withholds_its_parent() -> None:
    counts = {"g": {"n": 20}, "p": {"n": 3}, "q": {"n": 17}, "a": {"n": 3}}
    parents = {"g": None, "p": "g", "q": "g", "a": "p"}
    hidden = protect_tree(counts, parents)
    assert hidden["p"]["n"] == SUPPRESSED and hidden["q"]["n"] == WITHHELD
    assert attack(counts, parents, hidden) == []


def test_the_published_test_data_resists_differencing(
    derived: Any, conn: psycopg.Connection
) -> None:
    """Every published area of the test data, every protected count: before and after the rule."""
    scope = Scope("33")
    protected = protected_counts(conn, scope)
    counts, hidden = protected.counts, protected.hidden
    parents = dict(
        conn.execute("SELECT code, parent_code FROM admin_area WHERE code LIKE '33%'").fetchall()
    )
    assert len(counts) > 50 and set(next(iter(counts.values()))) == set(PROTECTED_COLUMNS)
    only_small = {
        c: {k: SUPPRESSED for k, v in row.items() if 0 < v < 5} for c, row in counts.items()
    }
    before = attack(counts, parents, only_small)
    assert before, "the test data has small counts a plain '<5' gives away"
    _shown_all_small_hidden(counts, hidden)
    assert attack(counts, parents, hidden) == []
    # Every scope computes the same protection for its own subtree's groups.
    county = protected_counts(conn, Scope("331122"))
    assert set(county.counts) <= set(counts)


@pytest.fixture(scope="module")
def planner(database_url: str) -> Any:
    user = make_user(database_url, Role.PLANNER, "33")
    return logged_in_client(database_url, user)


def _small_village(conn: psycopg.Connection) -> tuple[str, int]:
    protected = protected_counts(conn, Scope("33"))
    rows = conn.execute(
        "SELECT code, households FROM rollup WHERE level = 'village' AND households BETWEEN 1 AND 4"
        " AND month = (SELECT max(month) FROM rollup) ORDER BY code"
    ).fetchall()
    assert rows, "the test data has a village with fewer than 5 households"
    for code, _households in rows:
        assert protected.count(code, "households") == SUPPRESSED
    return str(rows[0][0]), int(rows[0][1])


def test_small_village_shows_no_points_and_no_count(
    derived: Any, conn: psycopg.Connection, planner: Any
) -> None:
    code, _ = _small_village(conn)
    body = orjson.loads(planner.get(f"/api/areas/{code}/households.geojson?v=1").data)
    assert body["total"] == SUPPRESSED and body["features"] == []


def test_town_points_leave_out_withheld_villages(
    derived: Any, conn: psycopg.Connection, planner: Any
) -> None:
    code, _ = _small_village(conn)
    town = code[:9]
    body = orjson.loads(planner.get(f"/api/areas/{town}/households.geojson?v=1").data)
    protected = protected_counts(conn, Scope("33"))
    villages = {f["properties"]["village_code"] for f in body["features"]}
    assert code not in villages
    assert all(protected.withheld(v, ["households"]) is None for v in villages)


def test_geotiff_tags_of_a_small_area_are_suppressed(
    derived: Any, conn: psycopg.Connection, planner: Any
) -> None:
    row = conn.execute(
        "SELECT code FROM rollup WHERE level = 'village'"
        " AND warnings_red + warnings_orange + warnings_yellow BETWEEN 1 AND 4"
        " AND month = (SELECT max(month) FROM rollup) ORDER BY code LIMIT 1"
    ).fetchone()
    assert row is not None
    response = planner.get(f"/downloads/heat/{row[0]}.tif?v=1")
    assert response.status_code == 200
    with MemoryFile(response.data) as memory, memory.open() as dataset:
        tags = dataset.tags()
        values = dataset.read(1)
    assert tags["WARNINGS"] == SUPPRESSED and tags["WEIGHTED_TOTAL"] in (SUPPRESSED, WITHHELD)
    assert float(values[values > -9999].sum()) == 0.0  # the grid gives no count away either


def test_rates_over_small_counts_are_withheld(derived: Any, conn: psycopg.Connection) -> None:
    from layers.choropleth import children_choropleth, suppressed

    code, _ = _small_village(conn)
    protected: ProtectedCounts = protected_counts(conn, Scope("33"))
    raw = children_choropleth(conn, Scope("33"), code[:9], "warnings_per_100")
    shown = suppressed(raw, protected)
    assert shown.values[code] in (SUPPRESSED, WITHHELD) and raw.values[code] is not None
    for village, value in shown.values.items():
        if isinstance(value, float):
            assert protected.withheld(village, ["warnings", "households"]) is None


def test_every_measure_shown_rests_on_counts_of_five_or_more(
    derived: Any, conn: psycopg.Connection
) -> None:
    # The assistance loop's rates (3-hour attainment over red warnings due, plan coverage over
    # warned households) once had no counts declared, so 1 of 2 showed as 50 %.
    from layers.choropleth import children_choropleth, suppressed
    from layers.measures import MEASURES

    code, _ = _small_village(conn)
    protected = protected_counts(conn, Scope("33"))
    for key, measure in MEASURES.items():
        assert measure.counts, f"{key} declares no counts: nothing would withhold it"
        assert set(measure.counts) <= set(PROTECTED_COLUMNS), key
        for parent in ("331122", code[:9]):
            shown = suppressed(children_choropleth(conn, Scope("33"), parent, key), protected)
            for child, value in shown.values.items():
                if isinstance(value, float) and child in protected.counts:
                    small = [c for c in measure.counts if 0 < protected.counts[child][c] < 5]
                    assert small == [], (key, child, value, small)
