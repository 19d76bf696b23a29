"""Statistics of an area over the months (统计分析): time series, warning factors, a ranking.

Everything comes from the rollups (``rollup`` and ``trend_rollup``), read under the viewer's
scope; the result is plain tables (pandas) that the statistics page charts and the downloads
write, so a chart and its XLSX show the same numbers. Counts of 1-4 are suppressed for roles
that see aggregates only (:func:`layers.deidentify.suppress_small`), as on the map.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
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
#: Series columns read as they are (non-null counts), and those a month may lack (trends).
_INT_COLUMNS = (
    "households",
    "people",
    "entries",
    "exits",
    "warnings_red",
    "warnings_orange",
    "warnings_yellow",
)
_NULLABLE_COLUMNS = ("warnings_new", "responded_3h", "gaps_opened", "gaps_closed", "below_line")
#: Columns that count households or people (suppressed below 5 for aggregate-only roles).
COUNT_COLUMNS = (*_INT_COLUMNS, "gaps_open", *_NULLABLE_COLUMNS)
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


def _pct(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """100 × numerator / denominator to one decimal (NaN: a value missing, or no denominator)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = 100 * numerator / np.where(denominator > 0, denominator, np.nan)
    return np.round(shares, 1)


def _floats(rows: list[dict[str, Any]], column: str) -> np.ndarray:
    """``column`` of ``rows`` as floats (NaN where it is NULL or the row lacks it)."""
    values = (r.get(column) for r in rows)
    return np.array([np.nan if v is None else float(v) for v in values], dtype=float)


def _series(rows: list[dict[str, Any]], code: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    # Plain lists, one frame built at the end: a few months of two areas, where pandas'
    # per-column assignment cost more than the query (7 ms → under 1 ms a view).
    own = [r for r in rows if r["code"] == code]
    province = {r["month"]: r for r in rows if r["code"] == PROVINCE}
    months = [r["month"] for r in own]
    columns: dict[str, Any] = {"month": [f"{m:%Y-%m}" for m in months]}
    for column in _INT_COLUMNS:
        columns[column] = np.array([int(r[column]) for r in own], dtype=np.int64)
    columns["income_median"] = _floats(own, "income_median")
    same_month = [province.get(m, {}) for m in months]
    columns["province_income_median"] = _floats(same_month, "income_median")
    columns["income_growth"] = _floats(own, "income_growth_mom")
    columns["province_income_growth"] = _floats(same_month, "income_growth_mom")
    for column in _NULLABLE_COLUMNS:
        columns[column] = pd.array([r[column] for r in own], dtype="Int64")
    columns["response_3h_pct"] = _pct(_floats(own, "responded_3h"), _floats(own, "warnings_new"))
    columns["gaps_open"] = np.array([int(r["benefit_gaps"]) for r in own], dtype=np.int64)
    columns["sharing_pct"] = _pct(
        _floats(own, "portrait_fields_auto"), _floats(own, "portrait_fields_total")
    )
    columns["visit_coverage_pct"] = _pct(_floats(own, "visited_30d"), columns["households"])
    series = pd.DataFrame({c: columns[c] for c in SERIES_COLUMNS})
    factors = pd.DataFrame(
        [r["warnings_by_factor"] for r in own], index=pd.Index(columns["month"], name="month")
    ).fillna(0)
    factors = factors.astype(int).reindex(sorted(factors.columns), axis=1).reset_index()
    return series, factors


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
    names = [d.name for d in cursor.description or ()]
    rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    if not any(r["code"] == code for r in rows):
        return _empty_series(), pd.DataFrame(columns=["month"]), None
    series, factors = _series(rows, code)
    return series, factors, month or max(r["month"] for r in rows)


def _empty_series() -> pd.DataFrame:
    return pd.DataFrame(columns=list(SERIES_COLUMNS))
