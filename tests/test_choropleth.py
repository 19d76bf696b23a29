"""Choropleth classes and legends: every value falls in a class, the legend counts them all."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.errors import OutOfScope
from core.scope import PROVINCE_SCOPE, Scope
from layers.choropleth import children_choropleth, classify
from layers.measures import MEASURES


@given(
    st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), max_size=200),
    st.sampled_from(["quantiles", "natural_breaks"]),
)
@settings(deadline=None)  # mapclassify's first natural-breaks run is slow on a busy machine
def test_classes_cover_every_value(values: list[float], scheme: str) -> None:
    breaks = classify(values, scheme=scheme)
    assert breaks == sorted(set(breaks))
    assert len(breaks) <= 5
    if values:
        assert breaks[-1] >= max(values)
        assert all(any(v <= b for b in breaks) for v in values)
    else:
        assert breaks == []


@pytest.mark.parametrize("measure", sorted(MEASURES))
def test_legend_counts_every_child_with_data(
    derived: Any, conn: psycopg.Connection, measure: str
) -> None:
    shading = children_choropleth(conn, PROVINCE_SCOPE, "331122", measure)
    present = [v for v in shading.values.values() if v is not None]
    children = conn.execute(
        "SELECT count(*) FROM admin_area WHERE parent_code = '331122'"
    ).fetchone()
    assert children is not None and len(shading.values) == children[0]
    if measure == "income_growth":  # one derived month: no growth yet, an empty legend
        assert present == [] and shading.legend == [] and shading.breaks == []
        return
    assert present, measure
    assert sum(entry.count for entry in shading.legend) == len(present)
    assert shading.legend[0].low == min(present)
    assert shading.legend[-1].high == max(present)
    ramp = [entry for entry in shading.legend if entry.label is None]
    assert len(shading.colours) == len(shading.breaks) == len(ramp)
    hideout = shading.hideout()
    assert hideout["values"] == shading.values and hideout["breaks"] == shading.breaks


def test_values_match_the_rollups(derived: Any, conn: psycopg.Connection) -> None:
    shading = children_choropleth(conn, PROVINCE_SCOPE, "3311", "red_warnings")
    rows = dict(
        conn.execute(
            "SELECT code, warnings_red FROM rollup WHERE month = %s AND code LIKE '3311__'",
            (shading.month,),
        ).fetchall()
    )
    assert {k: v for k, v in shading.values.items() if v is not None} == {
        k: float(v) for k, v in rows.items()
    }


def test_scope_is_enforced(derived: Any, conn: psycopg.Connection) -> None:
    with pytest.raises(OutOfScope):
        children_choropleth(conn, Scope("330127"), "331122", "red_warnings")
    with pytest.raises(KeyError):
        children_choropleth(conn, PROVINCE_SCOPE, "331122", "drop table")
