"""Synthetic poverty causes (致贫原因): a main and a secondary cause per household.

The cause follows what the household is like: serious or chronic illness makes 因病 likely,
a disability certificate 因残, a single old member 缺劳力, a mountain county 交通条件落后 or
缺水. Drawn from its own random stream, so adding causes changed no other synthetic value.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from etl.feedspec import POVERTY_CAUSES
from synth.population import MOUNTAIN_COUNTIES, Population, rng_for

#: Base weight of each cause (order of :data:`etl.feedspec.POVERTY_CAUSES`).
_BASE = np.array([3.0, 1.0, 0.6, 0.3, 2.0, 1.2, 0.8, 0.4, 0.2, 0.3, 0.5, 0.4])
_ILLNESS, _DISABILITY, _LABOUR, _WATER, _TRANSPORT, _LAND = 0, 1, 4, 8, 9, 7


def household_causes(pop: Population) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Main and secondary cause of every household (indices; secondary -1 = none).

    About 60 % of households have a secondary cause, always different from the main one.
    """
    hh, pp = pop.households, pop.people
    n = hh.no.size
    rng = rng_for(pop.seed, "poverty-cause", n)
    ill = np.bincount(pp.household, weights=pp.chronic | pp.serious, minlength=n) > 0
    disabled = np.bincount(pp.household, weights=pp.disability_onset < 0, minlength=n) > 0
    county = np.array([code[:6] for code in pop.villages.code])[hh.village]
    mountain = np.isin(county, list(MOUNTAIN_COUNTIES))
    # Villages differ (a flood-prone valley, a remote hamlet): each tilts the mix its own way.
    tilt = rng.lognormal(0.0, 0.9, (pop.villages.code.size, _BASE.size))
    weights = np.tile(_BASE, (n, 1)) * tilt[hh.village]
    weights[:, _ILLNESS] += 2.5 * ill
    weights[:, _DISABILITY] += 3.0 * disabled
    weights[:, _LABOUR] += 2.0 * (hh.size == 1)
    weights[:, _TRANSPORT] += 1.5 * mountain
    weights[:, _WATER] += 0.8 * mountain + 1.5 * ~hh.water_safe
    weights[:, _LAND] += 0.4 * ~mountain
    main = _draw(rng, weights)
    weights[np.arange(n), main] = 0.0
    secondary = np.where(rng.random(n) < 0.6, _draw(rng, weights), -1)
    return main, secondary


def _draw(rng: np.random.Generator, weights: NDArray[np.float64]) -> NDArray[np.int64]:
    cumulative = np.cumsum(weights, axis=1)
    u = rng.random(weights.shape[0]) * cumulative[:, -1]
    return (cumulative < u[:, None]).sum(axis=1).astype(np.int64)


def cause_labels(indices: NDArray[np.int64]) -> NDArray[np.str_]:
    """The zh codes civil affairs sends ('' where there is none)."""
    labels = np.array([*POVERTY_CAUSES, ""])
    return labels[np.where(indices < 0, len(POVERTY_CAUSES), indices)]
