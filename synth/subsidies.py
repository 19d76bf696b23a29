"""The subsidy ledger: what the paying departments paid this month, by the policy catalog.

Codes, names and paying departments come from the catalog (``analytics/policies.yaml``); the
rules here are the synthetic departments' own (what they pay whom), not the catalog's rules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analytics.catalog import load_catalog
from synth.context import MonthContext, cents
from synth.population import FloatArray, IntArray, StrArray

_SPRING_FESTIVAL_MONTH = {2024: 2, 2025: 1, 2026: 2, 2027: 2}
_MID_AUTUMN_MONTH = {2024: 9, 2025: 10, 2026: 9, 2027: 9}


Rows = list[tuple[int, IntArray, FloatArray]]  # (policy number, households, amounts)


def _departments(codes: StrArray) -> StrArray:
    """The paying department of each policy code, from the catalog."""
    catalog = {p.code: p.department for p in load_catalog().policies}
    known = np.array(sorted(catalog))
    at = np.minimum(np.searchsorted(known, codes), known.size - 1)
    if not np.array_equal(known[at], codes):
        raise ValueError(f"policy codes not in the catalog: {sorted(set(codes) - set(known))}")
    return np.array([catalog[c] for c in known])[at]


def _per_household(
    ctx: MonthContext, policy: int, persons: IntArray, amounts: FloatArray | float
) -> tuple[int, IntArray, FloatArray]:
    """Sum person-level entitlements into one payment per household."""
    amounts = np.broadcast_to(np.asarray(amounts, dtype=float), persons.shape)
    households, inverse = np.unique(ctx.pop.people.household[persons], return_inverse=True)
    totals = np.bincount(inverse, weights=amounts, minlength=households.size)
    return policy, households, totals.astype(np.float64)


def _household_rules(ctx: MonthContext) -> Rows:
    """Monthly allowances decided per household: 低保, 特困, 低边."""
    hh, act, std = ctx.pop.households, ctx.households, load_catalog().standard
    status, size = hh.status[act], hh.size[act]
    income = ctx.income()[act]
    dibao, tekun = status == 0, status == 1
    single = dibao & (size == 1)
    low_edge = (status == 2) & (income < 1.5 * std)
    return [
        (1, act[dibao], (np.maximum(std - income, 0.15 * std) * size)[dibao]),
        (2, act[tekun], (1.3 * std * size)[tekun]),
        (4, act[low_edge], (0.1 * std * size)[low_edge]),
        (5, act[single], np.full(int(single.sum()), 0.1 * std)),
    ]


def _person_rules(ctx: MonthContext) -> Rows:
    """Entitlements of individual members: care, disability, old age, insurance, medical aid."""
    hh, pp, persons = ctx.pop.households, ctx.pop.people, ctx.people
    status = hh.status[pp.household[persons]]
    age = ctx.age(persons)
    disabled = pp.disability_onset[persons] <= ctx.index
    grade = np.where(disabled, pp.disability_grade[persons], 9)
    care = (status == 1) & ((age >= 80) | (grade <= 2))
    heavy = (status == 0) & (pp.serious[persons] | (grade <= 2))
    aged = (age >= 80) & (age < 100)
    rows = [
        _per_household(ctx, 3, persons[care], np.where(grade[care] <= 2, 1_200.0, 600.0)),
        _per_household(ctx, 6, persons[heavy], 0.2 * load_catalog().standard),
        _per_household(ctx, 39, persons[disabled & (status <= 1)], 310.0),
        _per_household(
            ctx, 40, persons[grade <= 2], np.where(grade[grade <= 2] == 1, 360.0, 300.0)
        ),
        _per_household(ctx, 45, persons[aged], np.where(age[aged] >= 90, 200.0, 100.0)),
        _per_household(ctx, 48, persons[age >= 100], 500.0),
    ]
    if ctx.mon == 1:  # the year's insurance contribution is paid for poor members
        rows.append(_per_household(ctx, 16, persons[status <= 1], 380.0))
    c = ctx.claims()
    poor_claim = hh.status[pp.household[c["person"]]] <= 1
    for category, policy, share in ((0, 14, 0.5), (1, 17, 0.7), (2, 13, 0.6)):
        pick = poor_claim & (c["category"] == category)
        rows.append(
            _per_household(ctx, policy, c["person"][pick], c["out_of_pocket"][pick] * share)
        )
    if ctx.mon in (2, 9):  # education aid is paid when a term starts
        s = ctx.students()
        for stages, policy in (((0,), 23), ((1, 2), 24), ((3,), 25), ((4,), 27), ((5,), 29)):
            pick = np.isin(s["stage"], stages)
            rows.append(_per_household(ctx, policy, s["person"][pick], s["aid"][pick]))
    return rows


def _occasional_rules(ctx: MonthContext) -> Rows:
    """One-off payments: house rebuilding, temporary and disaster relief, festival gifts."""
    hh, act, rng = ctx.pop.households, ctx.households, ctx.rng("subsidy")
    appraised = ctx.appraised()
    rebuild = appraised[(hh.housing_grade[appraised] >= 2) & (rng.random(appraised.size) < 0.3)]
    temporary = act[rng.random(act.size) < 0.003]
    hit = np.zeros(ctx.pop.villages.code.size, dtype=bool)
    for villages in ctx.events()["villages"]:
        hit[villages] = True
    victims = act[hit[hh.village[act]] & (rng.random(act.size) < 0.2)]
    rows = [
        (33, rebuild, rng.uniform(15_000.0, 40_000.0, rebuild.size)),
        (55, temporary, rng.uniform(500.0, 5_000.0, temporary.size)),
        (57, victims, rng.uniform(500.0, 3_000.0, victims.size)),
    ]
    if ctx.mon == _SPRING_FESTIVAL_MONTH[ctx.year]:
        rows.append((58, act, np.where(hh.status[act] == 1, 800.0, 500.0)))
    if ctx.mon == _MID_AUTUMN_MONTH[ctx.year]:
        rows.append((59, act, np.full(act.size, 300.0)))
    if ctx.mon % 3 == 0:
        paired = act[rng.random(act.size) < 0.2]
        rows.append((60, paired, np.full(paired.size, 200.0)))
    return rows


def subsidy_ledger(ctx: MonthContext) -> pd.DataFrame:
    """Subsidy payments of the month, one row per household and policy."""
    rows = _household_rules(ctx) + _person_rules(ctx) + _occasional_rules(ctx)
    household = np.concatenate([h for _, h, _ in rows])
    policy = np.concatenate([np.full(h.size, p) for p, h, _ in rows])
    amount = np.concatenate([a for _, _, a in rows])
    order = np.lexsort((policy, household))
    household, policy, amount = household[order], policy[order], amount[order]
    codes = np.char.add("P", np.char.zfill(policy.astype(str), 3))
    return pd.DataFrame(
        {
            "household_no": ctx.pop.households.no[household],
            "policy_code": codes,
            "pay_month": ctx.month,
            "amount": cents(amount),
            "paying_department": _departments(codes),
        }
    )
