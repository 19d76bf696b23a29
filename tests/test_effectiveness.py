"""Effectiveness evaluation: a known effect planted in a synthetic month is recovered within
its interval; matching removes a confounded trend; too few households give no figure."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import psycopg
import pytest

from analytics.catalog import load_catalog
from analytics.effect_rollup import LEVELS, area_effects, build_effect_rollup, stored_effects
from analytics.effectiveness import (
    MIN_TREATED,
    did_estimate,
    load_panel,
    policy_effect,
    policy_effects,
)
from core import db
from core.scope import Scope
from tests.conftest import MONTH
from tests.effectiveness_reference import reference_policy_effect
from tests.months import NEXT_FIRST, two_months

__all__ = ["two_months"]
MONTH_FIRST = dt.date.fromisoformat(f"{MONTH}-01")
#: Yuan per person and month added to the incomes of the households that start the policy.
PLANTED = 150.0


def _plant(conn: psycopg.Connection, policy: str, share: float, seed: int) -> int:
    """Give a random ``share`` of households that never had ``policy`` the policy in NEXT and
    ``PLANTED`` more income; return how many were chosen."""
    rows = conn.execute(
        "SELECT f.household_id, f.county_code FROM household_features f"
        " JOIN household_features s ON s.household_id = f.household_id AND s.month = %s"
        " WHERE f.month = %s AND f.income_per_capita IS NOT NULL"
        " AND s.income_per_capita IS NOT NULL AND NOT EXISTS (SELECT 1 FROM benefit b"
        "  WHERE b.household_id = f.household_id AND b.policy_code = %s AND b.received)"
        " ORDER BY 1",
        (MONTH_FIRST, NEXT_FIRST, policy),
    ).fetchall()
    rng = np.random.default_rng(seed)
    chosen = [(h, c) for h, c in rows if rng.random() < share]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO benefit (month, household_id, county_code, policy_code, eligible,"
            " received, amount_due, amount_paid, state) VALUES (%s, %s, %s, %s, true, true,"
            " 100, 100, 'received') ON CONFLICT (month, household_id, policy_code) DO UPDATE"
            " SET received = true, state = 'received'",
            [(NEXT_FIRST, h, c, policy) for h, c in chosen],
        )
    conn.execute(
        "UPDATE household_features SET income_per_capita = income_per_capita + %s"
        " WHERE month = %s AND household_id = ANY(%s)",
        (PLANTED, NEXT_FIRST, [h for h, _ in chosen]),
    )
    return len(chosen)


def test_planted_effect_is_recovered(two_months: str, rolled_back: psycopg.Connection) -> None:
    policy = "P009"  # discretionary, rarely received: most households are possible controls
    planted = _plant(rolled_back, policy, share=0.3, seed=12)
    panel = load_panel(rolled_back, "33", MONTH_FIRST, NEXT_FIRST)
    estimate = policy_effect(panel, policy, standard=1145)
    print(f"planted {PLANTED} yuan on {planted} households: {estimate}")
    assert estimate.effect is not None and estimate.low is not None and estimate.high is not None
    assert estimate.n_treated >= 0.9 * planted and estimate.n_control > estimate.n_treated
    assert estimate.low <= PLANTED <= estimate.high
    assert estimate.low > 0  # the interval tells the effect from none
    assert estimate.high - estimate.low < PLANTED  # and is not uselessly wide
    # The same households without the planted income: no effect found (0 inside the interval).
    panel["income_end"] = panel["income_end"] - np.where(
        panel["at_end"].map(lambda codes: policy in codes)
        & ~panel["at_start"].map(lambda codes: policy in codes),
        PLANTED,
        0,
    )
    null = policy_effect(panel, policy, standard=1145)
    assert null.low is not None and null.high is not None and null.low <= 0 <= null.high


def test_matching_removes_a_confounded_trend() -> None:
    rng = np.random.default_rng(3)
    n = 4000
    poor = rng.random(n) < 0.5  # poorer households: more often treated, and their incomes grow
    change = np.where(poor, 80.0, 0.0) + rng.normal(0, 40, n)
    treated = rng.random(n) < np.where(poor, 0.4, 0.05)
    change = change + np.where(treated, 50.0, 0.0)
    cells = [pd.Series(np.where(poor, "t|poor", "t|rich")), pd.Series(["county"] * n)]
    naive = change[treated].mean() - change[~treated].mean()
    estimate = did_estimate(pd.Series(change), pd.Series(treated), pd.Series(~treated), cells)
    assert naive > 80  # the trend of the poor looks like a much larger effect
    assert estimate.low is not None and estimate.high is not None
    assert estimate.low <= 50 <= estimate.high and estimate.high - estimate.low < 20


def test_too_few_households_give_no_figure() -> None:
    n = MIN_TREATED + 20
    change = pd.Series(np.linspace(0, 10, n))
    treated = pd.Series([i < MIN_TREATED - 1 for i in range(n)])
    estimate = did_estimate(change, treated, ~treated, [pd.Series(["c"] * n)])
    assert estimate.n_treated == MIN_TREATED - 1
    assert estimate.effect is None and estimate.low is None and estimate.high is None


def _random_panel(seed: int, n: int) -> pd.DataFrame:
    """A small panel with the columns of :func:`load_panel`: two counties, a few towns."""
    rng = np.random.default_rng(seed)
    policies = ["P001", "P002", "P003", "P009"]

    def lists(p: float) -> list[list[str]]:
        return [[c for c in policies if rng.random() < p] for _ in range(n)]

    start = rng.normal(1200, 300, n).round(1)
    at_start, at_end = lists(0.2), lists(0.4)
    return pd.DataFrame(
        {
            "household_id": [f"h{i}" for i in range(n)],
            "village_code": [
                f"33112{rng.integers(1, 3)}{rng.integers(100, 103)}{rng.integers(100, 104)}"
                for _ in range(n)
            ],
            "size": rng.integers(1, 7, n),
            "labour": rng.integers(0, 4, n),
            "income_start": start,
            "income_end": start + rng.normal(40, 80, n).round(1),
            "at_start": at_start,
            "at_end": at_end,
            "ever": [sorted(set(a) | set(b)) for a, b in zip(at_start, at_end, strict=True)],
        }
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_vectorised_estimate_equals_the_reference(seed: int) -> None:
    panel = _random_panel(seed, 600)
    policies = ["P001", "P002", "P003", "P009", "P404"]
    effects = policy_effects(panel, policies, standard=1145, min_treated=10)
    for policy in policies:
        old = reference_policy_effect(panel, policy, standard=1145, min_treated=10)
        assert effects[policy] == policy_effect(panel, policy, standard=1145, min_treated=10)
        new = effects[policy]
        assert (new.n_treated, new.n_control, new.fell_back) == (
            old.n_treated,
            old.n_control,
            old.fell_back,
        )
        for value, expected in ((new.effect, old.effect), (new.low, old.low), (new.high, old.high)):
            assert (value is None) == (expected is None)
            assert value is None or value == pytest.approx(expected, rel=1e-12, abs=1e-9)
    assert any(e.effect is not None for e in effects.values())
    assert effects["P404"].n_treated == 0  # a policy nobody receives


def test_estimates_are_computed_ahead_after_the_derive(
    two_months: str, conn: psycopg.Connection
) -> None:
    county = "331122"
    assert build_effect_rollup(conn) == 0  # nothing changed since the derive: nothing redone
    windows = conn.execute(
        "SELECT length(code), count(*) FROM effect_window"
        " WHERE first_month = %s AND last_month = %s GROUP BY 1 ORDER BY 1",
        (MONTH_FIRST, NEXT_FIRST),
    ).fetchall()
    assert [n for n, _ in windows] == list(LEVELS) == [2, 4, 6] and dict(windows)[6] == 3
    stored = stored_effects(conn, county, MONTH_FIRST, NEXT_FIRST)
    catalog = load_catalog()
    live = area_effects(
        load_panel(conn, county, MONTH_FIRST, NEXT_FIRST),
        [p.code for p in catalog.policies],
        catalog.standard,
    )
    assert stored == live and stored.households > 1000 and stored.estimates
    with db.scoped(Scope(county)) as app_conn:
        assert stored_effects(app_conn, county, MONTH_FIRST, NEXT_FIRST) == stored
        assert stored_effects(app_conn, "330127", MONTH_FIRST, NEXT_FIRST) is None  # outside


def test_a_derive_can_estimate_only_the_window_ending_at_its_month(
    two_months: str, conn: psycopg.Connection
) -> None:
    # The demo loads six months in order and estimates only the last window ahead.
    with conn.transaction():
        conn.execute("DELETE FROM effect_rollup")
        conn.execute("DELETE FROM effect_window")
    assert build_effect_rollup(conn, ending=MONTH_FIRST) == 0  # no window ends at the first month
    assert stored_effects(conn, "331122", MONTH_FIRST, NEXT_FIRST) is None
    assert build_effect_rollup(conn, ending=NEXT_FIRST) == 1
    assert stored_effects(conn, "331122", MONTH_FIRST, NEXT_FIRST) is not None
    assert build_effect_rollup(conn) == 0  # the window just made is current
