"""Everything the statistics page shows for one view, read in one go (no Dash components)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import psycopg

from analytics.catalog import load_catalog
from analytics.effect_rollup import AreaEffects, area_effects, stored_effects
from analytics.effectiveness import (
    MIN_TREATED,
    Estimate,
    WarningOutcomes,
    load_panel,
    warning_outcomes,
)
from core.access import User
from dashboards.recent import Recent
from dashboards.state import View
from geo.admin import Area, lineage
from layers.months import resolve_month, shown_months
from layers.statistics import AreaStatistics, area_statistics
from layers.wall import wall_version


@dataclass(frozen=True, slots=True)
class EffectRow:
    """One policy's estimate as the page and the download show it."""

    code: str
    name_zh: str
    name_en: str
    n_treated: int
    n_control: int
    effect: float | None
    low: float | None
    high: float | None
    fell_back: float | None

    @property
    def fell_back_text(self) -> str:
        """The share that fell back under the standard, in percent (or a dash)."""
        return "—" if self.fell_back is None else f"{100 * self.fell_back:.1f} %"


@dataclass(frozen=True, slots=True)
class Effectiveness:
    """The effectiveness section of an area over a window of months."""

    first: dt.date
    last: dt.date
    rows: list[EffectRow]
    outcomes: WarningOutcomes
    #: Households at or above the standard at the start and under it at the end (share).
    fell_back: float | None
    households: int


@dataclass(frozen=True, slots=True)
class StatsView:
    """The statistics page's data for one view."""

    view: View
    trail: list[Area]
    months: list[dt.date]
    stats: AreaStatistics
    min_n: int = MIN_TREATED


def load_stats(conn: psycopg.Connection, user: User, view: View) -> StatsView:
    """The series, factors and ranking of ``view``'s area up to its month, in ``user``'s scope.

    Raises
    ------
    UnknownArea, OutOfScope
        An area that does not exist or lies outside the user's jurisdiction.
    """
    months = shown_months(conn)
    month = resolve_month(months, view.month)
    suppress = user.permissions.suppress_small_counts
    user.scope.require(view.area)
    # The same area, measure and month read the same for everyone whose jurisdiction holds the
    # area (suppressed or not): computed once per data version (the rollups change only with it).
    stats = _STATISTICS.get(
        (view.area, view.measure, month, suppress, wall_version(conn)),
        lambda: area_statistics(
            conn, user.scope, view.area, measure=view.measure, month=month, suppress=suppress
        ),
    )
    return StatsView(view, lineage(conn, user.scope, view.area), months, stats)


#: The page's series, factors and ranking per area, measure, month and data version.
_STATISTICS = Recent(256)
#: Estimates of areas not computed ahead (villages, towns): one panel read per data version
#: (a re-derive of the same publication counts as a new version too).
_ESTIMATES = Recent(64)
#: Warning outcomes change as officials close warnings: kept a minute (the province's take
#: 0.1–0.2 s to count, on every statistics page view otherwise).
_OUTCOMES = Recent(256, seconds=60.0)


def _estimate_row(code: str, names: tuple[str, str], estimate: Estimate) -> EffectRow:
    return EffectRow(
        code,
        names[0],
        names[1],
        estimate.n_treated,
        estimate.n_control,
        estimate.effect,
        estimate.low,
        estimate.high,
        estimate.fell_back,
    )


def load_effectiveness(
    conn: psycopg.Connection, area: str, months: list[dt.date], month: dt.date | None
) -> Effectiveness | None:
    """Per-policy effects of ``area`` from the first month to ``month``; None below 2 months.

    The estimates computed after the derive (:mod:`analytics.effect_rollup`) are read; an area
    without them (a village) is estimated here, cached per data version.
    """
    window = [m for m in months if month is None or m <= month]
    if len(window) < 2:
        return None
    first, last = window[0], window[-1]
    catalog = load_catalog()
    version = wall_version(conn)
    effects = stored_effects(conn, area, first, last) or _estimated(
        conn, area, (first, last), version
    )
    estimates = [
        _estimate_row(p.code, (p.name_zh, p.name_en), effects.estimates[p.code])
        for p in catalog.policies
        if p.code in effects.estimates
    ]
    # Policies nobody started in the window say nothing; the rest, most households first.
    rows = sorted((r for r in estimates if r.n_treated), key=lambda r: (-r.n_treated, r.code))
    return Effectiveness(
        first,
        last,
        rows,
        _OUTCOMES.get(
            (area, first, last, version), lambda: warning_outcomes(conn, area, first, last)
        ),
        effects.fell_back,
        effects.households,
    )


def _estimated(
    conn: psycopg.Connection, area: str, window: tuple[dt.date, dt.date], version: str
) -> AreaEffects:
    """The estimates of an area not computed ahead: the panel is read once per data version."""
    first, last = window

    def estimate() -> AreaEffects:
        catalog = load_catalog()
        panel = load_panel(conn, area, first, last)
        return area_effects(panel, [p.code for p in catalog.policies], catalog.standard)

    return _ESTIMATES.get((area, first, last, version), estimate)
