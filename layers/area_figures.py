"""Key figures of one area at any level: households, people, open warnings, gaps, visits.

The month's totals come from the rollups; open warnings are counted as they stand now (a warning
resolved since the month was derived no longer counts). For roles whose counts are suppressed,
the figures pass :func:`layers.deidentify.suppress_small` (1-4 read "<5"), and what would let a
suppressed count be worked out from the others is withheld too (complementary suppression).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import psycopg

from core.access import SUPPRESS_BELOW
from core.scope import Scope
from layers.deidentify import suppress_small

#: Warning statuses that are still open.
OPEN_STATUSES = ("raised", "acknowledged", "verified")
WARNING_LEVELS = ("red", "orange", "yellow")
#: Figures that count households, people or items: suppressed below 5 where the role requires.
COUNTS = ("households", "people", "open_warnings", *WARNING_LEVELS, "benefit_gaps", "visited")

_ROLLUP_SQL = """
SELECT month, households, people, benefit_gaps, visited_30d
FROM rollup WHERE code = %(code)s ORDER BY month DESC LIMIT 1
"""
_OPEN_SQL = """
SELECT level, count(*) FROM warning
WHERE status = ANY(%(open)s)
  AND county_code >= %(county_low)s AND county_code < %(county_high)s
  AND village_code LIKE %(area_like)s AND village_code LIKE %(scope_like)s
GROUP BY level
"""


@dataclass(frozen=True, slots=True)
class AreaFigures:
    """What the panel shows of an area; counts may read "<5", withheld ones are None."""

    month: dt.date | None
    values: dict[str, Any] = field(default_factory=dict)
    #: Some count was suppressed (the panel says why).
    suppressed: bool = False

    @property
    def empty(self) -> bool:
        """No household lives here (this month)."""
        return self.month is not None and self.values.get("households") == 0


def area_figures(
    conn: psycopg.Connection, scope: Scope, code: str, *, suppress: bool
) -> AreaFigures | None:
    """The key figures of ``code`` inside ``scope``; None for an area above the jurisdiction.

    Parameters
    ----------
    conn
        A connection scoped to ``scope`` (row-level security applies).
    scope
        The viewer's jurisdiction: only areas it covers have figures.
    code
        Any admin area, province to village.
    suppress
        Show counts of 1-4 as "<5" (roles without full portrait rights).
    """
    if not scope.covers(code):
        return None
    row = conn.execute(_ROLLUP_SQL, {"code": code}).fetchone()
    if row is None:
        return AreaFigures(month=None)
    month, households, people, gaps, visited = row
    open_counts: dict[str, int] = dict(
        conn.execute(
            _OPEN_SQL,
            {
                "open": list(OPEN_STATUSES),
                **Scope(code[:6]).counties,
                "area_like": code + "%",
                "scope_like": scope.like,
            },
        ).fetchall()
    )
    values: dict[str, Any] = {
        "households": int(households),
        "people": int(people),
        "benefit_gaps": int(gaps),
        "visited": int(visited),
        **{level: int(open_counts.get(level, 0)) for level in WARNING_LEVELS},
    }
    values["open_warnings"] = sum(values[level] for level in WARNING_LEVELS)
    values["visit_coverage"] = 100.0 * visited / households if households else None
    if not suppress:
        return AreaFigures(month, values)
    return _suppressed(month, values)


def _small(value: int) -> bool:
    return 0 < value < SUPPRESS_BELOW


def _suppressed(month: dt.date, values: dict[str, Any]) -> AreaFigures:
    """Counts 1-4 as "<5", plus what would give a suppressed count away."""
    hidden = suppress_small(values, COUNTS)
    assert isinstance(hidden, dict)
    # The total and two of the three levels would give the third: one hidden level hides all.
    if sum(1 for level in WARNING_LEVELS if _small(values[level])) == 1:
        hidden |= dict.fromkeys(WARNING_LEVELS)
    # Coverage times households gives the visited (or the unvisited) households.
    households, visited = values["households"], values["visited"]
    if _small(households) or _small(visited) or _small(households - visited):
        hidden["visit_coverage"] = None
    changed = any(hidden[k] != values[k] for k in values)
    return AreaFigures(month, hidden, suppressed=changed)
