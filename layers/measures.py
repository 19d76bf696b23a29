"""The measures a choropleth can show, built from their declarations in the layer catalog.

Each measure is declared once in ``layers/layers.yaml`` (``measures:``); here its value becomes
SQL over the ``rollup`` table (alias ``r``), composed only from identifiers the catalog checked
against :data:`layers.catalog.ROLLUP_COLUMNS`. Names and units are UI texts: they live in the
message catalog (``measure.<key>``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from layers.catalog import MeasureSpec, catalog


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
    #: The catalog layer that carries the measure (the map's download menu offers it first).
    layer: str = field(kw_only=True)


def _col(name: str) -> sql.Identifier:
    return sql.Identifier("r", name)


def expression(spec: MeasureSpec) -> sql.Composable:
    """The SQL of a declared measure: a rollup column, or a scaled ratio of rollup columns."""
    if spec.kind == "column":
        assert spec.column is not None  # the catalog's validator guarantees it
        return _col(spec.column)
    assert spec.denominator is not None
    terms = [_col(name) for name in spec.numerator]
    numerator = terms[0] if len(terms) == 1 else sql.SQL("({})").format(sql.SQL(" + ").join(terms))
    return sql.SQL("{} * {} / NULLIF({}, 0)").format(
        sql.Literal(float(spec.scale)), numerator, _col(spec.denominator)
    )


def measure(spec: MeasureSpec) -> Measure:
    """The measure a catalog declaration describes."""
    return Measure(
        spec.key,
        expression(spec),
        higher_is_worse=spec.higher_is_worse,
        decimals=spec.decimals,
        is_count=spec.is_count,
        counts=spec.counts,
        layer=spec.layer,
    )


#: The catalog's measures, in the order of the map's measure switcher.
MEASURES: dict[str, Measure] = {key: measure(spec) for key, spec in catalog().measures.items()}
DEFAULT_MEASURE = "warnings_per_100"
