"""Statistics of an area over the months (统计分析): time series, warning factors, a ranking.

Everything comes from the rollups (``rollup`` and ``trend_rollup``), read under the viewer's
scope; the result is plain tables (pandas) that the statistics page charts and the downloads
write, so a chart and its XLSX show the same numbers. Counts of 1-4 are suppressed for roles
that see aggregates only (:func:`layers.deidentify.suppress_small`), as on the map.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import psycopg

from core.scope import Scope
from geo.admin import Area, children, get_area
from layers.choropleth import children_choropleth
from layers.deidentify import suppress_small
from layers.measures import MEASURES

#: The data-sharing target: share of portrait fields filled from department feeds (%).
SHARING_TARGET_PCT = 98.0
#: The province: its median income is the line each area's income is drawn against.
PROVINCE = "33"


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart of the statistics page: columns of the series table drawn as lines or bars."""

    key: str
    #: Message id of the unit (``stats.unit.<unit>``).
    unit: str
    columns: tuple[str, ...]
    bars: bool = False
    #: A horizontal target line (the 98 % sharing target).
    target: float | None = None


#: The charts, in page order; each column's label is ``stats.col.<column>``.
CHARTS: tuple[Chart, ...] = (
    Chart("households", "count", ("households", "people")),
    Chart("entries_exits", "households", ("entries", "exits"), bars=True),
    Chart("income", "yuan", ("income_median", "province_income_median")),
    Chart("income_growth", "percent", ("income_growth", "province_income_growth")),
    Chart("warnings", "households", ("warnings_red", "warnings_orange", "warnings_yellow"), True),
    Chart("response", "percent", ("response_3h_pct",)),
    Chart("benefit_gaps", "count", ("gaps_open", "gaps_opened", "gaps_closed")),
    Chart("sharing", "percent", ("sharing_pct",), target=SHARING_TARGET_PCT),
    Chart("visits", "percent", ("visit_coverage_pct",)),
)
#: Columns that count households or people (suppressed below 5 for aggregate-only roles).
COUNT_COLUMNS = (
    "households",
    "people",
    "entries",
    "exits",
    "warnings_red",
    "warnings_orange",
    "warnings_yellow",
    "warnings_new",
    "responded_3h",
    "gaps_open",
    "gaps_opened",
    "gaps_closed",
    "below_line",
)
SERIES_COLUMNS = (
    "month",
    "households",
    "people",
    "entries",
    "exits",
    "income_median",
    "province_income_median",
    "income_growth",
    "province_income_growth",
    "below_line",
    "warnings_red",
    "warnings_orange",
    "warnings_yellow",
    "warnings_new",
    "responded_3h",
    "response_3h_pct",
    "gaps_open",
    "gaps_opened",
    "gaps_closed",
    "sharing_pct",
    "visit_coverage_pct",
)

_SERIES_SQL = """
SELECT r.month, r.code, r.households, r.people, r.entries, r.exits, r.income_median,
       r.income_growth_mom, r.warnings_red, r.warnings_orange, r.warnings_yellow,
       r.warnings_by_factor, r.benefit_gaps, r.visited_30d, r.portrait_fields_auto,
       r.portrait_fields_total, t.warnings_new, t.responded_3h, t.gaps_opened, t.gaps_closed,
       t.below_line
FROM rollup r
LEFT JOIN trend_rollup t ON t.month = r.month AND t.code = r.code
WHERE r.code IN (%(code)s, %(province)s) AND r.month <= %(until)s
ORDER BY r.month
"""


@dataclass(frozen=True, slots=True)
class AreaStatistics:
    """The statistics of one area up to one month."""

    area: Area
    month: dt.date | None
    #: One row per month (:data:`SERIES_COLUMNS`).
    series: pd.DataFrame
    #: One row per month, one column per warning factor (households warned for it).
    factors: pd.DataFrame
    #: The children on the chosen measure, best-to-worst order of the measure.
    ranking: pd.DataFrame
    measure: str
    suppressed: bool


def _pct(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    shares = 100 * numerator.astype(float) / denominator.astype(float).where(denominator > 0)
    return shares.round(1)


def _series(rows: pd.DataFrame, code: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    own = rows[rows["code"] == code].set_index("month")
    province = rows[rows["code"] == PROVINCE].set_index("month")
    out = pd.DataFrame(index=own.index)
    for column in ("households", "people", "entries", "exits", "warnings_red"):
        out[column] = own[column].astype(int)
    out["warnings_orange"] = own["warnings_orange"].astype(int)
    out["warnings_yellow"] = own["warnings_yellow"].astype(int)
    out["income_median"] = own["income_median"].astype(float)
    out["province_income_median"] = province["income_median"].reindex(out.index).astype(float)
    out["income_growth"] = own["income_growth_mom"].astype(float)
    out["province_income_growth"] = province["income_growth_mom"].reindex(out.index).astype(float)
    for column in ("warnings_new", "responded_3h", "gaps_opened", "gaps_closed", "below_line"):
        out[column] = own[column].astype("Int64")
    out["response_3h_pct"] = _pct(own["responded_3h"], own["warnings_new"])
    out["gaps_open"] = own["benefit_gaps"].astype(int)
    out["sharing_pct"] = _pct(own["portrait_fields_auto"], own["portrait_fields_total"])
    out["visit_coverage_pct"] = _pct(own["visited_30d"], own["households"])
    out = out.reset_index()
    out["month"] = [f"{m:%Y-%m}" for m in out["month"]]
    factors = pd.DataFrame(list(own["warnings_by_factor"]), index=out["month"]).fillna(0)
    factors = factors.astype(int).reindex(sorted(factors.columns), axis=1).reset_index()
    return out[list(SERIES_COLUMNS)], factors


def ranking(
    conn: psycopg.Connection, scope: Scope, code: str, measure: str, month: dt.date | None
) -> pd.DataFrame:
    """The children of ``code`` on ``measure`` in ``month``, worst first (the map's values)."""
    shading = children_choropleth(conn, scope, code, measure, month=month)
    names = {a.code: a.name for a in children(conn, scope, code)}
    frame = pd.DataFrame(
        [
            {"code": c, "area_name": names.get(c, c), "value": v}
            for c, v in shading.values.items()
            if c in names
        ],
        columns=["code", "area_name", "value"],
    )
    numeric = pd.to_numeric(frame["value"], errors="coerce")
    worst_first = not MEASURES[measure].higher_is_worse
    order = numeric.sort_values(ascending=worst_first, na_position="last").index
    return frame.loc[order].reset_index(drop=True)


def area_statistics(
    conn: psycopg.Connection,
    scope: Scope,
    code: str,
    *,
    measure: str,
    month: dt.date | None = None,
    suppress: bool = True,
) -> AreaStatistics:
    """The statistics of area ``code`` over every month up to ``month`` (default: all).

    Raises
    ------
    UnknownArea, OutOfScope
        An area that does not exist or lies outside ``scope``.
    KeyError
        An unknown measure (the caller allowlists :data:`layers.measures.MEASURES`).
    """
    area = get_area(conn, scope, code)
    scope.require(code)
    series, factors, shown_month = read_series(conn, code, month)
    ranked = ranking(conn, scope, code, measure, shown_month)
    if suppress:
        series = suppress_small(series, COUNT_COLUMNS)
        factors = suppress_small(factors, [c for c in factors.columns if c != "month"])
        if MEASURES[measure].is_count:
            ranked = suppress_small(ranked, ["value"])
    return AreaStatistics(area, shown_month, series, factors, ranked, measure, suppress)


def read_series(
    conn: psycopg.Connection, code: str, month: dt.date | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, dt.date | None]:
    """The series and factor tables of ``code`` up to ``month`` (unsuppressed); the last month.

    The caller has checked ``code`` against the scope.
    """
    until = month or dt.date(9999, 12, 1)
    cursor = conn.execute(_SERIES_SQL, {"code": code, "province": PROVINCE, "until": until})
    rows = pd.DataFrame(cursor.fetchall(), columns=[d.name for d in cursor.description or ()])
    if not len(rows) or not (rows["code"] == code).any():
        return _empty_series(), pd.DataFrame(columns=["month"]), None
    series, factors = _series(rows, code)
    return series, factors, month or max(rows["month"])


def _empty_series() -> pd.DataFrame:
    return pd.DataFrame(columns=list(SERIES_COLUMNS))
