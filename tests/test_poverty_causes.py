"""Poverty causes (致贫原因): the roster carries them, unknown codes are quarantined, and the
poverty-cause layer's dominant cause per area is what SQL says."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import psycopg
import pytest

from core.access import Role
from core.db import scoped
from core.month import Month
from etl.feedspec import FEEDS, POVERTY_CAUSES
from etl.pseudonymise import Pseudonymiser
from etl.read import read_feed
from etl.run import RunResult
from etl.validate import References, validate
from layers.catalog import get_layer
from layers.layerdata import LayerRequest, layer_frames, parse_month
from tests.conftest import KEY, MONTH, POLICY_CODES, make_user

ROSTER = next(f for f in FEEDS if f.name == "civil_affairs_roster")


def test_every_household_has_a_national_cause(conn: psycopg.Connection, loaded: RunResult) -> None:
    rows = conn.execute(
        "SELECT poverty_cause, count(*), count(poverty_cause_secondary) FROM household"
        " WHERE month = %s GROUP BY 1",
        (f"{MONTH}-01",),
    ).fetchall()
    causes = {cause for cause, _, _ in rows}
    assert causes <= set(POVERTY_CAUSES)
    assert len(causes) >= 10  # the synthetic roster uses (nearly) every category
    total = sum(n for _, n, _ in rows)
    with_secondary = sum(s for _, _, s in rows)
    assert 0.4 < with_secondary / total < 0.8
    illness = sum(n for c, n, _ in rows if c == "因病")
    assert illness > total / len(POVERTY_CAUSES)  # illness is a leading cause


def test_unknown_cause_codes_are_quarantined(feeds: dict[str, Path], villages) -> None:  # type: ignore[no-untyped-def]
    raw = read_feed(feeds[MONTH] / f"civil_affairs_roster_{MONTH}.csv", ROSTER.column_names)
    frame = raw.frame
    frame.loc[frame.index[3], "poverty_cause"] = "因懒"  # not a national category
    frame.loc[frame.index[7], "poverty_cause_secondary"] = "illness"  # English is not a code
    frame.loc[frame.index[9], "poverty_cause_secondary"] = ""  # optional: blank is fine
    refs = References(
        Month.coerce(MONTH),
        pd.Index(villages["code"]),
        Pseudonymiser(KEY),
        policy_codes=POLICY_CODES,
    )
    checked = validate(raw, ROSTER, refs)
    rejects = checked.rejects
    bad = rejects[rejects["rule"] == "not_allowed"]
    assert set(bad["column_name"]) == {"poverty_cause", "poverty_cause_secondary"}
    assert any("因懒" in reason for reason in bad["reason"])
    assert len(bad) == 2
    assert frame.index[9] in checked.clean.index


@pytest.mark.parametrize("area", ["331122"])
def test_dominant_cause_of_the_demo_county_matches_sql(
    database_url: str, conn: psycopg.Connection, loaded: RunResult, area: str
) -> None:
    official_view = make_user(database_url, Role.COUNTY_LEADER, area)
    layer = get_layer("poverty_causes")
    with scoped(official_view.scope) as app:
        month = parse_month(MONTH, app)
        request = LayerRequest(layer, area, month, official_view)
        frame = next(layer_frames(app, request))
    expected = dict(
        conn.execute(
            """
            SELECT left(village_code, 9), mode() WITHIN GROUP (ORDER BY poverty_cause)
            FROM household WHERE month = %s AND county_code = %s GROUP BY 1
            """,
            (month, area),
        ).fetchall()
    )
    counts = conn.execute(
        "SELECT left(village_code, 9), poverty_cause, count(*) FROM household"
        " WHERE month = %s AND county_code = %s GROUP BY 1, 2",
        (month, area),
    ).fetchall()
    assert len(frame) > 5
    assert frame["dominant_cause"].nunique() >= 2  # towns differ
    by_town = frame.set_index("code")
    for town, cause in expected.items():
        top = max(n for t, _, n in counts if t == town)
        tied = {c for t, c, n in counts if t == town and n == top}
        assert by_town.loc[town, "dominant_cause"] in tied
        assert cause in tied
        assert by_town.loc[town, f"c_{layer.style.classes[0].key}"] == sum(
            n for t, c, n in counts if t == town and c == "因病"
        )
