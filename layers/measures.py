"""The measures a choropleth can show: name, unit, and how each comes from the rollups."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True, slots=True)
class Measure:
    """One choropleth measure over the ``rollup`` table (alias ``r``)."""

    key: str
    name_zh: str
    name_en: str
    unit_zh: str
    unit_en: str
    expression: sql.Composable
    #: True when a higher value is worse (warnings, gaps); colours run the same way.
    higher_is_worse: bool = True
    #: Decimal places shown.
    decimals: int = 1


def _col(name: str) -> sql.Identifier:
    return sql.Identifier("r", name)


def _per(numerator: sql.Composable, denominator: str, scale: int = 100) -> sql.Composable:
    return sql.SQL("{} * {} / NULLIF({}, 0)").format(
        sql.Literal(float(scale)), numerator, _col(denominator)
    )


_WARNINGS = sql.SQL("({} + {} + {})").format(
    _col("warnings_red"), _col("warnings_orange"), _col("warnings_yellow")
)

MEASURES: dict[str, Measure] = {
    m.key: m
    for m in (
        Measure(
            "warnings_per_100",
            "每百户预警数",
            "Warnings per 100 households",
            "户/百户",
            "per 100 households",
            _per(_WARNINGS, "households"),
        ),
        Measure(
            "red_warnings",
            "红色预警",
            "Red warnings",
            "户",
            "households",
            _col("warnings_red"),
            decimals=0,
        ),
        Measure(
            "income_median",
            "人均月收入中位数",
            "Median income per capita",
            "元/人·月",
            "yuan per person-month",
            _col("income_median"),
            higher_is_worse=False,
            decimals=0,
        ),
        Measure(
            "income_growth",
            "收入环比增长",
            "Income growth (month on month)",
            "%",
            "%",
            _col("income_growth_mom"),
            higher_is_worse=False,
        ),
        Measure(
            "benefit_gaps",
            "每百户应享未享",
            "Benefit gaps per 100 households",
            "项/百户",
            "per 100 households",
            _per(_col("benefit_gaps"), "households"),
        ),
        Measure(
            "unsafe_housing",
            "危房占比",
            "Unsafe housing share",
            "%",
            "% of appraised",
            _per(_col("unsafe_housing"), "housing_assessed"),
        ),
        Measure(
            "unsafe_water",
            "饮水不安全占比",
            "Unsafe water share",
            "%",
            "% of checked",
            _per(_col("unsafe_water"), "water_checked"),
        ),
        Measure(
            "visit_coverage",
            "30天走访覆盖率",
            "Visited in the last 30 days",
            "%",
            "% of households",
            _per(_col("visited_30d"), "households"),
            higher_is_worse=False,
        ),
    )
}
DEFAULT_MEASURE = "warnings_per_100"
