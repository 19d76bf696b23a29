"""Choropleth data for the children of an area: values of a measure, class breaks and legend."""

from __future__ import annotations

import datetime as dt
import math
import warnings
from dataclasses import dataclass, field

import mapclassify
import numpy as np
import psycopg
from psycopg import sql

from core.access import SUPPRESS_BELOW, SUPPRESSED
from core.scope import Scope
from geo.admin import get_area
from layers.catalog import catalog
from layers.deidentify import ProtectedCounts, is_small
from layers.measures import MEASURES, Measure

#: The colours come from the catalog's palettes (``layers/layers.yaml``), declared once there.
PALETTES = catalog().palettes
NO_DATA = PALETTES.no_data
#: Areas whose value is exactly zero (no warnings, no gaps): neutral, apart from the ramp.
ZERO_COLOUR = PALETTES.zero
#: Areas whose count is shown as "<5" (to roles without portrait rights).
SUPPRESSED_COLOUR = PALETTES.suppressed
SCHEMES = ("quantiles", "natural_breaks")


def palette(measure: Measure) -> tuple[str, ...]:
    """The catalog ramp a measure is shaded with, light to dark (``worse`` or ``better``)."""
    return PALETTES.worse if measure.higher_is_worse else PALETTES.better


@dataclass(frozen=True, slots=True)
class LegendEntry:
    """One class of the legend."""

    low: float
    high: float
    colour: str
    #: Areas in the class: a count of areas, never suppressed (suppression is for households).
    count: int
    #: Shown instead of the range (the "<5" and the zero class).
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Choropleth:
    """What the map needs to colour the children of an area."""

    measure: Measure
    month: dt.date | None
    #: code → value (None when the area has no data; "<5" when suppressed)
    values: dict[str, float | str | None]
    breaks: list[float] = field(default_factory=list)
    colours: list[str] = field(default_factory=list)
    legend: list[LegendEntry] = field(default_factory=list)
    #: Zero has its own neutral class (measures where more is worse); the ramp starts above it.
    zero_class: bool = False

    def hideout(self) -> dict[str, object]:
        """The browser-side styling data (``hideout`` of the GeoJSON layer).

        Labels (the unit, "no data") are UI texts: the web layer adds them in the viewer's language.
        """
        return {
            "values": self.values,
            "breaks": self.breaks,
            "colours": self.colours,
            "noData": NO_DATA,
            "suppressedColour": SUPPRESSED_COLOUR,
            "zeroColour": ZERO_COLOUR if self.zero_class else None,
            "decimals": self.measure.decimals,
        }


_VALUES_SQL = """
SELECT a.code, {expression}
FROM admin_area a
LEFT JOIN rollup r ON r.code = a.code AND r.month = %(month)s
WHERE a.parent_code = %(code)s AND a.code LIKE %(scope_like)s
ORDER BY a.code
"""


def latest_rollup_month(conn: psycopg.Connection) -> dt.date | None:
    """The latest month with rollups, or None before the first derive."""
    row = conn.execute("SELECT max(month) FROM rollup").fetchone()
    return row[0] if row else None


def classify(values: list[float], k: int = 5, scheme: str = "quantiles") -> list[float]:
    """Upper bounds of up to ``k`` classes covering every value (mapclassify)."""
    if not values:
        return []
    data = np.asarray(values, dtype=float)
    distinct = np.unique(data)
    if distinct.size <= k:
        return [float(v) for v in distinct]
    with warnings.catch_warnings():
        # Fewer classes than k among repeated values is expected (mapclassify says so): the
        # legend simply has fewer rows.
        warnings.simplefilter("ignore", category=UserWarning)
        if scheme == "natural_breaks":
            try:
                bins = mapclassify.NaturalBreaks(data, k=k).bins
            except ValueError:  # values that differ only by ~1e-170 defeat the clustering
                bins = mapclassify.Quantiles(data, k=k).bins
        else:
            bins = mapclassify.Quantiles(data, k=k).bins
    return sorted({float(b) for b in bins})


def children_choropleth(
    conn: psycopg.Connection,
    scope: Scope,
    code: str,
    measure_key: str,
    *,
    scheme: str = "quantiles",
    month: dt.date | None = None,
) -> Choropleth:
    """Values, breaks and legend of a measure for the children of ``code`` inside ``scope``.

    ``month`` is the first day of the month shown (default: the latest month with rollups).

    Raises
    ------
    KeyError
        For an unknown measure (the caller allowlists keys from :data:`MEASURES`).
    """
    measure = MEASURES[measure_key]
    get_area(conn, scope, code)
    month = month or latest_rollup_month(conn)
    rows = (
        conn.execute(
            sql.SQL(_VALUES_SQL).format(expression=measure.expression),
            {"month": month, "code": code, "scope_like": scope.like},
        ).fetchall()
        if month
        else []
    )
    values: dict[str, float | str | None] = {
        str(c): (None if v is None or math.isnan(float(v)) else round(float(v), 4)) for c, v in rows
    }
    return _classified(measure, month, values, scheme)


def _classified(
    measure: Measure, month: dt.date | None, values: dict[str, float | str | None], scheme: str
) -> Choropleth:
    present = [v for v in values.values() if isinstance(v, float)]
    # Where more is worse, zero (no warnings, no gaps) is not a shade of alarm: its own class.
    zero_class = measure.higher_is_worse and 0.0 in present
    ramp = [v for v in present if v != 0.0] if zero_class else present
    breaks = classify(ramp, scheme=scheme if scheme in SCHEMES else "quantiles")
    ramp_colours = palette(measure)
    colours = list(ramp_colours[len(ramp_colours) - len(breaks) :]) if breaks else []
    legend: list[LegendEntry] = []
    previous = -math.inf
    for high, colour in zip(breaks, colours, strict=True):
        count = sum(1 for v in ramp if previous < v <= high)
        low = min(ramp) if previous == -math.inf else previous
        legend.append(LegendEntry(low, high, colour, count))
        previous = high
    hidden = sum(1 for v in values.values() if isinstance(v, str))
    if hidden:
        legend.insert(0, LegendEntry(1, SUPPRESS_BELOW - 1, SUPPRESSED_COLOUR, hidden, SUPPRESSED))
    if zero_class:
        zeros = sum(1 for v in present if v == 0.0)
        legend.insert(0, LegendEntry(0.0, 0.0, ZERO_COLOUR, zeros, "0"))
    return Choropleth(measure, month, values, breaks, colours, legend, zero_class)


def suppressed(choropleth: Choropleth, protected: ProtectedCounts) -> Choropleth:
    """The choropleth as a role without portrait rights sees it (:mod:`layers.deidentify`).

    An area's value is withheld ("<5", or "*" for complementary suppression) whenever a count
    it is built on is: a count of 1-4 itself, or the numerator or denominator of a rate or
    share. The class breaks are computed again without the withheld values, so no break gives
    them away; legend counts are numbers of areas, not households, and stay as they are.
    """
    measure = choropleth.measure
    values: dict[str, float | str | None] = {}
    for code, value in choropleth.values.items():
        marker = protected.withheld(code, measure.counts)
        if marker is None and measure.is_count and is_small(value):
            marker = SUPPRESSED
        values[code] = marker if marker is not None and value is not None else value
    return _classified(measure, choropleth.month, values, "quantiles")
