"""The measures a choropleth can show and how each comes from the rollups.

Their names and units are UI texts: they live in the message catalog (``measure.<key>``).
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True, slots=True)
class Measure:
    """One choropleth measure over the ``rollup`` table (alias ``r``)."""

    key: str
    expression: sql.Composable
    #: True when a higher value is worse (warnings, gaps); colours run the same way.
    higher_is_worse: bool = True
    #: Decimal places shown.
    decimals: int = 1
    #: The value counts households (1-4 are shown as "<5" to roles without portrait rights).
    is_count: bool = False
    #: The rollup counts the value is built on (``layers.deidentify.PROTECTED_COLUMNS``): the
    #: value is withheld wherever one of them is.
    counts: tuple[str, ...] = ()


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
            _per(_WARNINGS, "households"),
            counts=("warnings", "households"),
        ),
        Measure(
            "red_warnings",
            _col("warnings_red"),
            decimals=0,
            is_count=True,
            counts=("warnings_red",),
        ),
        Measure(
            "income_median",
            _col("income_median"),
            higher_is_worse=False,
            decimals=0,
            counts=("households",),
        ),
        Measure(
            "income_growth",
            _col("income_growth_mom"),
            higher_is_worse=False,
            counts=("households",),
        ),
        Measure(
            "benefit_gaps",
            _per(_col("benefit_gaps"), "households"),
            counts=("benefit_gaps", "households"),
        ),
        Measure(
            "unsafe_housing",
            _per(_col("unsafe_housing"), "housing_assessed"),
            counts=("unsafe_housing", "housing_assessed"),
        ),
        Measure(
            "unsafe_water",
            _per(_col("unsafe_water"), "water_checked"),
            counts=("unsafe_water", "water_checked"),
        ),
        Measure(
            "visit_coverage",
            _per(_col("visited_30d"), "households"),
            higher_is_worse=False,
            counts=("visited_30d", "households"),
        ),
        # The assistance loop (analytics/routing.py fills these after each derive).
        Measure(
            "response_minutes",
            _col("response_minutes_median"),
            decimals=0,
            # A median of 1-4 responses would show single responses: withheld with the warnings.
            counts=("warnings",),
        ),
        Measure(
            "attainment_3h",
            _per(_col("red_attained_3h"), "red_due"),
            higher_is_worse=False,
            counts=("red_attained_3h", "red_due"),
        ),
        Measure(
            "plan_coverage",
            _per(_col("plan_covered"), "warned_open"),
            higher_is_worse=False,
            counts=("plan_covered", "warned_open"),
        ),
    )
}
DEFAULT_MEASURE = "warnings_per_100"
