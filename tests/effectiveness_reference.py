"""The effectiveness estimate as it was before it was vectorised (string cells, one pass per
policy), kept as the reference the vectorised estimate is compared with."""

from __future__ import annotations

import math

import pandas as pd

from analytics.effectiveness import MIN_TREATED, Z95, Estimate


def reference_strata(panel: pd.DataFrame) -> list[pd.Series]:
    """Matching cells of each household, finest first.

    Town, size band (1, 2, 3, 4+), labour band (0, 1, 2+) and prior-income quintile; then the
    same within the county, for treated households whose town has no comparable control.
    """
    size = panel["size"].clip(upper=4).astype(int).astype(str)
    labour = panel["labour"].clip(upper=2).astype(int).astype(str)
    ranks = panel["income_start"].rank(method="first")
    quintile = (
        pd.qcut(ranks, 5, labels=False).astype(int).astype(str)
        if len(panel) >= 5
        else pd.Series("0", index=panel.index)
    )
    alike = "|" + size + "|" + labour + "|" + quintile
    return [panel["village_code"].str[:9] + alike, panel["village_code"].str[:6] + alike]


def _pooled_variance(values: pd.Series, cells: pd.Series) -> float:
    """Within-cell variance pooled over cells (cell means removed, their degrees of freedom too)."""
    residuals = values - values.groupby(cells).transform("mean")
    dof = len(values) - cells.nunique()
    return float((residuals**2).sum() / dof) if dof > 0 else float(values.var(ddof=1) or 0.0)


def reference_did_estimate(
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
    chosen = pd.Series(pd.NA, index=change.index, dtype="object")
    for level, cell in enumerate(cells):
        with_controls = set(cell[control])
        free = treated & chosen.isna() & cell.isin(with_controls)
        chosen[free] = f"{level}:" + cell[free]
    matched = chosen[treated].dropna()
    n_t, n_c = len(matched), int(control.sum())
    if n_t < min_treated:
        return Estimate(n_t, n_c, None, None, None)
    control_means: dict[str, float] = {}
    control_sizes: dict[str, int] = {}
    for level, cell in enumerate(cells):
        grouped = change[control].groupby(cell[control])
        control_means |= {f"{level}:{k}": float(v) for k, v in grouped.mean().items()}
        control_sizes |= {f"{level}:{k}": int(v) for k, v in grouped.size().items()}
    differences = change[matched.index] - matched.map(control_means).astype(float)
    effect = float(differences.mean())
    treated_var = _pooled_variance(change[matched.index], matched)
    control_var = _pooled_variance(change[control], cells[0][control])
    weights = matched.value_counts()
    sizes = pd.Series({cell: control_sizes[cell] for cell in weights.index})
    per_cell = (weights / n_t) ** 2 * (treated_var / weights + control_var / sizes)
    se = math.sqrt(float(per_cell.sum()))
    return Estimate(n_t, n_c, effect, effect - Z95 * se, effect + Z95 * se)


def reference_policy_effect(
    panel: pd.DataFrame, policy: str, *, standard: float, min_treated: int = MIN_TREATED
) -> Estimate:
    """The effect of starting to receive ``policy`` on income per person, from a panel."""
    start = panel["at_start"].map(lambda codes: policy in codes)
    end = panel["at_end"].map(lambda codes: policy in codes)
    ever = panel["ever"].map(lambda codes: policy in codes)
    treated, control = ~start & end, ~ever
    change = panel["income_end"] - panel["income_start"]
    estimate = reference_did_estimate(
        change, treated, control, reference_strata(panel), min_treated=min_treated
    )
    above = treated & (panel["income_start"] >= standard)
    fell = float((panel.loc[above, "income_end"] < standard).mean()) if above.any() else None
    return Estimate(
        estimate.n_treated,
        estimate.n_control,
        estimate.effect,
        estimate.low,
        estimate.high,
        None if fell is None or estimate.n_treated < min_treated else fell,
    )
