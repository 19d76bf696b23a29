"""Effectiveness estimates computed ahead (``effect_window``, ``effect_rollup``) after each derive.

Every area at county level and above gets, for each window from the first derived month to a later
derived month, the per-policy estimates of :mod:`analytics.effectiveness`; the statistics page
reads them (under row-level security) instead of estimating on every view. A window is
recomputed when the data version of one of its months changes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import psycopg

from analytics.catalog import load_catalog
from analytics.effectiveness import MIN_TREATED, Estimate, load_panel, policy_effects

#: Code lengths of the areas estimated ahead: province, city, county. Towns and villages are
#: estimated on request and cached (ahead, towns doubled the derive time of the demo).
LEVELS = (2, 4, 6)

_WINDOW_COLUMNS = (
    "code",
    "county_code",
    "first_month",
    "last_month",
    "data_version",
    "households",
    "fell_back",
)
_ROLLUP_COLUMNS = (
    "code",
    "county_code",
    "first_month",
    "last_month",
    "policy_code",
    "n_treated",
    "n_control",
    "effect",
    "low",
    "high",
    "fell_back",
)


@dataclass(frozen=True, slots=True)
class AreaEffects:
    """An area's estimates over one window: households, their fall-back share, per policy."""

    households: int
    fell_back: float | None
    estimates: dict[str, Estimate]


def area_effects(panel: pd.DataFrame, policies: list[str], standard: float) -> AreaEffects:
    """The estimates of one area's panel (see :func:`analytics.effectiveness.load_panel`)."""
    effects = policy_effects(panel, policies, standard=standard)
    above = panel["income_start"] >= standard
    fell = float((panel.loc[above, "income_end"] < standard).mean()) if above.any() else None
    return AreaEffects(
        len(panel),
        fell if int(above.sum()) >= MIN_TREATED else None,
        {code: e for code, e in effects.items() if e.n_treated},
    )


def _versions(conn: psycopg.Connection) -> dict[dt.date, str]:
    """The data version of every month that is published and derived, oldest first."""
    rows = conn.execute(
        "SELECT d.month, d.data_version FROM derive_run d JOIN published_month p USING (month)"
        " ORDER BY d.month"
    ).fetchall()
    return dict(rows)


def _county(code: str) -> str | None:
    return code[:6] if len(code) >= 6 else None


def _write(
    conn: psycopg.Connection,
    window: tuple[dt.date, dt.date],
    version: str,
    areas: dict[str, AreaEffects],
) -> None:
    first, last = window
    conn.execute(
        "DELETE FROM effect_window WHERE first_month = %s AND last_month = %s", (first, last)
    )
    with conn.cursor().copy(
        f"COPY effect_window ({', '.join(_WINDOW_COLUMNS)}) FROM STDIN"
    ) as copy:
        for code, area in areas.items():
            copy.write_row(
                (code, _county(code), first, last, version, area.households, area.fell_back)
            )
    with conn.cursor().copy(
        f"COPY effect_rollup ({', '.join(_ROLLUP_COLUMNS)}) FROM STDIN"
    ) as copy:
        for code, area in areas.items():
            for policy, e in area.estimates.items():
                copy.write_row(
                    (
                        code,
                        _county(code),
                        first,
                        last,
                        policy,
                        e.n_treated,
                        e.n_control,
                        e.effect,
                        e.low,
                        e.high,
                        e.fell_back,
                    )
                )


def build_effect_rollup(
    conn: psycopg.Connection,
    *,
    levels: tuple[int, ...] = LEVELS,
    ending: dt.date | None = None,
) -> int:
    """Compute the windows whose months changed since they were last computed; return how many.

    With ``ending``, only the window ending that month is considered (the demo loads months
    in order: the earlier windows are estimated when somebody asks, as towns' are). Each
    window is replaced in one transaction (readers see the old estimates or the new);
    windows that no longer start at the first derived month are dropped. Runs as the owner
    (every area); ``conn`` must be in autocommit mode.
    """
    versions = _versions(conn)
    months = list(versions)
    if len(months) < 2:
        return 0
    first = months[0]
    stored = {
        (row[0], row[1]): row[2]
        for row in conn.execute(
            "SELECT DISTINCT first_month, last_month, data_version FROM effect_window"
        ).fetchall()
    }
    catalog = load_catalog()
    policies = [p.code for p in catalog.policies]
    written = 0
    for last in months[1:]:
        version = f"{versions[first]}|{versions[last]}"
        if stored.get((first, last)) == version or ending not in {None, last}:
            continue
        panel = load_panel(conn, "", first, last)
        areas: dict[str, AreaEffects] = {}
        for length in levels:
            for code, rows in panel.groupby(panel["village_code"].str[:length], sort=True):
                areas[str(code)] = area_effects(rows, policies, catalog.standard)
        with conn.transaction():
            _write(conn, (first, last), version, areas)
        written += 1
    with conn.transaction():
        conn.execute(
            "DELETE FROM effect_window WHERE first_month <> %s OR NOT last_month = ANY(%s)",
            (first, months[1:]),
        )
    return written


_READ_SQL = """
SELECT w.households, w.fell_back, r.policy_code, r.n_treated, r.n_control, r.effect, r.low,
       r.high, r.fell_back
FROM effect_window w
JOIN derive_run f ON f.month = w.first_month
JOIN derive_run l ON l.month = w.last_month
LEFT JOIN effect_rollup r USING (code, first_month, last_month)
WHERE w.code = %(area)s AND w.first_month = %(first)s AND w.last_month = %(last)s
  AND w.data_version = f.data_version || '|' || l.data_version
"""


def stored_effects(
    conn: psycopg.Connection, area: str, first: dt.date, last: dt.date
) -> AreaEffects | None:
    """The estimates computed ahead for ``area`` over the window; None when none are current.

    Runs under the caller's scope: an area outside it reads as not computed.
    """
    rows = conn.execute(_READ_SQL, {"area": area, "first": first, "last": last}).fetchall()
    if not rows:
        return None
    estimates = {
        row[2]: Estimate(row[3], row[4], row[5], row[6], row[7], row[8])
        for row in rows
        if row[2] is not None
    }
    return AreaEffects(int(rows[0][0]), rows[0][1], estimates)
