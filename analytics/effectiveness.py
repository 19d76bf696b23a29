"""Effectiveness evaluation (成效评估): did a benefit raise incomes, matched, over the months.

Per area and per benefit policy (the help-measure catalog replaces policies when it lands):
households that started receiving the policy between the first and the last month of a window
(treated) are compared with households that never received it (controls), matched exactly on
town, household size, labour capacity and prior-income quintile. The estimate is a
difference in differences: the treated households' change in income per person minus the
change of the controls in their own stratum, averaged over the treated (an ATT), with a normal
95 % interval. Below :data:`MIN_TREATED` matched treated households the answer is "not enough
data" (None), never a figure. docs/analytics.md states the method and its limits.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import psycopg

#: Fewer matched treated households than this: no estimate.
MIN_TREATED = 30
Z95 = 1.959964

# Members and benefits are narrowed to the area's county (or the counties under a city or the
# province) before they are grouped: a town's panel read 10 s of the province's rows before.
_PANEL_SQL = """
WITH labour AS (
    SELECT month, household_id,
           count(*) FILTER (WHERE age BETWEEN 16 AND 59 AND disability_grade IS NULL
                            AND NOT serious_illness AND NOT is_student) AS labour
    FROM member_features
    WHERE month IN (%(first)s, %(last)s)
      AND county_code >= left(%(area)s, 6) AND county_code < left(%(area)s, 6) || ':'
    GROUP BY 1, 2
), received AS (
    SELECT household_id, policy_code, bool_or(month = %(first)s) AS at_start,
           bool_or(month = %(last)s) AS at_end, bool_or(true) AS ever
    FROM benefit
    WHERE received AND month BETWEEN %(first)s AND %(last)s
      AND county_code >= left(%(area)s, 6) AND county_code < left(%(area)s, 6) || ':'
    GROUP BY 1, 2
)
SELECT s.household_id, s.village_code, s.size, coalesce(l.labour, 0) AS labour,
       s.income_per_capita AS income_start, e.income_per_capita AS income_end,
       coalesce(array_agg(r.policy_code) FILTER (WHERE r.at_start), '{}') AS at_start,
       coalesce(array_agg(r.policy_code) FILTER (WHERE r.at_end), '{}') AS at_end,
       coalesce(array_agg(r.policy_code) FILTER (WHERE r.ever), '{}') AS ever
FROM household_features s
JOIN household_features e ON e.household_id = s.household_id AND e.month = %(last)s
LEFT JOIN labour l ON l.month = s.month AND l.household_id = s.household_id
LEFT JOIN received r ON r.household_id = s.household_id
WHERE s.month = %(first)s
  AND s.village_code >= %(area)s AND s.village_code < %(area)s || ':'
  AND s.income_per_capita IS NOT NULL AND e.income_per_capita IS NOT NULL
GROUP BY s.household_id, s.village_code, s.size, l.labour, s.income_per_capita,
         e.income_per_capita
"""


@dataclass(frozen=True, slots=True)
class Estimate:
    """An effect on income per person (yuan per month) with its n and 95 % interval.

    ``effect`` is None when fewer than the minimum of treated households were matched.
    """

    n_treated: int
    n_control: int
    effect: float | None
    low: float | None
    high: float | None
    #: Share of treated households at or above the standard at the start and under it at the
    #: end (None without treated households above it at the start).
    fell_back: float | None = None


def load_panel(conn: psycopg.Connection, area: str, first: dt.date, last: dt.date) -> pd.DataFrame:
    """One row per household of ``area`` present at ``first`` and ``last`` with known incomes.

    Columns: household_id, village_code, size, labour (working-age members able to work),
    income_start, income_end, and the policies received at the start, at the end and ever
    (lists). Runs under the caller's scope (row-level security).
    """
    cursor = conn.execute(_PANEL_SQL, {"area": area, "first": first, "last": last})
    columns = [d.name for d in cursor.description or ()]
    frame = pd.DataFrame(cursor.fetchall(), columns=columns)
    for column in ("income_start", "income_end"):
        frame[column] = frame[column].astype(float)
    return frame


def strata(panel: pd.DataFrame) -> list[pd.Series]:
    """Matching cells of each household, finest first, as integer codes.

    Town, size band (1, 2, 3, 4+), labour band (0, 1, 2+) and prior-income quintile; then the
    same within the county, for treated households whose town has no comparable control.
    Codes are unique across the levels (a county cell never shares a code with a town cell).
    """
    size = panel["size"].clip(upper=4).astype(int).to_numpy()
    labour = panel["labour"].clip(upper=2).astype(int).to_numpy()
    ranks = panel["income_start"].rank(method="first")
    quintile = (
        pd.qcut(ranks, 5, labels=False).astype(int).to_numpy()
        if len(panel) >= 5
        else np.zeros(len(panel), dtype=int)
    )
    alike = (size * 3 + labour) * 5 + quintile  # size 0-4, labour 0-2, quintile 0-4
    villages = panel["village_code"].astype(str)
    levels = [villages.str[:9], villages.str[:6]]
    return _codes(
        [pd.Series(pd.factorize(level)[0] * 75 + alike, index=panel.index) for level in levels]
    )


def _codes(cells: list[pd.Series]) -> list[pd.Series]:
    """Cells as integer codes, unique across the levels (finest first)."""
    coded: list[pd.Series] = []
    offset = 0
    for cell in cells:
        codes, uniques = pd.factorize(cell)
        coded.append(pd.Series(codes + offset, index=cell.index))
        offset += len(uniques)
    return coded


def _pooled_variance(values: pd.Series, cells: pd.Series) -> float:
    """Within-cell variance pooled over cells (cell means removed, their degrees of freedom too)."""
    residuals = values - values.groupby(cells).transform("mean")
    dof = len(values) - cells.nunique()
    return float((residuals**2).sum() / dof) if dof > 0 else float(values.var(ddof=1) or 0.0)


def did_estimate(
    change: pd.Series,
    treated: pd.Series,
    control: pd.Series,
    cells: list[pd.Series],
    *,
    min_treated: int = MIN_TREATED,
) -> Estimate:
    """The matched difference in differences of ``change`` (end minus start).

    Each treated household is compared with the controls of its finest cell (``cells``, finest
    first) that has any; treated households without one are dropped (unmatched). The variance
    is that of a stratified difference of means, the treated and control variances pooled
    within cells.
    """
    return _did(change, treated.to_numpy(bool), control.to_numpy(bool), _codes(cells), min_treated)


def _did(
    change: pd.Series,
    treated: np.ndarray,
    control: np.ndarray,
    cells: list[pd.Series],
    min_treated: int,
) -> Estimate:
    """:func:`did_estimate` on cells already coded by :func:`_codes`."""
    if not treated.any():  # most policies start nowhere in most areas: nothing to match
        return Estimate(0, int(control.sum()), None, None, None)
    chosen = np.full(len(change), -1)
    control_change = change[control]
    means: list[pd.Series] = []
    sizes: list[pd.Series] = []
    for cell in cells:
        codes = cell.to_numpy()
        grouped = control_change.groupby(codes[control])
        means.append(grouped.mean())
        sizes.append(grouped.size())
        free = treated & (chosen < 0) & np.isin(codes, means[-1].index)
        chosen[free] = codes[free]
    is_matched = treated & (chosen >= 0)
    matched = pd.Series(chosen[is_matched], index=change.index[is_matched])
    n_t, n_c = len(matched), int(control.sum())
    if n_t < min_treated:
        return Estimate(n_t, n_c, None, None, None)
    control_means, control_sizes = pd.concat(means), pd.concat(sizes)
    differences = change[matched.index] - control_means.reindex(matched.to_numpy()).to_numpy()
    effect = float(differences.mean())
    treated_var = _pooled_variance(change[matched.index], matched)
    control_var = _pooled_variance(control_change, cells[0][control])
    weights = matched.value_counts()
    cell_sizes = pd.Series(control_sizes.reindex(weights.index).to_numpy(), index=weights.index)
    per_cell = (weights / n_t) ** 2 * (treated_var / weights + control_var / cell_sizes)
    se = math.sqrt(float(per_cell.sum()))
    return Estimate(n_t, n_c, effect, effect - Z95 * se, effect + Z95 * se)


def holds(lists: pd.Series, policies: list[str]) -> pd.DataFrame:
    """Households × policies: whether each household's list of policy codes holds the policy."""
    codes = lists.explode().dropna()
    codes = codes[codes.isin(policies)]
    flags = np.zeros((len(lists), len(policies)), dtype=bool)
    flags[lists.index.get_indexer(codes.index), pd.Index(policies).get_indexer(codes)] = True
    return pd.DataFrame(flags, index=lists.index, columns=policies)


def policy_effects(
    panel: pd.DataFrame, policies: list[str], *, standard: float, min_treated: int = MIN_TREATED
) -> dict[str, Estimate]:
    """The effect of starting to receive each of ``policies`` on income per person.

    The matching cells and the policy flags are computed once for the panel.
    """
    panel = panel.reset_index(drop=True)
    cells = strata(panel)
    start, end, ever = (holds(panel[c], policies) for c in ("at_start", "at_end", "ever"))
    change = panel["income_end"] - panel["income_start"]
    above = (panel["income_start"] >= standard).to_numpy()
    fell = (panel["income_end"] < standard).to_numpy()
    effects: dict[str, Estimate] = {}
    for policy in policies:
        treated = ~start[policy].to_numpy() & end[policy].to_numpy()
        estimate = _did(change, treated, ~ever[policy].to_numpy(), cells, min_treated)
        treated_above = treated & above
        fell_back = float(fell[treated_above].mean()) if treated_above.any() else None
        effects[policy] = replace(
            estimate, fell_back=None if estimate.n_treated < min_treated else fell_back
        )
    return effects


def policy_effect(
    panel: pd.DataFrame, policy: str, *, standard: float, min_treated: int = MIN_TREATED
) -> Estimate:
    """The effect of starting to receive ``policy`` on income per person, from a panel."""
    return policy_effects(panel, [policy], standard=standard, min_treated=min_treated)[policy]


_OUTCOMES_SQL = """
WITH opened AS (
    SELECT household_id, status, opened_month, closed_at FROM warning
    WHERE opened_month BETWEEN %(first)s AND %(last)s
      AND county_code >= left(%(area)s, 6) AND county_code < left(%(area)s, 6) || ':'
      AND village_code >= %(area)s AND village_code < %(area)s || ':'
), resolved AS (
    SELECT household_id, min(closed_at) AS at FROM opened WHERE status = 'resolved' GROUP BY 1
)
SELECT (SELECT count(*) FROM opened),
       (SELECT count(*) FROM opened WHERE status = 'resolved'),
       (SELECT count(*) FROM resolved),
       (SELECT count(*) FROM resolved r WHERE EXISTS (
            SELECT 1 FROM warning w WHERE w.household_id = r.household_id
              AND w.raised_at > r.at))
"""


@dataclass(frozen=True, slots=True)
class WarningOutcomes:
    """Warnings of an area opened in a window: how many were resolved and came back."""

    opened: int
    resolved: int
    households_resolved: int
    recurred: int

    @property
    def resolution_rate(self) -> float | None:
        """Resolved share of the warnings opened (None below the minimum n)."""
        return self.resolved / self.opened if self.opened >= MIN_TREATED else None

    @property
    def recurrence_rate(self) -> float | None:
        """Share of households with a resolved warning that were warned again."""
        n = self.households_resolved
        return self.recurred / n if n >= MIN_TREATED else None


def warning_outcomes(
    conn: psycopg.Connection, area: str, first: dt.date, last: dt.date
) -> WarningOutcomes:
    """Resolution and recurrence of the warnings opened in ``area`` from ``first`` to ``last``."""
    row = conn.execute(_OUTCOMES_SQL, {"area": area, "first": first, "last": last}).fetchone()
    assert row is not None
    return WarningOutcomes(*(int(v) for v in row))
