"""A second derived month in the session database, for the tests of trends (a fixture shared by
the modules that import it; loading is idempotent, so each module may ask for it)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import psycopg
import pytest

from analytics.lifecycle import simulate_responses
from analytics.run import DeriveResult, derive_month
from analytics.trends import refresh_responses
from etl.pseudonymise import Pseudonymiser
from etl.run import run_month
from tests.conftest import KEY, NEXT, POLICY_CODES, SETTINGS

NEXT_FIRST = dt.date.fromisoformat(f"{NEXT}-01")


@pytest.fixture(scope="session")
def two_months(derived: DeriveResult, feeds: dict[str, Path], database_url: str) -> str:
    """MONTH and NEXT both published and derived, officials' answers included; returns NEXT."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        done = conn.execute(
            "SELECT 1 FROM derive_run d JOIN published_month p USING (month) WHERE month = %s",
            (NEXT_FIRST,),
        ).fetchone()
        if done is None:
            run_month(
                conn, feeds[NEXT], NEXT, Pseudonymiser(KEY), policy_codes=POLICY_CODES, force=True
            )
            derive_month(conn, NEXT, SETTINGS)
            simulate_responses(conn, NEXT, seed=5)
            refresh_responses(conn, NEXT_FIRST)
    return NEXT
